#!/usr/bin/env bash
# Issue 15, point 3: audio.codec copy. The test camera (H.264 + AAC-LC 48 kHz stereo over RTSP)
# relayed with video.codec copy and audio.codec copy (audio.allow_copy: true) to archive and pull:
# the ASF audio stream is AAC (WAVEFORMATEX 0x00FF + the camera's AudioSpecificConfig), and
# ffmpeg (every frame, no error line, also from its own mmsh:// client), GStreamer (asfdemux +
# decodebin) and VLC 3 (file:// and its own mmsh:// client) decode it; the counts are asserted
# against ffprobe's and against the relay's length. Without audio.allow_copy the preset is refused
# naming both keys and which players take AAC in ASF. The player table of docs/network-sources.md
# ("AAC copy") is what this test measures.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
source "$(dirname "$0")/network_lib.sh"

dir=$WORK/rtsp-aac-copy
rm -rf "$dir"
mkdir -p "$dir"
chmod 755 "$dir"
cam_port=$(free_port)
cam=$(start_camera "$dir/camera.log" "$cam_port")
trap 'kill $cam 2>/dev/null || true; stop_asfcast "$dir/pid"' EXIT
url="rtsp://127.0.0.1:$cam_port/cam"

write_copy_preset() {
    cat > "$1" <<YAML
base: default
source: {type: rtsp, url: "$url", transport: tcp}
video: {codec: copy, width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: copy$2, sample_rate: 48000, channels: 2}
YAML
}

# Without audio.allow_copy: refused before anything starts, naming both keys and the players.
write_copy_preset "$dir/refused.yaml" ""
out=$(timeout 20 "$ASFCAST" run --preset "$dir/refused.yaml" --duration 2 --pull off 2>&1) && fail "audio.codec copy without audio.allow_copy was accepted"
grep -q "audio.codec: copy needs audio.allow_copy: true" <<<"$out" || fail "no refusal naming audio.codec and audio.allow_copy: $out"
grep -q "ffmpeg (ffplay, mpv), VLC and GStreamer play" <<<"$out" || fail "the refusal does not say which players take AAC in ASF: $out"
grep -q "Windows Media servers .* and Windows Media Player and other older players do not" <<<"$out" ||
    fail "the refusal does not say that Windows Media servers and older players do not: $out"
note "refused without audio.allow_copy: $(grep -o 'audio.codec: copy needs.*' <<<"$out" | head -c 160)..."

# What probe says the preset would do.
write_copy_preset "$dir/copy.yaml" ", allow_copy: true"
timeout 30 "$ASFCAST" probe --preset "$dir/copy.yaml" --timeout 10 "$url" > "$dir/probe.txt" 2>&1 ||
    fail "asfcast probe failed: $(cat "$dir/probe.txt")"
grep -q "audio: copy the AAC as it is" "$dir/probe.txt" || fail "probe: no AAC copy plan: $(cat "$dir/probe.txt")"

duration=12
port=$(start_asfcast "$dir/run.log" "$dir/pid" --preset "$dir/copy.yaml" --duration $duration --archive "$dir/out.asf" \
       --pull 127.0.0.1:0)
timeout 60 ffmpeg -nostdin -v error -y -i "mmsh://127.0.0.1:$port/" -c copy -f asf "$dir/pulled.asf" > "$dir/pull.log" 2>&1 &
client=$!
vlc_decode "mmsh://127.0.0.1:$port/" "$dir/vlc-pull" 60 > "$dir/vlc-pull.counts" &
vlc=$!
pid=$(cat "$dir/pid")
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not end after --duration $duration"
grep -q " done: " "$dir/run.log" || { tail -20 "$dir/run.log" >&2; fail "asfcast run did not finish cleanly"; }
wait "$client" || true
wait "$vlc" || fail "VLC did not decode the live stream to its end (log $dir/vlc-pull.log)"
grep -q "audio.codec copy: the source's AAC goes into ASF as it is" "$dir/run.log" || fail "no warning that AAC goes into ASF"
note "$(grep -o 'audio copy: [0-9]* AAC frames in.*' "$dir/run.log")"
pull_err=$(grep -v -E "^Stream ended!$|Stream ends prematurely|^Read data packet header failed!$|^Recv other type packet -5$|Invalid data found when processing input$" \
           "$dir/pull.log" || true)
[ -z "$pull_err" ] || fail "the live client reported: $pull_err"

# The archive's audio stream: AAC as asfcast wrote it (tag 0x00FF, the camera's config).
probe=$(timeout 30 ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,codec_tag,sample_rate,channels,extradata_size \
        -of default=nw=1 "$dir/out.asf")
note "archive audio (ffprobe): $(tr '\n' ' ' <<<"$probe")"
grep -qx "codec_name=aac" <<<"$probe" || fail "ffprobe does not see AAC in the archive: $probe"
grep -qx "codec_tag=0x00ff" <<<"$probe" || fail "the archive's audio format tag is not 0x00FF: $probe"
grep -qx "sample_rate=48000" <<<"$probe" && grep -qx "channels=2" <<<"$probe" || fail "not 48 kHz stereo: $probe"
pprobe=$(timeout 30 ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of default=nw=1:nk=1 "$dir/pulled.asf")
[ "$pprobe" = aac ] || fail "ffprobe does not see AAC in the mmsh capture: $pprobe"

