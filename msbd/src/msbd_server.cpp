// The network edge of the MSBD server: one Asio io_context on one thread ("asfcast-msbd") serves
// every connection. What to write is decided by each connection's MsbdSession; this file only
// moves bytes, drains the feed into the shared packet ring and enforces the limits.
#include "asfcast/msbd/msbd.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "asfcast/core/clock.hpp"
#include "asfcast/core/ip_acl.hpp"
#include "asfcast/core/log.hpp"
#include "asfcast/core/start_points.hpp"
#include "asfcast/core/thread_name.hpp"
#include "msbd_message.hpp"
#include "msbd_session.hpp"

namespace asfcast::msbd {
namespace {

using asio::ip::tcp;

constexpr std::size_t kReadChunk = 16 * 1024;       // bytes read per readiness event
constexpr std::int64_t kHousekeepingUs = 250'000;   // session timers and stalled writes
constexpr int kMaxStepsPerPump = 32;                // then other connections get their turn
constexpr int kMaxTakesPerDrain = 64;               // feed batches per drain, then yield
constexpr std::size_t kControlKeepBytes = 4096;     // a step's control buffer beyond this is freed
// The ring keeps max_lag_ms plus this much of the stream (and always its newest start point), as
// the pull server's does: memory follows the stream rate instead of filling ring_packets.
constexpr std::uint32_t kRingMarginMs = 2000;

SessionConfig session_config(const MsbdConfig& c) {
    SessionConfig s;
    s.connect_timeout_ms = c.connect_timeout_ms;
    s.ping_interval_ms = c.ping_interval_ms;
    s.ping_timeout_ms = c.ping_timeout_ms;
    s.end_linger_ms = c.end_linger_ms;
    s.max_lag_ms = c.max_lag_ms;
    s.disconnect_on_lag = c.lag_policy == "disconnect";
    return s;
}

}  // namespace

class Connection;

// Lets the mux thread wake the network thread until the server stops.
struct FeedWaker {
    std::mutex m;
    MsbdServer::Impl* server = nullptr;
    void wake();
};

struct MsbdServer::Impl {
    explicit Impl(MsbdConfig c);

    void start();
    void accept_next();
    void on_accept(tcp::socket socket);
    void refuse(tcp::socket socket, const std::string& peer, std::uint32_t hr, std::string_view why, bool log);
    void housekeeping();
    void close(Connection& c, std::string_view why, SessionStep::CloseKind kind);
    void drain();
    void header_changed(HeaderPtr h);
    void wake_all();
    void set_streaming_count(std::size_t n) {
        stats.streaming_now = n;
        streaming_now.store(n, std::memory_order_relaxed);
    }

    MsbdConfig config;
    SessionConfig sessions;
    asio::io_context io;
    tcp::acceptor acceptor{io};
    asio::steady_timer timer{io};
    asio::steady_timer send_timer{io};  // coalesces sends (send_interval_ms)
    bool send_armed = false;
    std::thread thread;
    std::shared_ptr<OutputFeed> feed;
    std::shared_ptr<FeedWaker> waker;
    OutputFeed::Batch batch;  // reused by drain()
    StreamState stream;
    IpAcl acl;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
    std::unordered_map<std::string, std::size_t> per_ip;
    std::uint64_t next_connection_id = 1;
    std::uint16_t bound_port = 0;
    bool running = false;
    Bytes read_buffer = Bytes(kReadChunk);
    std::vector<Connection*> wake_list;  // reused: no allocation per packet
    MsbdStats stats;                     // network thread only; stats() copies it there
    // For wait_ended() on another thread.
    std::atomic<bool> end_seen{false};
    std::atomic<std::size_t> streaming_now{0};
};

// One TCP connection: reads the client's messages into its session and writes what the session
// says: control messages it owns, IND_PACKET prefixes of its own and the packet bytes shared with
// every client, in one gather write.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(MsbdServer::Impl& server, tcp::socket socket, std::uint64_t id, std::string peer, Micros now)
        : server_(server), socket_(std::move(socket)), id_(id), peer_(std::move(peer)), session_(server.sessions, now) {}

    void start() { wait_readable(); }

    std::uint64_t id() const { return id_; }
    const std::string& peer() const { return peer_; }
    bool closed() const { return closed_; }
    const MsbdSession& session() const { return session_; }
    std::uint64_t bytes_sent() const { return bytes_sent_; }

    // Called by Impl::close only.
    void shut() {
        closed_ = true;
        uncount_streaming();
        asio::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        for (std::size_t i = 0; i < step_.data_count; ++i) step_.data[i].keep.reset();
        step_.data_count = 0;
    }

