#!/usr/bin/env python3
"""A Windows Media Player-style MS-WMSP client switching MBR renditions, written from MS-WMSP
(2.2.2.1 Describe, 2.2.2.6 Play, 2.2.2.8 SelectStream, 2.2.3 framing, 3.1.4.4, 3.2.5.7) and the ASF
specification (3.1-3.4 header objects, 5.2 data packets). It shares no code with asfcast.

  wmsp_player.py --port P --mode post|get --out PREFIX

1. Describe: the $H header (stream numbers and types), client-id, Supported (sswitch, no srvppair).
2. Play selecting one rendition (the last video stream) and the audio; HTTP/1.0 for the POST mode
   (non-pipelined, the body runs to the close), HTTP/1.1 with version11-enabled=1 for the GET mode
   (chunked transfer coding).
3. After --switch-after seconds of data, SelectStream to the middle rendition: in the POST mode a
   POST with an empty body on a connection of its own; in the GET mode a GET on the data
   connection, whose response ends the Play response with a zero-length chunk, then carries the $D
   packets in a chunked body of its own (3.2.5.7). Before it, a pipelined KeepAlive (OPTIONS) on the
   data connection: its response is pending and must come right after that zero-length chunk.
4. After --thin-after more seconds, SelectStream thinning that rendition to key frames (level 1).
5. After --thin-for more seconds, closes.

Every $D is parsed down to its payloads. Checks (exit 1 with a message on the first failure):
framing and AFFlags sequence, LocationIds increasing; before the switch only the played rendition
and the audio; the new rendition starts on a key-frame payload (offset 0) within one key-frame
interval (--key-interval) of the SelectStream; the old rendition sends nothing after that packet;
the audio never stops; after thinning only key-frame payloads, each key frame whole.
Writes PREFIX.switch.body ($H + the $D before the thinning request, the framing as received) and
PREFIX.full.body (everything), and prints a JSON report of the counts.
"""
import argparse
import json
import socket
import struct
import sys
import threading
import time

UA = "NSPlayer/12.0.7601.17514"
GUID = "{3300ad50-2c39-46c0-ae0a-5e1ec7a57e57}"
SUPPORTED = "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.startupprofile"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ------------------------------------------------------------------------------------------------
# HTTP


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.buf = b""
        self.eof = False

    def fill(self):
        if self.eof:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            check(self.fill(), "connection closed in the middle of a line")
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("latin-1")

    def exact(self, n):
        while len(self.buf) < n:
            check(self.fill(), "connection closed %d bytes short" % (n - len(self.buf)))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def some(self):
        """What is buffered, or the next bytes received; b"" at the end."""
        if not self.buf and not self.fill():
            return b""
        out, self.buf = self.buf, b""
        return out

    def send(self, text):
        self.sock.sendall(text.encode("latin-1"))


class Response:
    def __init__(self, conn):
        status = conn.line()
        parts = status.split(" ", 2)
        check(len(parts) >= 2 and parts[0] in ("HTTP/1.0", "HTTP/1.1"), "bad status line %r" % status)
        self.version, self.status = parts[0], int(parts[1])
        self.headers = []
        while True:
            line = conn.line()
            if line == "":
                break
            if line[0] in " \t" and self.headers:  # a folded line continues the previous header
                name, value = self.headers[-1]
                self.headers[-1] = (name, value + " " + line.strip())
                continue
            check(":" in line, "bad header line %r" % line)
            name, value = line.split(":", 1)
            self.headers.append((name.strip().lower(), value.strip()))
        self.pragmas = {}
        for name, value in self.headers:
            if name != "pragma":
                continue
            for token in value.split(","):
                token = token.strip()
                if not token:
                    continue
                k, _, v = token.partition("=")
                self.pragmas[k.strip().lower()] = v.strip().strip('"')

    def header(self, name):
        for n, v in self.headers:
            if n == name.lower():
                return v
        return None


def request(start_line, lines):
    return start_line + "\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"


# ------------------------------------------------------------------------------------------------
# ASF (the header objects needed, data packets)


def guid(text):
    """ASF GUID text to its bytes: the first three fields little-endian."""
    h = text.replace("-", "")
    b = bytes.fromhex(h)
    return b[3::-1] + b[5:3:-1] + b[7:5:-1] + b[8:]


