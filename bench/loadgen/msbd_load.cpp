#include "msbd_load.hpp"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace loadgen {
namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
void put16(std::vector<std::uint8_t>& b, std::uint32_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    put16(b, v & 0xFFFF);
    put16(b, v >> 16);
}

// [MS-MSBD] 2.2.1: "MSB ", version 0x0106, wMessageId, cbMessage, hr.
std::vector<std::uint8_t> message(std::uint16_t id, const std::vector<std::uint8_t>& body) {
    std::vector<std::uint8_t> m;
    put32(m, 0x2042534D);
    put16(m, 0x0106);
    put16(m, id);
    put32(m, static_cast<std::uint32_t>(16 + body.size()));
    put32(m, 0);
    m.insert(m.end(), body.begin(), body.end());
    return m;
}

enum : std::uint16_t { kReqPing = 1, kResStreaminfo = 4, kIndStreaminfo = 5, kResConnect = 8, kIndEos = 9, kIndPacket = 10 };

}  // namespace

MsbdEngine::MsbdEngine(std::size_t slots, MsbdLoadOptions options)
    : options_(options), clients_(slots), buf_(options_.read_size) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    // MSB_MSG_REQ_CONNECT (2.2.7): delivery on this TCP connection, channel "NetShow" in UTF-16LE.
    std::vector<std::uint8_t> body;
    put32(body, 0x0001);
    for (char c : std::string("NetShow")) put16(body, static_cast<unsigned char>(c));
    request_ = message(0x0007, body);
}

MsbdEngine::~MsbdEngine() {
    close_all();
    if (epfd_ >= 0) ::close(epfd_);
}

void MsbdEngine::connect(std::size_t i) {
    MsbdLoadClient& c = clients_[i];
    if (c.fd >= 0) close(i, Fail::Closed);
    c = MsbdLoadClient{};
    c.t_open = now_s();
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        c.state = State::Closed;
        c.fail = Fail::Socket;
        return;
    }
    ++open_;
    const int r = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&options_.addr), sizeof options_.addr);
    if (r < 0 && errno != EINPROGRESS) return close(i, Fail::Socket);
    c.state = State::Connecting;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0) return close(i, Fail::Socket);
    if (r == 0) on_writable(i);
}

void MsbdEngine::close(std::size_t i, Fail why) {
    MsbdLoadClient& c = clients_[i];
    if (c.fd >= 0) {
        ::close(c.fd);
        c.fd = -1;
        --open_;
    }
    if (c.fail == Fail::None) c.fail = why;
    c.state = State::Closed;
}

void MsbdEngine::close_all() {
    for (std::size_t i = 0; i < clients_.size(); ++i)
        if (clients_[i].fd >= 0) close(i, Fail::Closed);
}

void MsbdEngine::drain(std::size_t i) {
    for (int k = 0; k < 64; ++k) {
        MsbdLoadClient& c = clients_[i];
        if (c.fd < 0 || (c.state != State::Head && c.state != State::Body)) return;
        const std::uint64_t before = reads_, raw = c.raw_bytes;
        on_readable(i);
        if (reads_ == before || c.fd < 0 || c.raw_bytes == raw) return;
    }
}

void MsbdEngine::poll(int timeout_ms) {
    epoll_event evs[512];
    const int n = epoll_wait(epfd_, evs, 512, timeout_ms);
    ++waits_;
    if (n < 0) {
        if (errno == EINTR) return;
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int k = 0; k < n; ++k) on_event(static_cast<std::size_t>(evs[k].data.u64), evs[k].events);
}

void MsbdEngine::on_event(std::size_t i, std::uint32_t events) {
    MsbdLoadClient& c = clients_[i];
    if (c.fd < 0) return;
    if (c.state == State::Connecting || c.state == State::Sending) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(i);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i);
}

void MsbdEngine::on_writable(std::size_t i) {
    MsbdLoadClient& c = clients_[i];
    if (c.state == State::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) return close(i, Fail::Connect);
        c.state = State::Sending;
    }
    for (int tries = 0; c.req_off < request_.size() && tries < 16; ++tries) {
        const ssize_t w = ::send(c.fd, request_.data() + c.req_off, request_.size() - c.req_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            return close(i, Fail::Send);
        }
        c.req_off = static_cast<std::uint8_t>(c.req_off + w);
    }
    if (c.req_off < request_.size()) return;
    c.state = State::Head;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) < 0) close(i, Fail::Socket);
}

