#!/usr/bin/env bash
# Fixture: one live `asfcast run` (test pattern + tone) serving pull on an ephemeral port.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
[ -f "$PULL_PID_FILE" ] && stop_asfcast "$PULL_PID_FILE"
rm -f "$PULL_PORT_FILE"
write_pull_preset "$WORK/pull-live.yaml"
# Bounded: the server ends by itself after 15 minutes even if pull_stop never runs.
port=$(start_asfcast "$PULL_LOG" "$PULL_PID_FILE" --preset "$WORK/pull-live.yaml" --pull 127.0.0.1:0 --duration 900)
echo "$port" > "$PULL_PORT_FILE"
note "asfcast serves mmsh://127.0.0.1:$port/ (pid $(cat "$PULL_PID_FILE"))"
# Let it run a few seconds, so every client joins a broadcast already under way (late joiners).
sleep 4
require_pull_server
