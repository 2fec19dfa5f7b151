#!/usr/bin/env bash
# `asfcast devices` on this machine and on recorded devices; device-source jobs that cannot get
# their devices fail with a clear message and a non-zero exit.
source "$(dirname "$0")/lib.sh"
RECORDINGS=$(cd "$(dirname "$0")/../capture/devices" && pwd)

# --- the machine's devices, as JSON ---
json=$(timeout 30 "$ASFCAST" devices --json) || fail "asfcast devices --json exited $?"
jq -e '(.video | type == "array") and (.audio | type == "array")' <<<"$json" >/dev/null ||
    fail "devices --json is not {video:[...],audio:[...]}: $json"
if ! compgen -G "/dev/video*" >/dev/null; then
    jq -e '.video == []' <<<"$json" >/dev/null || fail "no /dev/video* here but devices lists video: $json"
fi
if [ ! -e /dev/snd ]; then
    jq -e '.audio == []' <<<"$json" >/dev/null || fail "no /dev/snd here but devices lists audio: $json"
fi
note "this machine: $(jq -c '{video: [.video[].path], audio: [.audio[].alsa_name]}' <<<"$json")"
table=$(timeout 30 "$ASFCAST" devices) || fail "asfcast devices exited $?"
grep -q "Video capture devices (V4L2):" <<<"$table" || fail "devices table has no video section: $table"

# --- recorded devices (ASFCAST_DEVICES_RECORDING) ---
table=$(ASFCAST_DEVICES_RECORDING=$RECORDINGS/uvc-webcam-c920.yaml timeout 30 "$ASFCAST" devices) ||
    fail "devices with a recording exited $?"
for want in "/dev/video0  HD Pro Webcam C920  [driver uvcvideo, bus usb-0000:00:14.0-1]" \
            "by-id: /dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8F5B6A3F-video-index0" \
            "MJPG  640x480@30" "hw:CARD=C920,DEV=0"; do
    grep -qF -- "$want" <<<"$table" || fail "recorded webcam table lacks '$want': $table"
done
json=$(ASFCAST_DEVICES_RECORDING=$RECORDINGS/hdmi-usb-capture.yaml timeout 30 "$ASFCAST" devices --json)
[ "$(jq -r '[.video[0].formats[].fourcc] | join(",")' <<<"$json")" = "YUYV,NV12,BGR3" ] || fail "formats: $json"
[ "$(jq -r '[.audio[].alsa_name] | join(" ")' <<<"$json")" = "hw:CARD=CODEC,DEV=0 hw:CARD=HDMI,DEV=0" ] ||
    fail "audio names: $json"
