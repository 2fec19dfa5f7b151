#!/usr/bin/env bash
# ffprobe over mmsh:// reports the live streams as the preset describes them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
json=$(timeout 60 ffprobe -v error -print_format json -show_streams "$(pull_url)") || fail "ffprobe failed on $(pull_url)"
v=$(jq -r '[.streams[] | select(.codec_type=="video")] | length' <<<"$json")
a=$(jq -r '[.streams[] | select(.codec_type=="audio")] | length' <<<"$json")
[ "$v" = 1 ] && [ "$a" = 1 ] || fail "expected 1 video + 1 audio stream, got $v + $a"
[ "$(jq -r '.streams[] | select(.codec_type=="video") | .codec_name' <<<"$json")" = h264 ] || fail "video is not h264"
[ "$(jq -r '.streams[] | select(.codec_type=="video") | "\(.width)x\(.height)"' <<<"$json")" = 640x360 ] ||
    fail "video size is not 640x360"
[ "$(jq -r '.streams[] | select(.codec_type=="audio") | .codec_name' <<<"$json")" = wmav2 ] || fail "audio is not wmav2"
[ "$(jq -r '.streams[] | select(.codec_type=="audio") | .sample_rate' <<<"$json")" = 44100 ] || fail "audio rate"
note "ffprobe: h264 640x360 + wmav2 44100 Hz over mmsh"
