// msbd_client: a strict MS-MSBD client written from the specification's text ([MS-MSBD] 2.2, 3.2,
// 4.1; the ASF header and packet layouts of ASF-notes §4, §5, §15, §16), independent of asfcast's
// own msbd code (it links nothing of asfcast). It connects over TCP, sends MSB_MSG_REQ_CONNECT (and
// MSB_MSG_REQ_STREAMINFO on request, as an old client would), reads the ASF header from
// MSB_MSG_IND_STREAMINFO, receives every MSB_MSG_IND_PACKET, answers each MSB_MSG_REQ_PING with
// MSB_MSG_RES_PING (3.2.5.1), and at MSB_MSG_IND_EOS followed by the empty MSB_MSG_IND_STREAMINFO
// writes what it received as an ASF file (the header, then every packet as received) and closes the
// connection itself (4.1). Every deviation from the spec it can see fails the run with a message.
//
//   msbd_client --port N [--host 127.0.0.1] [--out FILE] [--seconds 60] [--req-streaminfo]
//               [--min-pings N] [--no-ping-answer] [--flags F] [--channel NAME]
//               [--expect-refusal] [--malformed KIND --after-packets N] [--stop-after-packets N]
//
// --no-ping-answer: ignore REQ_PING; success when the server closes the connection after a ping
//   (3.1.6) without sending IND_EOS.
// --expect-refusal: success when RES_CONNECT carries a failure HRESULT and the server closes.
// --malformed KIND (bad-signature, unknown-id, short-length, huge-length, length-mismatch): after
//   N packets (0: instead of REQ_CONNECT) send a malformed message; success when the server closes
//   the connection without sending anything more than what was in flight, and no IND_EOS.
// Exit status 0 on success, 1 on a violation or failure, 2 on a usage error. The last line of
// standard output summarises the session.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "msbd_client: VIOLATION: %s\n", what.c_str());
    std::exit(1);
}

