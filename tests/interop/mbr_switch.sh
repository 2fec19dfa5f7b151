#!/usr/bin/env bash
# MBR rendition switching as Windows Media Player does it (issue 11): the live mbr-3 preset served
# over MS-WMSP to wmsp_player.py, a strict client written from MS-WMSP and the ASF specification.
# Describe, Play of the 360p rendition (stream 3) and the audio, then SelectStream to the 720p
# rendition (stream 2) and later thinning it to key frames (level 1):
#  - POST form (non-pipelined, MS-WMSP 2.2.2.8): each SelectStream on a connection of its own;
#  - GET form (pipelined): each SelectStream on the data connection, whose Play response ends with
#    a zero-length chunk, then the pending response of a pipelined KeepAlive sent before, and whose
#    $D packets go on in the SelectStream response (3.2.5.7).
# The client checks the counts (new rendition from a key-frame payload within one key-frame
# interval, old one stopped, audio unbroken, key frames only when thinned); here the captured
# $H + $D are turned into ASF files that ffmpeg decodes without an error, frame counts checked.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
WMSP_TO_ASF=${WMSP_TO_ASF:?WMSP_TO_ASF must point at the wmsp_to_asf tool}
dir=$WORK/mbr_switch
rm -rf "$dir"
mkdir -p "$dir"

pid_file=$dir/live.pid
trap 'stop_asfcast "$pid_file"' EXIT
port=$(start_asfcast "$dir/live.log" "$pid_file" --preset mbr-3 --pull 127.0.0.1:0 --duration 90)
sleep 3  # a broadcast under way

frames() {  # FILE VIDEO-INDEX: frames ffprobe decodes
    timeout 120 ffprobe -v error -count_frames -select_streams "v:$2" -show_entries stream=nb_read_frames \
        -of default=nw=1:nk=1 "$1"
}

for mode in post get; do
    out=$dir/$mode
    rc=0
    report=$(timeout 60 python3 "$(dirname "$0")/wmsp_player.py" --port "$port" --mode "$mode" --out "$out" \
        --switch-after 4 --thin-after 6 --thin-for 7 --key-interval 2) || rc=$?
    [ "$rc" = 0 ] || { grep -v "source late" "$dir/live.log" | tail -20 >&2; fail "wmsp_player ($mode) exit $rc"; }
    note "$mode: $report"
    j() { jq -r "$1" <<<"$report"; }
    # The counts, asserted here too.
    [ "$(j .new)" = 2 ] && [ "$(j .old)" = 3 ] || fail "$mode: switched $(j .old) -> $(j .new), expected 3 -> 2"
    [ "$(j .switch_delay_ms)" -le 2500 ] || fail "$mode: switch took $(j .switch_delay_ms) ms"
    [ "$(j .new_objects)" -ge 90 ] || fail "$mode: only $(j .new_objects) frames of stream 2 in 6 s"
    [ "$(j .thin_complete_key_objects)" -ge 2 ] || fail "$mode: $(j .thin_complete_key_objects) key frames thinned"
    [ "$(j .audio_max_gap_ms)" -le 500 ] || fail "$mode: audio gap $(j .audio_max_gap_ms) ms"
    j '.supported | join(",")' | grep -q srvppair && fail "$mode: srvppair in Supported"

    # ffmpeg decodes the new rendition (v:1, stream 2) from the captured bytes with no error.
    for part in switch full; do
        "$WMSP_TO_ASF" "$out.$part.body" "$out.$part.wmv" > "$out.$part.count" || fail "$mode: de-framing $part"
        err=$(timeout 120 ffmpeg -nostdin -v error -xerror -i "$out.$part.wmv" -map 0:v:1 -map 0:a:0 -f null - 2>&1) ||
            fail "$mode: ffmpeg exit $? decoding stream 2 of the $part capture: $err"
        [ -z "$err" ] || fail "$mode: ffmpeg errors decoding stream 2 of the $part capture: $err"
        n=$(frames "$out.$part.wmv" 1)
        want=$(j ".new_whole_objects_${part}_body")
        # Every whole frame received decodes; at most the one cut by the capture's end is lost.
        [ "$n" -ge $((want - 1)) ] && [ "$n" -le $((want + 1)) ] ||
            fail "$mode: $n frames of stream 2 decoded from the $part capture, $want whole frames received"
        note "$mode $part: $(cat "$out.$part.count"), stream 2: $n frames decoded of $want received"
    done
    note "$mode: stream 3 (played before the switch): $(frames "$out.switch.wmv" 2) frames decoded"
done
grep -q "switches streams" "$dir/live.log" || fail "the server log does not show the switches"
stop_asfcast "$pid_file"
trap - EXIT
rm -rf "$dir"
echo "PASS"
