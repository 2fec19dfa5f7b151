#!/usr/bin/env bash
# Issue 11, point 5: a playlist of file, live, file (the files made here by `asfcast run`, each with
# its own header) pushed to two strict MS-WMHTTP receivers, pulled by ffmpeg (mmsh://) and VLC at
# the same time, and archived with an entry pattern. Checks:
# - the archive holds one finalized, indexed file per entry (Seekable, its packet count, ffprobe
#   counts the frames): each file entry's frames are the source file's, the live entry has frames;
# - each push receiver sees the spec's order ($E reason 1, $C with the header, its $D: the strict
#   receiver refuses anything else) and records three entries, each decoding to the archive file's
#   frames;
# - ffmpeg's mmsh client decodes, over the header changes, every frame of the three entries;
# - VLC plays and ends by itself (see the known gap at the end);
# - a bad entry (not ASF) after them is refused by name and the broadcast goes on to the next one.
source "$(dirname "$0")/lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
W=$WORK/playlist
rm -rf "$W"
mkdir -p "$W"
chmod 0777 "$W"

# The entry files: 3 s each, one key frame (so a client joining during the first one starts at
# its first packet), two titles: two headers.
for t in promo closing; do
    cat > "$W/$t.yaml" <<YAML
name: $t
base: default
video: {width: 320, height: 240, bitrate_kbps: 400, max_bitrate_kbps: 400, vbv_buffer_kbit: 400, x264_preset: ultrafast, keyframe_interval_s: 4}
audio: {bitrate_kbps: 64}
asf: {packet_size: 4096}
metadata: {title: $t}
outputs: {pull: off}
YAML
    timeout 60 "$ASFCAST" --log-level warn run --preset "$W/$t.yaml" --duration 3 --archive "$W/$t.wmv" ||
        fail "making $t.wmv: asfcast exit $?"
done
promo_v=$(count_frames "$W/promo.wmv" v)
closing_v=$(count_frames "$W/closing.wmv" v)
note "entry files: promo.wmv $promo_v video frames, closing.wmv $closing_v"
printf 'not an ASF file\n%.0s' $(seq 1 100) > "$W/bad.wmv"

# Started from this shell (not in a command substitution) so that it can wait for them.
declare -a rx_pid
for r in 1 2; do
    "$RECEIVER" --out "$W/rx$r.asf" --entries-out "$W/rx$r-entry" --seconds 60 > "$W/rx$r.log" 2>&1 &
    rx_pid[$r]=$!
done
receiver_port() {
    local port="" i
    for i in $(seq 1 50); do
        port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$W/rx$1.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || fail "receiver $1 did not start"
    echo "$port"
}
p1=$(receiver_port 1)
p2=$(receiver_port 2)

cat > "$W/playlist.yaml" <<YAML
name: playlist-e2e
base: default
video: {width: 320, height: 240, bitrate_kbps: 400, max_bitrate_kbps: 400, vbv_buffer_kbit: 400, x264_preset: ultrafast, keyframe_interval_s: 1}
audio: {bitrate_kbps: 64}
asf: {packet_size: 4096}
metadata: {title: live}
outputs:
  archive: {entry_pattern: "$W/rec-{n}-{entry}.wmv"}
  push:
    targets: [{url: "http://127.0.0.1:$p1/live"}, {url: "http://127.0.0.1:$p2/live"}]
playlist:
  - {file: "$W/promo.wmv", name: promo}
  - {live: true, duration_s: 4, name: show}
  - {file: "$W/closing.wmv", name: closing}
  - {file: "$W/bad.wmv", name: broken}
YAML
setsid timeout 60 "$ASFCAST" --log-level info run --preset "$W/playlist.yaml" --pull 127.0.0.1:0 > "$W/asfcast.log" 2>&1 < /dev/null &
job=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$W/asfcast.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { cat "$W/asfcast.log" >&2; fail "asfcast did not report its pull port"; }
timeout 40 ffmpeg -nostdin -v warning -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$W/ffmpeg.asf" > "$W/ffmpeg.log" 2>&1 &
ff=$!
as_nobody timeout 40 cvlc -vv -I dummy --no-dbus --vout dummy --aout dummy --play-and-exit "mmsh://127.0.0.1:$port/" \
    > "$W/vlc.log" 2>&1 &
vlc=$!
rc=0
wait "$job" || rc=$?
[ "$rc" = 1 ] || { tail -30 "$W/asfcast.log" >&2; fail "asfcast exit $rc, expected 1 (one entry refused)"; }
wait "$ff" || { cat "$W/ffmpeg.log" >&2; fail "ffmpeg exit $?"; }
vlc_rc=0
wait "$vlc" || vlc_rc=$?
for r in 1 2; do
    wait "${rx_pid[$r]}" || { cat "$W/rx$r.log" >&2; fail "push receiver $r saw violations or no \$E"; }
