#!/usr/bin/env bash
# GStreamer's asfdemux + decodebin decodes the archive: exit 0 and the expected buffer counts.
source "$(dirname "$0")/lib.sh"
out=$(timeout 120 gst-launch-1.0 -v filesrc location="$WORK/live.wmv" ! asfdemux name=d \
      d.video_0 ! queue ! decodebin ! fakesink name=vsink silent=false \
      d.audio_0 ! queue ! decodebin ! fakesink name=asink silent=false 2>&1) || fail "gst-launch exit $?: $(tail -5 <<<"$out")"
grep -qi "ERROR" <<<"$out" && fail "GStreamer reported an error: $(grep -i ERROR <<<"$out" | head -3)"
vb=$(grep -c "chain.*(vsink:sink)" <<<"$out" || true)
ab=$(grep -c "chain.*(asink:sink)" <<<"$out" || true)
note "GStreamer decoded $vb video and $ab audio buffers"
near "$vb" 180 10 || fail "decoded $vb video buffers, expected ~180"
[ "$ab" -gt 100 ] || fail "decoded only $ab audio buffers"
