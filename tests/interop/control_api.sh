#!/usr/bin/env bash
# The control API of a real `asfcast run --control` (docs/api.md, docs/openapi.json), with real
# clients: curl for the API, ffmpeg's mmsh client for the pull output, the strict MS-WMHTTP
# receiver for a push target added by the API, asfcast inspect for the markers.
#  - /api/status, /api/history and every error body validate against docs/openapi.json;
#  - stop_output pull: ffmpeg cannot connect; start_output pull: ffmpeg decodes again (same port);
#  - add_push_target: the strict receiver gets packets, and $E at the end; remove_push_target;
#  - script_command and marker reach the stream and the archive's Marker Object;
#  - bad JSON, unknown actions, fields and outputs: 4xx with a JSON message;
#  - /metrics passes the text-format checker and agrees with /api/status (same counters);
#  - asfcast status prints the same status (text and --json);
#  - off loopback (0.0.0.0) the job refuses to start without a token; with one, 401 without it or
#    with a wrong one, and the token never appears in the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
RECEIVER=${STRICT_RECEIVER:?STRICT_RECEIVER must point at the strict receiver}
OPENAPI=$(cd "$(dirname "$0")/../.." && pwd)/docs/openapi.json
CHECK="/usr/bin/python3 $(dirname "$0")/control_check.py"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jsonschema' ||
    fail "Debian's python3-jsonschema is missing (scripts/install-deps.sh installs it)"

# Waits (bounded) for "control API and status page on http://ADDR:PORT/" in LOG; prints PORT.
control_port() {
    local log=$1 pid=$2 port="" i
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*control API and status page on http://[^ ]*:\([0-9]*\)/.*|\1|p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited before serving its control port"; }
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$log" >&2; fail "no control port in the log within 10 s"; }
    echo "$port"
}

# api METHOD PATH [BODY]: the body goes to $WORK/ctl.body, the status code to stdout.
api() {
    local method=$1 path=$2 body=${3:-}
    if [ -n "$body" ]; then
        curl -s -m 20 -o "$WORK/ctl.body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
            --data-binary "$body" "$CTL$path"
    else
        curl -s -m 20 -o "$WORK/ctl.body" -w '%{http_code}' -X "$method" "$CTL$path"
    fi
}
status_field() { jq -r "$1" "$WORK/ctl-status.json"; }
get_status() {
    [ "$(api GET /api/status)" = 200 ] || fail "GET /api/status: $(cat "$WORK/ctl.body")"
    cp "$WORK/ctl.body" "$WORK/ctl-status.json"
    $CHECK schema "$OPENAPI" Status "$WORK/ctl-status.json" || fail "the status does not match the OpenAPI schema"
}
# expect_error STATUS METHOD PATH BODY WORDS: the answer has that status and a JSON message with WORDS.
expect_error() {
    local want=$1 got
    got=$(api "$2" "$3" "${4:-}")
    [ "$got" = "$want" ] || fail "$2 $3 ${4:-}: $got, expected $want: $(cat "$WORK/ctl.body")"
    $CHECK schema "$OPENAPI" Error "$WORK/ctl.body" || fail "$2 $3: the error body is not {\"error\": ...}"
    grep -q -- "$5" "$WORK/ctl.body" || fail "$2 $3: the message does not say '$5': $(cat "$WORK/ctl.body")"
}
# ffmpeg_pull SECONDS: decodes that much of the pull stream; prints the video frames decoded.
ffmpeg_pull() {
    timeout 30 ffmpeg -nostdin -v error -i "mmsh://127.0.0.1:$pull_port/" -t "$1" -f framecrc -y "$WORK/ctl.framecrc" \
        > "$WORK/ctl-ffmpeg.log" 2>&1 || { echo 0; return; }
    grep -c '^0,' "$WORK/ctl.framecrc" || true
}

"$RECEIVER" --out "$WORK/ctl-push.asf" --seconds 90 > "$WORK/ctl-receiver.log" 2>&1 &
rx=$!
rx_port=""
for _ in $(seq 1 50); do
    rx_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/ctl-receiver.log")
    [ -n "$rx_port" ] && break
    sleep 0.1