HEADER_OBJECT = guid("75B22630-668E-11CF-A6D9-00AA0062CE6C")
FILE_PROPERTIES = guid("8CABDCA1-A947-11CF-8EE4-00C00C205365")
STREAM_PROPERTIES = guid("B7DC0791-A9B7-11CF-8EE6-00C00C205365")
HEADER_EXTENSION = guid("5FBF03B5-A92E-11CF-8EE3-00C00C205365")
EXT_STREAM_PROPERTIES = guid("14E6A5CB-C672-4332-8399-A96952065B5A")
VIDEO_MEDIA = guid("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B")
AUDIO_MEDIA = guid("F8699E40-5B4D-11CF-A8FD-00805F5C442B")


def parse_header(data):
    """Stream number -> 'video'/'audio'/'other', and the fixed packet size."""
    check(data[:16] == HEADER_OBJECT, "the $H payload does not start with an ASF Header Object")
    size, count = struct.unpack_from("<QI", data, 16)
    streams, packet_size = {}, None

    def stream_properties(body):
        kind = {VIDEO_MEDIA: "video", AUDIO_MEDIA: "audio"}.get(body[0:16], "other")
        flags = struct.unpack_from("<H", body, 48)[0]
        streams[flags & 0x7F] = kind

    def objects(at, end):
        while at + 24 <= end:
            oid, osize = data[at:at + 16], struct.unpack_from("<Q", data, at + 16)[0]
            check(osize >= 24 and at + osize <= end, "ASF object of size %d overruns its parent" % osize)
            yield oid, at + 24, at + osize
            at += osize

    for oid, body, end in objects(30, size):
        if oid == FILE_PROPERTIES:
            packet_size = struct.unpack_from("<I", data, body + 68)[0]
        elif oid == STREAM_PROPERTIES:
            stream_properties(data[body:end])
        elif oid == HEADER_EXTENSION:
            ext_size = struct.unpack_from("<I", data, body + 18)[0]
            for xid, xbody, xend in objects(body + 22, body + 22 + ext_size):
                if xid != EXT_STREAM_PROPERTIES:
                    continue
                name_count, system_count = struct.unpack_from("<HH", data, xbody + 60)
                at = xbody + 64
                for _ in range(name_count):
                    at += 4 + struct.unpack_from("<H", data, at + 2)[0]
                for _ in range(system_count):
                    at += 18 + struct.unpack_from("<I", data, at + 18)[0] + 4
                if at + 24 <= xend and data[at:at + 16] == STREAM_PROPERTIES:
                    stream_properties(data[at + 24:xend])
    check(packet_size, "no File Properties Object")
    return streams, packet_size


def sized(data, at, length_type):
    """A field of length type 0 (absent), 1 (BYTE), 2 (WORD), 3 (DWORD): (value, next offset)."""
    if length_type == 0:
        return 0, at
    width = {1: 1, 2: 2, 3: 4}[length_type]
    check(at + width <= len(data), "data packet field past the end")
    return int.from_bytes(data[at:at + width], "little"), at + width


# Media object numbers are a BYTE here and wrap every 256 objects: an object is known by its
# number and its presentation time together.
def parse_packet(data):
    """ASF 5.2: the payloads of one data packet, as received in a $D (padding may be stripped)."""
    at = 0
    flags = data[at]
    at += 1
    if flags & 0x80:  # error correction data
        check(flags & 0x60 == 0, "error correction length type must be 00")
        at += flags & 0x0F
        flags = data[at]
        at += 1
    length_flags = flags
    prop = data[at]
    at += 1
    check((prop >> 6) & 3 == 1, "Stream Number Length Type must be 01")
    packet_length, at = sized(data, at, (length_flags >> 5) & 3)
    _, at = sized(data, at, (length_flags >> 1) & 3)
    padding, at = sized(data, at, (length_flags >> 3) & 3)
    send_time, duration = struct.unpack_from("<IH", data, at)
    at += 6
    end = (packet_length or len(data)) - padding
    check(end <= len(data), "packet length %d beyond the %d bytes received" % (end, len(data)))
    payloads = []
    multiple = length_flags & 1
    count, plt = 1, 0
    if multiple:
        count, plt = data[at] & 0x3F, data[at] >> 6
        at += 1
        check(plt != 0, "multiple payloads without a payload length type")
    for _ in range(count):
        sn = data[at]
        at += 1
        obj, at = sized(data, at, (prop >> 4) & 3)
        off, at = sized(data, at, (prop >> 2) & 3)
        rlen, at = sized(data, at, prop & 3)
        obj_size, pts = 0, 0
        if rlen >= 8:
            obj_size, pts = struct.unpack_from("<II", data, at)
        else:
            check(rlen == 0, "compressed payloads are not expected here (replicated data %d)" % rlen)
        at += rlen
        if multiple:
            length, at = sized(data, at, plt)
        else:
            length = end - at
        check(at + length <= end, "payload runs past the packet")
        payloads.append({"stream": sn & 0x7F, "key": bool(sn & 0x80), "object": obj, "offset": off,
                         "object_size": obj_size, "pts": pts, "length": length})
        at += length
    return send_time, payloads


