#include "pushrx/push_rx.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "loadgen/wmsp_load.hpp"  // now_s()

namespace pushrx {

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;
constexpr int kMaxReadsPerEvent = 8;

std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return s.substr(b, e - b);
}

std::string printable(const std::string& s, std::size_t max = 80) {
    std::string out;
    for (char ch : s.substr(0, max)) out += (ch >= ' ' && ch <= '~') ? ch : '.';
    return out;
}

}  // namespace

struct Receivers::Listener {
    bool listener = true;  // first member of both Listener and Conn: what epoll's data.ptr points at
    int fd = -1;
    int rx = 0;
};

struct Receivers::Conn {
    bool listener = false;
    int fd = -1;
    int rx = 0;
    std::size_t slot = 0;  // index in conns_
    enum class State { Head, SetupBody, PostBody } state = State::Head;
    std::string head;
    bool setup = false;       // the head being answered is a PushSetup
    std::uint64_t body_left = 0;
    std::string push_id;      // issued on this connection
    // $-framing inside a PushStart body
    std::uint8_t fh[4]{};
    int fh_have = 0;
    std::uint32_t payload_left = 0;
    char id = 0;
    std::uint8_t reason[4]{};
    int reason_have = 0;
    bool got_e = false;  // $E(0) on this connection: the end of the broadcast
};

Receivers::Receivers(int n, int port_base) : stats_(static_cast<std::size_t>(n)), buf_(256 * 1024) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    for (int i = 0; i < n; ++i) {
        auto l = std::make_unique<Listener>();
        l->rx = i;
        l->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (l->fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        int one = 1;
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port_base ? static_cast<std::uint16_t>(port_base + i) : 0);
        if (::bind(l->fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l->fd, 16) != 0) {
            const std::string why = std::strerror(errno);
            ::close(l->fd);
            throw std::runtime_error("receiver " + std::to_string(i) + ": bind/listen on 127.0.0.1:" +
                                     std::to_string(ntohs(a.sin_port)) + ": " + why);
        }
        socklen_t len = sizeof a;
        getsockname(l->fd, reinterpret_cast<sockaddr*>(&a), &len);
        ports_.push_back(ntohs(a.sin_port));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = l.get();
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, l->fd, &ev) != 0)
            throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
        listeners_.push_back(std::move(l));
    }
}

Receivers::~Receivers() {
    for (Conn* c : conns_) {
        ::close(c->fd);
        delete c;
    }
    for (auto& l : listeners_) ::close(l->fd);
    if (epfd_ >= 0) ::close(epfd_);
}

void Receivers::poll(int timeout_ms) {
    epoll_event evs[256];
    const int k = epoll_wait(epfd_, evs, 256, timeout_ms);
    ++wakeups_;
    for (int i = 0; i < k; ++i) {
        if (*static_cast<bool*>(evs[i].data.ptr)) {
            accept_on(*static_cast<Listener*>(evs[i].data.ptr));
        } else {
            on_readable(*static_cast<Conn*>(evs[i].data.ptr));
        }
    }
}

void Receivers::accept_on(Listener& l) {
    for (int k = 0; k < 16; ++k) {
        const int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        auto* c = new Conn;
        c->fd = fd;
        c->rx = l.rx;
        c->slot = conns_.size();
        conns_.push_back(c);
        ++open_;
        RxStats& s = stats_[static_cast<std::size_t>(l.rx)];
        ++s.conns;
        ++s.open;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = c;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) close_conn(c);
    }
}

