#!/usr/bin/env bash
# GStreamer's asfdemux + decodebin decodes the archive: exit 0 and the expected buffer counts.
source "$(dirname "$0")/lib.sh"
counts=$(gst_decode_counts "$WORK/live.wmv")
read -r vb ab <<<"$counts"
note "GStreamer decoded $vb video and $ab audio buffers"
near "$vb" 180 10 || fail "decoded $vb video buffers, expected ~180"
[ "$ab" -gt 100 ] || fail "decoded only $ab audio buffers"
