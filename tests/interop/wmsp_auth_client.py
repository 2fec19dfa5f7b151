#!/usr/bin/env python3
"""A distribution server pulling a stream (MS-WMSP 4.11) through authentication, written from the
specifications and independent of asfcast's code: HTTP over a plain socket, NTLMv2 from MS-NLMP
(its own MD4, RFC 1320, and RC4; HMAC-MD5 from Python's library), Digest from RFC 2617.

It sends the 4.11 Describe (User-Agent NSServer, "X-Accept-Authentication: Negotiate, NTLM,
Digest"), answers the server's challenge on the same connection, then sends the Play on that same
connection and keeps what arrives for --seconds. It prints one line of facts
(status codes, challenges, $H/$D counts) and writes the ASF header followed by every complete $D
packet padded back to the packet size (MS-WMSP 2.2.3.3), which ffmpeg can decode.

Exit status: 0 when the outcome is the one asked for (--expect pull|refusal), 1 otherwise.
"""
import argparse
import base64
import hashlib
import hmac
import os
import re
import socket
import struct
import sys
import time

MASK = 0xFFFFFFFF


# --- MD4 (RFC 1320) ------------------------------------------------------------------------------
def md4(data: bytes) -> bytes:
    def rotl(x, s):
        x &= MASK
        return ((x << s) | (x >> (32 - s))) & MASK

    def f(x, y, z):
        return (x & y) | (~x & z)

    def g(x, y, z):
        return (x & y) | (x & z) | (y & z)

    def h(x, y, z):
        return x ^ y ^ z

    msg = bytearray(data)
    bit_length = len(data) * 8
    msg.append(0x80)
    while len(msg) % 64 != 56:
        msg.append(0)
    msg += struct.pack("<Q", bit_length & 0xFFFFFFFFFFFFFFFF)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(4):  # round 1
            a = rotl(a + f(b, c, d) + x[4 * i], 3)
            d = rotl(d + f(a, b, c) + x[4 * i + 1], 7)
            c = rotl(c + f(d, a, b) + x[4 * i + 2], 11)
            b = rotl(b + f(c, d, a) + x[4 * i + 3], 19)
        for i in range(4):  # round 2
            a = rotl(a + g(b, c, d) + x[i] + 0x5A827999, 3)
            d = rotl(d + g(a, b, c) + x[i + 4] + 0x5A827999, 5)
            c = rotl(c + g(d, a, b) + x[i + 8] + 0x5A827999, 9)
            b = rotl(b + g(c, d, a) + x[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):  # round 3
            a = rotl(a + h(b, c, d) + x[i] + 0x6ED9EBA1, 3)
            d = rotl(d + h(a, b, c) + x[i + 8] + 0x6ED9EBA1, 9)
            c = rotl(c + h(d, a, b) + x[i + 4] + 0x6ED9EBA1, 11)
            b = rotl(b + h(c, d, a) + x[i + 12] + 0x6ED9EBA1, 15)
        a, b, c, d = (a + aa) & MASK, (b + bb) & MASK, (c + cc) & MASK, (d + dd) & MASK
    return struct.pack("<4I", a, b, c, d)


def rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def hmac_md5(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.md5).digest()


# --- NTLM (MS-NLMP) --------------------------------------------------------------------------------
NTLMSSP_NEGOTIATE_UNICODE = 0x00000001
NTLM_NEGOTIATE_OEM = 0x00000002
NTLMSSP_REQUEST_TARGET = 0x00000004
NTLMSSP_NEGOTIATE_SIGN = 0x00000010
NTLMSSP_NEGOTIATE_NTLM = 0x00000200
NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000
NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000
NTLMSSP_NEGOTIATE_VERSION = 0x02000000
NTLMSSP_NEGOTIATE_128 = 0x20000000
NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000
NTLMSSP_NEGOTIATE_56 = 0x80000000
MSV_AV_EOL, MSV_AV_FLAGS, MSV_AV_TIMESTAMP, MSV_AV_TARGET_NAME = 0, 6, 7, 9
# A Windows 10 client's set: key exchange and signing asked for, so the MIC is keyed with the
# exported (random) session key (MS-NLMP 3.1.5.1.2).
CLIENT_FLAGS = (NTLMSSP_NEGOTIATE_UNICODE | NTLM_NEGOTIATE_OEM | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_SIGN
                | NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
                | NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_56)
VERSION = bytes([10, 0]) + struct.pack("<H", 19041) + b"\x00\x00\x00\x0f"  # 2.2.2.10, NTLMSSP_REVISION_W2K3


def ntowf_v2(password: str, user: str, domain: str) -> bytes:
    # MS-NLMP 3.3.2: HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User), UserDom)))
    return hmac_md5(md4(password.encode("utf-16-le")), (user.upper() + domain).encode("utf-16-le"))


def negotiate_message() -> bytes:
    # MS-NLMP 2.2.1.1: Signature, MessageType, NegotiateFlags, DomainNameFields, WorkstationFields, Version.
    return b"NTLMSSP\x00" + struct.pack("<II", 1, CLIENT_FLAGS) + struct.pack("<HHI", 0, 0, 40) * 2 + VERSION


def parse_av_pairs(data: bytes):
    pairs, p = [], 0
    while p + 4 <= len(data):
        av_id, av_len = struct.unpack_from("<HH", data, p)
        if av_id == MSV_AV_EOL:
            return pairs
        pairs.append((av_id, data[p + 4:p + 4 + av_len]))
        p += 4 + av_len
    raise ValueError("TargetInfo without MsvAvEOL")


def parse_challenge_message(msg: bytes):
    # MS-NLMP 2.2.1.2.
    if msg[:8] != b"NTLMSSP\x00" or struct.unpack_from("<I", msg, 8)[0] != 2:
        raise ValueError("not a CHALLENGE_MESSAGE")
    flags = struct.unpack_from("<I", msg, 20)[0]
    server_challenge = msg[24:32]
    ti_len, _, ti_off = struct.unpack_from("<HHI", msg, 40)
    target_info = msg[ti_off:ti_off + ti_len]
    return flags, server_challenge, parse_av_pairs(target_info)


def authenticate_message(negotiate: bytes, challenge: bytes, user: str, password: str, domain: str,
                         workstation: str):
    flags, server_challenge, pairs = parse_challenge_message(challenge)
    timestamps = [v for k, v in pairs if k == MSV_AV_TIMESTAMP]
    if not timestamps:
        raise ValueError("the CHALLENGE_MESSAGE has no MsvAvTimestamp")
    timestamp = timestamps[0]  # 3.1.5.1.2: the server's time goes into the client challenge
    client_challenge = os.urandom(8)
    # The AV pairs of the challenge, plus MsvAvFlags (MIC present) and a target name, then EOL.
    av = b"".join(struct.pack("<HH", k, len(v)) + v for k, v in pairs if k != MSV_AV_FLAGS)
    av += struct.pack("<HHI", MSV_AV_FLAGS, 4, 0x2)
    spn = "HTTP/encoder".encode("utf-16-le")
    av += struct.pack("<HH", MSV_AV_TARGET_NAME, len(spn)) + spn + struct.pack("<HH", MSV_AV_EOL, 0)
    # 2.2.2.7 NTLMv2_CLIENT_CHALLENGE (temp of 3.3.2).
    temp = b"\x01\x01" + b"\x00" * 6 + timestamp + client_challenge + b"\x00" * 4 + av + b"\x00" * 4
    key = ntowf_v2(password, user, domain)
    nt_proof = hmac_md5(key, server_challenge + temp)
    nt_response = nt_proof + temp
    lm_response = b"\x00" * 24  # 3.1.5.1.2: Z(24) when the challenge carries a timestamp
    session_base_key = hmac_md5(key, nt_proof)
    negotiated = flags  # the server's answer to what we asked for
    encrypted_key = b""
    exported_key = session_base_key  # KXKEY for NTLMv2 (3.4.5.1)
    if negotiated & NTLMSSP_NEGOTIATE_KEY_EXCH and negotiated & NTLMSSP_NEGOTIATE_SIGN:
        exported_key = os.urandom(16)
        encrypted_key = rc4(session_base_key, exported_key)
    payload = [("dom", domain.encode("utf-16-le")), ("user", user.encode("utf-16-le")),
               ("ws", workstation.encode("utf-16-le")), ("lm", lm_response), ("nt", nt_response),
               ("key", encrypted_key)]
    offset, fields = 88, {}
    for name, data in payload:
        fields[name] = struct.pack("<HHI", len(data), len(data), offset)
        offset += len(data)
    # MS-NLMP 2.2.1.3: Signature, MessageType, Lm, Nt, Domain, User, Workstation,
    # EncryptedRandomSessionKey fields, NegotiateFlags, Version, MIC, Payload.
    head = (b"NTLMSSP\x00" + struct.pack("<I", 3) + fields["lm"] + fields["nt"] + fields["dom"] + fields["user"]
            + fields["ws"] + fields["key"] + struct.pack("<I", negotiated) + VERSION)
    msg = head + b"\x00" * 16 + b"".join(data for _, data in payload)
    mic = hmac_md5(exported_key, negotiate + challenge + msg)
    return msg[:72] + mic + msg[88:]


def self_test():
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"
    # MS-NLMP 4.2.4.1.1 and 4.2.4.2.2.
    key = ntowf_v2("Password", "User", "Domain")
    assert key.hex() == "0c868a403bfd7a93a3001ef22ef02e3f"
    temp = bytes.fromhex("0101000000000000" "0000000000000000" "aaaaaaaaaaaaaaaa" "00000000"
                         "02000c0044006f006d00610069006e00" "01000c0053006500720076006500720000000000" "00000000")
    assert hmac_md5(key, bytes.fromhex("0123456789abcdef") + temp).hex() == "68cd0ab851e51c96aabc927bebef6a1c"
    assert rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"


# --- HTTP ----------------------------------------------------------------------------------------
class Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        self.peer_closed = False

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            self.peer_closed = True
            raise EOFError("the server closed the connection")
        self.buffer += chunk

    def send(self, text: str):
        self.sock.sendall(text.encode("latin-1"))

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return status, headers

    def read_body(self, length):
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def roundtrip(self, text):
        self.send(text)
        status, headers = self.read_head()
        length = int(header(headers, "content-length") or "0")
        return status, headers, self.read_body(length)

    def read_for(self, seconds):
        data, deadline = self.buffer, time.monotonic() + seconds
        self.buffer = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                self.peer_closed = True
                break
            data += chunk
        return data


def header(headers, name):
    values = [v for k, v in headers if k == name]
    return values[0] if values else None


def request(method, path, version, lines):
    return f"{method} {path} {version}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"


def describe_lines(host, accept):
    # MS-WMSP 4.11, the distribution server's Describe.
    return ["Accept: */*", "User-Agent: NSServer/9.0.0.3171", f"Host: {host}", "Max-Forwards: 9",
            f"X-Accept-Authentication: {accept}",
            "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=0:0,packet-num=4294967295,max-duration=0",
            "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm",
            "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}", "Accept-Language: *"]


def play_lines(host, accept, client_id, streams):
    # MS-WMSP 4.11, the Play that follows, selecting every stream of the header.
    entries = " ".join(f"ffff:{s}:0" for s in streams)
    return ["Accept: */*", "User-Agent: NSServer/9.0.0.3171", f"Host: {host}", "Max-Forwards: 9",
            f"X-Accept-Authentication: {accept}",
            "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=4294967295:4294967295,"
            "packet-num=4294967295,max-duration=0",
            "Pragma: xPlayStrm=1", f"Pragma: client-id={client_id}",
            "Pragma: LinkBW=2147483647, BurstBW=3500000, BurstDuration=5000",
            "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm",
            "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}",
            f"Pragma: stream-switch-count={len(streams)}", f"Pragma: stream-switch-entry={entries}",
            "Accept-Language: *"]


def digest_params(challenge):
    return {k.lower(): v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', challenge)}


class DigestAnswer:
    """RFC 2617 3.2.2, MD5, qop=auth, counting nonce uses."""

    def __init__(self, challenge, user, password):
        self.p = digest_params(challenge)
        self.user, self.password, self.nc = user, password, 0

    def header(self, method, uri):
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
        self.nc += 1
        nc, cnonce = f"{self.nc:08x}", os.urandom(8).hex()
        ha1 = md5(f"{self.user}:{self.p['realm']}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        response = md5(f"{ha1}:{self.p['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (f'Authorization: Digest username="{self.user}", realm="{self.p["realm"]}", nonce="{self.p["nonce"]}", '
                f'uri="{uri}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"')


# --- ASF -----------------------------------------------------------------------------------------
def frames(data):
    """MS-WMSP 2.2.3.1: ($ or $|B, PacketID, PacketLength) then PacketLength bytes; complete frames only."""
    p = 0
    while p + 4 <= len(data):
        if data[p] & 0x7F != 0x24:
            raise ValueError(f"framing lost at byte {p}")
        kind, length = chr(data[p + 1]), struct.unpack_from("<H", data, p + 2)[0]
        if p + 4 + length > len(data):
            return
        yield kind, data[p + 4:p + 4 + length]
        p += 4 + length


def asf_streams_and_packet_size(header_bytes):
    """Stream numbers (Stream Properties Objects) and the packet size (File Properties Object)."""
    file_props = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
    stream_props = bytes.fromhex("9107dcb7b7a9cf118ee600c00c205365")
    count = struct.unpack_from("<I", header_bytes, 24)[0]
    p, streams, packet_size = 30, [], None
    for _ in range(count):
        guid, size = header_bytes[p:p + 16], struct.unpack_from("<Q", header_bytes, p + 16)[0]
        if guid == file_props:
            packet_size = struct.unpack_from("<I", header_bytes, p + 92)[0]
        elif guid == stream_props:
            streams.append(struct.unpack_from("<H", header_bytes, p + 72)[0] & 0x7F)
        p += size
    return sorted(set(streams)), packet_size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url-host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--scheme", choices=["ntlm", "digest"], required=True, help="what to answer the challenge with")
    ap.add_argument("--accept", default="Negotiate, NTLM, Digest")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--expect", choices=["pull", "refusal"], default="pull")
    ap.add_argument("--asf-out")
    ap.add_argument("--refusal-out")
    args = ap.parse_args()
    self_test()

    host = f"{args.url_host}:{args.port}"
    conn = Connection(args.url_host, args.port)
    describe = describe_lines(host, args.accept)
    status, headers, body = conn.roundtrip(request("GET", args.path, "HTTP/1.1", describe))
    challenges = [v for k, v in headers if k == "www-authenticate"]
    facts = [f"first={status}", "challenges=" + "|".join(c.split(" ")[0] for c in challenges)]
    if status == 403 or not challenges:
        facts.append(f"refusal={body.decode('utf-8', 'replace').strip()!r}")
        if args.refusal_out:
            with open(args.refusal_out, "wb") as f:
                f.write(body)
        print(" ".join(facts))
        return 0 if args.expect == "refusal" and status == 403 else 1
    if status != 401:
        print(" ".join(facts) + " (expected 401)")
        return 1
    digest = None
    if args.scheme == "ntlm":
        if "NTLM" not in challenges:
            print(" ".join(facts) + " (no NTLM challenge)")
            return 1
        if header(headers, "connection") is None or "close" in header(headers, "connection").lower():
            print(" ".join(facts) + " (the NTLM challenge closes the connection)")
            return 1
        negotiate = negotiate_message()
        status, headers, _ = conn.roundtrip(request("GET", args.path, "HTTP/1.1", describe + [
            "Authorization: NTLM " + base64.b64encode(negotiate).decode()]))
        step2 = [v for k, v in headers if k == "www-authenticate" and v.startswith("NTLM ")]
        facts.append(f"negotiate={status}")
        if status != 401 or len(step2) != 1:
            print(" ".join(facts) + " (no CHALLENGE_MESSAGE)")
            return 1
        challenge = base64.b64decode(step2[0][5:])
        authenticate = authenticate_message(negotiate, challenge, args.user, args.password, "WORKGROUP", "DIST1")
        status, headers, body = conn.roundtrip(request("GET", args.path, "HTTP/1.1", describe + [
            "Authorization: NTLM " + base64.b64encode(authenticate).decode()]))
    else:
        offered = [c for c in challenges if c.startswith("Digest ")]
        if not offered:
            print(" ".join(facts) + " (no Digest challenge)")
            return 1
        digest = DigestAnswer(offered[0], args.user, args.password)
        status, headers, body = conn.roundtrip(request("GET", args.path, "HTTP/1.1",
                                                       describe + [digest.header("GET", args.path)]))
    facts.append(f"describe={status}")
    if status != 200 or header(headers, "content-type") != "application/vnd.ms.wms-hdr.asfv1":
        print(" ".join(facts) + f" (Describe not answered with the header: {body[:200]!r})")
        return 1
    client_id = re.search(r"client-id=(\d+)", " ".join(v for k, v in headers if k == "pragma")).group(1)
    header_bytes = b"".join(payload[8:] for kind, payload in frames(body) if kind == "H")
    streams, packet_size = asf_streams_and_packet_size(header_bytes)
    facts.append(f"streams={','.join(map(str, streams))} packet_size={packet_size}")

    # The Play on the same connection: NTLM authenticated it; Digest authenticates each request.
    play = play_lines(host, args.accept, client_id, streams)
    if digest:
        play.append(digest.header("GET", args.path))
    conn.send(request("GET", args.path, "HTTP/1.0", play))
    status, headers = conn.read_head()
    facts.append(f"play={status}")
    if status != 200:
        print(" ".join(facts))
        return 1
    data = conn.read_for(args.seconds)
    counts = {}
    out_header, packets = b"", []
    for kind, payload in frames(data):
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "H":
            out_header += payload[8:]
        elif kind == "D":
            packets.append(payload[8:].ljust(packet_size, b"\x00"))
    facts.append(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if args.asf_out:
        with open(args.asf_out, "wb") as f:
            f.write(out_header + b"".join(packets))
    print(" ".join(facts))
    return 0 if args.expect == "pull" and counts.get("H") and counts.get("D") else 1


if __name__ == "__main__":
    sys.exit(main())
