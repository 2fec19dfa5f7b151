#!/usr/bin/env bash
# The radio preset (WMA2 64 kbit/s, no video, 1024-byte packets): a 5 s archive that ffmpeg
# decodes cleanly with the right rate, channels and duration; then ffmpeg pulls it live with
# mmsh:// and decodes cleanly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"

out=$WORK/radio.wma
rm -f "$out"
timeout 60 "$ASFCAST" --log-level warn run --preset radio --duration 5 --archive "$out" || fail "run --preset radio exit $?"
chmod 0644 "$out"
j=$(probe_json "$out")
[ "$(jq -c '[.streams[].codec_name]' <<<"$j")" = '["wmav2"]' ] || fail "streams: $(jq -c '[.streams[].codec_name]' <<<"$j")"
[ "$(jq -r '.streams[0] | "\(.sample_rate) \(.channels) \(.bit_rate)"' <<<"$j")" = "44100 2 64000" ] ||
    fail "audio stream: $(jq -c '.streams[0]' <<<"$j")"
dur=$(jq -r .format.duration <<<"$j")
near "$dur" 5 0.6 || fail "duration $dur, expected about 5 s"
ffmpeg_decodes_clean "$out"
# Decoded length: samples out of ffmpeg, in seconds.
secs=$(timeout 60 ffmpeg -nostdin -v error -i "$out" -f s16le -ac 2 -ar 44100 - | wc -c |
       awk '{ printf "%.2f", $1 / 4 / 44100 }')
note "decoded $secs s of audio from a $dur s file"
near "$secs" 5 0.6 || fail "decoded $secs s of audio, expected about 5"
i=$("$ASFCAST" inspect --json "$out")
[ "$(jq -r '.max_packet_size' <<<"$i")" = 1024 ] || fail "packet size $(jq -r .max_packet_size <<<"$i"), expected 1024"
[ "$(jq -r '.problems | length' <<<"$i")" = 0 ] || fail "inspect problems: $(jq -c .problems <<<"$i")"

plog=$WORK/radio-live.log
ppid=$WORK/radio-live.pid
trap 'stop_asfcast "$ppid"' EXIT
port=$(start_asfcast "$plog" "$ppid" --preset radio --pull 127.0.0.1:0 --duration 60)
sleep 2
url="mmsh://127.0.0.1:$port/"
crc=$WORK/radio-pull.framecrc
err=$(timeout 60 ffmpeg -nostdin -v error -i "$url" -t 5 -f framecrc -y "$crc" 2>&1) || fail "ffmpeg pull exit $?: $err"
[ -z "$err" ] || fail "ffmpeg printed errors pulling $url: $err"
pa=$(grep -c '^0,' "$crc" || true)
note "pulled live: decoded $pa audio frames in 5 s"
[ "$pa" -ge 90 ] || fail "only $pa WMA2 frames in 5 s (about 108 expected)"
pid=$(cat "$ppid")
kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast did not stop within 15 s of SIGTERM"
if grep -E " (error|critical) " "$plog"; then fail "asfcast logged errors while serving radio"; fi