    // Session timers, and a write that stopped moving (a client that stopped reading).
    void on_time(Micros now) {
        if (closed_) return;
        const Micros stall_us = std::max<Micros>(Micros{server_.config.max_lag_ms} * 2000, 5'000'000);
        if (writing_ && now - write_started_us_ > stall_us) {
            return server_.close(*this, "client stopped reading", SessionStep::CloseKind::lagged);
        }
        if (session_.on_time(now)) pump();
    }

    // Writes what the session has for this client, until the socket is full or nothing is left.
    void pump() {
        if (closed_) return;
        if (writing_) {
            // A write that does not finish while the live edge runs away: the client stopped
            // reading. With the disconnect policy it goes now; with skip, when the write ends.
            if (server_.sessions.disconnect_on_lag && session_.lagging(server_.stream)) {
                server_.close(*this, "fell behind the live stream", SessionStep::CloseKind::lagged);
            }
            return;
        }
        for (int steps = 0; steps < kMaxStepsPerPump; ++steps) {
            const Micros now = monotonic_us();
            session_.next(server_.stream, step_, now);
            count_streaming();
            if (step_.skipped) ++server_.stats.lag_skips;
            switch (step_.kind) {
                case SessionStep::Kind::wait:
                    return;
                case SessionStep::Kind::close:
                    return server_.close(*this, step_.reason, step_.close_kind);
                case SessionStep::Kind::send:
                    break;
            }
            iov_count_ = iov_index_ = 0;
            if (!step_.control.empty()) iov_[iov_count_++] = {step_.control.data(), step_.control.size()};
            for (std::size_t i = 0; i < step_.data_count; ++i) {
                SessionStep::Data& d = step_.data[i];
                iov_[iov_count_++] = {d.prefix.data(), d.prefix.size()};
                iov_[iov_count_++] = {const_cast<std::uint8_t*>(d.payload.data()), d.payload.size()};
            }
            write_started_us_ = now;
            if (!send_gathered()) return;  // waiting for the socket, or closed
            if (!step_written()) return;
        }
        // More to write: let the other connections have their turn first.
        asio::post(server_.io, [self = shared_from_this()] { self->pump(); });
    }

private:
    // Non-blocking sendmsg straight from the network thread; when the socket is full, waits for
    // it to drain. True when everything went out.
    bool send_gathered() {
        for (int calls = 0; iov_index_ < iov_count_; ++calls) {
            if (calls > 1000) {  // a socket that takes a byte at a time: wait for it instead
                wait_writable();
                return false;
            }
            msghdr msg{};
            msg.msg_iov = &iov_[iov_index_];
            msg.msg_iovlen = iov_count_ - iov_index_;
            const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    wait_writable();
                    return false;
                }
                server_.close(*this, std::string("send failed: ") + std::strerror(errno), SessionStep::CloseKind::normal);
                return false;
            }
            server_.stats.bytes_sent += static_cast<std::uint64_t>(sent);
            bytes_sent_ += static_cast<std::uint64_t>(sent);
            std::size_t left = static_cast<std::size_t>(sent);
            while (left > 0 && iov_index_ < iov_count_) {
                iovec& v = iov_[iov_index_];
                if (left >= v.iov_len) {
                    left -= v.iov_len;
                    ++iov_index_;
                } else {
                    v.iov_base = static_cast<std::uint8_t*>(v.iov_base) + left;
                    v.iov_len -= left;
                    left = 0;
                }
            }
        }
        return true;
    }

    // The step is on the wire. False when the connection closed.
    bool step_written() {
        server_.stats.packets_sent += step_.data_count;
        for (std::size_t i = 0; i < step_.data_count; ++i) step_.data[i].keep.reset();
        step_.data_count = 0;
        iov_count_ = iov_index_ = 0;
        if (step_.control.capacity() > kControlKeepBytes) Bytes().swap(step_.control);  // a STREAMINFO
        if (step_.ends_stream) {
            step_.ends_stream = false;
            ++server_.stats.eos_sent;
            uncount_streaming();
        }
        if (step_.close_after) {
            server_.close(*this, step_.reason, step_.close_kind);
            return false;
        }
        return true;
    }

    void wait_writable() {
        writing_ = true;
        socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const asio::error_code& ec) {
            self->writing_ = false;
            if (self->closed_) return;
            if (ec) return self->server_.close(*self, "write wait failed: " + ec.message(), SessionStep::CloseKind::normal);
            if (!self->send_gathered()) return;
            if (!self->step_written()) return;
            self->pump();
        });
    }

    void wait_readable() {
        if (closed_ || reading_) return;
        reading_ = true;
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
            self->reading_ = false;
            if (self->closed_) return;
            if (ec) return self->server_.close(*self, "read failed: " + ec.message(), SessionStep::CloseKind::normal);
            self->on_readable();
        });
    }

    void on_readable() {
        asio::error_code ec;
        Bytes& buf = server_.read_buffer;
        socket_.non_blocking(true, ec);
        const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_readable();
        if (ec)
            return server_.close(*this, ec == asio::error::eof ? "client closed" : "read failed: " + ec.message(),
                                 SessionStep::CloseKind::normal);
        reader_.feed(ByteView(buf.data(), n));
        const Micros now = monotonic_us();
        // At most one read's worth of messages (each at least 16 bytes).
        for (;;) {
            const auto status = reader_.next(message_);
            if (status == MsbdMessageReader::Status::need_more) break;
            if (status == MsbdMessageReader::Status::malformed) {
                return server_.close(*this, "malformed message: " + reader_.error(), SessionStep::CloseKind::malformed);
            }
            session_.on_message(message_, now);
            if (session_.phase() == MsbdSession::Phase::closed) break;
        }
        message_.body = Bytes();
        pump();
        if (!closed_) wait_readable();
    }

    // streaming_now: accepted clients that have not received IND_EOS yet.
    void count_streaming() {
        if (counted_ || streamed_) return;
        const auto phase = session_.phase();
        if (phase == MsbdSession::Phase::accepted || phase == MsbdSession::Phase::streaming) {
            counted_ = streamed_ = true;
            server_.set_streaming_count(server_.stats.streaming_now + 1);
        }
    }
    void uncount_streaming() {
        if (!counted_) return;
        counted_ = false;
        server_.set_streaming_count(server_.stats.streaming_now - 1);
    }

    MsbdServer::Impl& server_;
    tcp::socket socket_;
    std::uint64_t id_;
    std::string peer_;
    MsbdMessageReader reader_;
    MsbdMessage message_;
    MsbdSession session_;
    SessionStep step_;
    std::array<iovec, 1 + 2 * SessionStep::kMaxBatch> iov_{};
    std::size_t iov_count_ = 0, iov_index_ = 0;
    bool closed_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool counted_ = false;   // in streaming_now
    bool streamed_ = false;  // was counted once (never again after IND_EOS)
    Micros write_started_us_ = 0;
    std::uint64_t bytes_sent_ = 0;
};

