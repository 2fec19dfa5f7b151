#!/usr/bin/env bash
# asfcast run --multicast between two network namespaces joined by a veth pair (the sender in one,
# the receivers in the other; addresses exist only inside them). Two receivers written from
# MS-MSB (tests/multicast/msb_receiver) join the group before the encoder starts and read the
# .nsc file it writes:
#  - one drops one datagram in every 20 (seeded, at a random place in each run of 20, never two of
#    one error correction cycle): the parity packets must rebuild every lost data packet, and the
#    ASF file it reassembles (header from the .nsc) must decode with ffmpeg without one error line
#    and hold every video and audio frame of the archive asfcast wrote in the same run;
#  - one drops each datagram with probability 1/20 (seeded): two losses in one cycle happen and
#    cannot be rebuilt; its counts are printed to show what the error correction can and cannot do.
# Both fail on any deviation from MS-MSB they can see (wPacketSize, wStreamID, dwPacketID, Type,
# Number, Cycle, parity contents, padding left in, source address and TTL against the .nsc, ...).
# The pull server in the sender's namespace serves the announcements: /stream.nsc, fetched from the
# receivers' namespace, must equal the file the receivers read, and /stream.asx must list the .nsc
# URL first and the mmsh URL second, both naming the host the client asked for.
# Where network namespaces cannot be made, the test says so and runs on the loopback instead
# (sending and joining on 127.0.0.1).
source "$(dirname "$0")/lib.sh"
RECEIVER=${MSB_RECEIVER:?MSB_RECEIVER must point at tests/multicast msb_receiver}
group=239.255.77.12
port=$((20000 + $$ % 20000))
nsc=$WORK/multicast.nsc
rx_spread=$WORK/multicast-rx.asf
rx_indep=$WORK/multicast-rx-independent.asf
archive=$WORK/multicast-archive.wmv
rm -f "$nsc" "$rx_spread" "$rx_indep" "$archive"

tx_ns=asfcast-mctx-$$
rx_ns=asfcast-mcrx-$$
tx_addr=10.213.0.1
rx_addr=10.213.0.2
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$tx_ns" 2>/dev/null || true
    ip netns del "$rx_ns" 2>/dev/null || true
}
trap cleanup EXIT

tx=()
rx=()
# MULTICAST_NO_NETNS=1 tries the loopback fallback where namespaces exist.
if [ -z "${MULTICAST_NO_NETNS:-}" ] && ip netns add "$tx_ns" 2>/dev/null && ip netns add "$rx_ns" 2>/dev/null &&
    ip link add "mct$$" netns "$tx_ns" type veth peer name "mcr$$" netns "$rx_ns" 2>/dev/null; then
    ip -n "$tx_ns" link set lo up
    ip -n "$rx_ns" link set lo up
    ip -n "$tx_ns" addr add "$tx_addr/24" dev "mct$$"
    ip -n "$rx_ns" addr add "$rx_addr/24" dev "mcr$$"
    ip -n "$tx_ns" link set "mct$$" up
    ip -n "$rx_ns" link set "mcr$$" up
    tx=(ip netns exec "$tx_ns")
    rx=(ip netns exec "$rx_ns")
    send_if=$tx_addr
    join_if=$rx_addr
    note "sender in network namespace $tx_ns ($tx_addr), receivers in $rx_ns ($rx_addr), veth pair between"
else
    note "NOTE: network namespaces or veth pairs are not available here (needs root and a kernel that allows them):"
    note "NOTE: falling back to the loopback, sending and joining on 127.0.0.1"
    send_if=127.0.0.1
    join_if=127.0.0.1
fi

# Receivers first, so that they get the stream from its first packet.
"${rx[@]}" timeout 120 "$RECEIVER" --group "$group" --port "$port" --interface "$join_if" --nsc "$nsc" \
    --out "$rx_spread" --drop-one-in 20 --drop-mode spread --seed 20240423 --eos-timeout 3 --seconds 100 \
    > "$WORK/multicast-rx.log" 2>&1 &
