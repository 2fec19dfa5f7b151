#!/usr/bin/env bash
# Every built-in preset runs for real and its archive decodes cleanly with ffmpeg, with the streams
# the preset says. On a machine without cameras or sound cards the device presets run on the slate
# (the broadcast does not fail for a missing device); the log says so.
source "$(dirname "$0")/lib.sh"

dir=$WORK/builtin
rm -rf "$dir"
mkdir -p "$dir"
names=$(timeout 30 "$ASFCAST" presets | awk '{ print $1 }')
[ "$(wc -w <<<"$names")" -ge 8 ] || fail "expected at least 8 built-in presets: $names"
for name in $names; do
    log=$dir/$name.log
    timeout 120 "$ASFCAST" run --preset "$name" --duration 3 --archive "$dir/$name.asf" --pull off >"$log" 2>&1 ||
        fail "preset $name: asfcast exited $?: $(tail -5 "$log")"
    ffmpeg_decodes_clean "$dir/$name.asf"
    json=$(probe_json "$dir/$name.asf")
    video=$(jq '[.streams[] | select(.codec_type == "video")] | length' <<<"$json")
    audio=$(jq '[.streams[] | select(.codec_type == "audio")] | length' <<<"$json")
    dur=$(jq -r '.format.duration' <<<"$json")
    near "$dur" 3.0 0.3 || fail "preset $name: archive lasts $dur s, want 3"
    [ $((video + audio)) -ge 1 ] || fail "preset $name: no streams"
    slate=""
    grep -q "Broadcasting the slate" "$log" && slate=" (devices missing here: on the slate)"
    note "$name: $video video + $audio audio streams, $dur s, decodes cleanly$slate"
done