# ------------------------------------------------------------------------------------------------
# MS-WMSP framing (2.2.3.1)


class Framing:
    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            check(self.buf[0] & 0x7F == 0x24, "framing header does not start with $ (0x%02x)" % self.buf[0])
            kind = chr(self.buf[1])
            length = struct.unpack_from("<H", self.buf, 2)[0]
            if len(self.buf) < 4 + length:
                break
            raw, self.buf = self.buf[:4 + length], self.buf[4 + length:]
            out.append((kind, raw))
        return out


# ------------------------------------------------------------------------------------------------


def describe(port):
    c = Conn(port)
    c.send(request("GET / HTTP/1.0", [
        "Accept: */*", "User-Agent: " + UA, "Host: 127.0.0.1",
        "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=0:0,packet-num=4294967295,max-duration=0",
        "Pragma: xClientGUID=" + GUID, "Supported: " + SUPPORTED, "Connection: Close"]))
    r = Response(c)
    check(r.status == 200, "Describe: status %d" % r.status)
    check((r.header("server") or "").startswith(("Rex/", "Cougar/")), "Describe: Server %r" % r.header("server"))
    supported = [t.strip() for t in (r.header("supported") or "").split(",") if t.strip()]
    # 3.1.4.4: no SelectStream unless the server supports sswitch; 2.2.1.7.3: srvppair only with $P.
    check("com.microsoft.wm.sswitch" in supported, "Describe: no sswitch in Supported %r" % supported)
    check("com.microsoft.wm.srvppair" not in supported, "Describe: srvppair advertised without $P packets")
    client_id = int(r.pragmas.get("client-id", "0"))
    check(client_id > 0, "Describe: no client-id")
    length = int(r.header("content-length") or -1)
    body = c.exact(length) if length >= 0 else b"".join(iter(c.some, b""))
    header = b""
    for kind, raw in Framing().feed(body):
        check(kind == "H", "Describe body: $%s packet" % kind)
        header += raw[12:]
    c.sock.close()
    streams, packet_size = parse_header(header)
    return client_id, streams, packet_size, supported


