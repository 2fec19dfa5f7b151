#!/usr/bin/env bash
# The wire form is the archive's packet minus its padding, nothing else (MS-WMSP 2.2.3.3,
# MS-WMHTTP 2.2.3.3, ASF-notes §16), and every client decodes the archive's frames from it.
# One `asfcast run` (snow test pattern, so that every frame differs; 2048-byte packets, so there
# are many full and many padded packets) archives, serves pull and pushes to the strict receiver.
#  - curl captures a whole Play body ($H, $D..., $E); the receiver dumps every pushed $D as it
#    came (--wire-out). wire_check (written from the specs, no asfcast code) checks EVERY wire
#    packet against the archive's packet of the same number: no Packet/Padding Length, multiple
#    payloads when short, same payloads re-padded, and byte for byte the archive's packet once the
#    padding is restored the ASF way.
#  - Decoded frames (framemd5) equal the archive's over the same span: ffmpeg on the pull capture
#    and on the receiver's file (video and audio, matched by pts), ffmpeg and libmms pulling
#    mmsh:// themselves, and per-frame MD5s from MPlayer (-vo md5sum), VLC (raw I420 from its
#    yuv output) and GStreamer (checksumsink, on ffmpeg's -c copy remux of the stream and on the
#    pull capture) matched in order against the archive's video frames.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
WIRE_CHECK=${WIRE_CHECK:?WIRE_CHECK must point at wire_check}
WMSP_TO_ASF=${WMSP_TO_ASF:?WMSP_TO_ASF must point at wmsp_to_asf}
MMS_CLIENT=${MMS_CLIENT:?MMS_CLIENT must point at the libmms test client}

d=$WORK/wire-exact
rm -rf "$d"
mkdir -p "$d"
chmod 0777 "$d"  # VLC runs as nobody and writes its frames here
cat > "$d/preset.yaml" <<YAML
name: wire-exact
base: default
source: {pattern: snow}
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
asf: {packet_size: 2048}
YAML

