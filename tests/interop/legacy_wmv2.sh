#!/usr/bin/env bash
# The legacy-wmv2 preset (WMV2 + WMA2 for old Windows Media players): a 5 s archive holds wmv2 +
# wmav2 of the preset's size that ffmpeg decodes frame by frame without one error line, VLC plays
# to the end and GStreamer decodes; then a live run serves it over MS-WMSP and ffmpeg pulls it
# with mmsh://, joins late on a key frame and decodes cleanly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"

out=$WORK/legacy-wmv2.wmv
rm -f "$out"
timeout 60 "$ASFCAST" --log-level warn run --preset legacy-wmv2 --duration 5 --archive "$out" ||
    fail "run --preset legacy-wmv2 exit $?"
chmod 0644 "$out"

j=$(probe_json "$out")
[ "$(jq -c '[.streams[].codec_name] | sort' <<<"$j")" = '["wmav2","wmv2"]' ] ||
    fail "streams: $(jq -c '[.streams[].codec_name]' <<<"$j")"
v=$(jq -c '.streams[] | select(.codec_type=="video")' <<<"$j")
a=$(jq -c '.streams[] | select(.codec_type=="audio")' <<<"$j")
[ "$(jq -r '"\(.width)x\(.height) \(.codec_tag_string) \(.extradata_size)"' <<<"$v")" = "320x240 WMV2 4" ] ||
    fail "video stream: $v"
[ "$(jq -r '"\(.sample_rate) \(.channels)"' <<<"$a")" = "44100 2" ] || fail "audio stream: $a"
dur=$(jq -r .format.duration <<<"$j")
near "$dur" 5 0.6 || fail "duration $dur, expected about 5 s"

ffmpeg_decodes_clean "$out"
frames=$(count_frames "$out" v)
note "ffmpeg decoded $frames video frames of 320x240 WMV2 in $dur s"
[ "$frames" -ge 140 ] && [ "$frames" -le 160 ] || fail "$frames video frames in 5 s at 30 fps"

# Bit rate: at most ~the preset's 700 kbit/s (the test pattern is simple, so usually far less).
vbytes=$(timeout 60 ffprobe -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$out" |
         awk '{ s += $1 } END { print s }')
kbps=$(awk -v b="$vbytes" -v d="$dur" 'BEGIN { printf "%.0f", b * 8 / d / 1000 }')
note "video: $vbytes bytes, $kbps kbit/s (target 700)"
[ "$kbps" -gt 0 ] && [ "$kbps" -le 850 ] || fail "video bit rate $kbps kbit/s is outside 1..850"

i=$("$ASFCAST" inspect --json "$out")
[ "$(jq -r '.streams[] | select(.type=="video") | .fourcc' <<<"$i")" = WMV2 ] || fail "inspect: fourcc not WMV2"
[ "$(jq -r '.max_packet_size' <<<"$i")" = 5000 ] || fail "inspect: packet size $(jq -r .max_packet_size <<<"$i")"
[ "$(jq -r '.problems | length' <<<"$i")" = 0 ] || fail "inspect problems: $(jq -c .problems <<<"$i")"
jq -e '.codecs | tostring | test("Windows Media Video 8")' <<<"$i" >/dev/null ||
    fail "Codec List has no Windows Media Video 8 entry: $(jq -c .codecs <<<"$i")"

log=$WORK/legacy-wmv2.vlc.log
timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME=/tmp \
    cvlc -vv --no-one-instance --play-and-exit -I dummy --vout=dummy --aout=dummy --no-video-title-show \
    "$out" >"$log" 2>&1 || fail "cvlc exit $?: $(tail -5 "$log")"
if grep -E "(asf|avcodec|decoder|demux)[^:]*error" "$log"; then fail "VLC reported errors"; fi
# -vv names the decoders VLC opened: its avcodec module must have started wmv2 and wmav2.
grep -q "codec (wmv2) started" "$log" || fail "VLC did not start a wmv2 decoder: $(grep -i 'decoder' "$log" | head -5)"
grep -q "codec (wmav2) started" "$log" || fail "VLC did not start a wmav2 decoder"
note "VLC played the WMV2 archive to the end"

# GStreamer (asfdemux + avdec_wmv2) decodes every picture too.
gst=$(timeout 120 gst-launch-1.0 -v filesrc location="$out" ! asfdemux name=d d.video_0 ! queue ! decodebin ! \
      identity silent=false ! fakesink sync=false 2>&1) || fail "gst-launch exit $?: $(tail -5 <<<"$gst")"
grep -qi "ERROR" <<<"$gst" && fail "GStreamer reported an error: $(grep -i ERROR <<<"$gst" | head -3)"
grep -q "avdec_wmv2" <<<"$gst" || fail "GStreamer did not use avdec_wmv2"
gv=$(grep -c "identity0.*chain" <<<"$gst" || true)
note "GStreamer decoded $gv WMV2 pictures"
[ "$gv" -ge 140 ] || fail "GStreamer decoded only $gv pictures of ~150"

# Live over MS-WMSP. Bounded: the run ends by itself after 60 s.
plog=$WORK/legacy-wmv2-live.log
ppid=$WORK/legacy-wmv2-live.pid
trap 'stop_asfcast "$ppid"' EXIT
port=$(start_asfcast "$plog" "$ppid" --preset legacy-wmv2 --pull 127.0.0.1:0 --duration 60)
sleep 3  # join a broadcast under way
url="mmsh://127.0.0.1:$port/"
crc=$WORK/legacy-wmv2-pull.framecrc
err=$(timeout 60 ffmpeg -nostdin -v error -i "$url" -t 6 -f framecrc -y "$crc" 2>&1) || fail "ffmpeg pull exit $?: $err"
[ -z "$err" ] || fail "ffmpeg printed errors pulling $url: $err"
pv=$(grep -c '^0,' "$crc" || true)
pa=$(grep -c '^1,' "$crc" || true)
note "pulled live: decoded $pv video and $pa audio frames in 6 s"
[ "$pv" -ge 160 ] || fail "only $pv video frames in 6 s at 30 fps"
[ "$pa" -ge 100 ] || fail "only $pa audio frames in 6 s"
first=$(timeout 60 ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -print_format json \
        -show_entries frame=key_frame,pict_type,width,height "$url") || fail "ffprobe on $url failed"
first=$(jq -c '.frames[0] | [.key_frame, .pict_type, .width, .height]' <<<"$first")
note "first video frame of a late joiner: $first"
[ "$first" = '[1,"I",320,240]' ] || fail "late joiner's first video frame is $first, not a 320x240 key frame"
pid=$(cat "$ppid")
kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not stop within 15 s of SIGTERM"
if grep -E " (error|critical) " "$plog"; then fail "asfcast logged errors while serving WMV2"; fi