# Every frame decodes in ffmpeg, and the relay's length is there: 48000/1024 AAC frames a second.
min_audio=$(( (duration - 2) * 46 ))
for f in "$dir/out.asf" "$dir/pulled.asf"; do
    ffmpeg_decodes_clean "$f"
    fa=$(count_frames "$f" a)
    fv=$(count_frames "$f" v)
    note "$(basename "$f"): ffmpeg decodes $fv video and $fa AAC frames, no error"
    [ "$fa" -ge "$min_audio" ] || fail "$f: $fa AAC frames of a $duration s relay (at least $min_audio expected)"
    [ "$fv" -ge $(( (duration - 2) * 30 )) ] || fail "$f: $fv video frames of a $duration s relay"
done
fa=$(count_frames "$dir/out.asf" a)
fv=$(count_frames "$dir/out.asf" v)
# The archive's audio time line: one AAC frame (1024 samples, 21.3 ms) after another, no gap, no
# overlap (ASF's millisecond times: 21 or 22 ms steps).
timeout 60 ffprobe -v error -select_streams a:0 -show_entries packet=pts_time -of default=nw=1:nk=1 "$dir/out.asf" |
    grep -v N/A > "$dir/out.asf.at"
steps=$(awk 'NR > 1 { d = $1 - p; if (d > mx) mx = d; if (NR == 2 || d < mn) mn = d } { p = $1 } END { printf "%.3f %.3f", mn, mx }' "$dir/out.asf.at")
read -r amin amax <<<"$steps"
note "archive audio steps: smallest $amin s, largest $amax s (an AAC frame at 48 kHz is 0.0213 s)"
awk -v a="$amin" -v b="$amax" 'BEGIN { exit !(a >= 0.020 && b <= 0.023) }' || fail "the archive's AAC frames do not follow each other (steps $amin..$amax s)"

# GStreamer: asfdemux + decodebin (avdec_aac) decode every AAC frame and every picture ffprobe
# counts. One stream a run: with two fakesinks printing at once, gst-launch -v's last-message lines
# are not always the sink's own (gst_decode_counts' sum is right, its split varies by a few frames
# from run to run on this file).
gst_decode_stream() {
    local out
    out=$(timeout 120 gst-launch-1.0 -v filesrc location="$1" ! asfdemux name=d d.$2_0 ! queue ! decodebin ! \
          fakesink name=sink silent=false 2>&1) || fail "gst-launch exit $? on $1 ($2): $(tail -5 <<<"$out")"
    grep -qi "ERROR" <<<"$out" && fail "GStreamer reported an error on $1 ($2): $(grep -i ERROR <<<"$out" | head -3)"
    grep -c "chain.*(sink:sink)" <<<"$out" || true
}
ga=$(gst_decode_stream "$dir/out.asf" audio)
gv=$(gst_decode_stream "$dir/out.asf" video)
note "archive (GStreamer): $gv video and $ga audio buffers decoded, ffprobe counts $fv and $fa"
[ "$ga" = "$fa" ] || fail "GStreamer decoded $ga AAC frames where ffprobe counts $fa"
[ "$gv" = "$fv" ] || fail "GStreamer decoded $gv video frames where ffprobe counts $fv"

# VLC: the archive (file://, pictures bit for bit ffmpeg's, counts against ffprobe's) and its own
# mmsh:// pull of the live stream (audio decoded as long as the video).
check_vlc_file "$dir/out.asf" "archive (VLC)"
read -r vv va < "$dir/vlc-pull.counts"
note "pull (VLC mmsh): $vv video and $va audio frames decoded"
[ "$va" -ge $(( (duration - 5) * 46 )) ] || fail "VLC decoded $va AAC frames from the live stream"
check_vlc_live "$dir/vlc-pull" "$dir/out.asf" "pull (VLC mmsh)"

# audio.codec copy carries AAC only: an SRT sender with MP2 audio is refused with a message naming
# its codec and what to do; the broadcast goes on (silence encoded as AAC) and decodes.
srt_port=$(free_port)
write_network_preset "$dir/mp2.yaml" "{type: srt, mode: listener, address: 127.0.0.1, port: $srt_port}"
sed -i 's/^audio: .*/audio: {codec: copy, allow_copy: true, sample_rate: 48000, channels: 2}/' "$dir/mp2.yaml"
timeout 40 "$ASFCAST" run --preset "$dir/mp2.yaml" --duration 6 --archive "$dir/mp2.asf" --pull off > "$dir/mp2.log" 2>&1 &
mp2_run=$!
sleep 1
timeout 20 ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t 8 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a mp2 -f mpegts "srt://127.0.0.1:$srt_port?mode=caller" \
    > "$dir/ffmpeg-mp2.log" 2>&1 &
sender=$!
wait "$mp2_run" || { tail -20 "$dir/mp2.log" >&2; fail "mp2: asfcast failed"; }
kill "$sender" 2>/dev/null || true
grep -q "srt listener 127.0.0.1:$srt_port: .*audio.codec copy takes AAC only, and srt listener 127.0.0.1:$srt_port sends MPEG-1/2 (MP2 or MP3) audio: set audio.codec to wma2 or mp3 to re-encode it" \
    "$dir/mp2.log" || fail "mp2: no clear refusal of MP2 audio: $(grep -E 'warning|error' "$dir/mp2.log" | head -5)"
ffmpeg_decodes_clean "$dir/mp2.asf"
note "mp2: $(grep -m1 -o 'audio.codec copy takes AAC only.*' "$dir/mp2.log" | cut -c1-160); the broadcast goes on ($(count_frames "$dir/mp2.asf" a) AAC silence frames decoded)"
note "AAC copy relayed to archive and pull; ffmpeg, GStreamer and VLC decode it; MP2 refused: OK"