pids+=($!)
rx_pid=$!
"${rx[@]}" timeout 120 "$RECEIVER" --group "$group" --port "$port" --interface "$join_if" --nsc "$nsc" \
    --out "$rx_indep" --drop-one-in 20 --drop-mode independent --seed 11 --eos-timeout 3 --seconds 100 \
    > "$WORK/multicast-rx-independent.log" 2>&1 &
pids+=($!)
rx2_pid=$!
for log in "$WORK/multicast-rx.log" "$WORK/multicast-rx-independent.log"; do
    for _ in $(seq 1 50); do grep -q '^listening' "$log" && break; sleep 0.1; done
    grep -q '^listening' "$log" || { cat "$log" >&2; fail "a receiver did not start"; }
done

pull_port=$((port + 1))
cat > "$WORK/multicast.yaml" <<YAML
name: multicast-e2e
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800, x264_preset: ultrafast}
asf:
  packet_size: 1400          # one MSB packet per Ethernet frame
outputs:
  pull: {address: $send_if, port: $pull_port}
  archive: $archive
  multicast:
    group: $group
    port: $port
    interface: $send_if
    ttl: 1
    fec_span: 10
    beacon_interval_s: 1
    nsc_path: $nsc
YAML
"${tx[@]}" timeout 60 "$ASFCAST" --log-level info run --preset "$WORK/multicast.yaml" --duration 8 \
    > "$WORK/multicast-asfcast.log" 2>&1 &
asfcast_pid=$!
pids+=($asfcast_pid)
# The announcements, fetched over HTTP from the receivers' side while the broadcast runs.
for _ in $(seq 1 100); do grep -q 'announcing' "$WORK/multicast-asfcast.log" && break; sleep 0.1; done
base="http://$send_if:$pull_port"
"${rx[@]}" curl -sS --max-time 5 -D "$WORK/nsc-head.txt" -o "$WORK/served.nsc" "$base/stream.nsc" ||
    { cat "$WORK/multicast-asfcast.log" >&2; fail "GET $base/stream.nsc failed"; }
"${rx[@]}" curl -sS --max-time 5 -D "$WORK/asx-head.txt" -o "$WORK/served.asx" "$base/stream.asx" ||
    fail "GET $base/stream.asx failed"
grep -q '^HTTP/1.1 200' "$WORK/nsc-head.txt" || fail "/stream.nsc: $(head -1 "$WORK/nsc-head.txt")"
grep -qi '^Cache-Control: no-cache' "$WORK/nsc-head.txt" || fail "/stream.nsc is served without Cache-Control: no-cache"
grep -qi '^Cache-Control: no-cache' "$WORK/asx-head.txt" || fail "/stream.asx is served without Cache-Control: no-cache"
grep -qi '^Content-Type: video/x-ms-asf' "$WORK/asx-head.txt" || fail "/stream.asx is not video/x-ms-asf"
cmp -s "$WORK/served.nsc" "$nsc" || fail "/stream.nsc differs from the .nsc file the receivers read ($nsc)"
mapfile -t refs < <(grep -o 'HREF="[^"]*"' "$WORK/served.asx" | sed 's/HREF="\(.*\)"/\1/')
[ "${#refs[@]}" = 2 ] || fail "/stream.asx lists ${#refs[@]} URLs, not the .nsc and the pull URL: $(cat "$WORK/served.asx")"
[ "${refs[0]}" = "$base/stream.nsc" ] || fail "/stream.asx's first REF is ${refs[0]}, not $base/stream.nsc"
[ "${refs[1]}" = "mmsh://$send_if:$pull_port/" ] || fail "/stream.asx's second REF is ${refs[1]}"
note "served /stream.nsc ($(stat -c %s "$WORK/served.nsc") bytes, equal to the file) and /stream.asx (REF ${refs[0]}, ${refs[1]})"
wait "$asfcast_pid" || { cat "$WORK/multicast-asfcast.log" >&2; fail "asfcast run --multicast exit $?"; }
grep 'multicast' "$WORK/multicast-asfcast.log" | sed 's/^/   asfcast: /'

