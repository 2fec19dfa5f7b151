#include "wmsp_load.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
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

}  // namespace

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
    c = Client{};
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
            if (!c.lowat_set && options_.rcvlowat > 0) {
                setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &options_.rcvlowat, sizeof options_.rcvlowat);
                c.lowat_set = true;
            }
        } else if (id == 'H') {
            ++c.h_pkts;
            c.h_bytes += len - 8u;
            // AFFlags 0x08 (or 0x0C) marks the last piece of the header.
            if (c.t_first_h == 0 && (c.hdr[9] & 0x08)) c.t_first_h = now_s();
            if (c.t_first_h == 0 && c.hdr[9] == 0) c.t_first_h = now_s();  // lenient: no flags at all
        } else {
            ++c.other_pkts;
        }
        c.skip = len - 8u;
        c.hdr_len = 0;
    }
    return true;
}

}  // namespace loadgen