done

# The refusal names the entry; the others were played.
grep -q "playlist: entry 4 'broken' ($W/bad.wmv): not an ASF file" "$W/asfcast.log" ||
    fail "no refusal naming entry 4: $(grep playlist "$W/asfcast.log")"
grep -q "playlist: 3 entries played, 1 refused, 0 cut short" "$W/asfcast.log" || fail "$(grep 'entries played' "$W/asfcast.log")"

# Archive: one finalized file per entry.
files=("$W/rec-1-promo.wmv" "$W/rec-2-show.wmv" "$W/rec-3-closing.wmv")
[ "$(ls "$W"/rec-*.wmv | wc -l)" = 3 ] || fail "archive files: $(ls "$W"/rec-*)"
declare -a arch_v
i=0
for f in "${files[@]}"; do
    [ -f "$f" ] || fail "no archive file $f"
    "$ASFCAST" inspect --json "$f" > "$W/inspect.json" || fail "inspect $f"
    python3 - "$W/inspect.json" "$f" <<'PY' || fail "$f is not a finalized archive"
import json, os, sys
h = json.load(open(sys.argv[1]))
assert h["flags"]["seekable"] and not h["flags"]["broadcast"], h["flags"]
assert h["file_size"] == os.path.getsize(sys.argv[2]), "file size"
n = h["data_packets_declared"]
assert n > 0 and h["header_size"] + 50 + n * h["max_packet_size"] < h["file_size"], "no index after the packets"
PY
    ffmpeg_decodes_clean "$f"
    arch_v[$i]=$(count_frames "$f" v)
    i=$((i + 1))
done
note "archive: ${files[*]##*/}: ${arch_v[*]} video frames"
[ "${arch_v[0]}" = "$promo_v" ] || fail "the archive's promo file has ${arch_v[0]} video frames, the entry file $promo_v"
[ "${arch_v[2]}" = "$closing_v" ] || fail "the archive's closing file has ${arch_v[2]} video frames, the entry file $closing_v"
[ "${arch_v[1]}" -ge 100 ] || fail "the live entry archived only ${arch_v[1]} video frames in 4 s"
total=$((arch_v[0] + arch_v[1] + arch_v[2]))

# Push: three entries at each receiver, the first two ended by $E(1), each the archive's frames.
for r in 1 2; do
    n=$(grep -c '^entry ' "$W/rx$r.log")
    [ "$n" = 3 ] || fail "receiver $r recorded $n entries: $(grep '^entry ' "$W/rx$r.log")"
    [ "$(grep -c 'ended by \$E(1)' "$W/rx$r.log")" = 2 ] || fail "receiver $r: $(grep '^entry ' "$W/rx$r.log")"
    for e in 1 2 3; do
        v=$(count_frames "$W/rx$r-entry-$e.asf" v)
        [ "$v" = "${arch_v[$((e - 1))]}" ] || fail "push receiver $r entry $e: $v video frames, archive ${arch_v[$((e - 1))]}"
    done
    note "push receiver $r: $(tail -1 "$W/rx$r.log")"
done

# ffmpeg's mmsh client: every frame of the three entries.
ff_v=$(timeout 120 ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of default=nw=1:nk=1 "$W/ffmpeg.asf")
note "ffmpeg (mmsh) pulled $ff_v video frames over two header changes; the archive holds $total"
[ "$ff_v" = "$total" ] || fail "ffmpeg pulled $ff_v video frames, the entries hold $total"

# VLC 3 (Debian 12: 3.0.24): its mmsh access follows the $C (MS-WMSP 3.2.4.2: "next stream following
# (reset)", then it reads the new $H) and hands the new header to its asf demuxer inside the byte
# stream; that demuxer looks for a Header Object only once a packet read fails, and reads the
# header as packets of the old size instead ("unsupported packet header"), so VLC stops after the
# first entry whatever the server sends at the change ($E reason 1 makes the access Describe and
# Play again, with the same result). What VLC shows: it played the first entry, got the $C and
# the new header, and ended by itself.
[ "$vlc_rc" = 0 ] || { tail -20 "$W/vlc.log" >&2; fail "cvlc exit $vlc_rc"; }
grep -q "asf demux debug: found 2 streams" "$W/vlc.log" || fail "VLC did not read the first entry's header"
grep -q "next stream following (reset)" "$W/vlc.log" || fail "VLC did not see the \$C of the header change"
[ "$(grep -c "complete header size=" "$W/vlc.log")" -ge 2 ] || fail "VLC did not read the new \$H after the \$C"
note "VLC played the first entry, then followed the \$C and read the new \$H (its asf demuxer stops there: VLC 3 limit)"
