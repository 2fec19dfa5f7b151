#!/usr/bin/env bash
# MBR (preset mbr-3): three H.264 renditions + WMA2 in one ASF stream.
#  1. An archive made from a file source (--fast: no frame dropped, so frame counts are exact):
#     ffprobe sees three video streams of the right sizes and the audio, the header marks the video
#     streams as alternatives, ffmpeg decodes every stream cleanly with the expected frame counts.
#  2. The live mbr-3 preset served over MS-WMSP: a late-joining client selecting rendition 2 and
#     the audio (Pragma stream-switch-entry, MS-WMSP 2.2.1.4.27) gets only those streams, starting
#     on a key frame; a client without a selection gets every stream, each starting on a key frame.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
WMSP_TO_ASF=${WMSP_TO_ASF:?WMSP_TO_ASF must point at the wmsp_to_asf tool}
dir=$WORK/mbr
rm -rf "$dir"
mkdir -p "$dir"

# --- 1. archive from a 6 s 1080p30 file --------------------------------------------------------
timeout 120 ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=f=440:r=44100 \
    -t 6 -c:v libx264 -preset ultrafast -g 30 -pix_fmt yuv420p -c:a aac -ac 2 "$dir/in.mp4" || fail "making the input"
timeout 240 "$ASFCAST" run --preset mbr-3 --input "$dir/in.mp4" --fast --archive "$dir/mbr.wmv" --pull off \
    > "$dir/run.log" 2>&1 || { tail -20 "$dir/run.log" >&2; fail "asfcast run --preset mbr-3 exit $?"; }
grep -q "MBR: 3 video renditions, 1 audio encodings" "$dir/run.log" || fail "no MBR line in the log"

p=$(probe_json "$dir/mbr.wmv") || fail "ffprobe exit $?"
sizes=$(jq -r '[.streams[] | select(.codec_type=="video") | "\(.width)x\(.height)"] | join(" ")' <<<"$p")
[ "$sizes" = "1920x1080 1280x720 640x360" ] || fail "video streams: '$sizes'"
[ "$(jq '[.streams[] | select(.codec_type=="audio" and .codec_name=="wmav2")] | length' <<<"$p")" = 1 ] ||
    fail "expected one WMA2 audio stream: $(jq -c '[.streams[] | .codec_name]' <<<"$p")"

j=$("$ASFCAST" inspect --json "$dir/mbr.wmv") || fail "inspect exit $?"
[ "$(jq -c '.mutual_exclusions' <<<"$j")" = '[{"streams":[1,2,3],"type":"Mutex Bitrate"}]' ] ||
    fail "mutual exclusions: $(jq -c '.mutual_exclusions' <<<"$j")"
[ "$(jq -c '[.streams[].name]' <<<"$j")" = '["1080p 4500k","720p 2500k","360p 800k","WMA2 128k"]' ] ||
    fail "stream names: $(jq -c '[.streams[].name]' <<<"$j")"
[ "$(jq '.problems | length' <<<"$j")" = 0 ] || fail "inspect problems: $(jq -c .problems <<<"$j")"
# Key frames at the same times in every rendition: same count (a key every 2 s of 6 s: 3).
keys=$(jq -r '[.streams[] | select(.type=="video") | .key_frames] | join(" ")' <<<"$j")
[ "$keys" = "3 3 3" ] || fail "key frames per rendition: $keys (expected 3 3 3)"

for v in 0 1 2; do
    err=$(timeout 300 ffmpeg -nostdin -v error -xerror -i "$dir/mbr.wmv" -map 0:v:$v -f null - 2>&1) ||
        fail "ffmpeg exit $? decoding video $v: $err"
    [ -z "$err" ] || fail "ffmpeg errors decoding video $v: $err"
    n=$(timeout 300 ffprobe -v error -count_frames -select_streams v:$v -show_entries stream=nb_read_frames \
        -of default=nw=1:nk=1 "$dir/mbr.wmv")
    [ "$n" = 180 ] || fail "video $v: $n frames decoded, expected 180 (6 s at 30 fps)"
done
err=$(timeout 300 ffmpeg -nostdin -v error -xerror -i "$dir/mbr.wmv" -map 0:a:0 -f null - 2>&1) ||
    fail "ffmpeg exit $? decoding audio: $err"
[ -z "$err" ] || fail "ffmpeg errors decoding audio: $err"
note "archive: $sizes, keys $keys, 180 frames each"

