#!/usr/bin/env bash
# Issue 15, video.codec copy: the test camera's H.264 relayed without re-encoding to archive, pull
# and push at once, and the camera changes its picture size mid-broadcast (640x360 -> 960x540).
# - The H.264 in our ASF is the camera's, byte for byte: every coded picture and SEI unit of both
#   archive files, in order, is one contiguous run of what the camera encoded (rtsp_camera
#   --dump-h264), and every parameter set in them is one the camera sent (nal_runs.py).
# - The size change is a header change on every output: the archive finalizes its file and goes on
#   in a new one (outputs.archive.entry_pattern), the push receiver (strict, from MS-WMHTTP) records
#   two entries, the first ended by $E(1) and $C, and the pull client (ffmpeg, mmsh://) decodes
#   across the $C; each file has the size its header says.
# - ffmpeg decodes every frame with no error line, and VLC decodes every archive file.
# - A preset with copy and a source that has no H.264 (the test pattern) is refused by name.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"
# The distinct picture sizes ffprobe decodes in FILE, "WxH " each.
picture_sizes() {
    ffprobe -v error -select_streams v:0 -show_entries frame=width,height -of flat "$1" |
        awk -F= '/\.width=/ { w = $2 } /\.height=/ { print w "x" $2 }' | sort -u | tr '\n' ' '
}
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
HERE=$(cd "$(dirname "$0")" && pwd)

dir=$WORK/rtsp-copy
rm -rf "$dir"
mkdir -p "$dir"

# Copy needs H.264 from a network source.
cat > "$dir/test-copy.yaml" <<YAML
base: default
source: {type: test}
video: {codec: copy, width: 640, height: 360}
YAML
out=$(timeout 20 "$ASFCAST" run --preset "$dir/test-copy.yaml" --duration 1 --pull off 2>&1) &&
    fail "video.codec copy with a test source was accepted"
grep -q "video.codec copy carries the H.264 of a network source.*source.type test has none: use video.codec h264" <<<"$out" ||
    fail "no clear refusal of copy with a test source: $out"
# Nor with MBR renditions.
cat > "$dir/mbr-copy.yaml" <<YAML
base: default
source: {type: rtsp, url: "rtsp://127.0.0.1:1/cam"}
video: {codec: copy, renditions: [{width: 320, height: 180, bitrate_kbps: 300}]}
YAML
out=$(timeout 20 "$ASFCAST" run --preset "$dir/mbr-copy.yaml" --duration 1 --pull off 2>&1) &&
    fail "video.codec copy with renditions was accepted"
grep -q "video.renditions.*not allowed with video.codec copy" <<<"$out" || fail "no clear refusal of copy with renditions: $out"

cam_port=$(free_port)
cam=$(start_camera "$dir/camera.log" "$cam_port" --dump-h264 "$dir/camera.h264" --resize-after 6 --resize 960x540)
trap 'kill $cam 2>/dev/null || true; stop_asfcast "$dir/pid"' EXIT

"$RECEIVER" --out "$dir/pushed.asf" --entries-out "$dir/pushed-entry" --seconds 60 > "$dir/receiver.log" 2>&1 &
rx=$!
rx_port=$(receiver_port "$dir/receiver.log")