void FeedWaker::wake() {
    std::lock_guard lock(m);
    if (!server) return;
    asio::post(server->io, [s = server] { s->drain(); });
}

MsbdServer::Impl::Impl(MsbdConfig c)
    : config(std::move(c)),
      sessions(session_config(config)),
      feed(std::make_shared<OutputFeed>(OutputFeed::Config{"msbd", config.feed_packets})),
      waker(std::make_shared<FeedWaker>()),
      stream(config.ring_packets),
      acl(IpAcl::parse(config.allow, config.deny, "msbd")) {
    if (config.lag_policy != "skip" && config.lag_policy != "disconnect")
        throw std::invalid_argument("msbd.lag_policy: '" + config.lag_policy + "' is not skip or disconnect");
    if (config.max_clients == 0) throw std::invalid_argument("msbd.max_clients: must be at least 1");
    waker->server = this;
    // At most one drain is pending on the network thread (OutputFeed::set_wake).
    feed->set_wake([w = waker] { w->wake(); });
}

void MsbdServer::Impl::start() {
    asio::error_code ec;
    const auto address = asio::ip::make_address(config.address, ec);
    if (ec || !address.is_v4())
        throw std::runtime_error("msbd: '" + config.address +
                                 "' is not an IPv4 address (MS-MSBD 2.1 runs over IPv4): set outputs.msbd.address or --msbd");
    const tcp::endpoint endpoint(address, config.port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("msbd: cannot listen on " + config.address + ":" + std::to_string(config.port) + ": " +
                                 ec.message() + " (another program on that port? choose one with --msbd)");
    bound_port = acceptor.local_endpoint().port();
    running = true;
    accept_next();
    timer.expires_after(std::chrono::microseconds(kHousekeepingUs));
    timer.async_wait([this](const asio::error_code& e) {
        if (!e) housekeeping();
    });
    thread = std::thread([this] {
        set_thread_name("asfcast-msbd");
        constexpr int kMaxUnexpectedErrors = 10000;
        for (int failures = 0; failures < kMaxUnexpectedErrors; ++failures) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                // A bug in one handler must not take the broadcast down; log it and go on.
                spdlog::error("msbd: unexpected error in the network thread: {}", e.what());
            }
        }
        spdlog::error("msbd: {} unexpected errors in the network thread; the MSBD server stops", kMaxUnexpectedErrors);
    });
}