void Receivers::on_readable(Conn& c) {
    for (int k = 0; k < kMaxReadsPerEvent; ++k) {
        const ssize_t n = ::recv(c.fd, buf_.data(), buf_.size(), 0);
        if (n > 0) {
            ++reads_;
            bytes_ += static_cast<std::uint64_t>(n);
            if (!consume(c, buf_.data(), static_cast<std::size_t>(n))) return close_conn(&c);
            if (static_cast<std::size_t>(n) < buf_.size()) return;  // drained (level-triggered anyway)
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        // EOF or error: the client is gone.
        RxStats& s = stats_[static_cast<std::size_t>(c.rx)];
        if (c.state == Conn::State::PostBody && !c.got_e) ++s.closed_mid_post;
        return close_conn(&c);
    }
}

bool Receivers::consume(Conn& c, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        switch (c.state) {
            case Conn::State::Head: {
                const std::size_t old = c.head.size();
                c.head.append(reinterpret_cast<const char*>(p), n);
                const std::size_t from = old >= 3 ? old - 3 : 0;
                const std::size_t end = c.head.find("\r\n\r\n", from);
                if (end == std::string::npos) {
                    if (c.head.size() > kMaxHead) {
                        error(c, false, "request head over " + std::to_string(kMaxHead) + " bytes");
                        return false;
                    }
                    return true;
                }
                const std::size_t used = end + 4 - old;  // bytes of this chunk that belong to the head
                c.head.resize(end + 4);
                p += used;
                n -= used;
                if (!on_head(c)) return false;
                c.head.clear();
                if (c.state != Conn::State::Head && c.body_left == 0 && !end_of_body(c)) return false;
                continue;
            }
            case Conn::State::SetupBody:
            case Conn::State::PostBody: {
                const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, c.body_left));
                if (c.state == Conn::State::PostBody) {
                    body_frames(c, p, k);
                    if (c.fh_have < 0) return false;
                }
                c.body_left -= k;
                p += k;
                n -= k;
                if (c.body_left == 0 && !end_of_body(c)) return false;
                continue;
            }
        }
    }
    return true;
}

// A PushSetup or PushStart body is complete: answer it.
bool Receivers::end_of_body(Conn& c) {
    RxStats& s = stats_[static_cast<std::size_t>(c.rx)];
    static const std::string k204 =
        "HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\nCache-Control: no-cache\r\n"
        "Pragma: no-cache, timeout=60000\r\n";
    if (c.state == Conn::State::SetupBody) {
        ++s.setups;
        c.push_id = std::to_string(next_id_++);
        c.state = Conn::State::Head;
        return reply(c, k204 + "Set-Cookie: push-id=" + c.push_id + "\r\nContent-Length: 0\r\n\r\n");
    }
    if (c.fh_have != 0 || c.payload_left != 0) {
        error(c, true, "a frame runs past the PushStart Content-Length");
        return false;
    }
    ++s.posts_completed;
    s.streaming = false;
    c.state = Conn::State::Head;
    return reply(c, k204 + "Content-Length: 0\r\n\r\n");
}

