#!/usr/bin/env bash
# A client linked against libmms receives 2 MB of the live stream; the bytes parse as ASF
# (asfcast inspect) and ffmpeg decodes them without error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pull_lib.sh"
require_pull_server
MMS_CLIENT=${MMS_CLIENT:?MMS_CLIENT must point at the libmms test client}
dump=$WORK/pull-libmms.asf
timeout 60 "$MMS_CLIENT" "$(pull_url)" 2000000 "$dump" || fail "libmms client exit $?"
"$ASFCAST" inspect --json "$dump" > "$WORK/pull-libmms.json" || fail "asfcast inspect cannot parse what libmms received"
packets=$(jq -r '.packets.count' "$WORK/pull-libmms.json")
problems=$(jq -r '.problems | join("; ")' "$WORK/pull-libmms.json")
note "libmms: $(stat -c %s "$dump") bytes, $packets ASF packets"
[ "$packets" -ge 150 ] || fail "only $packets packets parsed"
[ -z "$problems" ] || fail "inspect found problems: $problems"
[ "$(jq -r '.packets.send_times_monotonic' "$WORK/pull-libmms.json")" = true ] || fail "send times go back"
ffmpeg_decodes_clean "$dump"
