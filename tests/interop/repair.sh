#!/usr/bin/env bash
# asfcast repair (issue 14, point 4): archives left by kill -9 at 20 random moments of a live
# broadcast (seeded; 0 to 3.5 s after its first packet reached the disk), some also cut inside a packet (a write the disk took in part) or followed by
# zeroed blocks (what a power loss leaves of unwritten data). Each repaired file:
#  - is finalized: Seekable, not Broadcast, its packet count = the whole packets the kill left,
#    sizes and counts consistent (asfcast inspect reports no problem), a Simple Index Object;
#  - decodes with ffmpeg to its last whole packet (every video frame ffprobe counts in it decodes;
#    the one error ffmpeg may print is about the last frame, cut off by the kill) and seeks: from
#    the middle, the index leads to a key frame near it and ffmpeg decodes from there;
#  - is unchanged by a second repair ("already finalized", same bytes).
# Files that are not ours (an ffmpeg ASF) or not ASF at all are refused with a clear message and
# left as they were.
source "$(dirname "$0")/lib.sh"
d=$WORK/repair
rm -rf "$d"
mkdir -p "$d"
cat > "$d/preset.yaml" <<'YAML'
name: repair
base: default
video: {width: 320, height: 240, bitrate_kbps: 400, max_bitrate_kbps: 400, vbv_buffer_kbit: 400,
       keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 64}