cat > "$dir/copy.yaml" <<YAML
base: default
source: {type: rtsp, url: "rtsp://127.0.0.1:$cam_port/cam", transport: tcp}
video: {codec: copy, width: 640, height: 360, bitrate_kbps: 1500, max_bitrate_kbps: 4000, vbv_buffer_kbit: 4000,
        x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
outputs:
  archive: {entry_pattern: "$dir/rec-{n}.asf"}
YAML
# What probe says the preset would do.
timeout 30 "$ASFCAST" probe --preset "$dir/copy.yaml" --timeout 10 "rtsp://127.0.0.1:$cam_port/cam" > "$dir/probe.txt" 2>&1 ||
    fail "asfcast probe failed: $(cat "$dir/probe.txt")"
grep -q "video: copy the H.264 as it is, 640x360 (video.codec copy" "$dir/probe.txt" || fail "probe: no copy plan: $(cat "$dir/probe.txt")"
duration=14
port=$(start_asfcast "$dir/run.log" "$dir/pid" --preset "$dir/copy.yaml" --duration $duration \
       --pull 127.0.0.1:0 --push "http://127.0.0.1:$rx_port/live")
timeout 60 ffmpeg -nostdin -v error -i "mmsh://127.0.0.1:$port/" -map 0:v -f framemd5 "$dir/pulled.md5" > "$dir/pull.log" 2>&1 &
client=$!
vlc_decode "mmsh://127.0.0.1:$port/" "$dir/live" 40 > "$dir/live.counts" 2> "$dir/live.err" &
vlc=$!
pid=$(cat "$dir/pid")
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not end after --duration $duration"
grep -q " done: " "$dir/run.log" || { tail -20 "$dir/run.log" >&2; fail "asfcast run did not finish cleanly"; }
wait "$client" || true
wait "$vlc" || { cat "$dir/live.err" >&2; fail "VLC failed on the live stream"; }
wait "$rx" || { cat "$dir/receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
grep -q "source: stopped; 0 held/slate frames" "$dir/run.log" ||
    fail "the camera was not live throughout: $(grep -E 'capture:|source:' "$dir/run.log" | tail -5)"
grep -q "header change: video stream 1 is now 960x540" "$dir/run.log" || fail "no header change logged"
note "$(grep 'video copy: ' "$dir/run.log" | sed 's/.*video copy: //' | tail -1)"

# The archive: one file per header, each decoding cleanly at its size.
files=("$dir"/rec-*.asf)
[ "${#files[@]}" = 2 ] || fail "the archive has ${#files[@]} files (expected 2: before and after the size change): ${files[*]}"
expect_size=(640x360 960x540)
total=0
for i in 0 1; do
    f=$dir/rec-$((i + 1)).asf
    [ -f "$f" ] || fail "no $f"
    ffmpeg_decodes_clean "$f"
    size=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=s=x:p=0 "$f")
    [ "$size" = "${expect_size[$i]}" ] || fail "$f is $size, expected ${expect_size[$i]}"
    sizes=$(picture_sizes "$f")
    [ "$sizes" = "${expect_size[$i]} " ] || fail "$f has pictures of sizes $sizes"
    n=$(count_frames "$f" v)
    total=$((total + n))
    note "$f: $size, $n frames"
    check_vlc_file "$f" "archive file $((i + 1))"
    ffmpeg -nostdin -v error -i "$f" -map 0:v -c copy -f h264 - >> "$dir/carried.h264" || fail "cannot take the H.264 out of $f"
done
[ "$total" -ge $(( (duration - 1) * 30 )) ] || fail "the archive has $total video frames of a $duration s relay"

# Byte for byte: what the two files carry is what the camera encoded.
cmp_out=$(python3 "$HERE/nal_runs.py" "$dir/camera.h264" "$dir/carried.h264") || fail "the H.264 carried is not the camera's: $cmp_out"
note "H.264 carried: $cmp_out"

# Push: two entries, the first ended by $E(1) (then $C), each decoding at its size.
grep -q '^entry 1: .*ended by \$E(1)' "$dir/receiver.log" || fail "push: entry 1 not ended by \$E(1): $(grep '^entry' "$dir/receiver.log")"
[ "$(grep -c '^entry ' "$dir/receiver.log")" = 2 ] || fail "push: entries recorded: $(grep '^entry' "$dir/receiver.log")"
for i in 1 2; do
    ffmpeg_decodes_clean "$dir/pushed-entry-$i.asf"
    size=$(picture_sizes "$dir/pushed-entry-$i.asf")
    [ "$size" = "${expect_size[$((i - 1))]} " ] || fail "push entry $i has pictures of sizes $size"
    note "push entry $i: $(count_frames "$dir/pushed-entry-$i.asf" v) frames of ${expect_size[$((i - 1))]}"
done

# Pull: ffmpeg's mmsh client decodes across the $C, no error line.
# (ffmpeg's mmsh client says "Stream ended!" at $E and may report the end as a read error.)
pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
           "$dir/pull.log" || true)
[ -z "$pull_err" ] || fail "the live ffmpeg client reported: $pull_err"
pulled=$(grep -vc '^#' "$dir/pulled.md5")
[ "$pulled" -ge $((total - 60)) ] || fail "the live ffmpeg client decoded $pulled frames of $total"
note "pull: ffmpeg (mmsh) decoded $pulled video frames across the header change (the archive has $total)"
read -r lv la < "$dir/live.counts"
note "pull: VLC (mmsh) decoded $lv video and $la audio frames"
# VLC 3.0's asf demuxer does not follow a header change inside an mmsh stream (see playlist.sh):
# it plays the first header's pictures and stops.
n1=$(count_frames "$dir/rec-1.asf" v)
[ "$lv" -ge $((n1 - 60)) ] || fail "VLC decoded $lv live frames; the first header's file has $n1"
note "video.codec copy relayed to archive, pull and push across a size change: OK"
