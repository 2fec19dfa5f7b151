#!/usr/bin/env bash
# VLC (cvlc, as an unprivileged user) plays the live stream over mmsh:// for 10 s without error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
log=$WORK/pull-vlc.log
timeout 40 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
    cvlc -vv -I dummy --no-dbus --vout dummy --aout dummy --run-time 10 --play-and-exit "$(pull_url)" > "$log" 2>&1 ||
    fail "cvlc exit $? (log $log)"
grep -q "access_mms stream debug: HTTP reply 'HTTP/1.0 200 OK'" "$log" || fail "VLC got no 200 reply"
grep -q "Content-Type: application/x-mms-framed" "$log" || fail "VLC's Play got no application/x-mms-framed reply"
# Errors that are not about the stream: no D-Bus/X11 session for an unprivileged user, and the
# Describe read that VLC's mmsh access always ends by reading past Content-Length until close.
errors=$(grep -E "(error|fatal):" "$log" | grep -v -E "dbus|interface|globalhotkeys|cannot read data 2" || true)
[ -z "$errors" ] || fail "VLC logged errors: $errors"
decoded=$(grep -c -E "(video|audio) output debug|picture is too late|decoder debug" "$log" || true)
note "VLC played 10 s; $decoded decoder/output lines, no errors"
grep -q "using .* decoder module \"avcodec\"" "$log" || grep -q "avcodec decoder" "$log" || fail "VLC opened no decoder"
