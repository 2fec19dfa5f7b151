#include "wmsp_load.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string_view>

namespace loadgen {

double now_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

const char* fail_name(Fail f) {
    switch (f) {
        case Fail::None: return "none";
        case Fail::Socket: return "socket";
        case Fail::Connect: return "connect";
        case Fail::Send: return "send";
        case Fail::HeadTooBig: return "head-too-big";
        case Fail::Status: return "http-status";
        case Fail::Eof: return "eof";
        case Fail::Reset: return "reset";
        case Fail::Framing: return "framing";
        case Fail::Closed: return "closed";
    }
    return "?";
}

const char* state_name(State s) {
    switch (s) {
        case State::Idle: return "never opened (ramp ended)";
        case State::Connecting: return "connecting";
        case State::Sending: return "sending request";
        case State::Head: return "waiting for response head";
        case State::Body: return "streaming";
        case State::Closed: return "closed";
    }
    return "?";
}

namespace {

constexpr std::size_t kMaxHead = 16384;

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

std::uint64_t splitmix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::int64_t mono_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// A field of 0, 1, 2 or 4 bytes (ASF "length type" 0..3) at p[*k], bounds-checked.
bool read_sized(const std::uint8_t* p, std::size_t n, std::size_t* k, unsigned type, std::uint32_t* out) {
    static constexpr std::size_t kSize[4] = {0, 1, 2, 4};
    const std::size_t sz = kSize[type & 3];
    if (*k + sz > n) return false;
    *out = sz == 0 ? 0 : sz == 1 ? p[*k] : sz == 2 ? le16(p + *k) : le32(p + *k);
    *k += sz;
    return true;
}

}  // namespace

std::int64_t asf_packet_oldest_pts_ms(const std::uint8_t* p, std::size_t n) {
    std::size_t k = 0;
    if (n < 1) return -1;
    if (p[0] & 0x80) {  // error correction flags + data
        if (p[0] & 0x60) return -1;  // a length type other than 0: not used by any known writer
        k = 1 + (p[0] & 0x0F);
    }
    if (k + 2 > n) return -1;
    const std::uint8_t ltf = p[k], pf = p[k + 1];
    k += 2;
    std::uint32_t packet_length = 0, sequence = 0, padding = 0;
    if (!read_sized(p, n, &k, (ltf >> 5) & 3, &packet_length) || !read_sized(p, n, &k, (ltf >> 1) & 3, &sequence) ||
        !read_sized(p, n, &k, (ltf >> 3) & 3, &padding))
        return -1;
    k += 6;  // send time, duration
    if (k > n) return -1;
    // The packet ends at Packet Length when given (the wire form may carry it), else at n.
    std::size_t end = n;
    if (packet_length && packet_length < end) end = packet_length;
    if (padding <= end - k) end -= padding;
    const bool multiple = ltf & 1;
    unsigned count = 1, length_type = 0;
    if (multiple) {
        if (k >= end) return -1;
        count = p[k] & 0x3F;
        length_type = p[k] >> 6;
        ++k;
        if (count == 0) return -1;
    }
    std::int64_t oldest = -1;
    for (unsigned i = 0; i < count; ++i) {
        if (k + 1 > end) return -1;
        ++k;  // stream number (bit 7: key frame)
        std::uint32_t object = 0, offset = 0, rep_len = 0, payload_len = 0;
        if (!read_sized(p, end, &k, (pf >> 4) & 3, &object) || !read_sized(p, end, &k, (pf >> 2) & 3, &offset) ||
            !read_sized(p, end, &k, pf & 3, &rep_len))
            return -1;
        if (rep_len > end - k) return -1;
        std::int64_t pts = -1;
        if (rep_len >= 8) pts = le32(p + k + 4);        // media object size, presentation time, extensions
        else if (rep_len == 1) pts = offset;             // compressed: the offset field holds the time
        k += rep_len;
        if (multiple) {
            if (!read_sized(p, end, &k, length_type ? length_type : 2, &payload_len)) return -1;
        } else {
            payload_len = static_cast<std::uint32_t>(end - k);
        }
        if (payload_len > end - k) return -1;
        k += payload_len;
        if (pts >= 0 && (oldest < 0 || pts < oldest)) oldest = pts;
    }
    return oldest;
}

std::int64_t asf_header_preroll_ms(const std::uint8_t* p, std::size_t n) {
    static constexpr std::uint8_t kHeader[16] = {0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                                 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
    static constexpr std::uint8_t kFileProps[16] = {0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11,
                                                    0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65};
    if (n < 30 || std::memcmp(p, kHeader, 16) != 0) return -1;
    std::size_t k = 30;
    while (k + 24 <= n) {
        const std::uint64_t size = le32(p + k + 16) | (static_cast<std::uint64_t>(le32(p + k + 20)) << 32);
        if (size < 24 || size > n - k) return -1;
        if (std::memcmp(p + k, kFileProps, 16) == 0) {
            if (size < 88) return -1;
            return static_cast<std::int64_t>(le32(p + k + 80));  // Preroll, a QWORD of ms
        }
        k += size;
    }
    return -1;
}

void LatencyHistogram::add(double ms) {
    ++samples;
    if (ms < 0) {
        ++negative;  // a clock mismatch: counted, and as 0
        ms = 0;
    }
    max_ms = std::max(max_ms, ms);
    const auto b = static_cast<std::size_t>(ms * 10);
    ++count[std::min(b, kBuckets)];
}

double LatencyHistogram::percentile(double q) const {
    if (samples == 0) return NAN;
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(samples - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b <= kBuckets; ++b)
        if ((seen += count[b]) >= want) return b == kBuckets ? max_ms : (static_cast<double>(b) + 0.5) / 10;
    return max_ms;
}

void LatencyHistogram::clear() {
    std::fill(count.begin(), count.end(), 0);
    samples = negative = 0;
    max_ms = 0;
}

std::uint64_t Engine::unparsed_packets() const {
    std::uint64_t n = 0;
    for (const Client& c : clients_)
        if (c.timing) n += c.timing->unparsed;
    return n;
}

Engine::Engine(std::size_t slots, Options options)
    : options_(std::move(options)), clients_(slots), buf_(options_.read_size) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    guid_seed_ = splitmix(static_cast<std::uint64_t>(now_s() * 1e9) ^ static_cast<std::uint64_t>(getpid()));
}

Engine::~Engine() {
    close_all();
    if (epfd_ >= 0) ::close(epfd_);
}

std::string Engine::request(std::size_t i) const {
    // A per-client GUID, stable for the slot so a partial send can be resumed.
    const std::uint64_t a = splitmix(guid_seed_ + 2 * i), b = splitmix(guid_seed_ + 2 * i + 1);
    char guid[40];
    std::snprintf(guid, sizeof guid, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                  static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
    std::string r;
    r.reserve(480);
    r += "GET / HTTP/1.0\r\n"
         "Accept: */*\r\n"
         "User-Agent: NSPlayer/11.0.0.1234\r\n"
         "Host: ";
    r += options_.host;
    r += "\r\n"
         "Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,packet-num=4294967295,max-duration=0\r\n"
         "Pragma: xPlayStrm=1\r\n"
         "Pragma: xClientGUID={";
    r += guid;
    r += "}\r\n"
         "Pragma: stream-switch-count=2\r\n"
         "Pragma: stream-switch-entry=ffff:1:0 ffff:2:0\r\n"
         "\r\n";
    return r;
}

void Engine::connect(std::size_t i) {
    Client& c = clients_[i];
    if (c.fd >= 0) close(i, Fail::Closed);
    const bool timed = c.timed;
    c = Client{};
    c.timed = timed;
    if (timed) c.timing = std::make_unique<TimedState>();
    c.t_open = now_s();
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        c.state = State::Closed;
        c.fail = Fail::Socket;
        return;
    }
    ++open_;
    int r = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&options_.addr), sizeof options_.addr);
    if (r < 0 && errno != EINPROGRESS) {
        close(i, Fail::Socket);
        return;
    }
    c.state = State::Connecting;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0) {
        close(i, Fail::Socket);
        return;
    }
    if (r == 0) on_writable(i);  // connected at once (possible on loopback)
}

