#!/usr/bin/env bash
# MS-MSBD end to end: `asfcast run --msbd` (pings every second) serves msbd_client, the strict MSBD
# client written from MS-MSBD (tests/msbd/msbd_client.cpp): two clients at once, one joining 4 s
# late, each answering pings, seeing IND_EOS + the empty IND_STREAMINFO and writing what it got as
# an ASF file. ffmpeg decodes every frame of each file with no error line; each file's packets are
# the archive's packets byte for byte (the file form, padding included: MS-MSBD 2.2.10), a run of
# them that ends with the archive's last packet. Meanwhile clients sending malformed messages (a bad
# signature as the first message; an unknown wMessageId, a cbMessage past the end mid-stream) and
# one that does not answer pings are each closed with one log line, and the two others go on.
source "$(dirname "$0")/lib.sh"
CLIENT=${MSBD_CLIENT:?MSBD_CLIENT must point at the msbd_client binary (tests/msbd)}
preset=$WORK/msbd.yaml
cat > "$preset" <<YAML
name: msbd-interop
base: default
video: {width: 640, height: 360, bitrate_kbps: 800, max_bitrate_kbps: 800, vbv_buffer_kbit: 800,
        keyframe_interval_s: 1, x264_preset: ultrafast}
audio: {codec: wma2, bitrate_kbps: 96}
outputs:
  pull: off
  msbd: {ping_interval_ms: 1000, ping_timeout_ms: 3000}
YAML
log=$WORK/msbd-asfcast.log
archive=$WORK/msbd-archive.wmv
rm -f "$WORK"/msbd-*.asf "$archive"
setsid "$ASFCAST" --log-level info run --preset "$preset" --msbd 127.0.0.1:0 --archive "$archive" --duration 12 \
    > "$log" 2>&1 < /dev/null &
pid=$!
trap 'kill -TERM -- "-$pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*serving msbd://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "asfcast exited before serving MSBD"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; fail "asfcast did not report its MSBD port within 10 s"; }
started=$(date +%s.%N)

# Client A from the start, with MSB_MSG_REQ_STREAMINFO as an old client sends it.
timeout 60 "$CLIENT" --port "$port" --out "$WORK/msbd-a.asf" --req-streaminfo --min-pings 5 --seconds 50 \
    > "$WORK/msbd-a.log" 2>&1 &
a=$!
sleep 0.5
# The misbehaving clients, while A streams.
timeout 30 "$CLIENT" --port "$port" --malformed bad-signature --after-packets 0 --seconds 20 > "$WORK/msbd-m1.log" 2>&1 &
m1=$!
timeout 30 "$CLIENT" --port "$port" --malformed unknown-id --after-packets 10 --seconds 20 > "$WORK/msbd-m2.log" 2>&1 &
m2=$!
timeout 30 "$CLIENT" --port "$port" --malformed length-mismatch --after-packets 20 --seconds 20 > "$WORK/msbd-m3.log" 2>&1 &
m3=$!
timeout 30 "$CLIENT" --port "$port" --no-ping-answer --seconds 20 > "$WORK/msbd-silent.log" 2>&1 &
silent=$!
# Client B joins 4 s after the server started.
sleep "$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { d = 4 - (n - s); print (d > 0 ? d : 0) }')"
timeout 60 "$CLIENT" --port "$port" --out "$WORK/msbd-b.asf" --min-pings 3 --seconds 50 > "$WORK/msbd-b.log" 2>&1 &
b=$!

for j in m1 m2 m3 silent; do
    wait "${!j}" || { cat "$WORK/msbd-$j.log" >&2; fail "the $j client did not see its connection closed as expected"; }
done
wait "$a" || { cat "$WORK/msbd-a.log" >&2; fail "client A saw a violation or no IND_EOS"; }
wait "$b" || { cat "$WORK/msbd-b.log" >&2; fail "client B saw a violation or no IND_EOS"; }
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "asfcast still runs after --duration 12"
wait "$pid" || { tail -20 "$log" >&2; fail "asfcast exited with status $?"; }
trap - EXIT
note "A: $(tail -1 "$WORK/msbd-a.log")"
note "B: $(tail -1 "$WORK/msbd-b.log")"

