#!/usr/bin/env bash
# The status page (GET / on the control port) in headless Chromium: it loads, the preview
# changes, a button changes an output's state (control_page.py drives it over the DevTools
# protocol). The preview's cost is read from asfcast's log at the end.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
/usr/bin/python3 -c 'import websocket' || fail "Debian's python3-websocket is missing (scripts/install-deps.sh installs it)"
command -v chromium > /dev/null || fail "Debian's chromium is missing (scripts/install-deps.sh installs it)"
write_pull_preset "$WORK/page.yaml"
echo "source: {pattern: ball}" >> "$WORK/page.yaml"
log=$WORK/page.log
setsid "$ASFCAST" --log-level info run --preset "$WORK/page.yaml" --pull 127.0.0.1:0 --control 127.0.0.1:0 \
    --duration 90 > "$log" 2>&1 < /dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*control API and status page on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited"; }
    sleep 0.1
done
[ -n "$port" ] || fail "no control port in the log"
timeout 150 /usr/bin/python3 "$(dirname "$0")/control_page.py" "http://127.0.0.1:$port/" "$WORK" ||
    { tail -5 "$WORK/chromium.log" >&2; fail "the page test failed"; }
kill -INT "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
trap - EXIT
note "$(grep -o 'control: .* preview pictures.*' "$log")"
if grep -E " (error|critical) " "$log"; then fail "asfcast logged errors"; fi