pids=()
cleanup() {
    stop_asfcast "$d/asfcast.pid"
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$RECEIVER" --out "$d/push.asf" --wire-out "$d/push.wire" --seconds 45 > "$d/receiver.log" 2>&1 &
rx=$!
pids+=("$rx")
rxport=""
for _ in $(seq 1 50); do
    rxport=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$d/receiver.log")
    [ -n "$rxport" ] && break
    sleep 0.1
done
[ -n "$rxport" ] || fail "the strict receiver did not start"

port=$(start_asfcast "$d/asfcast.log" "$d/asfcast.pid" --preset "$d/preset.yaml" --archive "$d/archive.wmv" \
       --pull 127.0.0.1:0 --push "http://127.0.0.1:$rxport/live" --duration 14)
asfcast_pid=$(cat "$d/asfcast.pid")
url="mmsh://127.0.0.1:$port/"
sleep 1.5

# Every client runs to the end of the broadcast ($E) by itself; `timeout` only bounds them.
curl -s -o "$d/pull.body" -H "User-Agent: NSPlayer/9.0.0.2980" -H "Pragma: xPlayStrm=1" --max-time 40 \
    "http://127.0.0.1:$port/" &
curl_pid=$!
timeout 40 ffmpeg -nostdin -v error -copyts -i "$url" -fps_mode passthrough -enc_time_base:v 1/1000 \
    -f framemd5 -y "$d/ffmpeg-mmsh.md5" > "$d/ffmpeg-mmsh.err" 2>&1 &
ffmpeg_pid=$!
timeout 40 ffmpeg -nostdin -v error -i "$url" -map 0 -c copy -f asf -y "$d/remux.asf" > "$d/remux.err" 2>&1 &
remux_pid=$!
timeout 40 mplayer -nolirc -nocache -benchmark -ao null -vo "md5sum:outfile=$d/mplayer.md5" "$url" > "$d/mplayer.log" 2>&1 &
mplayer_pid=$!
# VLC's yuv output writes every displayed picture; the title, OSD and subtitles are off so that
# the pictures are the decoder's.
timeout 40 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
    cvlc -I dummy --no-dbus --aout dummy --vout yuv --yuv-file "$d/vlc.y4m" --yuv-chroma I420 --yuv-yuv4mpeg2 \
    --avcodec-hw none --no-video-title-show --no-osd --no-spu --no-drop-late-frames --no-skip-frames \
    --run-time 60 --play-and-exit "$url" > "$d/vlc.log" 2>&1 &
vlc_pid=$!
# libmms reads up to 100 MB: the broadcast ends first (exit 3: the stream ended before that).
timeout 40 "$MMS_CLIENT" "$url" 100000000 "$d/libmms.asf" > "$d/libmms.log" 2>&1 &
libmms_pid=$!
pids+=("$curl_pid" "$ffmpeg_pid" "$remux_pid" "$mplayer_pid" "$vlc_pid" "$libmms_pid")

wait "$curl_pid" || fail "curl did not get the whole Play body (exit $?)"
wait "$ffmpeg_pid" || fail "ffmpeg mmsh:// framemd5 exit $?: $(head -5 "$d/ffmpeg-mmsh.err")"
wait "$remux_pid" || fail "ffmpeg mmsh:// remux exit $?: $(head -5 "$d/remux.err")"
wait "$mplayer_pid" || fail "mplayer exit $? (log $d/mplayer.log)"
wait "$vlc_pid" || fail "VLC did not end by itself (exit $?, log $d/vlc.log)"
rc=0
wait "$libmms_pid" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "libmms client exit $rc: $(cat "$d/libmms.log")"
for _ in $(seq 1 100); do kill -0 "$asfcast_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$asfcast_pid" 2>/dev/null && fail "asfcast still runs after --duration 14"
wait "$rx" || { cat "$d/receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
trap - EXIT
if grep -E " (error|critical) " "$d/asfcast.log"; then fail "asfcast logged errors"; fi
note "receiver: $(tail -1 "$d/receiver.log")"
grep -q "received [0-9]* packets in 1 sessions" "$d/receiver.log" || fail "the push target did not get one session"

# ---- 1. every wire packet against the archive, byte for byte ----
tail8=$(tail -c 8 "$d/pull.body" | od -An -tx1 | tr -d ' \n')
[ "$tail8" = 2445040000000000 ] || fail "the Play body ends with $tail8, not \$E reason 0"
out=$("$WIRE_CHECK" --archive "$d/archive.wmv" --pull "$d/pull.body" --push "$d/push.wire" 2>&1) ||
    fail "$out"
echo "$out" | sed 's/^/-- /'
field() { sed -n "s/^$1: .*\b$2=\([0-9-]*\).*/\1/p" <<<"$out"; }
archived=$(field archive packets)
for src in pull push; do
    checked=$(field "$src" checked) padded=$(field "$src" padded) full=$(field "$src" full)
    [ "$((padded + full))" = "$checked" ] || fail "$src: $padded padded + $full full != $checked checked"
    [ "$padded" -ge 50 ] || fail "$src: only $padded packets with padding"
    [ "$full" -ge 50 ] || fail "$src: only $full full packets"
done
[ "$(field pull checked)" -ge 300 ] || fail "pull: only $(field pull checked) packets checked"
[ "$(field pull gaps)" = 0 ] || fail "pull: $(field pull gaps) packets skipped"
[ "$(field pull last)" = "$((archived - 1))" ] || fail "pull: last packet $(field pull last), archive has $archived"
[ "$(field push checked)" = "$archived" ] || fail "push: $(field push checked) packets, archive $archived"

# ---- 2. decoded frames against the archive's ----
framemd5() {  # FILE OUT: every frame's MD5 with the file's own timestamps (ms for video)
    local err
    err=$(timeout 60 ffmpeg -nostdin -v error -copyts -i "$1" -fps_mode passthrough -enc_time_base:v 1/1000 \
          -f framemd5 -y "$2" 2>&1) || fail "ffmpeg exit $? decoding $1: $err"
    [ -z "$err" ] || fail "ffmpeg printed errors decoding $1: $err"
}
# Frames of stream S in OUT against the archive's A, matched by pts (within 1 ms: ffmpeg stamps
# the first audio frame of a late joiner from the ms packet time, later ones by sample count).
# Prints "frames first last archive_frames" (archive indexes of OUT's span, 1-based); fails on
# a frame that differs or is missing there.
pts_match() {
    awk -F', *' -v s="$s" '
        /^#tb / { split($0, t, /[ :\/]+/); tb[t[2]] = t[4] + 0; next }
        /^#/ { next }
        FNR == NR { if ($1 == s) { n++; pts[n] = $3; md5[n] = $6 } next }
        $1 == s {
            tol = tb[s] / 1000 + 1
            while (i < n && pts[i + 1] < $3 - tol) { i++; if (m > 0) { print "missing archive frame pts " pts[i] > "/dev/stderr"; exit 1 } }
            if (i >= n || pts[i + 1] > $3 + tol) { print "frame pts " $3 " is not in the archive" > "/dev/stderr"; exit 1 }
            i++
            if (md5[i] != $6) { print "frame pts " $3 " differs from the archive frame pts " pts[i] > "/dev/stderr"; exit 1 }
            if (m == 0) first = i
            m++
        }
        END { if (m == 0) { print "no frames" > "/dev/stderr"; exit 1 } print m, first, i, n }' "$1" "$2"
}
# MD5 lists in display order (one per line) against the archive's video frames: every frame must
# be an archive frame, in order (a player may show one picture several times). Prints
# "frames first last skipped repeated archive_frames" (archive indexes, 1-based).
seq_match() {
    awk 'FNR == NR { n++; md5[n] = $1; next }
        m > 0 && $1 == md5[i] { repeated++; next }
        { while (i < n && md5[i + 1] != $1) { i++; if (m > 0) skipped++ }
          if (i >= n) { print "frame " FNR " (" $1 ") is not an archive frame (in order)" > "/dev/stderr"; exit 1 }
          i++; if (m == 0) first = i; m++ }
        END { if (m == 0) { print "no frames" > "/dev/stderr"; exit 1 } print m, first, i, skipped + 0, repeated + 0, n }' "$1" "$2"
}

framemd5 "$d/archive.wmv" "$d/archive.md5"
awk -F', *' '$1 == 0 { print $6 }' "$d/archive.md5" > "$d/archive.video"
"$WMSP_TO_ASF" "$d/pull.body" "$d/pull.asf" > /dev/null || fail "wmsp_to_asf could not convert the pull capture"
framemd5 "$d/pull.asf" "$d/pull.md5"
framemd5 "$d/push.asf" "$d/push.md5"
framemd5 "$d/libmms.asf" "$d/libmms.md5"

# ffmpeg's own mmsh client: only its known end-of-stream lines (see pull_end.sh) are allowed.
other=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
        "$d/ffmpeg-mmsh.err" "$d/remux.err" || true)
[ -z "$other" ] || fail "ffmpeg printed errors other than the end of the stream: $other"

for src in pull push ffmpeg-mmsh libmms; do
    for s in 0 1; do
        r=$(pts_match "$d/archive.md5" "$d/$src.md5" "$s" 2>&1) || fail "$src stream $s: $r"
        read -r m first last n <<<"$r"
        note "$src: $([ "$s" = 0 ] && echo video || echo audio) frames $first..$last of the archive's $n equal ($m frames)"
        [ "$last" = "$n" ] || fail "$src stream $s ends at archive frame $last of $n"
        if [ "$s" = 0 ] && [ "$m" -lt 150 ]; then fail "$src: only $m video frames"; fi
    done
done
[ "$(grep -c '^0,' "$d/push.md5")" = "$(wc -l < "$d/archive.video")" ] || fail "push: not every archive video frame decoded"

# MPlayer: -vo md5sum hashes each decoded picture like framemd5 (I420 planes).
# Its ASF/HTTP client reads past $E until the connection closes and says so, as ffmpeg's does:
# "Error while reading network stream." is its end of stream; any other error line fails.
tr '\r' '\n' < "$d/mplayer.log" | grep -x "Exiting... (End of file)" > /dev/null || fail "mplayer did not play to the end of the stream"
errors=$(tr '\r' '\n' < "$d/mplayer.log" | grep -i -E "error|corrupt|invalid|damaged|fail" |
         grep -v -x "Error while reading network stream." || true)
[ -z "$errors" ] || fail "mplayer reported: $errors"
awk '{ print $1 }' "$d/mplayer.md5" > "$d/mplayer.video"
r=$(seq_match "$d/archive.video" "$d/mplayer.video" 2>&1) || fail "mplayer: $r"
read -r m first last skipped repeated n <<<"$r"
note "mplayer: video frames $first..$last of the archive's $n equal ($m frames, $skipped skipped, $repeated repeated)"
[ "$skipped" = 0 ] && [ "$repeated" = 0 ] || fail "mplayer skipped $skipped and repeated $repeated frames"
[ "$m" -ge 150 ] && [ "$((n - last))" -le 1 ] || fail "mplayer played $m frames up to $last of $n"

# VLC: its yuv output (YUV4MPEG2) read back by ffmpeg; the vout may not show a frame or two.
errors=$(grep -E "(error|fatal):" "$d/vlc.log" |
         grep -v -E "dbus|interface|globalhotkeys|cannot read data 2|Failed to adapt decoder format to display|video output creation failed|failed to create video output|Too high level of recursion|Failed to create video converter" || true)
[ -z "$errors" ] || fail "VLC logged errors: $errors"
err=$(timeout 60 ffmpeg -nostdin -v error -f yuv4mpegpipe -i "$d/vlc.y4m" -f framemd5 -y "$d/vlc.md5" 2>&1) ||
    fail "cannot read VLC's frames: $err"
rm -f "$d/vlc.y4m"
awk -F', *' '$1 == 0 { print $6 }' "$d/vlc.md5" > "$d/vlc.video"
r=$(seq_match "$d/archive.video" "$d/vlc.video" 2>&1) || fail "VLC: $r"
read -r m first last skipped repeated n <<<"$r"
note "VLC: video frames $first..$last of the archive's $n equal ($m frames, $skipped not shown, $repeated repeated)"
[ "$m" -ge 150 ] && [ "$skipped" -le 5 ] && [ "$((n - last))" -le 2 ] ||
    fail "VLC showed $m frames up to $last of $n, $skipped skipped"

# GStreamer: asfdemux + avdec_h264 into checksumsink, on ffmpeg's remux and on the pull capture.
for src in remux pull; do
    gst=$(timeout 60 gst-launch-1.0 -q filesrc location="$d/$src.asf" ! asfdemux name=dm dm.video_0 ! queue ! \
          h264parse ! avdec_h264 ! video/x-raw,format=I420 ! checksumsink hash=md5 2>&1) ||
        fail "gst-launch exit $? on $src.asf: $(tail -3 <<<"$gst")"
    grep -qi -E "error|warn" <<<"$gst" && fail "GStreamer reported a problem on $src.asf: $(grep -i -E 'error|warn' <<<"$gst" | head -3)"
    awk 'NF == 2 { print $2 }' <<<"$gst" > "$d/gst-$src.video"
    r=$(seq_match "$d/archive.video" "$d/gst-$src.video" 2>&1) || fail "GStreamer ($src): $r"
    read -r m first last skipped repeated n <<<"$r"
    note "GStreamer ($src): video frames $first..$last of the archive's $n equal ($m frames, $skipped skipped)"
    [ "$skipped" = 0 ] && [ "$repeated" = 0 ] && [ "$m" -ge 150 ] && [ "$last" = "$n" ] || fail "GStreamer ($src) decoded $m frames up to $last of $n"
done
