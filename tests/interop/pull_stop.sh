#!/usr/bin/env bash
# Fixture cleanup: stop the live server; it must end cleanly (exit 0, no error lines).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
pid=$(cat "$PULL_PID_FILE")
kill -TERM "$pid" 2>/dev/null || fail "the pull fixture's asfcast was already gone"
rc=0
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then stop_asfcast "$PULL_PID_FILE"; fail "asfcast did not stop within 15 s of SIGTERM"; fi
rm -f "$PULL_PID_FILE" "$PULL_PORT_FILE"
if grep -E " (error|critical) " "$PULL_LOG"; then fail "asfcast logged errors while serving"; fi
grep -q "pull: .* plays" "$PULL_LOG" || fail "asfcast printed no pull summary"
grep "pull: " "$PULL_LOG" | tail -1
