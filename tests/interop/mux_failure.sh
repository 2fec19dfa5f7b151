#!/usr/bin/env bash
# An exception in the mux thread (issue 10, point 4), made by the failpoint mux.packet at the 100th
# packet (ASFCAST_FAILPOINTS): the broadcast ends there for every output with a clean end of
# stream, and the process says so and exits non-zero, promptly:
#  - the log names the failure ("mux: failpoint mux.packet; the broadcast ends here");
#  - the archive is finalized (not a broadcast any more, its 99 packets indexed) and decodes;
#  - a pull client (ffmpeg mmsh://) gets $E and decodes every frame it was sent with no error;
#  - a push target (the strict MS-WMHTTP receiver) gets every packet made, then $E, no violation.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
d=$WORK/mux-failure
rm -rf "$d"
mkdir -p "$d"
pids=()
cleanup() {
    stop_asfcast "$d/asfcast.pid"
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$RECEIVER" --out "$d/push.asf" --seconds 60 > "$d/receiver.log" 2>&1 &
rx=$!
pids+=("$rx")
rx_port=""
for _ in $(seq 1 50); do
    rx_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$d/receiver.log")
    [ -n "$rx_port" ] && break
    sleep 0.1
done
[ -n "$rx_port" ] || fail "the strict receiver did not start"
cat > "$d/preset.yaml" <<YAML
name: mux-failure
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
outputs:
  push:
    targets:
      - {url: "http://127.0.0.1:$rx_port/live"}
YAML
started=$(date +%s.%N)
(
    ASFCAST_FAILPOINTS=mux.packet=100 "$ASFCAST" --log-level debug run --preset "$d/preset.yaml" \
        --archive "$d/archive.wmv" --pull 127.0.0.1:0 --duration 60 > "$d/asfcast.log" 2>&1 < /dev/null &
    echo $! > "$d/asfcast.pid"
    status=0
    wait $! || status=$?
    echo "$status" > "$d/asfcast.rc"
) &
runner=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$d/asfcast.log" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    kill -0 "$runner" 2>/dev/null || { cat "$d/asfcast.log" >&2; fail "asfcast exited before serving"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$d/asfcast.log" >&2; fail "asfcast did not serve within 10 s"; }
timeout 60 ffmpeg -nostdin -v error -i "mmsh://127.0.0.1:$port/" -f framecrc -y "$d/pull.framecrc" > "$d/ffmpeg.log" 2>&1 &
ff=$!
pids+=("$ff")
# asfcast ends by itself soon after the failure (100 packets: about 7 s of this stream).
for _ in $(seq 1 300); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
kill -0 "$runner" 2>/dev/null && { tail -20 "$d/asfcast.log" >&2; fail "asfcast still runs 30 s after its mux thread failed"; }
wall=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
rc=$(cat "$d/asfcast.rc")
wait "$ff" || true
rx_rc=0
wait "$rx" || rx_rc=$?
trap - EXIT

line=$(grep -m1 "mux: failpoint mux.packet; the broadcast ends here" "$d/asfcast.log" || true)
[ -n "$line" ] || { tail -20 "$d/asfcast.log" >&2; fail "no log line names the mux thread's failure"; }
note "asfcast logged: $(sed 's/^[0-9-]* [0-9:.]* //' <<<"$line"); ended after $wall s"
[ "$rc" != 0 ] || fail "asfcast exit 0 although its mux thread failed"
note "asfcast exit status $rc"
awk -v w="$wall" 'BEGIN { exit !(w <= 25) }' || fail "asfcast took $wall s to end after a failure at about 7 s"

# The archive: finalized with the packets made before the failure.
timeout 30 "$ASFCAST" inspect --json "$d/archive.wmv" > "$d/inspect.json" || fail "asfcast inspect cannot read the archive"
read -r bcast count problems < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["flags"]["broadcast"], j["packets"]["count"], "|".join(j["problems"]) or "-")' "$d/inspect.json")
note "archive: broadcast flag $bcast, $count packets, problems: $problems"
[ "$bcast" = False ] || fail "the archive was not finalized (still marked broadcast)"
[ "$count" = 99 ] || fail "the archive holds $count packets, not the 99 made before the failure"
[ "$problems" = - ] || fail "asfcast inspect: $problems"
ffmpeg_decodes_clean "$d/archive.wmv"
a_frames=$(count_frames "$d/archive.wmv" v)

# The pull client got $E and decoded what it got.
# ffmpeg's mmsh client prints these lines after $E (it tries to read on); nothing else may appear.
ff_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
         "$d/ffmpeg.log" || true)
[ -z "$ff_err" ] || fail "ffmpeg (pull) printed errors: $ff_err"
grep -q "^Stream ended!$" "$d/ffmpeg.log" || fail "ffmpeg (pull) did not receive \$E: $(cat "$d/ffmpeg.log")"
ff_frames=$(grep -c '^0,' "$d/pull.framecrc" || true)
note "pull client: \$E received, $ff_frames video frames decoded with no error (archive: $a_frames)"
[ "$ff_frames" -ge $((a_frames - 40)) ] || fail "the pull client decoded only $ff_frames of the archive's $a_frames video frames"

# The push target got every packet, then $E.
[ "$rx_rc" = 0 ] || { cat "$d/receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
received=$(sed -n 's/^received \([0-9]*\) packets.*/\1/p' "$d/receiver.log")
note "push target: $(tail -1 "$d/receiver.log")"
[ "$received" = 99 ] || fail "the push target received $received packets, not 99"
