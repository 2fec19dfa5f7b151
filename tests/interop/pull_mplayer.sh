#!/usr/bin/env bash
# MPlayer plays 200 frames of the live stream over mmsh:// (its own ASF/HTTP client).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
log=$WORK/pull-mplayer.log
timeout 60 mplayer -nocache -benchmark -vo null -ao null -frames 200 "$(pull_url)" > "$log" 2>&1 ||
    fail "mplayer exit $? (log $log)"
last=$(tr '\r' '\n' < "$log" | grep '^A:' | tail -1)
note "mplayer: $last"
frames=$(sed -n 's|.* \([0-9]*\)/ *[0-9]* .*|\1|p' <<<"$last")
[ "${frames:-0}" -ge 200 ] || fail "mplayer decoded ${frames:-0} of 200 frames"
grep -q "VIDEO:  \[H264\]  640x360" "$log" || fail "mplayer did not see the H.264 640x360 stream"
grep -q "Selected audio codec: \[ffwmav2\]" "$log" || fail "mplayer did not decode WMA2"
if grep -E -i "error while decoding|decode_slice|corrupt|invalid" "$log"; then fail "mplayer reported damaged data"; fi
