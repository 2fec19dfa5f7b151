#!/usr/bin/env bash
# SIGKILL in the middle of archiving leaves a file that ffprobe opens and ffmpeg decodes.
source "$(dirname "$0")/lib.sh"
f="$WORK/killed.wmv"
rm -f "$f"
"$ASFCAST" --log-level warn run --archive "$f" &
pid=$!
sleep 5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[ -s "$f" ] || fail "nothing written before the kill"
probe_json "$f" >/dev/null || fail "ffprobe cannot open the killed archive"
vf=$(count_frames "$f" v)
note "killed archive: $(stat -c %s "$f") bytes, $vf video frames decodable"
[ "$vf" -gt 60 ] || fail "only $vf frames decodable after kill -9"
err=$(timeout 120 ffmpeg -nostdin -v error -i "$f" -f null - 2>&1) || fail "ffmpeg exit $? on killed archive: $err"
[ -z "$err" ] || fail "ffmpeg errors on killed archive: $err"
