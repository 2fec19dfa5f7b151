#!/usr/bin/env bash
# The other built-in presets and preset fields: audio-only, low-latency, MP3 audio, the `h264`
# FourCC spelling. Each archive decodes cleanly in ffmpeg and VLC.
source "$(dirname "$0")/lib.sh"

run_preset() {  # NAME_OR_FILE OUT SECONDS
    timeout 60 "$ASFCAST" --log-level warn run --preset "$1" --duration "$3" --archive "$2" || fail "run --preset $1 exit $?"
    chmod 0644 "$2"
    ffmpeg_decodes_clean "$2"
    timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME=/tmp cvlc --no-one-instance \
        --play-and-exit -I dummy --vout=dummy --aout=dummy "$2" >"$2.vlc.log" 2>&1 || fail "VLC failed on $2"
    if grep -E "(asf|avcodec|decoder|demux)[^:]*error" "$2.vlc.log"; then fail "VLC errors on $2"; fi
}

run_preset audio-only "$WORK/audio.wmv" 3
j=$(probe_json "$WORK/audio.wmv")
[ "$(jq -c '[.streams[].codec_name]' <<<"$j")" = '["wmav2"]' ] || fail "audio-only streams: $(jq -c '[.streams[].codec_name]' <<<"$j")"

run_preset low-latency "$WORK/ll.wmv" 3
j=$(probe_json "$WORK/ll.wmv")
[ "$(jq -c '[.streams[].codec_name] | sort' <<<"$j")" = '["h264","wmav2"]' ] || fail "low-latency streams"
[ "$("$ASFCAST" inspect --json "$WORK/ll.wmv" | jq '.max_packet_size < 8192')" = true ] || fail "low-latency packets not small"

cat >"$WORK/mp3.yaml" <<'YAML'
name: mp3-lowercase
description: H.264 spelled h264 (as VLC writes it) with MP3 audio
video:
  width: 640
  height: 360
  bitrate_kbps: 800
  max_bitrate_kbps: 800
  vbv_buffer_kbit: 800
  fourcc: h264
audio:
  codec: mp3
  bitrate_kbps: 128
  sample_rate: 44100
YAML
run_preset "$WORK/mp3.yaml" "$WORK/mp3.wmv" 3
j=$(probe_json "$WORK/mp3.wmv")
[ "$(jq -c '[.streams[].codec_name] | sort' <<<"$j")" = '["h264","mp3"]' ] || fail "mp3 preset streams: $(jq -c '[.streams[].codec_name]' <<<"$j")"
i=$("$ASFCAST" inspect --json "$WORK/mp3.wmv")
[ "$(jq -r '.streams[] | select(.type=="video") | .fourcc' <<<"$i")" = h264 ] || fail "fourcc not h264"
[ "$(jq -r '.streams[] | select(.type=="audio") | .spread_error_correction' <<<"$i")" = false ] || fail "MP3 must not use audio spread"
[ "$(jq -r '.streams[] | select(.type=="audio") | .avg_bytes_per_sec > 0' <<<"$i")" = true ] || fail "MP3 avg bytes/s is 0"
