#!/usr/bin/env bash
# VLC (cvlc, as an unprivileged user) plays the live stream over mmsh:// for 10 s without error.
# VLC's --run-time compares with the stream's own clock, which for a client joining a running
# broadcast starts well past zero; so VLC plays until `timeout` interrupts it, and must still be
# playing then (no end of stream seen).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
log=$WORK/pull-vlc.log
rc=0
timeout -s INT 10 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
    cvlc -vv -I dummy --no-dbus --vout dummy --aout dummy --play-and-exit "$(pull_url)" > "$log" 2>&1 || rc=$?
[ "$rc" = 124 ] || fail "cvlc ended by itself within 10 s (exit $rc, log $log)"
sed -n '/mmsh:.*successfully opened/,$p' "$log" | grep -q "main input debug: EOF reached" &&
    fail "VLC reached the end of the live stream (log $log)"
grep -q "access_mms stream debug: HTTP reply 'HTTP/1.0 200 OK'" "$log" || fail "VLC got no 200 reply"
grep -q "Content-Type: application/x-mms-framed" "$log" || fail "VLC's Play got no application/x-mms-framed reply"
# Errors that are not about the stream: no D-Bus/X11 session for an unprivileged user, and the
# Describe read that VLC's mmsh access always ends by reading past Content-Length until close.
errors=$(grep -E "(error|fatal):" "$log" | grep -v -E "dbus|interface|globalhotkeys|cannot read data 2" || true)
[ -z "$errors" ] || fail "VLC logged errors: $errors"
decoded=$(grep -c -E "(video|audio) output debug|picture is too late|decoder debug" "$log" || true)
note "VLC played 10 s; $decoded decoder/output lines, no errors"
grep -q "using .* decoder module \"avcodec\"" "$log" || grep -q "avcodec decoder" "$log" || fail "VLC opened no decoder"
