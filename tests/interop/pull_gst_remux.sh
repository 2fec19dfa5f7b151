#!/usr/bin/env bash
# Debian's GStreamer has no mmssrc: ffmpeg pulls 8 s over mmsh:// and re-muxes it unchanged
# (-c copy -f asf); GStreamer's asfdemux + decodebin decodes that file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
remux=$WORK/pull-remux.asf
err=$(timeout 60 ffmpeg -nostdin -v error -i "$(pull_url)" -t 8 -map 0 -c copy -f asf -y "$remux" 2>&1) ||
    fail "ffmpeg remux exit $?: $err"
[ -z "$err" ] || fail "ffmpeg printed errors while re-muxing: $err"
counts=$(gst_decode_counts "$remux")
read -r vb ab <<<"$counts"
note "GStreamer decoded $vb video and $ab audio buffers from the re-muxed pull stream"
[ "$vb" -ge 200 ] || fail "decoded $vb video buffers, expected ~240 for 8 s"
[ "$ab" -ge 100 ] || fail "decoded only $ab audio buffers"