std::uint16_t u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t u32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t u64(const std::uint8_t* p) { return u32(p) | static_cast<std::uint64_t>(u32(p + 4)) << 32; }
void put16(Bytes& b, std::uint32_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(Bytes& b, std::uint32_t v) {
    put16(b, v & 0xFFFF);
    put16(b, v >> 16);
}

// [MS-MSBD] 2.2.1 MSBMSGBASE: "MSB " as a DWORD, wVersion 0x0106, wMessageId, cbMessage, hr.
constexpr std::uint32_t kSignature = 0x2042534D;
constexpr std::uint16_t kVersion = 0x0106;
enum : std::uint16_t {
    REQ_PING = 1, RES_PING = 2, REQ_STREAMINFO = 3, RES_STREAMINFO = 4, IND_STREAMINFO = 5,
    REQ_CONNECT = 7, RES_CONNECT = 8, IND_EOS = 9, IND_PACKET = 10,
};
const char* name(std::uint16_t id) {
    switch (id) {
        case REQ_PING: return "MSB_MSG_REQ_PING";
        case RES_PING: return "MSB_MSG_RES_PING";
        case REQ_STREAMINFO: return "MSB_MSG_REQ_STREAMINFO";
        case RES_STREAMINFO: return "MSB_MSG_RES_STREAMINFO";
        case IND_STREAMINFO: return "MSB_MSG_IND_STREAMINFO";
        case REQ_CONNECT: return "MSB_MSG_REQ_CONNECT";
        case RES_CONNECT: return "MSB_MSG_RES_CONNECT";
        case IND_EOS: return "MSB_MSG_IND_EOS";
        case IND_PACKET: return "MSB_MSG_IND_PACKET";
        default: return "an unknown message";
    }
}

Bytes message(std::uint16_t id, const Bytes& body = {}, std::uint32_t size_override = 0) {
    Bytes b;
    put32(b, kSignature);
    put16(b, kVersion);
    put16(b, id);
    put32(b, size_override ? size_override : static_cast<std::uint32_t>(16 + body.size()));
    put32(b, 0);
    b.insert(b.end(), body.begin(), body.end());
    return b;
}

struct Args {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string out;
    double seconds = 60;
    bool req_streaminfo = false;
    int min_pings = 0;
    bool no_ping_answer = false;
    std::uint32_t flags = 1;  // 2.2.7: 0x0001, the stream on this TCP connection
    std::string channel = "NetShow";
    bool expect_refusal = false;
    std::string malformed;
    long after_packets = 0;
    long stop_after_packets = -1;
    long stall_after_packets = -1;  // then read nothing more until --seconds (a stalled client)
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(f + " needs a value");
            return argv[++i];
        };
        if (f == "--host") a.host = val();
        else if (f == "--port") a.port = std::stoi(val());
        else if (f == "--out") a.out = val();
        else if (f == "--seconds") a.seconds = std::stod(val());
        else if (f == "--req-streaminfo") a.req_streaminfo = true;
        else if (f == "--min-pings") a.min_pings = std::stoi(val());
        else if (f == "--no-ping-answer") a.no_ping_answer = true;
        else if (f == "--flags") a.flags = static_cast<std::uint32_t>(std::stoul(val(), nullptr, 0));
        else if (f == "--channel") a.channel = val();
        else if (f == "--expect-refusal") a.expect_refusal = true;
        else if (f == "--malformed") a.malformed = val();
        else if (f == "--after-packets") a.after_packets = std::stol(val());
        else if (f == "--stop-after-packets") a.stop_after_packets = std::stol(val());
        else if (f == "--stall-after-packets") a.stall_after_packets = std::stol(val());
        else throw std::invalid_argument("unknown flag " + f);
    }
    if (a.port <= 0 || a.port > 65535) throw std::invalid_argument("--port is required");
    if (!a.malformed.empty() && a.malformed != "bad-signature" && a.malformed != "unknown-id" &&
        a.malformed != "short-length" && a.malformed != "huge-length" && a.malformed != "length-mismatch")
        throw std::invalid_argument("--malformed: unknown kind " + a.malformed);
    return a;
}

// The malformed message of each kind ([MS-MSBD] 2.2.1 says what each field must be).
Bytes malformed_message(const std::string& kind) {
    if (kind == "bad-signature") {
        Bytes b = message(RES_PING);
        b[3] = 'X';  // "MSBX"
        return b;
    }
    if (kind == "unknown-id") return message(0x0006);  // not in the wMessageId table
    if (kind == "short-length") return message(RES_PING, {}, 8);  // cbMessage below 0x0010
    if (kind == "huge-length") return message(REQ_CONNECT, {1, 0, 0, 0}, 0x10000);  // above 0xFFFF
    // length-mismatch: an MSB_MSG_REQ_STREAMINFO (2.2.4: the 16-byte header only) whose cbMessage
    // says 20, so that it takes in the first 4 bytes of the MSB_MSG_RES_PING sent after it.
    Bytes b = message(REQ_STREAMINFO, {}, 20);
    const Bytes ping = message(RES_PING);
    b.insert(b.end(), ping.begin(), ping.end());
    return b;
}

