#!/usr/bin/env bash
# End to end with real devices: a V4L2 capture node (a camera, vivid, or v4l2loopback fed by
# gst-launch here) and an ALSA capture PCM (snd-aloop's capture side, or any free sound card)
# -> asfcast run -> archive decoded by ffmpeg. Skips (77) on machines without them.
source "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }

feeder=""
cleanup() { [ -n "$feeder" ] && kill "$feeder" 2>/dev/null || true; }
trap cleanup EXIT

compgen -G "/dev/video*" >/dev/null || skip "no /dev/video* (load vivid or v4l2loopback to run this test)"
[ -e /dev/snd ] || skip "no /dev/snd (load snd-aloop to run this test)"

json=$(timeout 30 "$ASFCAST" devices --json) || fail "asfcast devices --json exited $?"
# v4l2loopback offers formats only while a producer writes to it: feed it a test pattern.
loop=$(jq -r '[.video[] | select(.driver == "v4l2 loopback")][0].path // empty' <<<"$json")
if [ -n "$loop" ] && [ "$(jq -r '[.video[] | select(.formats | length > 0)] | length' <<<"$json")" = 0 ]; then
    timeout 120 gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! \
        video/x-raw,format=YUY2,width=640,height=480,framerate=30/1 ! v4l2sink device="$loop" >/dev/null 2>&1 &
    feeder=$!
    for _ in $(seq 1 50); do
        json=$(timeout 30 "$ASFCAST" devices --json)
        [ "$(jq -r '[.video[] | select(.formats | length > 0)] | length' <<<"$json")" != 0 ] && break
        sleep 0.1
    done
fi
video=$(jq -r '[.video[] | select(.formats | length > 0)][0].path // empty' <<<"$json")
[ -n "$video" ] || skip "no V4L2 capture device offers a format: $(jq -c '.video' <<<"$json")"
# snd-aloop: capture from device 1 of the Loopback card; else the first sound card that opens.
audio=$(jq -r '[.audio[] | select(.card_id == "Loopback" and .device == 1 and (has("note") | not))][0].alsa_name // empty' <<<"$json")
[ -n "$audio" ] || audio=$(jq -r '[.audio[] | select(has("note") | not)][0].alsa_name // empty' <<<"$json")
[ -n "$audio" ] || skip "no ALSA capture device that opens: $(jq -c '.audio' <<<"$json")"
note "video $video, audio $audio"

cat >"$WORK/dev-hw.yaml" <<YAML
name: dev-hw
base: default
source: {type: device, video_device: "$video", audio_device: "$audio", on_loss: stop}
video: {width: 640, height: 480, framerate: 30, bitrate_kbps: 800}
outputs: {pull: off}
YAML
rm -f "$WORK/dev-hw.wmv"
out=$(timeout 60 "$ASFCAST" run --preset "$WORK/dev-hw.yaml" --duration 4 --archive "$WORK/dev-hw.wmv" 2>&1) ||
    fail "device job exited $?: $out"
grep -q "capture: chose .* from $video" <<<"$out" || fail "the chosen video mode is not logged: $out"
probe=$(probe_json "$WORK/dev-hw.wmv")
[ "$(jq '[.streams[] | select(.codec_type == "video")] | length' <<<"$probe")" = 1 ] || fail "no video stream: $probe"
[ "$(jq '[.streams[] | select(.codec_type == "audio")] | length' <<<"$probe")" = 1 ] || fail "no audio stream: $probe"
dur=$(jq -r '.format.duration' <<<"$probe")
near "$dur" 4 1.5 || fail "archive lasts $dur s, want about 4"
ffmpeg_decodes_clean "$WORK/dev-hw.wmv"
frames=$(count_frames "$WORK/dev-hw.wmv" v)
[ "$frames" -ge 60 ] || fail "only $frames video frames in 4 s"
note "device job: $frames frames, $dur s"

# The device goes away mid-broadcast and comes back (v4l2loopback only: its producer is stopped,
# then started again): the slate fills the gap and the archive decodes cleanly from start to end.
if [ -n "$feeder" ]; then
    cat >"$WORK/dev-hw-loss.yaml" <<YAML
name: dev-hw-loss
base: default
source: {type: device, video_device: "$video", audio_device: "$audio", on_loss: slate,
         loss_timeout_ms: 500, reattach_interval_ms: 500}
video: {width: 640, height: 480, framerate: 30, bitrate_kbps: 800}
outputs: {pull: off}
YAML
    rm -f "$WORK/dev-hw-loss.wmv"
    timeout 60 "$ASFCAST" run --preset "$WORK/dev-hw-loss.yaml" --duration 12 --archive "$WORK/dev-hw-loss.wmv" \
        >"$WORK/dev-hw-loss.log" 2>&1 &
    job=$!
    sleep 3
    kill "$feeder"; wait "$feeder" 2>/dev/null || true
    sleep 4
    timeout 120 gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! \
        video/x-raw,format=YUY2,width=640,height=480,framerate=30/1 ! v4l2sink device="$loop" >/dev/null 2>&1 &
    feeder=$!
    wait "$job" || fail "device loss job exited $?: $(tail -5 "$WORK/dev-hw-loss.log")"
    grep -q "source lost" "$WORK/dev-hw-loss.log" || fail "the stopped device was not reported lost"
    grep -q "the source is back" "$WORK/dev-hw-loss.log" || fail "the device did not come back"
    ffmpeg_decodes_clean "$WORK/dev-hw-loss.wmv"
    timeout 60 ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time \
        -of default=nw=1:nk=1 "$WORK/dev-hw-loss.wmv" |
        awk '$1 == "N/A" { next } NR > 1 { d = $1 - p; if (d <= 0 || d > 0.050) { print "jump " p " -> " $1; bad = 1 } }
             { p = $1 } END { exit bad }' || fail "video time line broken across the device loss"
    note "device loss and return: slate in between, gapless, decodes cleanly"
fi
echo "devices_hw: ok"
