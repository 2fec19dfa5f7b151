#!/usr/bin/env bash
# `asfcast inspect` reads our archive back: the header fields real peers check.
source "$(dirname "$0")/lib.sh"
j=$("$ASFCAST" inspect --json "$WORK/live.wmv") || fail "inspect exit $?"
check() { [ "$(jq -r "$1" <<<"$j")" = "$2" ] || fail "inspect: $1 is $(jq -r "$1" <<<"$j"), expected $2"; }
check '.flags.broadcast' false
check '.flags.seekable' true
check '.min_packet_size == .max_packet_size' true
check '.max_packet_size <= 8192' true
check '.max_bitrate >= 2128000' true
check '.header_size + 50 <= 8192' true
check '.packets.send_times_monotonic' true
check '.problems | length' 0
check '.packets.count == .data_packets_declared' true
check '[.objects[].name] | index("Simple Index") != null' true
check '[.objects[].name] | index("Stream Bitrate Properties") != null' true
check '[.objects[].name] | index("Extended Stream Properties") != null' true
check '[.objects[].name] | index("Codec List") != null' true
check '[.objects[].name] | index("Content Description") != null' true
check '[.objects[].name] | index("Extended Content Description") != null' true
check '.title' 'asfcast live'
check '[.streams[] | .extended_properties] | all' true
check '.streams[] | select(.type=="audio") | .spread_error_correction' true
check '.streams[] | select(.type=="audio") | .format_tag' 353
check '.streams[] | select(.type=="video") | .fourcc' H264
check '.streams[] | select(.type=="video") | .key_frames >= 3' true
note "$("$ASFCAST" inspect "$WORK/live.wmv" | tail -6)"