void Engine::close(std::size_t i, Fail why) {
    Client& c = clients_[i];
    if (c.fd >= 0) {
        ::close(c.fd);  // also removes it from the epoll set
        c.fd = -1;
        --open_;
    }
    if (c.fail == Fail::None) c.fail = why;
    c.state = State::Closed;
    if (static_cast<std::ptrdiff_t>(i) != keep_head_) c.head.reset();
}

void Engine::close_all() {
    for (std::size_t i = 0; i < clients_.size(); ++i)
        if (clients_[i].fd >= 0) close(i, Fail::Closed);
}

void Engine::drain(std::size_t i) {
    for (int k = 0; k < 64; ++k) {
        Client& c = clients_[i];
        if (c.fd < 0 || (c.state != State::Head && c.state != State::Body)) return;
        const std::uint64_t before = reads_;
        const std::uint64_t raw = c.raw_bytes;
        on_readable(i);
        if (reads_ == before || c.fd < 0 || c.raw_bytes == raw) return;  // EAGAIN, closed, or head bytes only
    }
}

void Engine::poll(int timeout_ms) {
    epoll_event evs[512];
    int n = epoll_wait(epfd_, evs, 512, timeout_ms);
    ++waits_;
    if (n < 0) {
        if (errno == EINTR) return;
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int k = 0; k < n; ++k) on_event(static_cast<std::size_t>(evs[k].data.u64), evs[k].events);
}

