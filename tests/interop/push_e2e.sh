#!/usr/bin/env bash
# asfcast run --push to two targets: the strict MS-WMHTTP receiver (Digest authentication) and a
# dead port. The receiver sees no deviation from the spec, gets every packet of the broadcast and
# $E at the end; what it received decodes with ffmpeg without one error line. The dead target is
# reported as a network error and retried, and never slows the live one.
source "$(dirname "$0")/lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
out=$WORK/push-received.asf
"$RECEIVER" --out "$out" --seconds 60 --auth digest --user enc --password 'pa ss' > "$WORK/push-receiver.log" 2>&1 &
rx=$!
port=""
for _ in $(seq 1 50); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/push-receiver.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "the receiver did not start"
# The dead target: the discard port, where nothing listens on this machine's loopback.
dead_port=9
if (exec 3<>/dev/tcp/127.0.0.1/$dead_port) 2>/dev/null; then fail "something listens on 127.0.0.1:$dead_port"; fi
cat > "$WORK/push.yaml" <<YAML
name: push-e2e
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800, x264_preset: ultrafast}
outputs:
  pull: off
  push:
    targets:
      - {url: "http://127.0.0.1:$port/live", user: enc, password_file: "$WORK/push.pw"}
      - {url: "127.0.0.1:$dead_port/live"}
    backoff_initial_ms: 200
    backoff_max_ms: 1000
YAML
printf 'pa ss\n' > "$WORK/push.pw"
chmod 600 "$WORK/push.pw"
timeout 60 "$ASFCAST" --log-level info run --preset "$WORK/push.yaml" --duration 8 > "$WORK/push-asfcast.log" 2>&1 ||
    { cat "$WORK/push-asfcast.log" >&2; fail "asfcast run --push exit $?"; }
wait "$rx" || { cat "$WORK/push-receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
note "$(tail -1 "$WORK/push-receiver.log")"
grep -q "push http://127.0.0.1:$port/live: finished" "$WORK/push-asfcast.log" || fail "live target did not finish"
sent=$(sed -n "s|.*push http://127.0.0.1:$port/live: .*; \([0-9]*\) packets sent, \([0-9]*\) skipped.*|\1 \2|p" "$WORK/push-asfcast.log")
received=$(sed -n 's/^received \([0-9]*\) packets.*/\1/p' "$WORK/push-receiver.log")
read -r sent_n skipped_n <<<"$sent"
[ "$skipped_n" = 0 ] || fail "the live target skipped $skipped_n packets"
[ "$received" = "$sent_n" ] || fail "asfcast sent $sent_n packets, the receiver got $received"
grep -q "push\[1\] http://127.0.0.1:$dead_port/live: network error: .*; retrying in" "$WORK/push-asfcast.log" ||
    fail "the dead target is not reported as a network error being retried: $(grep 'push http://127.0.0.1:9' "$WORK/push-asfcast.log")"
grep -qF "pa ss" "$WORK/push-asfcast.log" && fail "the password appears in the log"
ffmpeg_decodes_clean "$out"
video=$(count_frames "$out" v)
note "receiver got $received packets ($video video frames) from asfcast; ffmpeg decodes them cleanly"
[ "$video" -ge 230 ] || fail "only $video video frames of an 8 s broadcast"
