#!/usr/bin/env bash
# VLC (as an unprivileged user) plays the archive to the end with no error.
source "$(dirname "$0")/lib.sh"
log="$WORK/vlc.log"
timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME=/tmp \
    cvlc -v --no-one-instance --play-and-exit -I dummy --vout=dummy --aout=dummy --no-video-title-show \
    "$WORK/live.wmv" >"$log" 2>&1 || fail "cvlc exit $?: $(tail -5 "$log")"
if grep -E "(asf|avcodec|decoder|demux)[^:]*error" "$log"; then fail "VLC reported errors"; fi
grep -q "asf" "$log" || note "(VLC printed no asf lines at -v)"
note "VLC played the archive to the end"
