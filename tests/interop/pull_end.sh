#!/usr/bin/env bash
# End of a broadcast (--duration): clients playing to the end receive $E with reason 0
# (MS-WMSP 2.2.3.4) as the last bytes and stop by themselves; asfcast exits.
#  - curl captures the raw Play body: it ends with 24 45 04 00 00 00 00 00.
#  - VLC ends playback on its own, long before its --run-time, with no error.
#  - ffmpeg decodes every frame; its mmsh client reports the end of a stream only through its
#    own end-of-stream lines ("Stream ended!" and the reads after it), nothing else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
write_pull_preset "$WORK/pull-end.yaml"
log=$WORK/pull-end.log
port=$(start_asfcast "$log" "$WORK/pull-end.pid" --preset "$WORK/pull-end.yaml" --pull 127.0.0.1:0 --duration 10)
trap 'stop_asfcast "$WORK/pull-end.pid"' EXIT
url="mmsh://127.0.0.1:$port/"

curl -s -o "$WORK/pull-end.body" -H "User-Agent: NSPlayer/9.0.0.2980" -H "Pragma: xPlayStrm=1" --max-time 40 \
    "http://127.0.0.1:$port/" &
curl_pid=$!
timeout 40 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
    cvlc -vv -I dummy --no-dbus --vout dummy --aout dummy --run-time 60 --play-and-exit "$url" > "$WORK/pull-end-vlc.log" 2>&1 &
vlc_pid=$!
ffout=$WORK/pull-end.framecrc
fferr=$(timeout 60 ffmpeg -nostdin -v error -i "$url" -f framecrc -y "$ffout" 2>&1) || true
wait "$vlc_pid" || fail "VLC did not end by itself within 40 s (exit $?)"
wait "$curl_pid" || fail "curl did not get the whole Play body (exit $?)"

pid=$(cat "$WORK/pull-end.pid")
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast still runs after --duration 10"
trap - EXIT

tail8=$(tail -c 8 "$WORK/pull-end.body" | od -An -tx1 | tr -d ' \n')
[ "$tail8" = 2445040000000000 ] || fail "the Play body ends with $tail8, not \$E reason 0"
grep -q "access_mms stream warning: EOF" "$WORK/pull-end-vlc.log" || fail "VLC did not see the end of the stream"
errors=$(grep -E "(error|fatal):" "$WORK/pull-end-vlc.log" | grep -v -E "dbus|interface|globalhotkeys|cannot read data 2" || true)
[ -z "$errors" ] || fail "VLC logged errors: $errors"
other=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" <<<"$fferr" || true)
[ -z "$other" ] || fail "ffmpeg printed errors other than the end of the stream: $other"
grep -q "^Stream ended!$" <<<"$fferr" || fail "ffmpeg did not see \$E"
video=$(grep -c '^0,' "$ffout" || true)
note "curl got \$E last, VLC stopped at EOF, ffmpeg decoded $video video frames to the end"
[ "$video" -ge 250 ] || fail "ffmpeg decoded only $video video frames of a 10 s broadcast"
if grep -E " (error|critical) " "$log"; then fail "asfcast logged errors"; fi
