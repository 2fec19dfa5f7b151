#!/usr/bin/env bash
# ffprobe reports the expected streams, codecs, sizes and duration of our archives.
source "$(dirname "$0")/lib.sh"
j=$(probe_json "$WORK/live.wmv") || fail "ffprobe failed on live.wmv"
[ "$(jq -r '.format.format_name' <<<"$j")" = asf ] || fail "format is not asf"
[ "$(jq '.streams | length' <<<"$j")" = 2 ] || fail "expected 2 streams: $(jq -c '[.streams[].codec_name]' <<<"$j")"
v=$(jq -c '.streams[] | select(.codec_type=="video")' <<<"$j")
a=$(jq -c '.streams[] | select(.codec_type=="audio")' <<<"$j")
[ "$(jq -r .codec_name <<<"$v")" = h264 ] || fail "video codec $(jq -r .codec_name <<<"$v")"
[ "$(jq -r .width <<<"$v")x$(jq -r .height <<<"$v")" = 1280x720 ] || fail "video size"
[ "$(jq -r .codec_name <<<"$a")" = wmav2 ] || fail "audio codec $(jq -r .codec_name <<<"$a")"
[ "$(jq -r .sample_rate <<<"$a")" = 44100 ] || fail "audio rate"
[ "$(jq -r .channels <<<"$a")" = 2 ] || fail "audio channels"
d=$(jq -r .format.duration <<<"$j")
near "$d" 6 0.5 || fail "duration $d, expected 6 s"
vf=$(count_frames "$WORK/live.wmv" v)
note "live: duration $d s, $vf video frames"
near "$vf" 180 10 || fail "video frames $vf, expected ~180"

j=$(probe_json "$WORK/file.wmv") || fail "ffprobe failed on file.wmv"
v=$(jq -c '.streams[] | select(.codec_type=="video")' <<<"$j")
[ "$(jq -r .width <<<"$v")x$(jq -r .height <<<"$v")" = 1280x720 ] || fail "file video size"
d=$(jq -r .format.duration <<<"$j")
near "$d" 10 0.3 || fail "file duration $d, expected 10 s"
vf=$(count_frames "$WORK/file.wmv" v)
note "file: duration $d s, $vf video frames"
[ "$vf" = 300 ] || fail "file video frames $vf, expected 300 (10 s at 30 fps)"
