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
out=$(timeout 120 gst-launch-1.0 -v filesrc location="$remux" ! asfdemux name=d \
      d.video_0 ! queue ! decodebin ! fakesink name=vsink silent=false \
      d.audio_0 ! queue ! decodebin ! fakesink name=asink silent=false 2>&1) || fail "gst-launch exit $?: $(tail -5 <<<"$out")"
grep -qi "ERROR" <<<"$out" && fail "GStreamer reported an error: $(grep -i ERROR <<<"$out" | head -3)"
vb=$(grep -c "chain.*(vsink:sink)" <<<"$out" || true)
ab=$(grep -c "chain.*(asink:sink)" <<<"$out" || true)
note "GStreamer decoded $vb video and $ab audio buffers from the re-muxed pull stream"
[ "$vb" -ge 200 ] || fail "decoded $vb video buffers, expected ~240 for 8 s"
[ "$ab" -ge 100 ] || fail "decoded only $ab audio buffers"