done
[ -n "$rx_port" ] || fail "the strict receiver did not start"

write_pull_preset "$WORK/ctl.yaml"
cat >> "$WORK/ctl.yaml" <<YAML
source: {pattern: ball}
script_commands: {enabled: true}
YAML
rm -f "$WORK/ctl.wmv"
log=$WORK/ctl.log
setsid "$ASFCAST" --log-level info run --preset "$WORK/ctl.yaml" --pull 127.0.0.1:0 --control 127.0.0.1:0 \
    --archive "$WORK/ctl.wmv" --duration 60 > "$log" 2>&1 < /dev/null &
pid=$!
trap 'kill -TERM $pid $rx 2>/dev/null; sleep 1; kill -KILL $pid $rx 2>/dev/null' EXIT
port=$(control_port "$log" "$pid")
CTL="http://127.0.0.1:$port"
pull_port=$(sed -n 's|.*serving mmsh://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
note "control port $port, pull port $pull_port"

# ---- Status ----
sleep 2
get_status
[ "$(status_field '.outputs[] | select(.id=="pull") | .state')" = running ] || fail "pull is not running"
[ "$(status_field '.source.state')" = live ] || fail "source state $(status_field .source.state)"
video_frames=$(status_field '.renditions[] | select(.kind=="video") | .frames')
[ "$video_frames" -gt 0 ] || fail "no video frames counted"
# A pull client shows with its address, user agent, bytes and start time.
curl -s -m 4 -o /dev/null -H "User-Agent: NSPlayer/9.0.0.2980 control-test" -H "Pragma: xPlayStrm=1" \
    "http://127.0.0.1:$pull_port/" &
curl_pid=$!
seen=""
for _ in $(seq 1 30); do
    sleep 0.2
    get_status
    seen=$(jq -r '.pull.clients[] | select(.user_agent | test("control-test")) | "\(.address) \(.bytes_sent) \(.started_unix_ms)"' \
        "$WORK/ctl-status.json" | head -1)
    [ -n "$seen" ] && [ "$(cut -d' ' -f2 <<<"$seen")" -gt 0 ] && break
done
wait "$curl_pid" || true
read -r client_addr client_bytes client_start <<<"$seen"
[ "$client_addr" = 127.0.0.1 ] || fail "the pull client is not listed with its address: '$seen'"
[ "$client_bytes" -gt 0 ] || fail "the pull client has no bytes sent"
now_ms=$(($(date +%s%N) / 1000000))
[ $((now_ms - client_start)) -ge 0 ] && [ $((now_ms - client_start)) -lt 60000 ] || fail "client start time $client_start (now $now_ms)"
note "status: $video_frames video frames, pull client $client_addr with $client_bytes bytes"

# ---- Stop and start the pull output ----
frames=$(ffmpeg_pull 2)
[ "$frames" -ge 30 ] || fail "ffmpeg decoded $frames frames before the stop"
[ "$(api POST /api/actions '{"action":"stop_output","output":"pull"}')" = 200 ] || fail "stop_output pull: $(cat "$WORK/ctl.body")"
$CHECK schema "$OPENAPI" ActionResult "$WORK/ctl.body" || fail "the action result does not match the schema"
get_status
[ "$(status_field '.outputs[] | select(.id=="pull") | .state')" = stopped ] || fail "pull is not stopped"
[ "$(status_field '.outputs[] | select(.id=="pull") | .can_start')" = true ] || fail "pull cannot be started"
frames=$(ffmpeg_pull 2)
[ "$frames" = 0 ] || fail "ffmpeg decoded $frames frames from a stopped pull output"
expect_error 409 POST /api/actions '{"action":"stop_output","output":"pull"}' "already stopped"
[ "$(api POST /api/actions '{"action":"start_output","output":"pull"}')" = 200 ] || fail "start_output pull: $(cat "$WORK/ctl.body")"
frames=$(ffmpeg_pull 2)
[ "$frames" -ge 30 ] || fail "ffmpeg decoded $frames frames after the restart"
note "pull: stopped (ffmpeg refused), started again on port $pull_port (ffmpeg decoded $frames frames)"

# ---- Push targets ----
[ "$(api POST /api/actions "{\"action\":\"add_push_target\",\"url\":\"http://127.0.0.1:$rx_port/live\"}")" = 200 ] ||
    fail "add_push_target: $(cat "$WORK/ctl.body")"
push_id=$(jq -r .id "$WORK/ctl.body")
state=""
for _ in $(seq 1 50); do
    sleep 0.2
    get_status
    state=$(status_field ".push_targets[] | select(.id==\"$push_id\") | \"\(.state) \(.packets_sent)\"")
    [ "${state%% *}" = streaming ] && [ "${state##* }" -gt 10 ] && break
done
[ "${state%% *}" = streaming ] || fail "the added push target is '$state', not streaming"
# A second target where nothing listens: retried, then removed.
[ "$(api POST /api/actions '{"action":"add_push_target","url":"127.0.0.1:9/live"}')" = 200 ] || fail "add dead target"
dead_id=$(jq -r .id "$WORK/ctl.body")
dead=""
for _ in $(seq 1 30); do
    sleep 0.2
    get_status
    dead=$(status_field ".push_targets[] | select(.id==\"$dead_id\") | \"\(.state): \(.last_error)\"")
    [[ $dead == "retrying: network error"* ]] && break
done
[[ $dead == "retrying: network error"* ]] || fail "the dead target is '$dead', not retrying after a network error"
[ "$(status_field ".outputs[] | select(.id==\"$dead_id\") | .last_error")" = "${dead#retrying: }" ] ||
    fail "the outputs list does not carry the dead target's error"
[ "$(api POST /api/actions "{\"action\":\"remove_push_target\",\"id\":\"$dead_id\"}")" = 200 ] || fail "remove_push_target"
get_status
[ -z "$(status_field ".push_targets[] | select(.id==\"$dead_id\") | .id")" ] || fail "the removed target is still listed"
expect_error 404 POST /api/actions "{\"action\":\"remove_push_target\",\"id\":\"$dead_id\"}" "no push target"
expect_error 422 POST /api/actions '{"action":"add_push_target","url":"ftp://x"}' "push"
note "push: $push_id streaming ($state), $dead_id added and removed"

# ---- Script commands and markers ----
[ "$(api POST /api/actions '{"action":"script_command","type":"CAPTION","parameter":"hello from the API"}')" = 200 ] ||
    fail "script_command: $(cat "$WORK/ctl.body")"
[ "$(api POST /api/actions '{"action":"marker","name":"API marker"}')" = 200 ] || fail "marker: $(cat "$WORK/ctl.body")"
expect_error 422 POST /api/actions '{"action":"script_command","type":"BAD TYPE"}' "type"

# ---- Refusals ----
expect_error 400 POST /api/actions '{"action":' "not JSON"
expect_error 400 POST /api/actions '[]' "JSON object"
expect_error 400 POST /api/actions '{"action":"reboot"}' "unknown action"
expect_error 400 POST /api/actions '{"action":"stop_output","output":"pull","now":"yes"}' "unknown field"
expect_error 400 POST /api/actions '{"action":"stop_output"}' "missing"
expect_error 404 POST /api/actions '{"action":"stop_output","output":"tape"}' "no output"
expect_error 409 POST /api/actions '{"action":"stop_output","output":"archive"}' "cannot be stopped"
expect_error 405 GET /api/actions "" "POST"
expect_error 404 GET /api/nothing "" "no such resource"
big=$(head -c 20000 /dev/zero | tr '\0' a)
expect_error 413 POST /api/actions "{\"action\":\"marker\",\"name\":\"$big\"}" "larger"

# ---- History ----
sleep 1
[ "$(api GET /api/history)" = 200 ] || fail "GET /api/history"
$CHECK schema "$OPENAPI" History "$WORK/ctl.body" || fail "the history does not match the schema"
samples=$(jq '.samples | length' "$WORK/ctl.body")
[ "$samples" -ge 5 ] || fail "only $samples history samples after more than 5 s"
max_rate=$(jq '[.samples[].bitrate_bps] | max' "$WORK/ctl.body")
near "$max_rate" 1000000 700000 || fail "history bit rate peaks at $max_rate bit/s for an 896 kbit/s preset"

# ---- Metrics: the text format, and the same counters as the status ----
get_status
packets_before=$(status_field .stream.packets)
[ "$(api GET /metrics)" = 200 ] || fail "GET /metrics"
cp "$WORK/ctl.body" "$WORK/ctl-metrics.txt"
curl -s -m 5 -o /dev/null -w '%{content_type}' "$CTL/metrics" | grep -q '^text/plain; version=0.0.4' || fail "metrics content type"
$CHECK metrics "$WORK/ctl-metrics.txt" || fail "the scrape breaks the text format rules"
get_status
packets_after=$(status_field .stream.packets)
packets_metric=$($CHECK value "$WORK/ctl-metrics.txt" asfcast_mux_packets_total)
[ "$packets_before" -le "$packets_metric" ] && [ "$packets_metric" -le "$packets_after" ] ||
    fail "asfcast_mux_packets_total $packets_metric is not between the status's $packets_before and $packets_after"
[ "$($CHECK value "$WORK/ctl-metrics.txt" asfcast_output_up output=pull)" = 1 ] || fail "asfcast_output_up{output=pull} is not 1"
[ "$($CHECK value "$WORK/ctl-metrics.txt" asfcast_push_target_up target="$push_id")" = 1 ] || fail "push target not up in the metrics"
# The checker is not vacuous: broken scrapes fail it.
sed '/^# TYPE asfcast_mux_packets_total/d' "$WORK/ctl-metrics.txt" > "$WORK/ctl-bad1.txt"
grep -m1 '^asfcast_mux_packets_total' "$WORK/ctl-metrics.txt" >> "$WORK/ctl-bad1.txt"
printf 'asfcast_x{a="b\\q"} 1\n' | cat "$WORK/ctl-metrics.txt" - > "$WORK/ctl-bad2.txt"
printf '# TYPE asfcast_y counter\nasfcast_y 1\n' | cat "$WORK/ctl-metrics.txt" - > "$WORK/ctl-bad3.txt"
head -c -1 "$WORK/ctl-metrics.txt" > "$WORK/ctl-bad4.txt"
for b in 1 2 3 4; do
    if $CHECK metrics "$WORK/ctl-bad$b.txt" > /dev/null; then fail "the metrics checker passed broken scrape $b"; fi
done
note "metrics: $($CHECK metrics "$WORK/ctl-metrics.txt"); packets $packets_before <= $packets_metric <= $packets_after"

# ---- asfcast status ----
"$ASFCAST" status --control "127.0.0.1:$port" > "$WORK/ctl-status.txt" || fail "asfcast status failed"
grep -q "^outputs:" "$WORK/ctl-status.txt" && grep -q "pull .*running" "$WORK/ctl-status.txt" &&
    grep -q "push $push_id http://127.0.0.1:$rx_port/live: streaming" "$WORK/ctl-status.txt" ||
    { cat "$WORK/ctl-status.txt" >&2; fail "asfcast status does not show the outputs"; }
"$ASFCAST" status --control "127.0.0.1:$port" --json > "$WORK/ctl-status-cli.json" || fail "asfcast status --json failed"
$CHECK schema "$OPENAPI" Status "$WORK/ctl-status-cli.json" || fail "asfcast status --json does not match the schema"
if "$ASFCAST" status --control 127.0.0.1:9 > /dev/null 2> "$WORK/ctl-status-err.txt"; then fail "asfcast status on a dead port succeeded"; fi
grep -q "cannot connect" "$WORK/ctl-status-err.txt" || fail "asfcast status on a dead port: $(cat "$WORK/ctl-status-err.txt")"

# ---- The end: $E to the push target, markers in the archive ----
kill -INT "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not stop within 15 s"
wait "$pid"; rc=$?
trap 'kill -TERM $rx 2>/dev/null' EXIT
[ "$rc" = 0 ] || { tail -20 "$log" >&2; fail "asfcast exited $rc"; }
wait "$rx" || { cat "$WORK/ctl-receiver.log" >&2; fail "the strict receiver saw violations or no \$E"; }
received=$(sed -n 's/^received \([0-9]*\) packets.*/\1/p' "$WORK/ctl-receiver.log")
[ "${received:-0}" -gt 10 ] || fail "the receiver got ${received:-0} packets"
grep -q "script commands: 1 sent, 1 markers" "$log" || fail "the log does not count 1 command and 1 marker: $(grep 'script commands' "$log")"
"$ASFCAST" inspect --json "$WORK/ctl.wmv" > "$WORK/ctl-inspect.json" || fail "asfcast inspect"
grep -q "API marker" "$WORK/ctl-inspect.json" || fail "the archive's header does not list the marker"
grep -q "hello from the API" "$WORK/ctl-inspect.json" || fail "the archive's header does not list the caption"
if grep -E " (error|critical) " "$log"; then fail "asfcast logged errors"; fi
note "end: the receiver got $received packets and \$E; the archive lists the marker and the caption"

# ---- Off loopback: a token is required ----
if timeout 20 "$ASFCAST" run --preset "$WORK/ctl.yaml" --pull off --control 0.0.0.0:0 --duration 2 \
    > "$WORK/ctl-notoken.log" 2>&1; then fail "asfcast started a control port on 0.0.0.0 without a token"; fi
grep -q "a token is required" "$WORK/ctl-notoken.log" || fail "no message about the token: $(tail -3 "$WORK/ctl-notoken.log")"
token="t-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$token" > "$WORK/ctl.token"
chmod 600 "$WORK/ctl.token"
log2=$WORK/ctl-token.log
setsid "$ASFCAST" --log-level debug run --preset "$WORK/ctl.yaml" --pull off --control 0.0.0.0:0 \
    --control-token-file "$WORK/ctl.token" --duration 30 > "$log2" 2>&1 < /dev/null &
pid2=$!
trap 'kill -TERM $pid2 2>/dev/null' EXIT
port2=$(control_port "$log2" "$pid2")
c=$(curl -s -m 5 -o "$WORK/ctl.body" -w '%{http_code}' "http://127.0.0.1:$port2/api/status")
[ "$c" = 401 ] || fail "no token: $c"
c=$(curl -s -m 5 -o "$WORK/ctl.body" -w '%{http_code}' -H "Authorization: Bearer ${token}x" "http://127.0.0.1:$port2/metrics")
[ "$c" = 401 ] || fail "wrong token: $c"
c=$(curl -s -m 5 -o "$WORK/ctl.body" -w '%{http_code}' -H "Authorization: Bearer $token" -X POST \
    --data '{"action":"marker","name":"x"}' "http://127.0.0.1:$port2/api/actions")
[ "$c" = 200 ] || fail "the right token on an action: $c $(cat "$WORK/ctl.body")"
c=$(curl -s -m 5 -o "$WORK/ctl.body" -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port2/api/status")
[ "$c" = 200 ] || fail "the right token: $c"
"$ASFCAST" status --control "127.0.0.1:$port2" --token-file "$WORK/ctl.token" > /dev/null || fail "asfcast status --token-file"
if "$ASFCAST" status --control "127.0.0.1:$port2" > /dev/null 2>&1; then fail "asfcast status without the token succeeded"; fi
kill -INT "$pid2"
for _ in $(seq 1 100); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done
trap - EXIT
if grep -qF "$token" "$log2" "$log"; then fail "the token appears in the log"; fi
note "0.0.0.0 without a token refused; with one: 401 without it or with a wrong one, 200 with it; never logged"