void Engine::on_event(std::size_t i, std::uint32_t events) {
    Client& c = clients_[i];
    if (c.fd < 0) return;
    if (c.state == State::Connecting || c.state == State::Sending) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(i);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i);
}

void Engine::on_writable(std::size_t i) {
    Client& c = clients_[i];
    if (c.state == State::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            close(i, Fail::Connect);
            return;
        }
        c.state = State::Sending;
    }
    const std::string req = request(i);
    while (c.req_off < req.size()) {
        ssize_t w = ::send(c.fd, req.data() + c.req_off, req.size() - c.req_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT again
            if (errno == EINTR) continue;
            close(i, Fail::Send);
            return;
        }
        c.req_off = static_cast<std::uint16_t>(c.req_off + w);
    }
    c.state = State::Head;
    c.head = std::make_unique<std::string>();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) < 0) close(i, Fail::Socket);
}

void Engine::on_readable(std::size_t i) {
    Client& c = clients_[i];
    // One read per event: the event loop stays fair between clients; level-triggered epoll
    // reports the socket again if more is waiting.
    ssize_t r = ::recv(c.fd, buf_.data(), buf_.size(), 0);
    ++reads_;
    if (c.timed) read_at_us_ = mono_us();
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        close(i, Fail::Reset);
        return;
    }
    if (r == 0) {
        close(i, Fail::Eof);
        return;
    }
    const auto n = static_cast<std::size_t>(r);
    if (c.state == State::Head) {
        on_head_bytes(i, buf_.data(), n);
    } else if (c.state == State::Body) {
        c.raw_bytes += n;
        on_body_bytes(i, buf_.data(), n);
    }
}

bool Engine::on_head_bytes(std::size_t i, const std::uint8_t* p, std::size_t n) {
    Client& c = clients_[i];
    std::string& h = *c.head;
    const std::size_t old = h.size();
    h.append(reinterpret_cast<const char*>(p), n);
    // Search from a little before the old end: "\r\n\r\n" may straddle two reads.
    const std::size_t from = old >= 3 ? old - 3 : 0;
    const std::size_t end = h.find("\r\n\r\n", from);
    if (end == std::string::npos) {
        if (h.size() > kMaxHead) close(i, Fail::HeadTooBig);
        return false;
    }
    const std::size_t body_start = end + 4;
    if (body_start > kMaxHead) {
        close(i, Fail::HeadTooBig);
        return false;
    }
    // "HTTP/1.x NNN ..."
    unsigned status = 0;
    if (h.size() >= 12 && h.compare(0, 5, "HTTP/") == 0) {
        const std::size_t sp = h.find(' ');
        if (sp != std::string::npos && sp + 3 < h.size())
            for (std::size_t k = sp + 1; k < sp + 4; ++k)
                status = status * 10 + static_cast<unsigned>(h[k] >= '0' && h[k] <= '9' ? h[k] - '0' : 0);
    }
    c.status = static_cast<std::uint16_t>(status);
    const std::size_t rest = h.size() - body_start;
    const std::size_t rest_off = n - rest;  // the rest of the body is the tail of this read
    h.resize(end);
    if (static_cast<std::ptrdiff_t>(i) != keep_head_) c.head.reset();
    if (status != 200) {
        close(i, Fail::Status);
        return false;
    }
    c.state = State::Body;
    if (rest) {
        c.raw_bytes += rest;
        return on_body_bytes(i, p + rest_off, rest);
    }
    return true;
}

bool Engine::framing_fail(std::size_t i, std::string what) {
    Client& c = clients_[i];
    ++c.framing_errors;
    if (c.framing_error.empty()) c.framing_error = std::move(what);
    close(i, Fail::Framing);  // the byte stream cannot be trusted any more
    return false;
}