# One log line for each connection closed for what its client did, and nothing else about them.
grep -E "msbd: connection [0-9]+ from 127.0.0.1 closed: " "$log" > "$WORK/msbd-closed.txt" || true
[ "$(wc -l < "$WORK/msbd-closed.txt")" = 4 ] || { cat "$WORK/msbd-closed.txt" >&2; fail "expected 4 closed-connection lines"; }
grep -q "closed: malformed message: dwSignature 4D 53 42 58" "$WORK/msbd-closed.txt" || fail "no line for the bad signature"
grep -q "closed: malformed message: wMessageId 0x0006" "$WORK/msbd-closed.txt" || fail "no line for the unknown message id"
grep -q "closed: MSB_MSG_REQ_STREAMINFO of 20 bytes" "$WORK/msbd-closed.txt" || fail "no line for the length past the end"
grep -q "closed: no MSB_MSG_RES_PING within 3000 ms" "$WORK/msbd-closed.txt" || fail "no line for the unanswered ping"
grep -q "msbd: .* 2 malformed, 1 protocol errors, 1 ping timeouts, .* 2 IND_EOS sent" "$log" ||
    fail "unexpected counts: $(grep 'msbd: .* connections' "$log")"
if grep -E " (error|critical) " "$log"; then fail "asfcast logged errors"; fi

# What the clients wrote: the archive's packets, byte for byte, up to its last one.
python3 - "$archive" "$WORK/msbd-a.asf" "$WORK/msbd-b.asf" <<'PY' || fail "a client's packets are not the archive's"
import struct, sys
def layout(path):
    data = open(path, 'rb').read()
    header_size = struct.unpack_from('<Q', data, 16)[0]
    # File Properties (ASF-notes §5): maximum packet size at offset 96.
    fp = data.find(bytes.fromhex('A1DCAB8C47A9CF118EE400C00C205365'))
    size = struct.unpack_from('<I', data, fp + 96)[0]
    start = header_size + 50
    return data, start, size
arch, astart, psize = layout(sys.argv[1])
count = struct.unpack_from('<Q', arch, astart - 50 + 40)[0]  # Data Object: Total Data Packets
archive_packets = [arch[astart + i * psize: astart + (i + 1) * psize] for i in range(count)]
for path in sys.argv[2:]:
    data, start, size = layout(path)
    assert size == psize, (path, size, psize)
    body = data[start:]
    assert len(body) % size == 0, (path, 'not a whole number of packets')
    got = [body[i:i + size] for i in range(0, len(body), size)]
    first = archive_packets.index(got[0])
    assert archive_packets[first:] == got, (path, 'differs from the archive from packet', first)
    print(f'{path}: {len(got)} packets = archive packets {first}..{count - 1} of {count}, byte for byte')
PY

archive_frames=$(count_frames "$archive" v)
for c in a b; do
    f=$WORK/msbd-$c.asf
    ffmpeg_decodes_clean "$f"
    frames=$(count_frames "$f" v)
    packets=$(timeout 120 ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
        -of default=nw=1:nk=1 "$f")
    audio=$(count_frames "$f" a)
    note "client $c: ffmpeg decodes $frames of $packets video frames and $audio audio frames, no error (archive: $archive_frames video frames)"
    [ "$frames" = "$packets" ] || fail "client $c: $frames of $packets video frames decode"
    [ "$audio" -gt 0 ] || fail "client $c: no audio"
done
frames_a=$(count_frames "$WORK/msbd-a.asf" v)
frames_b=$(count_frames "$WORK/msbd-b.asf" v)
[ "$frames_a" -ge 300 ] || fail "client A decoded only $frames_a video frames of a 12 s broadcast"
[ "$frames_b" -ge 180 ] || fail "client B (joined after 4 s) decoded only $frames_b video frames"
[ "$frames_b" -lt "$frames_a" ] || fail "client B joined late but has $frames_b >= $frames_a frames"