void MsbdServer::Impl::accept_next() {
    acceptor.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
        if (!acceptor.is_open()) return;
        if (ec) {
            // Out of descriptors or similar: try again shortly instead of spinning.
            spdlog::warn("msbd: accept failed: {}", ec.message());
            auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
            t->async_wait([this, t](const asio::error_code&) { accept_next(); });
            return;
        }
        on_accept(std::move(socket));
        accept_next();
    });
}

// A connection the address rules or the limits refuse: MSB_MSG_RES_CONNECT with a failure hr is
// written at once, before anything is read (3.1.5.1: the answer to the REQ_CONNECT the client
// sends first), then the connection closes. No buffer and no second chance.
void MsbdServer::Impl::refuse(tcp::socket socket, const std::string& peer, std::uint32_t hr, std::string_view why,
                              bool log) {
    ++stats.connections_refused;
    if (log) spdlog::info("msbd: {} refused: {}", peer, why);
    else spdlog::debug("msbd: {} refused: {}", peer, why);
    asio::error_code ec;
    socket.non_blocking(true, ec);
    // What the client already sent is read first, so that closing does not reset the connection
    // before it reads the answer.
    for (int i = 0; i < 4 && !ec; ++i) socket.read_some(asio::buffer(read_buffer), ec);
    const Bytes answer = connect_response(hr);
    socket.write_some(asio::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

void MsbdServer::Impl::on_accept(tcp::socket socket) {
    asio::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto address = remote.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    std::string peer = address.to_string();
    if (!acl.allowed(peer))
        return refuse(std::move(socket), peer, hresult::access_denied, "by the address rules (msbd.allow/deny)", true);
    if (connections.size() >= config.max_clients)
        return refuse(std::move(socket), peer, hresult::too_many_connections, "the server has its maximum number of clients", false);
    std::size_t& count = per_ip[peer];
    if (config.max_clients_per_ip && count >= config.max_clients_per_ip) {
        if (count == 0) per_ip.erase(peer);
        return refuse(std::move(socket), peer, hresult::too_many_connections, "too many connections from this address", false);
    }
    ++count;
    socket.set_option(tcp::no_delay(true), ec);
    if (config.send_buffer_bytes > 0) socket.set_option(asio::socket_base::send_buffer_size(config.send_buffer_bytes), ec);
    ++stats.connections_accepted;
    const std::uint64_t id = next_connection_id++;
    auto c = std::make_shared<Connection>(*this, std::move(socket), id, std::move(peer), monotonic_us());
    connections.emplace(id, c);
    stats.clients_now = connections.size();
    c->start();
}

void MsbdServer::Impl::close(Connection& c, std::string_view why, SessionStep::CloseKind kind) {
    if (c.closed()) return;
    const MsbdSession& s = c.session();
    stats.pings_sent += s.pings_sent();
    stats.pings_answered += s.pings_answered();
    bool peer_error = true;
    switch (kind) {
        case SessionStep::CloseKind::malformed: ++stats.malformed; break;
        case SessionStep::CloseKind::protocol_error: ++stats.protocol_errors; break;
        case SessionStep::CloseKind::connect_timeout: ++stats.connect_timeouts; break;
        case SessionStep::CloseKind::ping_timeout: ++stats.ping_timeouts; break;
        case SessionStep::CloseKind::refused:
            ++stats.connects_rejected;
            peer_error = false;
            spdlog::info("msbd: connection {} from {} {}", c.id(), c.peer(), why);
            break;
        case SessionStep::CloseKind::lagged: ++stats.lag_disconnects; [[fallthrough]];
        case SessionStep::CloseKind::normal:
            peer_error = false;
            spdlog::debug("msbd: connection {} from {} closed after {} packets, {} bytes ({} lag skips): {}", c.id(),
                          c.peer(), s.packets_sent(), c.bytes_sent(), s.lag_skips(), why);
            break;
    }
    // One line per connection that broke the protocol or stopped answering, nothing else.
    if (peer_error) spdlog::warn("msbd: connection {} from {} closed: {}", c.id(), c.peer(), why);
    c.shut();
    if (auto it = per_ip.find(c.peer()); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
    auto keep = connections.find(c.id());
    if (keep != connections.end()) {
        // Destroy after the current handler returns: it may still be running on `c`.
        auto holder = keep->second;
        connections.erase(keep);
        asio::post(io, [holder] {});
    }
    stats.clients_now = connections.size();
}

void MsbdServer::Impl::housekeeping() {
    const Micros now = monotonic_us();
    wake_list.clear();
    for (auto& [id, c] : connections) wake_list.push_back(c.get());
    for (Connection* c : wake_list) c->on_time(now);  // a closed one stays alive until this returns
    timer.expires_after(std::chrono::microseconds(kHousekeepingUs));
    timer.async_wait([this](const asio::error_code& e) {
        if (!e) housekeeping();
    });
}

void MsbdServer::Impl::header_changed(HeaderPtr h) {
    stream.set_header(std::move(h));
    if (!stream.unservable.empty()) spdlog::error("msbd: this stream cannot be served over MSBD: {}", stream.unservable);
}

// The network thread takes what the mux thread published (pointers only) into the ring, then
// lets the clients write.
void MsbdServer::Impl::drain() {
    bool got_packets = false;
    bool ended = false;
    int takes = 0;
    for (; takes < kMaxTakesPerDrain && feed->take(batch, 256); ++takes) {
        for (auto& e : batch.entries) {
            if (e.header != stream.header) header_changed(e.header);
            const StartPoint sp = start_point_of(*e.packet, *e.header);
            stream.ring.push(std::move(e.packet), sp);
            got_packets = true;
        }
        // A header published with no packet yet: clients waiting for it get RES_CONNECT now.
        if (batch.header && batch.header != stream.header && batch.entries.empty()) header_changed(batch.header);
        if (batch.ended) ended = true;
    }
    if (takes == kMaxTakesPerDrain) asio::post(io, [this] { drain(); });  // more may be waiting
    if (got_packets) stream.trim(config.max_lag_ms + kRingMarginMs);
    if (ended) {
        stream.ended = true;
        end_seen.store(true);
        return wake_all();
    }
    if (!got_packets || config.send_interval_ms == 0) return wake_all();
    // Caught-up clients get the packets that arrived within one interval in one write.
    if (send_armed) return;
    send_armed = true;
    send_timer.expires_after(std::chrono::milliseconds(config.send_interval_ms));
    send_timer.async_wait([this](const asio::error_code& ec) {
        send_armed = false;
        if (!ec) wake_all();
    });
}

void MsbdServer::Impl::wake_all() {
    wake_list.clear();
    for (auto& [id, c] : connections) wake_list.push_back(c.get());
    for (Connection* c : wake_list) c->pump();  // a closed one stays alive until this returns
}

MsbdServer::MsbdServer(MsbdConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

MsbdServer::~MsbdServer() { stop(); }

std::shared_ptr<OutputFeed> MsbdServer::feed() const { return impl_->feed; }

void MsbdServer::start() {
    if (impl_->running) throw std::logic_error("msbd: start called twice");
    impl_->start();
}

bool MsbdServer::wait_ended(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (int i = 0; i < 100000; ++i) {
        if (!impl_->running) return true;
        if (impl_->end_seen.load() && impl_->streaming_now.load() == 0) return true;
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

void MsbdServer::stop() {
    if (!impl_) return;
    impl_->feed->close();  // the mux thread publishes into nothing from now on
    {
        std::lock_guard lock(impl_->waker->m);
        impl_->waker->server = nullptr;
    }
    if (!impl_->running) return;
    // Handlers run in order on the one network thread: close everything, then stop.
    asio::post(impl_->io, [impl = impl_.get()] {
        asio::error_code ec;
        impl->acceptor.close(ec);
        impl->timer.cancel();
        impl->send_timer.cancel();
        std::vector<std::shared_ptr<Connection>> all;
        for (auto& [id, c] : impl->connections) all.push_back(c);
        for (auto& c : all) impl->close(*c, "server stopping", SessionStep::CloseKind::normal);
        asio::post(impl->io, [impl] { impl->io.stop(); });
    });
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->running = false;
}

std::uint16_t MsbdServer::port() const { return impl_->bound_port; }

MsbdStats MsbdServer::stats() const {
    if (!impl_->running) return impl_->stats;
    auto promise = std::make_shared<std::promise<MsbdStats>>();
    auto future = promise->get_future();
    asio::post(impl_->io, [impl = impl_.get(), promise] {
        MsbdStats s = impl->stats;
        s.ring_packets = impl->stream.ring.size();
        // Counters of the sessions still open.
        for (auto& [id, c] : impl->connections) {
            s.pings_sent += c->session().pings_sent();
            s.pings_answered += c->session().pings_answered();
        }
        promise->set_value(s);
    });
    if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
    return future.get();
}

}  // namespace asfcast::msbd