bool Receivers::on_head(Conn& c) {
    RxStats& s = stats_[static_cast<std::size_t>(c.rx)];
    // Request line and the three headers this receiver needs.
    const std::string& h = c.head;
    const std::size_t eol = h.find("\r\n");
    const std::string line = h.substr(0, eol);
    if (line.compare(0, 5, "POST ") != 0) {
        error(c, false, "not a POST: " + printable(line));
        reply(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return false;
    }
    std::string content_type, cookie;
    long long content_length = -1;
    for (std::size_t p = eol + 2; p < h.size();) {
        const std::size_t q = h.find("\r\n", p);
        if (q == std::string::npos || q == p) break;
        const std::string field = h.substr(p, q - p);
        p = q + 2;
        const std::size_t colon = field.find(':');
        if (colon == std::string::npos) continue;
        const std::string name = lower(field.substr(0, colon));
        const std::string value = trim(field.substr(colon + 1));
        if (name == "content-type") content_type = lower(value.substr(0, value.find(';')));
        else if (name == "content-length") content_length = std::strtoll(value.c_str(), nullptr, 10);
        else if (name == "cookie") cookie = value;
        else if (name == "transfer-encoding") {
            error(c, false, "Transfer-Encoding in a push request");
            return false;
        }
    }
    if (content_length < 0) {
        error(c, false, "no Content-Length: " + printable(line));
        reply(c, "HTTP/1.1 411 Length Required\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return false;
    }
    c.body_left = static_cast<std::uint64_t>(content_length);
    if (content_type == "application/x-wms-pushsetup") {
        c.state = Conn::State::SetupBody;
        if (c.body_left > 65536) {
            error(c, false, "PushSetup body of " + std::to_string(c.body_left) + " bytes");
            return false;
        }
        return true;
    }
    if (content_type == "application/x-wms-pushstart") {
        ++s.posts;
        if (c.push_id.empty() || cookie.find("push-id=" + c.push_id) == std::string::npos) {
            // Not fatal here (the strict receiver in tests/ checks the cookie rules); counted.
            error(c, false, "PushStart without this connection's push-id cookie (" + printable(cookie) + ")");
        }
        c.state = Conn::State::PostBody;
        c.fh_have = 0;
        c.payload_left = 0;
        s.streaming = true;
        return true;
    }
    error(c, false, "Content-Type '" + content_type + "'");
    reply(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return false;
}

// Parses k bytes of a PushStart body (k never runs past the Content-Length). On a framing error it sets
// fh_have to -1 (the caller closes).
void Receivers::body_frames(Conn& c, const std::uint8_t* p, std::size_t k) {
    RxStats& s = stats_[static_cast<std::size_t>(c.rx)];
    std::uint64_t left_in_body = c.body_left;  // including these k bytes
    while (k > 0) {
        if (c.payload_left == 0) {
            const std::size_t t = std::min<std::size_t>(k, static_cast<std::size_t>(4 - c.fh_have));
            std::memcpy(c.fh + c.fh_have, p, t);
            c.fh_have += static_cast<int>(t);
            p += t;
            k -= t;
            left_in_body -= t;
            if (c.fh_have < 4) return;
            c.fh_have = 0;
            c.id = static_cast<char>(c.fh[1]);
            const std::uint32_t len = c.fh[2] | static_cast<std::uint32_t>(c.fh[3]) << 8;
            if (c.fh[0] != 0x24) {
                error(c, true, "framing byte 0x" + [&] {
                    char b[8];
                    std::snprintf(b, sizeof b, "%02X", c.fh[0]);
                    return std::string(b);
                }() + " instead of '$'");
                c.fh_have = -1;
                return;
            }
            if (len > left_in_body) {
                error(c, true, std::string("$") + c.id + " of " + std::to_string(len) + " bytes crosses the Content-Length (" +
                                   std::to_string(left_in_body) + " left)");
                c.fh_have = -1;
                return;
            }
            const double t_now = loadgen::now_s();
            switch (c.id) {
                case 'D':
                    ++s.d_pkts;
                    s.d_len_min = std::min<std::uint16_t>(s.d_len_min, static_cast<std::uint16_t>(len));
                    s.d_len_max = std::max<std::uint16_t>(s.d_len_max, static_cast<std::uint16_t>(len));
                    if (s.t_first_d == 0) s.t_first_d = t_now;
                    break;
                case 'H':
                    ++s.h_pkts;
                    s.h_bytes = len;
                    if (s.t_first_h == 0) s.t_first_h = t_now;
                    break;
                case 'C': ++s.c_pkts; break;
                case 'F': s.f_bytes += 4 + len; break;
                case 'E':
                    if (len != 4) {
                        error(c, true, "$E with PacketLength " + std::to_string(len) + " (must be 4)");
                        c.fh_have = -1;
                        return;
                    }
                    c.reason_have = 0;
                    break;
                default:
                    error(c, true, std::string("unknown frame $") + printable(std::string(1, c.id)));
                    c.fh_have = -1;
                    return;
            }
            c.payload_left = len;
            continue;
        }
        const std::size_t t = std::min<std::size_t>(k, c.payload_left);
        if (c.id == 'D') s.d_bytes += t;
        if (c.id == 'E') {
            for (std::size_t j = 0; j < t && c.reason_have < 4; ++j) c.reason[c.reason_have++] = p[j];
        }
        c.payload_left -= static_cast<std::uint32_t>(t);
        p += t;
        k -= t;
        left_in_body -= t;
        if (c.payload_left == 0 && c.id == 'E') {
            const std::uint32_t r = c.reason[0] | c.reason[1] << 8 | c.reason[2] << 16 |
                                    static_cast<std::uint32_t>(c.reason[3]) << 24;
            ++s.e_pkts;
            s.last_e_reason = r;
            s.t_e = loadgen::now_s();
            if (r != 0 && r != 1) ++s.e_nonzero;
            if (r == 0) c.got_e = true;
        }
    }
}

bool Receivers::reply(Conn& c, const std::string& r) {
    const ssize_t n = ::send(c.fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(r.size())) return true;
    error(c, false, n < 0 ? std::string("send: ") + std::strerror(errno) : std::string("reply only partly sent"));
    return false;
}

void Receivers::error(Conn& c, bool framing, std::string what) {
    RxStats& s = stats_[static_cast<std::size_t>(c.rx)];
    if (framing) ++s.framing_errors;
    else ++s.protocol_errors;
    if (s.first_error.empty()) s.first_error = std::move(what);
}

void Receivers::close_conn(Conn* c) {
    RxStats& s = stats_[static_cast<std::size_t>(c->rx)];
    if (c->state == Conn::State::PostBody) s.streaming = false;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    // Swap-remove from conns_.
    Conn* last = conns_.back();
    conns_[c->slot] = last;
    last->slot = c->slot;
    conns_.pop_back();
    --open_;
    --s.open;
    delete c;
}

}  // namespace pushrx
