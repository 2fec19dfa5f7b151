#!/usr/bin/env bash
# ffmpeg pulls 10 s of the live stream over mmsh:// and decodes every frame without one error
# line. The client joins a broadcast already running: its first video frame must be a key frame.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
out=$WORK/pull-ffmpeg.framecrc
err=$(timeout 60 ffmpeg -nostdin -v error -i "$(pull_url)" -t 10 -f framecrc -y "$out" 2>&1) ||
    fail "ffmpeg exit $?: $err"
[ -z "$err" ] || fail "ffmpeg printed errors: $err"
video=$(grep -c '^0,' "$out" || true)
audio=$(grep -c '^1,' "$out" || true)
note "decoded $video video and $audio audio frames in 10 s"
[ "$video" -ge 270 ] || fail "only $video video frames in 10 s at 30 fps"
[ "$audio" -ge 180 ] || fail "only $audio audio frames in 10 s"

# Late joiner: the first decoded video frame is a key frame (I, key_frame=1).
first=$(timeout 60 ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -show_entries frame=key_frame,pict_type \
        -of csv=p=0 "$(pull_url)") || fail "ffprobe -show_frames failed"
first=$(head -1 <<<"$first")
note "first video frame of a late joiner: $first"
[[ "$first" == 1,I* ]] || fail "a late joiner's first video frame is '$first', not a key frame"