# --- 2. live mbr-3 over MS-WMSP, late joiners with and without stream selection -------------------
pid_file=$dir/live.pid
trap 'stop_asfcast "$pid_file"' EXIT
port=$(start_asfcast "$dir/live.log" "$pid_file" --preset mbr-3 --pull 127.0.0.1:0 --duration 60)
sleep 5  # join a broadcast under way: the clients must find a key frame, not the first packet
url=http://127.0.0.1:$port/
ua="User-Agent: NSPlayer/12.0.7601.17514"
guid="Pragma: xClientGUID={3300ad50-2c39-46c0-ae0a-aaaaaaaaaaaa}"
timeout 20 curl -s -f -H "$ua" -H "$guid" -o "$dir/describe.bin" "$url" || fail "Describe failed"
[ -s "$dir/describe.bin" ] || fail "empty Describe body"

# capture NAME PRAGMA...: a Play, the body for 5 s, de-framed into NAME.wmv
capture() {
    local name=$1 rc=0
    shift
    local args=(-s -H "$ua" -H "$guid" -H "Pragma: xPlayStrm=1")
    for p in "$@"; do args+=(-H "Pragma: $p"); done
    timeout 20 curl "${args[@]}" --max-time 5 -o "$dir/$name.body" "$url" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 28 ] || fail "Play ($name) failed: curl exit $rc"
    "$WMSP_TO_ASF" "$dir/$name.body" "$dir/$name.wmv" > "$dir/$name.count" || fail "de-framing $name"
    note "$name: $(cat "$dir/$name.count")"
}

# Rendition 2 (720p) + audio: streams 1 and 3 thinned to nothing (thinning level 2).
capture sel "stream-switch-count=4" "stream-switch-entry=ffff:1:2 ffff:2:0 ffff:3:2 ffff:4:0"
s=$("$ASFCAST" inspect --json "$dir/sel.wmv") || fail "inspect of the selected stream exit $?"
objects() { jq -r ".streams[] | select(.number==$2) | .media_objects" <<<"$1"; }
first_key() { jq -r ".streams[] | select(.number==$2) | .first_object_key" <<<"$1"; }
[ "$(objects "$s" 1)" = 0 ] || fail "stream 1 was not selected but sent $(objects "$s" 1) objects"
[ "$(objects "$s" 3)" = 0 ] || fail "stream 3 was not selected but sent $(objects "$s" 3) objects"
[ "$(objects "$s" 2)" -ge 30 ] || fail "stream 2: only $(objects "$s" 2) objects in 5 s"
[ "$(objects "$s" 4)" -ge 50 ] || fail "audio: only $(objects "$s" 4) objects in 5 s"
[ "$(first_key "$s" 2)" = true ] || fail "the selected rendition does not start on a key frame"
[ "$(jq '.problems | length' <<<"$s")" = 0 ] || fail "inspect problems: $(jq -c .problems <<<"$s")"
# ffmpeg decodes the selected rendition from its first frame without a complaint. The capture
# ends mid-GOP, which is fine; -xerror stops at the first error.
err=$(timeout 120 ffmpeg -nostdin -v error -xerror -i "$dir/sel.wmv" -map 0:v:1 -map 0:a:0 -f null - 2>&1) ||
    fail "ffmpeg exit $? decoding the selected rendition: $err"
[ -z "$err" ] || fail "ffmpeg errors decoding the selected rendition: $err"
n=$(timeout 120 ffprobe -v error -count_frames -select_streams v:1 -show_entries stream=nb_read_frames \
    -of default=nw=1:nk=1 "$dir/sel.wmv")
[ "$n" -ge 30 ] || fail "selected rendition: only $n frames decoded"
note "selected 720p + audio: $(objects "$s" 2) video objects, $n decoded, first is a key frame"

# No selection: every stream (what WMS sends such a client), each starting on a key frame.
capture all
a=$("$ASFCAST" inspect --json "$dir/all.wmv") || fail "inspect of the full stream exit $?"
for st in 1 2 3; do
    [ "$(objects "$a" $st)" -ge 30 ] || fail "no selection: stream $st sent only $(objects "$a" $st) objects"
    [ "$(first_key "$a" $st)" = true ] || fail "no selection: stream $st does not start on a key frame"
done
for v in 0 1 2; do
    err=$(timeout 120 ffmpeg -nostdin -v error -xerror -i "$dir/all.wmv" -map 0:v:$v -f null - 2>&1) ||
        fail "ffmpeg exit $? decoding video $v of the full stream: $err"
    [ -z "$err" ] || fail "ffmpeg errors decoding video $v of the full stream: $err"
done
note "no selection: all three renditions start on key frames and decode cleanly"
stop_asfcast "$pid_file"
trap - EXIT
rm -rf "$dir"
echo "PASS"
