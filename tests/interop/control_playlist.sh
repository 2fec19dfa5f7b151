#!/usr/bin/env bash
# The control API switches playlist entries (issues 14 and 11): a playlist of a long-repeating file
# ("starting soon"), the live show and a closing file, run by a real `asfcast run --control`.
#  - /api/status shows the playlist (entries, the entry on air) and validates against
#    docs/openapi.json;
#  - playlist_entry "show" (by name) puts the live show on air at once, cutting the loop; "3" (by
#    number) the closing file; unknown entries and numbers out of range get 404 with a message;
#  - the job ends by itself after the closing file, and the archive holds one finalized file per
#    entry: the loop cut short, the live show, the closing file whole (ffprobe counts each).
source "$(dirname "$0")/lib.sh"
OPENAPI=$(cd "$(dirname "$0")/../.." && pwd)/docs/openapi.json
CHECK="/usr/bin/python3 $(dirname "$0")/control_check.py"
W=$WORK/control_playlist
rm -rf "$W"
mkdir -p "$W"

# The entry files, 3 s and 2 s, each with its own title (its own header).
for t in soon:3 closing:2; do
    name=${t%%:*}
    cat > "$W/$name.yaml" <<YAML
name: $name
base: default
video: {width: 320, height: 240, bitrate_kbps: 400, max_bitrate_kbps: 400, vbv_buffer_kbit: 400, x264_preset: ultrafast, keyframe_interval_s: 1}
audio: {bitrate_kbps: 64}
asf: {packet_size: 4096}
metadata: {title: $name}
outputs: {pull: off}
YAML
    timeout 60 "$ASFCAST" --log-level warn run --preset "$W/$name.yaml" --duration "${t##*:}" --archive "$W/$name.wmv" ||
        fail "making $name.wmv: asfcast exit $?"
done
soon_v=$(count_frames "$W/soon.wmv" v)
closing_v=$(count_frames "$W/closing.wmv" v)
note "entry files: soon.wmv $soon_v video frames, closing.wmv $closing_v"

cat > "$W/playlist.yaml" <<YAML
name: control-playlist
base: default
video: {width: 320, height: 240, bitrate_kbps: 400, max_bitrate_kbps: 400, vbv_buffer_kbit: 400, x264_preset: ultrafast, keyframe_interval_s: 1}
audio: {bitrate_kbps: 64}
asf: {packet_size: 4096}
playlist:
  - {file: $W/soon.wmv, name: soon, repeat: 1000}
  - {live: true, name: show}
  - {file: $W/closing.wmv, name: closing}
outputs:
  pull: off
  archive: {entry_pattern: "$W/rec-{n}-{entry}.wmv"}
YAML
log=$W/run.log
setsid "$ASFCAST" --log-level info run --preset "$W/playlist.yaml" --control 127.0.0.1:0 --archive "$W/rec.wmv" \
    --duration 120 > "$log" 2>&1 < /dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*control API and status page on http://[^ ]*:\([0-9]*\)/.*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited before serving its control port"; }
    sleep 0.1
done
[ -n "$port" ] || fail "no control port in the log"
CTL="http://127.0.0.1:$port"

post() {  # post BODY: the status code; the body in $W/ctl.body
    curl -s -m 20 -o "$W/ctl.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$1" "$CTL/api/actions"
}
status() {  # status JQ: a field of a fresh, schema-checked /api/status
    curl -s -m 20 -o "$W/status.json" "$CTL/api/status" || fail "GET /api/status"
    $CHECK schema "$OPENAPI" Status "$W/status.json" || fail "the status does not match the OpenAPI schema"
    jq -r "$1" "$W/status.json"
}
wait_on_air() {  # wait_on_air WORD: bounded (15 s) wait until the entry on air names WORD
    local i
    for i in $(seq 1 75); do
        status '.playlist.on_air' | grep -q "$1" && return 0
        sleep 0.2
    done
    fail "'$1' did not go on air: on air is '$(status '.playlist.on_air')'"
}

wait_on_air soon
[ "$(status '.playlist.enabled')" = true ] || fail "the status says there is no playlist"
[ "$(status '.playlist.entries | join(",")')" = "soon,show,closing" ] || fail "entries: $(status '.playlist.entries')"
sleep 2
code=$(post '{"action":"playlist_entry","entry":"show"}')
[ "$code" = 200 ] || fail "playlist_entry show: $code $(cat "$W/ctl.body")"
note "switch to show: $(cat "$W/ctl.body")"
wait_on_air show
code=$(post '{"action":"playlist_entry","entry":"9"}')
[ "$code" = 404 ] && grep -q "1..3" "$W/ctl.body" || fail "entry 9: $code $(cat "$W/ctl.body")"
code=$(post '{"action":"playlist_entry","entry":"nosuch"}')
[ "$code" = 404 ] && grep -q "nosuch" "$W/ctl.body" || fail "entry nosuch: $code $(cat "$W/ctl.body")"
sleep 3
code=$(post '{"action":"playlist_entry","entry":"3"}')
[ "$code" = 200 ] || fail "playlist_entry 3: $code $(cat "$W/ctl.body")"
wait_on_air closing
started=$(status '.playlist.entries_started')
[ "$started" -ge 3 ] || fail "entries started: $started"

# The closing file plays out, then the playlist (and the job) ends by itself.
rc=""
for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        rc=$?
        break
    fi
    sleep 0.1
done
[ -n "$rc" ] || fail "asfcast did not end after the closing entry"
trap - EXIT
[ "$rc" = 0 ] || { tail -20 "$log" >&2; fail "asfcast exit $rc"; }
grep -q "the operator puts entry 2 'show'" "$log" || fail "the log does not name the operator's switch to show"
grep -q "the operator puts entry 3 'closing'" "$log" || fail "the log does not name the operator's switch to closing"

# One finalized archive file per entry.
mapfile -t files < <(ls "$W"/rec-*.wmv | sort -V)
[ "${#files[@]}" = 3 ] || fail "expected 3 archive files, got: ${files[*]}"
for f in "${files[@]}"; do
    "$ASFCAST" inspect "$f" | grep -q "flags seekable" || fail "$f is not finalized (not seekable)"
    ffmpeg_decodes_clean "$f"
done
v1=$(count_frames "${files[0]}" v)
v2=$(count_frames "${files[1]}" v)
v3=$(count_frames "${files[2]}" v)
note "archive: soon $v1 video frames (cut), show $v2, closing $v3"
[ "$v1" -ge "$soon_v" ] || fail "the loop entry holds $v1 frames, less than one play ($soon_v): it was cut too early"
[ "$v1" -lt $((soon_v * 4)) ] || fail "the loop entry holds $v1 frames: the switch did not cut it"
[ "$v2" -gt 50 ] || fail "the live show holds only $v2 frames"
[ "$v3" = "$closing_v" ] || fail "the closing entry holds $v3 frames, the file $closing_v"
note "the control API put each entry on air when asked; the archive holds one file per entry"