void MsbdEngine::on_readable(std::size_t i) {
    MsbdLoadClient& c = clients_[i];
    const ssize_t r = ::recv(c.fd, buf_.data(), buf_.size(), 0);
    ++reads_;
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        return close(i, Fail::Reset);
    }
    if (r == 0) return close(i, Fail::Eof);
    c.raw_bytes += static_cast<std::uint64_t>(r);
    on_bytes(i, buf_.data(), static_cast<std::size_t>(r));
}

void MsbdEngine::framing_fail(std::size_t i, std::string what) {
    MsbdLoadClient& c = clients_[i];
    ++c.framing_errors;
    if (c.framing_error.empty()) c.framing_error = std::move(what);
    close(i, Fail::Framing);
}

// Walks the messages in a read without copying what it skips.
void MsbdEngine::on_bytes(std::size_t i, const std::uint8_t* p, std::size_t n) {
    for (int guard = 0; n > 0 && guard < 1'000'000; ++guard) {
        MsbdLoadClient& c = clients_[i];
        if (c.fd < 0) return;
        if (c.skip > 0) {
            const std::size_t take = std::min<std::size_t>(c.skip, n);
            c.skip -= static_cast<std::uint32_t>(take);
            p += take;
            n -= take;
            continue;
        }
        const std::size_t take = std::min<std::size_t>(c.want - c.hdr_len, n);
        std::memcpy(c.hdr + c.hdr_len, p, take);
        c.hdr_len = static_cast<std::uint8_t>(c.hdr_len + take);
        p += take;
        n -= take;
        if (c.hdr_len < c.want) continue;
        if (c.hdr_len == 16 && c.want == 16) {
            if (le32(c.hdr) != 0x2042534D) return framing_fail(i, "dwSignature is not \"MSB \"");
            const std::uint16_t id = le16(c.hdr + 6);
            const std::uint32_t size = le32(c.hdr + 8);
            if (size < 16 || size > 0xFFFF) return framing_fail(i, "cbMessage " + std::to_string(size) + " outside 16..65535");
            const std::uint32_t more = id == kIndPacket ? 8 : (id == kIndStreaminfo || id == kResStreaminfo) ? 32 : 0;
            if (more > size - 16) return framing_fail(i, "message " + std::to_string(id) + " too short");
            if (more > 0) {
                c.want = static_cast<std::uint8_t>(16 + more);
                continue;
            }
        }
        on_message_start(i);
        if (clients_[i].fd < 0) return;
        clients_[i].hdr_len = 0;
        clients_[i].want = 16;
    }
}

void MsbdEngine::on_message_start(std::size_t i) {
    MsbdLoadClient& c = clients_[i];
    const std::uint16_t id = le16(c.hdr + 6);
    const std::uint32_t size = le32(c.hdr + 8);
    c.skip = size - c.hdr_len;
    switch (id) {
        case kResConnect:
            c.hr = le32(c.hdr + 12);
            if (c.hr & 0x80000000u) return close(i, Fail::Status);
            c.state = State::Body;
            return;
        case kIndStreaminfo:
            if (c.t_first_info == 0) {
                c.t_first_info = now_s();
                c.header_bytes = le32(c.hdr + 44);
                if (options_.rcvlowat > 0 && !c.lowat_set) {
                    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &options_.rcvlowat, sizeof options_.rcvlowat);
                    c.lowat_set = true;
                }
            }
            return;
        case kIndPacket: {
            const std::uint32_t pid = le32(c.hdr + 16);
            if (c.have_id && pid != c.last_id + 1) ++c.id_gaps;
            c.last_id = pid;
            c.have_id = true;
            ++c.packets;
            c.packet_bytes += size - 24;
            return;
        }
        case kReqPing: {
            // 3.2.5.1: MSB_MSG_RES_PING; 16 bytes on an idle send buffer go out at once.
            ++c.pings;
            static const std::vector<std::uint8_t> pong = message(0x0002, {});
            (void)::send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            return;
        }
        case kIndEos:
            ++c.eos;
            return;
        case kResStreaminfo:
            return;
        default:
            return framing_fail(i, "wMessageId " + std::to_string(id) + " is not a server message");
    }
}

}  // namespace loadgen