bool Engine::on_body_bytes(std::size_t i, const std::uint8_t* p, std::size_t n) {
    Client& c = clients_[i];
    std::size_t k = 0;
    while (k < n) {
        if (c.skip) {
            const std::size_t take = c.skip < n - k ? c.skip : n - k;
            c.skip -= static_cast<std::uint32_t>(take);
            const std::uint8_t id = c.hdr[1];  // the packet being skipped (its header stays in hdr)
            if (c.timing && (id == 'D' || id == 'H')) {
                auto& into = id == 'D' ? c.timing->packet : c.timing->header;
                into.insert(into.end(), p + k, p + k + take);
                if (c.skip == 0) on_timed_packet(c, id, c.hdr[9]);
            }
            k += take;
            continue;
        }
        // Collect the 4-byte framing header, then for $D/$H/$M the 8-byte MMS data packet header.
        const std::size_t want = (c.hdr_len < 4 ? 4u : 12u) - c.hdr_len;
        const std::size_t take = want < n - k ? want : n - k;
        std::memcpy(c.hdr + c.hdr_len, p + k, take);
        c.hdr_len = static_cast<std::uint8_t>(c.hdr_len + take);
        k += take;
        const std::uint8_t id = c.hdr[1];
        const std::uint16_t len = le16(c.hdr + 2);
        if (c.hdr_len == 4) {
            if (c.hdr[0] != 0x24 && c.hdr[0] != 0xA4) {
                char what[96];
                std::snprintf(what, sizeof what, "bad framing byte 0x%02x (type 0x%02x) after %llu bytes",
                              c.hdr[0], id, static_cast<unsigned long long>(c.raw_bytes - (n - k) - 4));
                return framing_fail(i, what);
            }
            if (id == 'D' || id == 'H' || id == 'M') {
                if (len < 8) {
                    char what[64];
                    std::snprintf(what, sizeof what, "$%c PacketLength %u < 8", id, len);
                    return framing_fail(i, what);
                }
                continue;  // read the MMS data packet header
            }
            if (id == 'E') ++c.e_pkts;
            else if (id == 'C') ++c.c_pkts;
            else ++c.other_pkts;
            c.skip = len;
            c.hdr_len = 0;
            continue;
        }
        if (c.hdr_len < 12) continue;
        // Complete 12-byte header of a $D, $H or $M.
        const std::uint32_t loc = le32(c.hdr + 4);
        const std::uint16_t packet_size = le16(c.hdr + 10);
        if (packet_size != len) {
            char what[80];
            std::snprintf(what, sizeof what, "$%c PacketLength %u != PacketSize %u (LocationId %u)", id, len,
                          packet_size, loc);
            return framing_fail(i, what);
        }
        if (id == 'D') {
            if (c.h_pkts == 0) return framing_fail(i, "$D before any $H");
            ++c.d_pkts;
            c.d_bytes += len - 8u;
            if (len < c.d_len_min) c.d_len_min = len;
            if (len > c.d_len_max) c.d_len_max = len;
            if (c.have_loc && loc > c.last_loc + 1) c.lost_pkts += loc - c.last_loc - 1;
            c.last_loc = loc;
            c.have_loc = true;
            if (c.timing) c.timing->packet.clear();
            if (!c.lowat_set && options_.rcvlowat > 0 && !c.timed) {
                setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &options_.rcvlowat, sizeof options_.rcvlowat);
                c.lowat_set = true;
            }
        } else if (id == 'H') {
            ++c.h_pkts;
            c.h_bytes += len - 8u;
            // AFFlags 0x08 (or 0x0C) marks the last piece of the header.
            if (c.t_first_h == 0 && (c.hdr[9] & 0x08)) c.t_first_h = now_s();
            if (c.t_first_h == 0 && c.hdr[9] == 0) c.t_first_h = now_s();  // lenient: no flags at all
            if (c.timing && c.timing->header_done) {  // a new header ($C, then $H)
                c.timing->header.clear();
                c.timing->header_done = false;
            }
        } else {
            ++c.other_pkts;
        }
        c.skip = len - 8u;
        c.hdr_len = 0;
        if (c.skip == 0 && c.timing && (id == 'D' || id == 'H')) on_timed_packet(c, id, c.hdr[9]);
    }
    return true;
}

void Engine::on_timed_packet(Client& c, std::uint8_t id, std::uint8_t afflags) {
    TimedState& t = *c.timing;
    if (id == 'H') {
        if ((afflags & 0x08) || afflags == 0) {
            t.header_done = true;
            t.preroll_ms = asf_header_preroll_ms(t.header.data(), t.header.size());
            t.header.clear();
            t.header.shrink_to_fit();
        } else if (t.header.size() > (1u << 20)) {
            t.header.clear();  // no last piece within 1 MiB: not a header we can read
        }
        return;
    }
    if (!recording_ || media_origin_us_ == 0) return;
    const std::int64_t pts = asf_packet_oldest_pts_ms(t.packet.data(), t.packet.size());
    if (pts < 0 || t.preroll_ms < 0) {
        ++t.unparsed;
        return;
    }
    const std::int64_t captured_us = media_origin_us_ + (pts - t.preroll_ms) * 1000;
    latency_.add(static_cast<double>(read_at_us_ - captured_us) / 1000.0);
}

}  // namespace loadgen