class Player:
    def __init__(self, args, client_id, streams):
        self.args = args
        self.client_id = client_id
        self.video = sorted(s for s, k in streams.items() if k == "video")
        self.audio = sorted(s for s, k in streams.items() if k == "audio")
        check(len(self.video) >= 2 and self.audio, "need two video renditions and audio: %r" % streams)
        self.old = self.video[-1]       # played first (the smallest rendition in mbr-3)
        self.new = self.video[-2]       # switched to
        self.others = [v for v in self.video if v not in (self.old, self.new)]
        self.data = []                  # per $D: (arrival, phase, location, afflags, payloads)
        self.body_switch = bytearray()  # $H + $D until the thinning request
        self.body_full = bytearray()
        self.phase = 0                  # 0 playing, 1 switch sent, 2 thinning sent
        self.events = {}
        self.responses = []             # SelectStream responses seen in the data connection (GET mode)
        self.pending = []               # other responses seen there (the pipelined KeepAlive)

    def entries(self, pairs):
        return ["Pragma: stream-switch-count=%d" % len(pairs),
                "Pragma: stream-switch-entry=" + " ".join("%x:%x:%d" % p for p in pairs)]

    def play(self):
        get = self.args.mode == "get"
        off = [(0xFFFF, s, 2) for s in self.video if s != self.old]
        on = [(0xFFFF, self.old, 0)] + [(0xFFFF, a, 0) for a in self.audio]
        lines = ["Accept: */*", "User-Agent: " + UA, "Host: 127.0.0.1",
                 "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=4294967295:4294967295,"
                 "packet-num=4294967295,max-duration=0",
                 "Pragma: xPlayStrm=1", "Pragma: client-id=%d" % self.client_id, "Pragma: xClientGUID=" + GUID,
                 "Supported: " + SUPPORTED] + self.entries(off + on)
        if get:
            lines += ["Pragma: version11-enabled=1", "Connection: Keep-Alive"]
        self.conn = Conn(self.args.port)
        self.conn.send(request("GET / HTTP/1.1" if get else "GET / HTTP/1.0", lines))
        r = Response(self.conn)
        check(r.status == 200, "Play: status %d" % r.status)
        check(r.header("content-type") == "application/x-mms-framed", "Play: Content-Type %r" % r.header("content-type"))
        self.chunked = (r.header("transfer-encoding") or "").lower() == "chunked"
        check(self.chunked == get, "Play: chunked %s in %s mode" % (self.chunked, self.args.mode))

    def select(self, pairs, name):
        """SelectStream (2.2.2.8): POST on a new connection, or GET on the data connection."""
        lines = ["Accept: */*", "User-Agent: " + UA, "Host: 127.0.0.1", "Pragma: no-cache",
                 "Pragma: client-id=%d" % self.client_id, "Pragma: xClientGUID=" + GUID,
                 "Supported: " + SUPPORTED] + self.entries(pairs)
        self.events[name + "_sent"] = time.monotonic()
        if self.args.mode == "get":
            # 3.1.4.4: pipelined mode, HTTP/1.1 with version11-enabled=1, on the Play connection.
            self.conn.send(request("GET / HTTP/1.1", lines + ["Pragma: version11-enabled=1", "Connection: Keep-Alive"]))
            return
        c = Conn(self.args.port)
        c.send(request("POST / HTTP/1.1", lines + ["Content-Length: 0", "Connection: Keep-Alive"]))
        r = Response(c)
        check(r.status == 200, "SelectStream (%s): status %d" % (name, r.status))
        check(int(r.pragmas.get("client-id", "0")) == self.client_id, "SelectStream: client-id %r" % r.pragmas)
        c.exact(int(r.header("content-length") or 0))
        self.events[name + "_answered"] = time.monotonic()
        c.sock.close()  # 3.1.5.17: non-pipelined, the client closes

    def schedule(self):
        if self.args.mode == "get":
            # 2.2.2.3.2: a pipelined KeepAlive (OPTIONS) on the data connection; its response is
            # pending until the next zero-length chunk, then comes before the SelectStream's
            # (3.2.5.7: pending responses first).
            time.sleep(self.args.switch_after / 2)
            self.conn.send(request("OPTIONS * HTTP/1.1", ["User-Agent: " + UA, "Host: 127.0.0.1",
                                                          "Pragma: client-id=%d" % self.client_id]))
            time.sleep(self.args.switch_after / 2)
        else:
            time.sleep(self.args.switch_after)
        self.phase = 1
        switch = [(self.old, self.new, 0)] if self.args.mode == "get" else [(0xFFFF, self.old, 2), (0xFFFF, self.new, 0)]
        self.select(switch, "switch")
        time.sleep(self.args.thin_after)
        self.phase = 2
        self.select([(self.new, self.new, 1)], "thin")
        time.sleep(self.args.thin_for)
        self.done = True
        self.conn.sock.shutdown(socket.SHUT_RDWR)

    def body_bytes(self):
        """The data connection's body, de-chunked; responses inside it (GET mode) are checked here."""
        if not self.chunked:
            while True:
                data = self.conn.some()
                if not data:
                    return
                yield data
        while True:
            line = self.conn.line()
            size = int(line.split(";")[0], 16)
            if size == 0:
                check(self.conn.line() == "", "no CRLF after the last chunk")
                # 3.2.5.7: the zero-length chunk ends the running response; pending responses and
                # the SelectStream response follow, whose chunked body carries the $D packets.
                r = Response(self.conn)
                while (r.header("transfer-encoding") or "").lower() != "chunked":
                    # A pending response (the KeepAlive): delimited by its Content-Length, and the
                    # connection must stay open (pipelined mode).
                    check(r.header("content-length") is not None, "pending response without Content-Length")
                    self.conn.exact(int(r.header("content-length")))
                    check((r.header("connection") or "").lower() != "close", "pending response closes the connection")
                    self.pending.append(r.status)
                    r = Response(self.conn)
                check(r.status == 200, "SelectStream in the data connection: status %d" % r.status)
                check((r.header("transfer-encoding") or "").lower() == "chunked",
                      "SelectStream response in the data connection is not chunked")
                check(r.header("content-type") == "application/x-mms-framed",
                      "SelectStream response Content-Type %r" % r.header("content-type"))
                name = "switch" if "switch_answered" not in self.events else "thin"
                self.events[name + "_answered"] = time.monotonic()
                self.responses.append(r.status)
                continue
            yield self.conn.exact(size)
            check(self.conn.exact(2) == b"\r\n", "chunk not followed by CRLF")

    def run(self):
        self.done = False
        self.play()
        t = threading.Thread(target=self.schedule, daemon=True)
        t.start()
        framing = Framing()
        afflags = None
        location = -1
        try:
            for data in self.body_bytes():
                for kind, raw in framing.feed(data):
                    if kind == "H":
                        check(not self.data, "$H after data")
                        self.body_switch += raw
                        self.body_full += raw
                        continue
                    check(kind == "D", "unexpected $%s packet" % kind)
                    loc, _inc, af, size = struct.unpack_from("<IBBH", raw, 4)
                    check(size == len(raw) - 4, "$D PacketSize %d for %d bytes" % (size, len(raw) - 4))
                    check(afflags is None or af == (afflags + 1) % 256, "AFFlags %d after %s" % (af, afflags))
                    check(loc > location, "LocationId %d after %d" % (loc, location))
                    afflags, location = af, loc
                    _, payloads = parse_packet(raw[12:])
                    self.data.append((time.monotonic(), self.phase, loc, payloads))
                    if self.phase < 2:
                        self.body_switch += raw
                    self.body_full += raw
        except (OSError, Fail) as e:
            if not self.done:
                raise Fail("data connection: %s" % e) if isinstance(e, OSError) else e
        t.join()

    def report(self):
        a = self.args
        old, new = self.old, self.new
        r = {"mode": a.mode, "old": old, "new": new, "packets": len(self.data)}
        before = [d for d in self.data if d[1] == 0]
        check(before, "no $D before the switch")
        streams_before = {p["stream"] for d in before for p in d[3]}
        check(streams_before <= {old} | set(self.audio),
              "before the switch: streams %s, the Play selected %s" % (sorted(streams_before), [old] + self.audio))
        r["before_old_objects"] = len({(p["object"], p["pts"]) for d in before for p in d[3] if p["stream"] == old})
        check(r["before_old_objects"] > 20, "the played rendition sent only %d frames" % r["before_old_objects"])

        sent = self.events["switch_sent"]
        after = [(i, d) for i, d in enumerate(self.data) if d[1] >= 1]
        first_new = next(((i, d) for i, d in after for p in d[3] if p["stream"] == new), None)
        check(first_new, "the new rendition %d never came" % new)
        i_switch, d_switch = first_new
        p0 = next(p for p in d_switch[3] if p["stream"] == new)
        check(p0["key"] and p0["offset"] == 0,
              "the new rendition starts on a payload that is not a key frame's first: %r" % p0)
        r["switch_delay_ms"] = round((d_switch[0] - sent) * 1000)
        last_old_pts = max(p["pts"] for d in before for p in d[3] if p["stream"] == old)
        r["switch_media_delay_ms"] = p0["pts"] - last_old_pts
        check(r["switch_delay_ms"] <= a.key_interval * 1000 + 500,
              "the new rendition came %d ms after the SelectStream (key frames every %g s)" % (r["switch_delay_ms"], a.key_interval))
        # In media time: from the newest frame received before the request (the live edge, less the
        # server's latency) to the new rendition's first frame.
        check(r["switch_media_delay_ms"] <= a.key_interval * 1000 + 500,
              "the new rendition starts %d ms of media after the last frame received" % r["switch_media_delay_ms"])
        # The old rendition goes on until the new one's first key frame, then stops (3.2.5.7).
        old_after = [p for i, d in after for p in d[3] if p["stream"] == old and i > i_switch]
        check(not old_after, "the old rendition sent %d payloads after the switch packet" % len(old_after))
        r["old_objects_after_request"] = len({(p["object"], p["pts"]) for i, d in after for p in d[3]
                                              if p["stream"] == old and i <= i_switch})
        others = [p for d in self.data for p in d[3] if p["stream"] in self.others]
        check(not others, "streams never selected were sent: %r" % sorted({p["stream"] for p in others}))
        # Audio kept going: no gap above 500 ms in its presentation times.
        apts = [p["pts"] for d in self.data for p in d[3] if p["stream"] in self.audio and p["offset"] == 0]
        gaps = [b - a2 for a2, b in zip(apts, apts[1:])]
        r["audio_objects"] = len(apts)
        r["audio_max_gap_ms"] = max(gaps) if gaps else None
        check(gaps and max(gaps) <= 500, "audio gap of %s ms" % r["audio_max_gap_ms"])

        switched = [d for i, d in after if d[1] == 1 and i >= i_switch]
        new_objects = {}
        for d in switched:
            for p in d[3]:
                if p["stream"] == new:
                    new_objects.setdefault((p["object"], p["pts"]), [p["key"], 0, p["object_size"]])[1] += p["length"]
        r["new_objects"] = len(new_objects)
        r["new_key_objects"] = sum(1 for k, _, _ in new_objects.values() if k)
        check(r["new_objects"] >= a.thin_after * 15, "only %d frames of the new rendition" % r["new_objects"])

        # Thinning level 1: after the request, only key-frame payloads; each key frame whole.
        thin_sent = self.events["thin_sent"]
        thin = [d for d in self.data if d[1] == 2]
        non_key = [(d[0], p) for d in thin for p in d[3] if p["stream"] == new and not p["key"]]
        r["thin_last_delta_ms"] = round((non_key[-1][0] - thin_sent) * 1000) if non_key else 0
        check(r["thin_last_delta_ms"] <= 1000,
              "non-key payloads still %d ms after the thinning request" % r["thin_last_delta_ms"])
        settled = [d for d in thin if d[0] > thin_sent + 1.0]
        keys = {}
        for d in settled:
            for p in d[3]:
                if p["stream"] == new:
                    check(p["key"], "a non-key payload of stream %d with thinning level 1" % new)
                    keys.setdefault((p["object"], p["pts"]), [0, p["object_size"], p["offset"]])[0] += p["length"]
        r["thin_key_objects"] = len(keys)
        r["thin_seconds"] = a.thin_for - 1.0
        complete = [o for o, (n, size, _) in keys.items() if n == size]
        r["thin_complete_key_objects"] = len(complete)
        check(len(complete) >= max(1, int(r["thin_seconds"] / a.key_interval) - 1),
              "only %d whole key frames in %.1f s of thinning" % (len(complete), r["thin_seconds"]))
        r["thin_audio_objects"] = sum(1 for d in settled for p in d[3] if p["stream"] in self.audio and p["offset"] == 0)
        check(r["thin_audio_objects"] > 10, "the audio stopped while thinning")
        # Whole frames of the new rendition in each body written (for ffmpeg's frame counts).
        def whole_objects(packets):
            got = {}
            for d in packets:
                for p in d[3]:
                    if p["stream"] == new:
                        got.setdefault((p["object"], p["pts"]), [0, p["object_size"]])[0] += p["length"]
            return sum(1 for n, size in got.values() if n == size)
        r["new_whole_objects_switch_body"] = whole_objects([d for d in self.data if d[1] < 2])
        r["new_whole_objects_full_body"] = whole_objects(self.data)
        r["pending_responses"] = self.pending
        if a.mode == "get":
            check(self.pending == [200], "pending responses in the data connection: %r (the KeepAlive's expected)" % self.pending)
            check(len(self.responses) == 2, "%d SelectStream responses in the data connection" % len(self.responses))
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("post", "get"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--switch-after", type=float, default=4.0)
    ap.add_argument("--thin-after", type=float, default=6.0)
    ap.add_argument("--thin-for", type=float, default=7.0)
    ap.add_argument("--key-interval", type=float, default=2.0)
    a = ap.parse_args()
    try:
        client_id, streams, _packet_size, supported = describe(a.port)
        p = Player(a, client_id, streams)
        p.run()
        report = p.report()
        report["supported"] = supported
        with open(a.out + ".switch.body", "wb") as f:
            f.write(p.body_switch)
        with open(a.out + ".full.body", "wb") as f:
            f.write(p.body_full)
    except Fail as e:
        print("wmsp_player: FAIL: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