json=$(ASFCAST_DEVICES_RECORDING=$RECORDINGS/empty.yaml timeout 30 "$ASFCAST" devices --json)
jq -e '.video == [] and .audio == []' <<<"$json" >/dev/null || fail "empty recording: $json"
set +e
out=$(ASFCAST_DEVICES_RECORDING=$WORK/no-such-recording.yaml timeout 30 "$ASFCAST" devices 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "cannot read device recording $WORK/no-such-recording.yaml" <<<"$out" ||
    fail "missing recording: exit $rc: $out"
note "recorded devices listed"

# --- device jobs that cannot get their device ---
run_expect_fail() {  # NAME PRESET_SOURCE_LINE
    printf 'name: %s\nbase: default\nsource: %s\noutputs: {pull: off}\n' "$1" "$2" >"$WORK/$1.yaml"
    set +e
    out=$(timeout 60 "$ASFCAST" run --preset "$WORK/$1.yaml" --duration 3 --archive "$WORK/$1.wmv" 2>&1)
    rc=$?
    set -e
}

if [ ! -e /dev/video0 ]; then
    # MESSAGE: with on_loss: stop a missing camera is an error at start (the one place that
    # asserts the text of a missing-camera error; the default, a slate, is tested below).
    run_expect_fail dev-missing-video "{type: device, video_device: /dev/video0, audio_device: none, on_loss: stop}"
    [ "$rc" -eq 1 ] || fail "missing /dev/video0: exit $rc (want 1): $out"
    grep -qF "no video device matches '/dev/video0' (no such file); no video capture devices found" <<<"$out" ||
        fail "missing /dev/video0: unclear message: $out"
    note "missing /dev/video0: $(grep -m1 "no video device" <<<"$out")"
fi

run_expect_fail dev-missing-audio "{type: device, video_device: none, audio_device: 'hw:CARD=NoSuchCard,DEV=0', on_loss: stop}"
[ "$rc" -eq 1 ] || fail "unopenable ALSA device: exit $rc (want 1): $out"
grep -qF "audio device 'hw:CARD=NoSuchCard,DEV=0' cannot be opened for capture: no such device" <<<"$out" ||
    fail "unopenable ALSA device: unclear message: $out"
note "unopenable ALSA device: $(grep -m1 "cannot be opened" <<<"$out")"

run_expect_fail dev-both-none "{type: device, video_format: mjpeg, video_device: none, audio_device: none}"
[ "$rc" -eq 1 ] && grep -q "source.video_device: and source.audio_device are both none" <<<"$out" ||
    fail "both none: exit $rc: $out"

# --- the default for live sources: a missing device puts the slate on air ---
# The camera and the sound card are missing at start: the broadcast runs on the slate and silence
# for its whole duration, retrying the devices, and decodes cleanly.
printf 'name: %s\nbase: default\nsource: %s\nvideo: {width: 640, height: 360, x264_preset: ultrafast}\noutputs: {pull: off}\n' \
    dev-slate "{type: device, video_device: /dev/video0, audio_device: 'hw:CARD=NoSuchCard,DEV=0', reattach_interval_ms: 500}" \
    >"$WORK/dev-slate.yaml"
if [ ! -e /dev/video0 ]; then
    out=$(timeout 60 "$ASFCAST" run --preset "$WORK/dev-slate.yaml" --duration 4 --archive "$WORK/dev-slate.wmv" 2>&1) ||
        fail "a job with a missing camera should run on the slate; exit $?: $out"
    grep -q "the source cannot start: no video device matches '/dev/video0'.*Broadcasting the slate" <<<"$out" ||
        fail "missing camera at start not reported: $out"
    grep -q "source: stopped, lost 1x, back 0x" <<<"$out" || fail "no source summary: $out"
    ffmpeg_decodes_clean "$WORK/dev-slate.wmv"
    frames=$(count_frames "$WORK/dev-slate.wmv" v)
    audio=$(count_frames "$WORK/dev-slate.wmv" a)
    [ "$frames" -ge 100 ] && [ "$audio" -ge 70 ] || fail "slate broadcast too short: $frames video, $audio audio frames"
    # Every picture is the slate's colour bars (white top left) and the audio is silence.
    timeout 60 ffmpeg -nostdin -v error -i "$WORK/dev-slate.wmv" -vf "crop=40:40:10:10,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=$WORK/dev-slate-y.txt" -f null -
    dark=$(grep -o "YAVG=[0-9.]*" "$WORK/dev-slate-y.txt" | awk -F= '$2 < 200' | wc -l)
    [ "$dark" -eq 0 ] || fail "$dark pictures are not the slate"
    peak=$(timeout 60 ffmpeg -nostdin -v info -i "$WORK/dev-slate.wmv" -map 0:a -af volumedetect -f null - 2>&1 |
           sed -n 's/.*max_volume: \(.*\) dB/\1/p')
    [ "$peak" = "-91.0" ] || awk -v p="$peak" 'BEGIN { exit !(p < -80) }' || fail "the slate's audio is not silent (max $peak dB)"
    note "missing camera and sound card: $frames slate pictures, $audio silent audio frames, retried"
fi

# --- ALSA's null PCM ---
# It opens anywhere, but hands out silence as fast as it is read instead of in real time (and
# with wall-clock driver timestamps), so it is no stand-in for a sound card in a live job. Checked
# here so that a change in alsa-lib shows: 1000 buffers of 10 ms must take at least 5 s if paced.
start=$(date +%s%N)
timeout 60 gst-launch-1.0 -q alsasrc device=null num-buffers=1000 ! fakesink sync=false >/dev/null 2>&1 ||
    fail "gst-launch alsasrc device=null failed"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
note "ALSA null: 10 s of audio read in $ms ms"
# A real alsasrc job on it: the source delivers faster than real time (when unpaced) with
# timestamps far from the system clock; the job still runs in real time and the archive holds
# --duration seconds of audio that decodes cleanly.
printf 'name: alsa-null\nbase: audio-only\nsource: {type: device, video_device: none, audio_device: "null"}\noutputs: {pull: off}\n' \
    >"$WORK/dev-null.yaml"
t0=$(date +%s%N)
out=$(timeout 60 "$ASFCAST" run --preset "$WORK/dev-null.yaml" --duration 3 --archive "$WORK/dev-null.wma" 2>&1) ||
    fail "null-device job exited $?: $(tail -5 <<<"$out")"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
ffmpeg_decodes_clean "$WORK/dev-null.wma"
dur=$(timeout 30 ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$WORK/dev-null.wma")
near "$dur" 3.0 0.2 || fail "null-device archive lasts $dur s, want 3"
[ "$took" -ge 2500 ] || fail "the null-device job took $took ms for 3 s: not real time"
if [ "$ms" -lt 5000 ]; then
    grep -q "s of audio ahead of real time dropped" <<<"$out" || fail "unpaced null device not reported: $out"
fi
note "ALSA null job: $dur s archived in $took ms, decodes cleanly"
echo "devices: ok"