// ASF GUIDs as they appear on disk (ASF-notes §3).
const std::uint8_t kHeaderObject[16] = {0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                        0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
const std::uint8_t kDataObject[16] = {0x36, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                      0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
const std::uint8_t kFileProperties[16] = {0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11,
                                          0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65};

struct AsfHeader {
    std::uint64_t header_object_size = 0;
    std::uint32_t flags = 0;
    std::uint64_t play_duration = 0, data_packets = 0;
    std::uint32_t min_packet = 0, max_packet = 0, max_bitrate = 0;
};

// What [MS-MSBD] 2.2.6 says cbHeader holds: the whole ASF Header Object, then the 50-byte start
// of the Data Object.
AsfHeader check_asf_header(const Bytes& h) {
    if (h.size() < 30 + 50) fail("cbHeader " + std::to_string(h.size()) + " is too small for an ASF header");
    if (std::memcmp(h.data(), kHeaderObject, 16) != 0) fail("the STREAMINFO header does not start with the ASF Header Object");
    AsfHeader a;
    a.header_object_size = u64(h.data() + 16);
    if (a.header_object_size + 50 != h.size())
        fail("cbHeader " + std::to_string(h.size()) + " is not the Header Object size " +
             std::to_string(a.header_object_size) + " + 50 (2.2.6)");
    if (std::memcmp(h.data() + a.header_object_size, kDataObject, 16) != 0)
        fail("the 50 bytes after the Header Object are not the start of the Data Object (2.2.6)");
    const std::uint32_t count = u32(h.data() + 24);
    std::size_t at = 30;
    bool found = false;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (at + 24 > a.header_object_size) fail("an object of the Header Object runs past its end");
        const std::uint64_t size = u64(h.data() + at + 16);
        if (size < 24 || at + size > a.header_object_size) fail("an object of the Header Object has a bad size");
        if (std::memcmp(h.data() + at, kFileProperties, 16) == 0) {
            if (size < 104) fail("the File Properties Object is shorter than 104 bytes");
            const std::uint8_t* f = h.data() + at;
            a.data_packets = u64(f + 56);
            a.play_duration = u64(f + 64);
            a.flags = u32(f + 88);
            a.min_packet = u32(f + 92);
            a.max_packet = u32(f + 96);
            a.max_bitrate = u32(f + 100);
            found = true;
        }
        at += static_cast<std::size_t>(size);
    }
    if (!found) fail("the ASF header has no File Properties Object");
    return a;
}

struct StreamInfo {
    std::uint32_t hr = 0;
    std::uint16_t stream_id = 0, packet_size = 0;
    std::uint32_t total_packets = 0, bit_rate = 0, duration = 0;
    std::uint32_t cb[4] = {};
    Bytes binary;
    Bytes header() const { return Bytes(binary.begin() + cb[0] + cb[1] + cb[2], binary.end()); }
    bool empty() const { return binary.empty(); }
};

// [MS-MSBD] 2.2.5 / 2.2.6 and 5.1.
StreamInfo read_stream_info(const std::uint8_t* m, std::uint32_t size) {
    const char* what = name(u16(m + 6));
    if (size < 48) fail(std::string(what) + " of " + std::to_string(size) + " bytes: shorter than its 48 fixed bytes");
    StreamInfo s;
    s.hr = u32(m + 12);
    s.stream_id = u16(m + 16);
    s.packet_size = u16(m + 18);
    s.total_packets = u32(m + 20);
    s.bit_rate = u32(m + 24);
    s.duration = u32(m + 28);
    std::uint64_t sum = 0;
    for (int i = 0; i < 4; ++i) {
        s.cb[i] = u32(m + 32 + 4 * i);
        if (s.cb[i] > 0xFFCF) fail(std::string(what) + ": a length above 0xFFCF (2.2.6)");
        sum += s.cb[i];
    }
    if (sum != size - 48) fail(std::string(what) + ": cbTitle + cbDescription + cbLink + cbHeader = " +
                               std::to_string(sum) + " but bBinaryData has " + std::to_string(size - 48) + " bytes");
    if (sum > 65487) fail(std::string(what) + ": bBinaryData above 65,487 bytes (2.2.6)");
    s.binary.assign(m + 48, m + size);
    return s;
}

bool is_parity_packet(const Bytes& p) {
    // [MS-MSB] 2.2.2 via [MS-MSBD] 2.2.10: Error Correction Present and Opaque Data Present.
    return !p.empty() && (p[0] & 0x80) && (p[0] & 0x10);
}

// The length of an ASF data packet as its own header says (ASF-notes §16.1, §16.2): the Packet
// Length field if there is one, else the fixed packet size. Also returns its Padding Length.
std::size_t asf_packet_length(const Bytes& p, std::uint32_t fixed_size, std::uint32_t* padding) {
    std::size_t at = 0;
    auto need = [&](std::size_t n) {
        if (at + n > p.size()) fail("an IND_PACKET payload ends inside its ASF packet header");
    };
    need(1);
    if (p[0] & 0x80) {  // Error Correction Flags + data
        if ((p[0] & 0x60) != 0) fail("ASF packet: an error correction length type other than 0");
        at += 1 + (p[0] & 0x0F);
    }
    need(2);
    const std::uint8_t ltf = p[at];
    at += 2;  // Length Type Flags, Property Flags
    auto field = [&](unsigned type) -> std::uint32_t {
        const std::size_t n = type == 3 ? 4 : type;
        need(n);
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(p[at + i]) << (8 * i);
        at += n;
        return v;
    };
    const std::uint32_t packet_length = field((ltf >> 5) & 3);
    (void)field((ltf >> 1) & 3);  // Sequence
    *padding = field((ltf >> 3) & 3);
    return ((ltf >> 5) & 3) ? packet_length : fixed_size;
}

struct Conn {
    int fd = -1;
    Bytes in;
    std::size_t pos = 0;
};

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void send_all(int fd, const Bytes& b) {
    std::size_t off = 0;
    for (int tries = 0; off < b.size() && tries < 10000; ++tries) {
        const ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    try {
        a = parse(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "msbd_client: %s\n", e.what());
        return 2;
    }
    const double deadline = now_s() + a.seconds;

    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(a.port));
    if (inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr) != 1) {
        std::fprintf(stderr, "msbd_client: --host %s is not an IPv4 address\n", a.host.c_str());
        return 2;
    }
    if (a.stall_after_packets >= 0) {
        // A small receive window, set before connecting: the server's writes back up soon.
        const int rcvbuf = 4096;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::fprintf(stderr, "msbd_client: connect to %s:%d: %s\n", a.host.c_str(), a.port, std::strerror(errno));
        return 1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    // 3.2.3: after the TCP connection is established, the client MUST send MSB_MSG_REQ_CONNECT.
    // (The malformed test sends its bad message instead when asked to with --after-packets 0.)
    bool malformed_sent = false;
    if (!a.malformed.empty() && a.after_packets == 0) {
        send_all(fd, malformed_message(a.malformed));
        malformed_sent = true;
    } else {
        Bytes body;
        put32(body, a.flags);
        for (unsigned char c : a.channel) put16(body, c);  // szChannel: Unicode, no terminating NUL
        send_all(fd, message(REQ_CONNECT, body));
        if (a.req_streaminfo) send_all(fd, message(REQ_STREAMINFO));
    }

    Conn c{fd};
    enum class Expect { res_connect, ind_streaminfo, any, streaminfo_after_eos, done } expect = Expect::res_connect;
    StreamInfo current;
    AsfHeader asf;
    bool have_stream = false, eos = false, refused = false, closed_by_server = false;
    long packets = 0, pings = 0, res_streaminfo = 0, after_malformed_bytes = 0;
    std::uint32_t first_id = 0, last_id = 0;
    std::uint64_t payload_bytes = 0;
    long padded_packets = 0;
    Bytes file;
    std::string why_closed;

    std::vector<std::uint8_t> buf(64 * 1024);
    for (long iter = 0; iter < 100'000'000 && expect != Expect::done; ++iter) {
        if (now_s() > deadline) fail("the session did not end within " + std::to_string(a.seconds) + " s (" +
                                     std::to_string(packets) + " packets so far)");
        pollfd p{fd, POLLIN, 0};
        const int r = ::poll(&p, 1, 200);
        if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
        if (r <= 0) continue;
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            closed_by_server = true;
            why_closed = n == 0 ? "closed" : std::strerror(errno);
            break;
        }
        if (malformed_sent) after_malformed_bytes += n;
        c.in.insert(c.in.end(), buf.begin(), buf.begin() + n);
        // Whole messages.
        for (;;) {
            const std::size_t avail = c.in.size() - c.pos;
            if (avail < 16) break;
            const std::uint8_t* m = c.in.data() + c.pos;
            if (u32(m) != kSignature) fail("dwSignature is not 0x2042534D (2.2.1)");
            if (u16(m + 4) != kVersion) fail("wVersion is not 0x0106 (2.2.1)");
            const std::uint16_t id = u16(m + 6);
            const std::uint32_t size = u32(m + 8);
            if (size < 0x10 || size > 0xFFFF) fail("cbMessage " + std::to_string(size) + " outside 0x0010..0xFFFF (2.2.1)");
            if (id != REQ_PING && id != RES_STREAMINFO && id != IND_STREAMINFO && id != RES_CONNECT && id != IND_EOS &&
                id != IND_PACKET)
                fail(std::string("the server sent ") + name(id) + " (0x" + std::to_string(id) + "), not a server message");
            if (avail < size) break;
            c.pos += size;
            const std::uint32_t hr = u32(m + 12);
            switch (expect) {
                case Expect::res_connect:
                    // 3.1.5.1: the answer to REQ_CONNECT comes first.
                    if (id != RES_CONNECT) fail(std::string("expected MSB_MSG_RES_CONNECT first, got ") + name(id));
                    if (size != 36) fail("MSB_MSG_RES_CONNECT of " + std::to_string(size) + " bytes, not 36 (2.2.8)");
                    if (u32(m + 16) != 0 && u32(m + 16) != 2) fail("RES_CONNECT dwFlags is neither 0 nor 2 (2.2.8)");
                    if (hr & 0x80000000u) {
                        refused = true;
                        std::printf("msbd_client: RES_CONNECT hr 0x%08X\n", hr);
                        if (!a.expect_refusal) fail("the server refused the connection with hr " + std::to_string(hr));
                        expect = Expect::done;  // 3.1.5.1: the server closes; so do we
                        break;
                    }
                    if (a.expect_refusal) fail("the connection was accepted (hr 0), a refusal was expected");
                    // Delivery on this connection: sin_family, sin_port, sin_addr SHOULD be 0.
                    if (u16(m + 20) != 0 || u16(m + 22) != 0 || u32(m + 24) != 0)
                        fail("RES_CONNECT names a multicast address for a TCP delivery (2.2.8)");
                    expect = Expect::ind_streaminfo;
                    break;
                case Expect::ind_streaminfo: {
                    // 3.1.5.1: RES_CONNECT is followed by IND_STREAMINFO.
                    if (id != IND_STREAMINFO) fail(std::string("RES_CONNECT is followed by ") + name(id) + ", not MSB_MSG_IND_STREAMINFO");
                    current = read_stream_info(m, size);
                    if (current.empty()) fail("the first IND_STREAMINFO is empty");
                    if (current.hr != 0) fail("IND_STREAMINFO hr is not 0");
                    if (!(current.stream_id <= 0x07FF || (current.stream_id >= 0x8000 && current.stream_id <= 0x87FF)))
                        fail("wStreamId outside 0x0000..0x07FF, 0x8000..0x87FF (2.2.6)");
                    if (current.packet_size > 0xFFF7) fail("cbPacketSize above 0xFFF7 (2.2.6)");
                    asf = check_asf_header(current.header());
                    if (asf.min_packet != asf.max_packet) fail("the ASF packet size is not fixed");
                    if (current.packet_size != asf.max_packet)
                        fail("cbPacketSize " + std::to_string(current.packet_size) + " is not the ASF packet size " +
                             std::to_string(asf.max_packet));
                    if (current.bit_rate != asf.max_bitrate)
                        fail("dwBitRate " + std::to_string(current.bit_rate) + " is not the File Properties Maximum Bitrate " +
                             std::to_string(asf.max_bitrate) + " (2.2.6)");
                    if (current.bit_rate == 0) fail("dwBitRate 0");
                    // msDuration: the duration if known, else 0xFFFFFFFF; a broadcast's is not known.
                    if ((asf.flags & 1) || asf.play_duration == 0) {
                        if (current.duration != 0xFFFFFFFF)
                            fail("msDuration " + std::to_string(current.duration) + " for a live stream, not 0xFFFFFFFF (2.2.6)");
                    }
                    if (current.total_packets != 0 && current.total_packets != asf.data_packets)
                        fail("cTotalPackets is neither 0 nor the number of data packets");
                    const Bytes h = current.header();
                    file.assign(h.begin(), h.end());
                    have_stream = true;
                    expect = Expect::any;
                    break;
                }
                case Expect::any:
                    if (id == REQ_PING) {
                        if (size != 16) fail("MSB_MSG_REQ_PING of " + std::to_string(size) + " bytes");
                        ++pings;
                        // 3.2.5.1: the client MUST send MSB_MSG_RES_PING.
                        if (!a.no_ping_answer) send_all(fd, message(RES_PING));
                    } else if (id == RES_STREAMINFO) {
                        // 2.2.5: the same fields as the current stream's IND_STREAMINFO.
                        if (!a.req_streaminfo) fail("MSB_MSG_RES_STREAMINFO without a request");
                        const StreamInfo s = read_stream_info(m, size);
                        if (s.stream_id != current.stream_id || s.binary != current.binary || s.bit_rate != current.bit_rate ||
                            s.packet_size != current.packet_size || s.duration != current.duration)
                            fail("RES_STREAMINFO differs from the IND_STREAMINFO of the current stream (2.2.5)");
                        ++res_streaminfo;
                    } else if (id == IND_PACKET) {
                        // 2.2.10
                        if (size < 24) fail("MSB_MSG_IND_PACKET shorter than 24 bytes");
                        const std::uint32_t pid = u32(m + 16);
                        const std::uint16_t sid = u16(m + 20);
                        const std::uint16_t psize = u16(m + 22);
                        if (psize < 8 || psize > 0xFFEF) fail("wPacketSize outside 0x0008..0xFFEF (2.2.10)");
                        if (psize + 16u != size) fail("wPacketSize + 16 is not cbMessage (2.2.10)");
                        if (sid != current.stream_id)
                            fail("IND_PACKET wStreamId " + std::to_string(sid) + " is not the stream's " + std::to_string(current.stream_id));
                        const Bytes payload(m + 24, m + size);
                        const bool parity = is_parity_packet(payload);
                        if (packets == 0) first_id = pid;  // 2.2.10: MAY start anywhere
                        else if (parity && pid != last_id) fail("a parity packet does not repeat the previous dwPacketId");
                        else if (!parity && pid != last_id + 1)
                            fail("dwPacketId " + std::to_string(pid) + " after " + std::to_string(last_id) + " (2.2.10: +1 per packet)");
                        last_id = pid;
                        if (payload.size() > current.packet_size) fail("an ASF packet larger than cbPacketSize");
                        if (!parity) {
                            // 2.2.10: one whole ASF packet, Padding Data included.
                            std::uint32_t padding = 0;
                            const std::size_t len = asf_packet_length(payload, asf.max_packet, &padding);
                            if (payload.size() != len)
                                fail("IND_PACKET " + std::to_string(packets) + " carries " + std::to_string(payload.size()) +
                                     " bytes of an ASF packet of " + std::to_string(len) + " (padding stripped? 2.2.10)");
                            if (padding) ++padded_packets;
                            file.insert(file.end(), payload.begin(), payload.end());
                        }
                        payload_bytes += payload.size();
                        ++packets;
                        if (!a.malformed.empty() && !malformed_sent && packets >= a.after_packets) {
                            send_all(fd, malformed_message(a.malformed));
                            malformed_sent = true;
                        }
                        if (a.stop_after_packets >= 0 && packets >= a.stop_after_packets) expect = Expect::done;
                        if (a.stall_after_packets >= 0 && packets >= a.stall_after_packets) {
                            std::printf("msbd_client: stalled after %ld packets; reading nothing more\n", packets);
                            std::fflush(stdout);
                            while (now_s() < deadline) ::usleep(100000);
                            std::printf("msbd_client: stall over\n");
                            ::close(fd);
                            return 0;
                        }
                    } else if (id == IND_EOS) {
                        if (size != 16) fail("MSB_MSG_IND_EOS of " + std::to_string(size) + " bytes");
                        // 2.2.9: always followed by an IND_STREAMINFO.
                        eos = true;
                        expect = Expect::streaminfo_after_eos;
                    } else {
                        fail(std::string("unexpected ") + name(id) + " while streaming");
                    }
                    break;
                case Expect::streaminfo_after_eos: {
                    if (id != IND_STREAMINFO) fail(std::string("IND_EOS is followed by ") + name(id) + " (2.2.9)");
                    const StreamInfo s = read_stream_info(m, size);
                    if (!s.empty()) fail("a next stream after IND_EOS: this client expects one stream");
                    // 3.1.5.3: hr SHOULD be 0xC00D0033 and the other fields 0. 3.2.5.2: the client ignores them.
                    if (s.hr != 0xC00D0033) fail("the empty IND_STREAMINFO hr is not 0xC00D0033 (3.1.5.3)");
                    if (s.stream_id || s.packet_size || s.total_packets || s.bit_rate || s.duration)
                        fail("the empty IND_STREAMINFO has non-zero fields (3.1.5.3)");
                    expect = Expect::done;  // 4.1: the client ends the session
                    break;
                }
                case Expect::done:
                    break;
            }
            if (expect == Expect::done) break;
        }
        if (c.pos > 1 << 20) {
            c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(c.pos));
            c.pos = 0;
        }
    }
    ::close(fd);

    if (!a.out.empty() && have_stream) {
        FILE* f = std::fopen(a.out.c_str(), "wb");
        if (!f || std::fwrite(file.data(), 1, file.size(), f) != file.size() || std::fclose(f) != 0)
            fail("cannot write " + a.out);
    }
    std::printf("msbd_client: packets %ld (dwPacketId %u..%u), %ld with padding, %llu payload bytes, %ld pings "
                "%s, %ld RES_STREAMINFO, stream id %u, header %zu bytes, bit rate %u, eos %s%s\n",
                packets, first_id, last_id, padded_packets, static_cast<unsigned long long>(payload_bytes), pings,
                a.no_ping_answer ? "not answered" : "answered", res_streaminfo, current.stream_id,
                current.header().size() > 0 && have_stream ? current.header().size() : 0, current.bit_rate,
                eos ? "yes" : "no", closed_by_server ? (", closed by the server: " + why_closed).c_str() : "");

    if (a.expect_refusal) return refused ? 0 : 1;
    if (!a.malformed.empty()) {
        // The server closes the connection with nothing more than what was already on its way,
        // and certainly no IND_EOS.
        if (!closed_by_server) fail("the server did not close the connection after the malformed message");
        if (eos) fail("the server sent IND_EOS after the malformed message");
        if (a.after_packets == 0 && after_malformed_bytes > 0)
            fail("the server answered a malformed first message with " + std::to_string(after_malformed_bytes) + " bytes");
        return 0;
    }
    if (a.no_ping_answer) {
        if (!closed_by_server || eos || pings == 0) fail("expected the server to close after an unanswered ping");
        return 0;
    }
    if (a.stop_after_packets >= 0) return 0;
    if (closed_by_server) fail("the server closed the connection before IND_EOS + the empty IND_STREAMINFO (" + why_closed + ")");
    if (!eos) fail("no IND_EOS");
    if (pings < a.min_pings) fail("only " + std::to_string(pings) + " pings, expected at least " + std::to_string(a.min_pings));
    if (a.req_streaminfo && res_streaminfo == 0) fail("no MSB_MSG_RES_STREAMINFO for the request");
    if (packets == 0) fail("no packets");
    return 0;
}
