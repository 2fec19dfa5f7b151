#!/usr/bin/env bash
# The service contract of systemd/asfcast@.service (Type=notify, WatchdogSec): asfcast run sends
# READY=1, STATUS= lines and WATCHDOG=1 while it runs, STOPPING=1 when told to stop; and the unit
# file passes `systemd-analyze verify`.
source "$(dirname "$0")/lib.sh"
NOTIFY_LISTENER=${NOTIFY_LISTENER:?NOTIFY_LISTENER must point at the test listener}
UNIT=${UNIT:?UNIT must point at the built unit template (build/systemd/asfcast@.service)}
sock=$WORK/notify.sock
"$NOTIFY_LISTENER" "$sock" 12 > "$WORK/notify.log" &
listener=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the listener did not bind $sock"
NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 timeout 60 "$ASFCAST" --log-level warn run --pull off --duration 5 ||
    fail "asfcast run exit $?"
wait "$listener"
grep -qx "READY=1" "$WORK/notify.log" || fail "no READY=1 (got: $(head -5 "$WORK/notify.log"))"
grep -q "^STATUS=.*source live, video [0-9]* frames" "$WORK/notify.log" || fail "no STATUS line with the source state"
[ "$(grep -cx "WATCHDOG=1" "$WORK/notify.log")" -ge 2 ] || fail "the watchdog was not fed"
grep -qx "STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1"
note "notify: $(grep -c . "$WORK/notify.log") messages; last status: $(grep '^STATUS=' "$WORK/notify.log" | tail -1)"

unit=$WORK/asfcast@.service
sed -E "s|^ExecStart=[^ ]+|ExecStart=$ASFCAST|" "$UNIT" > "$unit"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