wait "$rx_pid" || { cat "$WORK/multicast-rx.log" >&2; fail "the receiver (one loss in 20) saw violations or no end of stream"; }
wait "$rx2_pid" || { cat "$WORK/multicast-rx-independent.log" >&2; fail "the receiver (independent losses) saw violations or no end of stream"; }
summary=$(tail -1 "$WORK/multicast-rx.log")
summary2=$(tail -1 "$WORK/multicast-rx-independent.log")
note "one in 20:   $summary"
note "independent: $summary2"

# Counts: what was dropped, rebuilt, lost.
read -r data parity dropped_data dropped_parity recovered lost < <(sed -n \
    's/.*; data \([0-9]*\), parity \([0-9]*\) received; dropped \([0-9]*\) data + \([0-9]*\) parity; recovered \([0-9]*\), lost \([0-9]*\);.*/\1 \2 \3 \4 \5 \6/p' <<<"$summary")
[ -n "${lost:-}" ] || fail "cannot read the receiver's summary: $summary"
total=$((data + parity + dropped_data + dropped_parity))
dropped=$((dropped_data + dropped_parity))
[ "$dropped_data" -gt 0 ] || fail "no data packet was dropped"
[ $((dropped * 20)) -ge $((total - 20)) ] && [ $((dropped * 20)) -le $((total + 20)) ] ||
    fail "dropped $dropped of $total MSB packets, not one in 20"
[ "$recovered" = "$dropped_data" ] || fail "recovered $recovered of $dropped_data lost data packets"
[ "$lost" = 0 ] || fail "$lost data packets lost"
sent=$(sed -n 's/.*multicast .*: \([0-9]*\) datagrams (\([0-9]*\) packets, \([0-9]*\) parity.*/\2/p' "$WORK/multicast-asfcast.log")
[ "$sent" = $((data + dropped_data)) ] || fail "asfcast sent $sent packets, the receiver saw $((data + dropped_data))"
grep -q 'beacons [0-9]* (min gap [0-9.]* s, 0 while streaming)' <<<"$summary" || fail "beacons while packets flowed: $summary"

read -r recovered2 lost2 < <(sed -n 's/.*; recovered \([0-9]*\), lost \([0-9]*\);.*/\1 \2/p' <<<"$summary2")
[ "${recovered2:-0}" -gt 0 ] || fail "independent losses: nothing recovered"

# The reassembled stream decodes cleanly and holds every frame the archive holds.
ffmpeg_decodes_clean "$rx_spread"
ffmpeg_decodes_clean "$archive"
v_rx=$(count_frames "$rx_spread" v)
a_rx=$(count_frames "$rx_spread" a)
v_ar=$(count_frames "$archive" v)
a_ar=$(count_frames "$archive" a)
note "MSB packets: $((data + dropped_data)) data + $((parity + dropped_parity)) parity sent; dropped $dropped_data data + $dropped_parity parity on the way; recovered $recovered, lost $lost"
note "independent 1/20 losses: recovered $recovered2, lost $lost2 (two or more in one cycle cannot be rebuilt)"
note "frames decoded by ffmpeg: received file $v_rx video + $a_rx audio, archive $v_ar video + $a_ar audio"
[ "$v_rx" -ge 230 ] || fail "only $v_rx video frames of an 8 s broadcast"
[ "$v_rx" = "$v_ar" ] || fail "the received file has $v_rx video frames, the archive $v_ar"
[ "$a_rx" = "$a_ar" ] || fail "the received file has $a_rx audio frames, the archive $a_ar"
