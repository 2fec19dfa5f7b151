#!/usr/bin/env bash
# Issue 11, point 6: the header tells the truth. Every built-in preset runs for real (its own
# encoders on test sources; the device presets on the slate where there are no devices) for 8 s
# into an archive, and bitrate_check measures from the packets (send times x packet size) the
# highest rate sent over any 1-second window, for the whole stream and for each stream (its
# payloads plus its share of each packet's overhead). The File Properties Maximum Bitrate and
# every Stream Bitrate Properties value must be at least that.
source "$(dirname "$0")/lib.sh"

BITRATE_CHECK=${BITRATE_CHECK:?BITRATE_CHECK must point at bitrate_check}
dir=$WORK/bitrate_truth
rm -rf "$dir"
mkdir -p "$dir"
names=$(timeout 30 "$ASFCAST" presets | awk '{ print $1 }')
[ "$(wc -w <<<"$names")" -ge 9 ] || fail "expected at least 9 built-in presets: $names"
failed=""
checked=0
for name in $names; do
    log=$dir/$name.log
    timeout 120 "$ASFCAST" run --preset "$name" --duration 8 --archive "$dir/$name.asf" --pull off >"$log" 2>&1 ||
        fail "preset $name: asfcast exited $?: $(tail -5 "$log")"
    if ! "$BITRATE_CHECK" "$dir/$name.asf" --label "$name"; then
        failed="$failed $name"
    fi
    checked=$((checked + 1))
    rm -f "$dir/$name.asf"
done
[ "$checked" -ge 9 ] || fail "checked $checked presets"
[ -z "$failed" ] || fail "the header understates what is sent for:$failed"
note "$checked built-in presets: every declared rate covers the highest 1-second rate sent"
