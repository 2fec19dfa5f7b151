#!/usr/bin/env bash
# Issue 15: the camera stops and comes back. The test camera is killed (SIGKILL, as a power cut)
# 5 s into a 20 s broadcast and started again on the same port 5 s later. The slate goes on air,
# asfcast tries again with back-off (reattach_max_interval_ms), the camera re-attaches, and a live
# ffmpeg mmsh:// client and the archive decode cleanly throughout, with no gap in the video time
# line above one frame slot plus jitter (70 ms) and audio continuous. VLC decodes the archive and
# plays the live stream (mmsh://) across the loss: its pictures are the archive's, none missing
# (see check_vlc_file and check_vlc_live).
#
# `rtsp_camera_restart.sh copy` (interop.rtsp_copy_restart) does the same with video.codec copy: the
# camera's H.264 is carried as it is, the slate is encoded with x264 at the camera's size while it
# is lost, and the camera's pictures go on at its first IDR once it is back (the slate fills up to
# it, on the same grid). One video gap is possible there where the re-encoding relay holds the last
# picture: from a stalled source's last picture until it is declared lost (loss_timeout_ms, 1 s
# here: a coded picture cannot be repeated; players hold the last one). A killed camera closes its
# connection and is lost at once (measured: largest step 0.034 s), but the bounds allow a stall:
# a step of 1.5 s, 1.6 s of the span without video.
#
# `rtsp_camera_restart.sh aaccopy` (interop.rtsp_aac_copy_restart) adds audio.codec copy: the
# camera's AAC is carried as it is and, while it is lost, silence is encoded as AAC at its rate and
# channels from where its last frame ended: the audio time line steps one AAC frame throughout.
mode=${1:-reencode}
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"

dir=$WORK/rtsp-restart-$mode
rm -rf "$dir"
mkdir -p "$dir"
cam_port=$(free_port)
cam=$(start_camera "$dir/camera1.log" "$cam_port")
trap 'kill $cam 2>/dev/null || true; stop_asfcast "$dir/pid"' EXIT
write_network_preset "$dir/restart.yaml" "{type: rtsp, url: \"rtsp://127.0.0.1:$cam_port/cam\", transport: tcp,
         loss_timeout_ms: 1000, reattach_interval_ms: 500, reattach_max_interval_ms: 2000, slate_text: Camera lost}"
max_gap=0.070 missing=0 aframe=0.0464
if [ "$mode" = copy ] || [ "$mode" = aaccopy ]; then
    sed -i 's/^video: {/video: {codec: copy, /' "$dir/restart.yaml"
    max_gap=1.5 missing=1.6
fi
if [ "$mode" = aaccopy ]; then
    sed -i 's/^audio: .*/audio: {codec: copy, allow_copy: true, sample_rate: 48000, channels: 2}/' "$dir/restart.yaml"
    aframe=0.0213
fi
duration=20
port=$(start_asfcast "$dir/run.log" "$dir/pid" --preset "$dir/restart.yaml" --duration $duration --archive "$dir/out.asf" \
       --pull 127.0.0.1:0)
timeout 60 ffmpeg -nostdin -v error -y -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$dir/pulled.asf" > "$dir/pull.log" 2>&1 &
client=$!
vlc_decode "mmsh://127.0.0.1:$port/" "$dir/vlc-pull" 60 > "$dir/vlc-pull.counts" &
vlc=$!
sleep 5
kill -KILL "$cam"
wait "$cam" 2>/dev/null || true
sleep 5
cam=$(start_camera "$dir/camera2.log" "$cam_port")
pid=$(cat "$dir/pid")
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not end after --duration $duration"
wait "$client" || true
wait "$vlc" || fail "VLC did not decode the live stream to its end (log $dir/vlc-pull.log)"
grep -q " done: " "$dir/run.log" || { tail -20 "$dir/run.log" >&2; fail "asfcast did not finish cleanly"; }

grep -q "capture: source lost (" "$dir/run.log" ||
    fail "the camera's loss is not logged: $(grep -E 'capture:' "$dir/run.log" | grep -v debug | tail -5)"
grep -q "the source cannot start yet: rtsp://127.0.0.1:$cam_port/cam: cannot connect to 127.0.0.1:$cam_port: check that the camera is on" "$dir/run.log" ||
    fail "the failed re-attach is not explained: $(grep -E 'capture:' "$dir/run.log" | grep -v debug | tail -5)"
grep -q "the source is back" "$dir/run.log" || fail "the camera never came back: $(grep capture: "$dir/run.log" | tail -5)"
failures=$(grep -c -E "(warning|error) .*cannot connect to 127.0.0.1:$cam_port" "$dir/run.log" || true)
[ "$failures" -le 2 ] || fail "the same failure is logged $failures times (once per distinct reason expected)"
note "$(grep -E 'source lost|cannot start yet|is back|source: stopped' "$dir/run.log" | cut -c25-260)"
slate=$(sed -n 's/.*source: stopped, lost 1x, back 1x; \([0-9]*\) held\/slate frames.*/\1/p' "$dir/run.log")
[ -n "$slate" ] || fail "no source summary with one loss and one return: $(grep 'source: stopped' "$dir/run.log")"
# Off for 5 s, plus the re-attach (the camera's start, the first key frame): 5-9 s of slate.
[ "$slate" -ge 130 ] && [ "$slate" -le 280 ] || fail "$slate held/slate frames where 150-270 (5-9 s) were expected"
note "held/slate frames while the camera was off: $slate ($(awk -v n="$slate" 'BEGIN { printf "%.1f", n / 30 }') s)"

pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
           "$dir/pull.log" || true)
[ -z "$pull_err" ] || fail "the live client reported: $pull_err"
check_timeline "$dir/out.asf" $max_gap "archive" $missing $aframe
check_timeline "$dir/pulled.asf" $max_gap "pull capture (ffmpeg mmsh) across the loss" $missing $aframe
if [ "$mode" = aaccopy ]; then
    grep -q "audio copy: .* [1-9][0-9]* silence frames encoded, 0 format changes" "$dir/run.log" ||
        fail "aaccopy: no silence encoded as AAC, or a format change: $(grep 'audio copy:' "$dir/run.log")"
    [ "$(timeout 30 ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of default=nw=1:nk=1 "$dir/out.asf")" = aac ] ||
        fail "aaccopy: the archive's audio is not AAC"
    note "$(grep 'audio copy: ' "$dir/run.log" | sed 's/.*audio copy: //')"
fi
if [ "$mode" = copy ] || [ "$mode" = aaccopy ]; then
    grep -q "video copy: .* [1-9][0-9]* slate pictures, 0 size changes" "$dir/run.log" ||
        fail "copy: no slate pictures encoded, or a size change: $(grep 'video copy:' "$dir/run.log")"
    note "$(grep 'video copy: ' "$dir/run.log" | sed 's/.*video copy: //')"
fi
check_vlc_file "$dir/out.asf" "archive (VLC)"
check_vlc_live "$dir/vlc-pull" "$dir/out.asf" "pull (VLC mmsh) across the loss"
note "camera killed and restarted ($mode): slate, re-attach, outputs decode throughout: OK"
