#!/usr/bin/env bash
# Fixture: a live archive from the default preset (test pattern + tone), 6 s, and a file-source
# archive encoded with --fast.
source "$(dirname "$0")/lib.sh"
rm -f "$WORK"/live.wmv "$WORK"/file.wmv "$WORK"/input.mkv
note "live default preset, 6 s"
timeout 60 "$ASFCAST" --log-level warn run --duration 6 --archive "$WORK/live.wmv" || fail "asfcast run exit $?"
[ -s "$WORK/live.wmv" ] || fail "no archive written"

note "file source, --fast"
timeout 120 ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 10 -c:v mpeg4 -q:v 4 -c:a mp2 -b:a 192k "$WORK/input.mkv" || fail "could not make the input file"
start=$(date +%s.%N)
timeout 120 "$ASFCAST" --log-level warn run --input "$WORK/input.mkv" --fast --archive "$WORK/file.wmv" || fail "asfcast run --fast exit $?"
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
note "10 s file encoded in $secs s"
awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || fail "--fast took $secs s for a 10 s file (not faster than real time)"
chmod 0644 "$WORK"/*.wmv