asf: {packet_size: 2048}
outputs: {pull: off}
YAML
RANDOM=20261204
sizes_of() {  # FILE: header_size packet_size
    python3 -c '
import struct, sys
data = open(sys.argv[1], "rb").read(1 << 16)
hs = struct.unpack_from("<Q", data, 16)[0]
fp = data.find(bytes.fromhex("A1DCAB8C47A9CF118EE400C00C205365"))
if fp < 0 or len(data) < hs:
    sys.exit(1)  # the header is not all there yet
print(hs, struct.unpack_from("<I", data, fp + 96)[0])' "$1"
}
total_frames=0
for i in $(seq 1 20); do
    f=$d/killed-$i.wmv
    # kill -9 at a random moment 0 to 3.5 s after the first whole packet is on disk (how long the
    # pipeline takes to start varies with the machine's load).
    ms=$((RANDOM % 3500))
    "$ASFCAST" --log-level warn run --preset "$d/preset.yaml" --archive "$f" > "$d/run-$i.log" 2>&1 &
    pid=$!
    hs="" ps=""
    for _ in $(seq 1 300); do
        if [ -s "$f" ] && read -r hs ps < <(sizes_of "$f" 2>/dev/null) && [ -n "$ps" ] &&
            [ "$(stat -c %s "$f")" -ge $((hs + 50 + ps)) ]; then
            break
        fi
        hs="" ps=""
        sleep 0.05
    done
    [ -n "$ps" ] || { kill -9 "$pid"; cat "$d/run-$i.log" >&2; fail "run $i: no whole packet written within 15 s"; }
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    size=$(stat -c %s "$f")
    damage="kill only"
    case $((i % 4)) in
        1) cut=$((1 + RANDOM % (ps - 1)))
           [ "$size" -gt $((hs + 50 + ps)) ] && { truncate -s $((size - cut)) "$f"; damage="cut $cut bytes into a packet"; } ;;
        2) head -c 16384 /dev/zero >> "$f"; damage="16384 zero bytes appended" ;;
    esac
    size=$(stat -c %s "$f")
    whole=$(( (size - hs - 50) / ps ))
    [ "$damage" = "16384 zero bytes appended" ] && whole=$(( (size - 16384 - hs - 50) / ps ))
    out=$("$ASFCAST" repair "$f" 2>&1) || fail "run $i ($damage): repair failed: $out"
    sum1=$(md5sum < "$f")
    again=$("$ASFCAST" repair "$f" 2>&1) || fail "run $i: the second repair failed: $again"
    grep -q "already finalized" <<<"$again" || fail "run $i: the second repair did not see a finalized file: $again"
    [ "$(md5sum < "$f")" = "$sum1" ] || fail "run $i: the second repair changed the file"
    read -r bcast seek count problems index < <("$ASFCAST" inspect --json "$f" | python3 -c '
import json, sys
j = json.load(sys.stdin)
names = [o["name"] for o in j.get("objects", [])]
print(j["flags"]["broadcast"], j["flags"]["seekable"], j["packets"]["count"], "|".join(j["problems"]) or "-",
      names.count("Simple Index"))')
    [ "$bcast" = False ] && [ "$seek" = True ] || fail "run $i: not finalized (broadcast $bcast, seekable $seek)"
    [ "$count" = "$whole" ] || fail "run $i ($damage): $count packets after repair, the kill left $whole whole ones"
    [ "$problems" = - ] || fail "run $i: asfcast inspect: $problems"
    [ "$index" -ge 1 ] || fail "run $i: no Simple Index Object"
    frames=$(count_frames "$f" v)
    [ "$frames" -gt 10 ] || fail "run $i: only $frames video frames"
    # All frames but a last one the kill cut off decode without an error line.
    err=$(timeout 60 ffmpeg -nostdin -v error -i "$f" -map 0:v -frames:v $((frames - 1)) -f null - 2>&1) || fail "run $i: ffmpeg exit $?: $err"
    [ -z "$err" ] || fail "run $i ($damage): ffmpeg errors before the last frame: $err"
    err=$(timeout 60 ffmpeg -nostdin -v error -i "$f" -map 0:a -f null - 2>&1) || fail "run $i: ffmpeg (audio) exit $?: $err"
    [ -z "$err" ] || fail "run $i ($damage): ffmpeg errors in the audio: $err"
    dur=$(timeout 30 ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$f")
    # A whole second near the middle: key frames are 1 s apart, and ffmpeg decodes from a seek
    # mid-way between two of them with non-monotonic dts lines from its null muxer on our clean
    # archives too (not a repair matter).
    mid=$(awk -v d="$dur" 'BEGIN { m = int(d / 2); if (m < 1) m = 1; printf "%d", m }')
    # Seeking (as tests/interop/seek.sh): the index leads to a key frame near the middle, and
    # ffmpeg decodes from there without an error.
    first=$(timeout 60 ffprobe -v error -read_intervals "$mid%+#1" -select_streams v:0 -show_entries packet=dts_time,flags \
            -of csv=p=0 "$f" | head -1)
    [[ "$first" == *K* ]] || fail "run $i: a seek to $mid s landed on a non-key frame ($first)"
    # The key frame at or before the target (1 s apart), never after it.
    awk -v t="${first%%,*}" -v m="$mid" 'BEGIN { exit !(t <= m + 0.05 && t >= m - 1.05) }' ||
        fail "run $i: a seek to $mid s landed at ${first%%,*} s"
    err=$(timeout 60 ffmpeg -nostdin -v error -xerror -ss "$mid" -i "$f" -t 0.4 -f null - 2>&1) || fail "run $i: seek to $mid s: exit $?: $err"
    [ -z "$err" ] || fail "run $i: seeking to $mid s: $err"
    total_frames=$((total_frames + frames))
    note "run $i: killed $ms ms after the first packet, $damage: $(sed "s|$d/||" <<<"$out"); $frames video frames, $dur s; seek to $mid s lands on the key frame at ${first%%,*} s; second repair: no change"
done
note "20 killed archives repaired: $total_frames video frames in all"

# Not ours: an ASF file that ffmpeg wrote; not ASF: a text file. Both refused, both unchanged.
ffmpeg -nostdin -v error -f lavfi -i testsrc=size=160x120:rate=10 -t 1 -c:v wmv2 -f asf -y "$d/ffmpeg.asf" ||
    fail "ffmpeg could not write an ASF file"
sum=$(md5sum < "$d/ffmpeg.asf")
msg=$("$ASFCAST" repair "$d/ffmpeg.asf" 2>&1) && fail "repair accepted an ASF file asfcast did not write"
grep -q "not written by asfcast" <<<"$msg" || fail "unclear refusal: $msg"
[ "$(md5sum < "$d/ffmpeg.asf")" = "$sum" ] || fail "repair changed a file it refused"
echo "just text" > "$d/text.wmv"
msg2=$("$ASFCAST" repair "$d/text.wmv" 2>&1) && fail "repair accepted a text file"
grep -q "not an ASF file\|too short" <<<"$msg2" || fail "unclear refusal: $msg2"
[ ! -e "$d/ffmpeg.asf.repair-tmp" ] && [ ! -e "$d/text.wmv.repair-tmp" ] || fail "a working copy was left behind"
note "refused: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$msg" | sed "s|$d/||")"
note "refused: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$msg2" | sed "s|$d/||")"
