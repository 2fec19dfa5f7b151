#!/usr/bin/env bash
# Issue 15: an IP camera (the test RTSP camera: H.264 + AAC, Basic authentication) relayed by
# asfcast to pull, push and archive at once. The password comes from a mode-600 file (a 644 one is
# refused with a clear message) and never appears in the log; `asfcast probe` describes the camera.
# ffmpeg decodes every frame of the archive, of a live mmsh:// capture and of what the strict push
# receiver got, with no gap in the time line. VLC decodes the archive and the pushed file (file://)
# and the live stream (mmsh://, its own client): its pictures are ffmpeg's, bit for bit, and its
# frame counts ffprobe's (see check_vlc_file and check_vlc_live).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}

dir=$WORK/rtsp-relay
rm -rf "$dir"
mkdir -p "$dir"
secret='cam pass:42'
cam_port=$(free_port)
cam=$(start_camera "$dir/camera.log" "$cam_port" --user viewer --password "$secret")
trap 'kill $cam 2>/dev/null || true; stop_asfcast "$dir/pid"' EXIT
printf '%s\n' "$secret" > "$dir/cam.pw"
chmod 644 "$dir/cam.pw"
write_network_preset "$dir/relay.yaml" "{type: rtsp, url: \"rtsp://127.0.0.1:$cam_port/cam\", user: viewer,
         password_file: $dir/cam.pw, transport: tcp}"

# A password file others can read is refused, by name, before anything starts.
out=$(timeout 20 "$ASFCAST" run --preset "$dir/relay.yaml" --duration 2 --pull off 2>&1) && fail "a mode-644 password file was accepted"
grep -q "source.password_file $dir/cam.pw can be read or written by group or others (mode 644); run chmod 600 on it" <<<"$out" ||
    fail "no clear refusal of the mode-644 password file: $out"
chmod 600 "$dir/cam.pw"

# What the camera offers, and what the preset would do with it.
timeout 30 "$ASFCAST" probe --preset "$dir/relay.yaml" --timeout 10 "rtsp://127.0.0.1:$cam_port/cam" > "$dir/probe.txt" 2>&1 ||
    fail "asfcast probe failed: $(cat "$dir/probe.txt")"
grep -q "video: H.264 .*640x360, 30/1 fps" "$dir/probe.txt" || fail "probe: no H.264 640x360 30 fps: $(cat "$dir/probe.txt")"
grep -q "audio: MPEG-4 AAC.*48000 Hz, 2 channels" "$dir/probe.txt" || fail "probe: no AAC 48 kHz stereo: $(cat "$dir/probe.txt")"
grep -q "decode and re-encode to H.264 640x360.*(video.codec copy would carry it as it is)" "$dir/probe.txt" || fail "probe: no plan: $(cat "$dir/probe.txt")"
grep -q "transcode to WMA2" "$dir/probe.txt" || fail "probe: no audio plan"
note "probe: $(tr '\n' '|' < "$dir/probe.txt")"

"$RECEIVER" --out "$dir/pushed.asf" --seconds 60 > "$dir/receiver.log" 2>&1 &
rx=$!
rx_port=$(receiver_port "$dir/receiver.log")

duration=12
port=$(start_asfcast "$dir/run.log" "$dir/pid" --preset "$dir/relay.yaml" --duration $duration --archive "$dir/out.asf" \
       --pull 127.0.0.1:0 --push "http://127.0.0.1:$rx_port/live")
timeout 60 ffmpeg -nostdin -v error -y -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$dir/pulled.asf" > "$dir/pull.log" 2>&1 &
client=$!
vlc_decode "mmsh://127.0.0.1:$port/" "$dir/vlc-pull" 60 > "$dir/vlc-pull.counts" &
vlc=$!
pid=$(cat "$dir/pid")
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not end after --duration $duration"
grep -q " done: " "$dir/run.log" || { tail -20 "$dir/run.log" >&2; fail "asfcast run did not finish cleanly"; }
wait "$client" || true
wait "$vlc" || fail "VLC did not decode the live stream to its end (log $dir/vlc-pull.log)"
wait "$rx" || { cat "$dir/receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }

grep -q "source: stopped; 0 held/slate frames" "$dir/run.log" ||
    fail "the camera was not live throughout: $(grep -E 'capture:|source:' "$dir/run.log" | tail -5)"
assert_not_logged "$secret" "$dir/run.log" "$dir/probe.txt"
assert_not_logged "cam pass" "$dir/run.log"
pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
           "$dir/pull.log" || true)
[ -z "$pull_err" ] || fail "the live client reported: $pull_err"

# A camera frame that arrives after its slot was filled could leave a 2-frame step: bound 0.070 s.
check_timeline "$dir/out.asf" 0.070 "archive"
check_timeline "$dir/pulled.asf" 0.070 "pull capture (ffmpeg mmsh)"
check_timeline "$dir/pushed.asf" 0.070 "push (strict receiver)"
archive_frames=$(wc -l < "$dir/out.asf.vt")
[ "$archive_frames" -ge $(( (duration - 1) * 30 )) ] || fail "the archive has $archive_frames video frames of a $duration s relay"
check_vlc_file "$dir/out.asf" "archive (VLC)"
check_vlc_file "$dir/pushed.asf" "push (VLC)"
check_vlc_live "$dir/vlc-pull" "$dir/out.asf" "pull (VLC mmsh)"
note "RTSP camera relayed to pull, push and archive: OK"
