// PushOutput: the Asio adapter. One network thread runs every target's WmhttpSession; this file
// only moves bytes between sockets and sessions and arms one timer per target.
#include "asfcast/push/push_output.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <variant>

#include "asfcast/push/wmhttp_session.hpp"

namespace asfcast::push {

const char* to_string(TargetState s) {
    switch (s) {
        case TargetState::idle: return "idle";
        case TargetState::connecting: return "connecting";
        case TargetState::authenticating: return "authenticating";
        case TargetState::streaming: return "streaming";
        case TargetState::retrying: return "retrying";
        case TargetState::failed: return "failed";
        case TargetState::finished: return "finished";
    }
    return "?";
}

const char* to_string(TargetError e) {
    switch (e) {
        case TargetError::none: return "none";
        case TargetError::bad_credentials: return "bad credentials";
        case TargetError::forbidden: return "forbidden";
        case TargetError::not_found: return "not found";
        case TargetError::server_error: return "server error";
        case TargetError::refused: return "refused";
        case TargetError::network: return "network error";
        case TargetError::config: return "configuration";
    }
    return "?";
}

std::string TargetStatus::describe() const {
    const auto secs = (retry_in_ms + 999) / 1000;
    switch (state) {
        case TargetState::retrying:
            return fmt::format("retrying in {} s ({})", secs, last_error);
        case TargetState::failed:
            return retry_in_ms > 0 ? fmt::format("failed: {} (trying again in {} s)", last_error, secs)
                                   : fmt::format("failed: {}", last_error);
        default:
            return to_string(state);
    }
}

namespace {

using Clock = SteadyClock;
using asio::ip::tcp;

struct EndEvent {};
using Event = std::variant<HeaderPtr, PacketPtr, EndEvent>;

constexpr std::size_t kMaxInbox = 8192;

}  // namespace

struct PushOutput::Impl {
    struct Runner {
        Runner(Impl& owner, SessionConfig cfg)
            : impl(owner), session(std::move(cfg)), socket(owner.ioc), resolver(owner.ioc), timer(owner.ioc) {
            snapshot = session.status(Clock::now());
        }

        Impl& impl;
        WmhttpSession session;
        tcp::socket socket;
        tcp::resolver resolver;
        asio::steady_timer timer;
        std::uint64_t gen = 0;  // connection generation: callbacks of older ones are ignored
        std::uint64_t timer_gen = 0;
        std::optional<Clock::time_point> timer_at;
        bool connected = false;
        bool writing = false;
        Bytes write_buf;
        std::size_t write_off = 0;
        std::array<std::uint8_t, 16384> read_buf{};

        mutable std::mutex status_m;
        TargetStatus snapshot;
        Clock::time_point snapshot_at{};

        void close_socket() {
            ++gen;
            resolver.cancel();
            asio::error_code ec;
            if (socket.is_open()) {
                socket.shutdown(tcp::socket::shutdown_both, ec);
                socket.close(ec);
            }
            connected = false;
            writing = false;
        }

        void start_connect(const PushUrl& url) {
            close_socket();
            const auto g = gen;
            resolver.async_resolve(url.host, std::to_string(url.port),
                                   [this, g](const asio::error_code& ec, tcp::resolver::results_type results) {
                                       if (g != gen) return;
                                       if (ec) {
                                           session.on_connect_failed(ec.message(), Clock::now());
                                           sync();
                                           return;
                                       }
                                       asio::async_connect(socket, results,
                                                           [this, g](const asio::error_code& ec2, const tcp::endpoint&) {
                                                               if (g != gen) return;
                                                               on_connect(ec2);
                                                           });
                                   });
        }

        void on_connect(const asio::error_code& ec) {
            if (ec) {
                asio::error_code ignored;
                socket.close(ignored);
                session.on_connect_failed(ec.message(), Clock::now());
                sync();
                return;
            }
            connected = true;
            asio::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (impl.config.socket_send_buffer > 0)
                socket.set_option(asio::socket_base::send_buffer_size(impl.config.socket_send_buffer), ignored);
            session.on_connected(Clock::now());
            start_read();
            sync();
        }

        void start_read() {
            const auto g = gen;
            socket.async_read_some(asio::buffer(read_buf), [this, g](const asio::error_code& ec, std::size_t n) {
                if (g != gen) return;
                const auto now = Clock::now();
                if (!ec) {
                    session.on_data(ByteView(read_buf.data(), n), now);
                    sync();
                    if (g == gen && connected) start_read();
                } else if (ec == asio::error::eof) {
                    session.on_peer_closed(now);
                    sync();
                } else if (ec != asio::error::operation_aborted) {
                    session.on_transport_error(ec.message(), now);
                    sync();
                }
            });
        }

        void start_write(Bytes bytes) {
            writing = true;
            write_buf = std::move(bytes);
            write_off = 0;
            write_some();
        }

        // Piecewise, so that the session sees progress: a slow server is not a stalled one.
        void write_some() {
            const auto g = gen;
            socket.async_write_some(
                asio::buffer(write_buf.data() + write_off, write_buf.size() - write_off),
                [this, g](const asio::error_code& ec, std::size_t n) {
                    if (g != gen) return;
                    const auto now = Clock::now();
                    if (ec) {
                        writing = false;
                        if (ec != asio::error::operation_aborted) session.on_transport_error(ec.message(), now);
                        sync();
                        return;
                    }
                    write_off += n;
                    if (write_off < write_buf.size()) {
                        session.on_write_progress(now);
                        write_some();
                        sync();
                        return;
                    }
                    writing = false;
                    session.on_write_done(now);
                    sync();
                });
        }

        // Carries out what the session asks for, then re-arms the timer and refreshes the status.
        void sync() {
            const auto now = Clock::now();
            if (session.take_close()) close_socket();
            if (auto url = session.take_connect()) start_connect(*url);
            if (connected && !writing) {
                if (session.take_shutdown()) {
                    asio::error_code ignored;
                    socket.shutdown(tcp::socket::shutdown_send, ignored);
                } else {
                    Bytes out = session.take_output(now);
                    if (!out.empty()) start_write(std::move(out));
                }
            }
            const auto d = session.deadline();
            if (d != timer_at) {
                timer_at = d;
                const auto tg = ++timer_gen;
                if (d) {
                    timer.expires_at(*d);
                    timer.async_wait([this, tg](const asio::error_code& ec) {
                        if (ec || tg != timer_gen) return;
                        timer_at.reset();
                        session.on_timer(Clock::now());
                        sync();
                    });
                } else {
                    timer.cancel();
                }
            }
            {
                std::lock_guard lk(status_m);
                snapshot = session.status(now);
                snapshot_at = now;
            }
            if (session.done()) impl.notify_progress();
        }
    };

    explicit Impl(PushConfig cfg) : config(std::move(cfg)), guard(asio::make_work_guard(ioc)) {
        int i = 0;
        for (const auto& t : config.targets) {
            std::string error;
            auto sc = make_session_config(t, config, &error);
            if (!sc) throw std::invalid_argument(fmt::format("push target {} ('{}'): {}", i + 1, redact(t.url), error));
            sc->index = i;
            runners.push_back(std::make_unique<Runner>(*this, std::move(*sc)));
            ++i;
        }
        thread = std::thread([this] {
            // Named so that its CPU time can be read apart from the encoder's (push_bench, top -H).
            pthread_setname_np(pthread_self(), "asfcast-push");
            try {
                ioc.run();
            } catch (const std::exception& e) {
                spdlog::error("push: network thread stopped: {}", e.what());
            }
        });
    }

    // A URL with user:password@ is never echoed.
    static std::string redact(const std::string& url) {
        const auto at = url.find('@');
        if (at == std::string::npos) return url;
        const auto scheme = url.find("://");
        const auto start = scheme == std::string::npos ? 0 : scheme + 3;
        return url.substr(0, start) + "***@" + url.substr(at + 1);
    }

    void post_event(Event e) {
        bool schedule = false;
        {
            std::lock_guard lk(inbox_m);
            if (stopped) return;
            if (inbox.size() >= kMaxInbox && std::holds_alternative<PacketPtr>(e)) {
                ++inbox_dropped;
                return;
            }
            inbox.push_back(std::move(e));
            if (!drain_posted) {
                drain_posted = true;
                schedule = true;
            }
        }
        if (schedule) asio::post(ioc, [this] { drain(); });
    }

    void drain() {
        std::vector<Event> events;
        std::uint64_t dropped = 0;
        {
            std::lock_guard lk(inbox_m);
            events.swap(inbox);
            drain_posted = false;
            dropped = inbox_dropped;
            inbox_dropped = 0;
        }
        if (dropped) spdlog::warn("push: network thread behind, {} packets dropped for every target", dropped);
        const auto now = Clock::now();
        for (auto& e : events) {
            if (auto* h = std::get_if<HeaderPtr>(&e)) {
                header = *h;
                for (auto& r : runners) r->session.on_header(header, now);
            } else if (auto* p = std::get_if<PacketPtr>(&e)) {
                if (!header) continue;
                auto pp = make_push_packet(std::move(*p), *header);
                for (auto& r : runners) r->session.on_packet(pp, now);
            } else {
                for (auto& r : runners) r->session.on_end(now);
            }
        }
        for (auto& r : runners) r->sync();
    }

    void notify_progress() {
        std::lock_guard lk(done_m);
        done_cv.notify_all();
    }

    bool all_done() const {
        for (const auto& r : runners)
            if (!r->session.done()) return false;
        return true;
    }

    void stop() {
        {
            std::lock_guard lk(inbox_m);
            if (stopped) return;
            stopped = true;
        }
        guard.reset();
        ioc.stop();
        if (thread.joinable()) thread.join();
        const auto now = Clock::now();
        for (auto& r : runners) {
            r->session.stop(now);
            r->close_socket();
            asio::error_code ignored;
            r->timer.cancel();
            std::lock_guard lk(r->status_m);
            r->snapshot = r->session.status(now);
            r->snapshot_at = now;
        }
    }

    PushConfig config;
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::vector<std::unique_ptr<Runner>> runners;
    std::thread thread;
    HeaderPtr header;  // network thread only

    std::mutex inbox_m;
    std::vector<Event> inbox;
    bool drain_posted = false;
    bool stopped = false;
    std::uint64_t inbox_dropped = 0;

    std::mutex done_m;
    std::condition_variable done_cv;
};

PushOutput::PushOutput(PushConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

PushOutput::~PushOutput() { stop(); }

void PushOutput::on_header(HeaderPtr header) { impl_->post_event(std::move(header)); }

void PushOutput::on_packet(PacketPtr packet) { impl_->post_event(std::move(packet)); }

void PushOutput::on_end() {
    impl_->post_event(EndEvent{});
    const auto deadline = Clock::now() + impl_->config.end_timeout;
    // The done flags are read on this thread while the network thread works: ask it instead.
    while (Clock::now() < deadline) {
        auto done = std::make_shared<std::promise<bool>>();
        auto fut = done->get_future();
        {
            std::lock_guard lk(impl_->inbox_m);
            if (impl_->stopped) return;
        }
        asio::post(impl_->ioc, [impl = impl_.get(), done] { done->set_value(impl->all_done()); });
        if (fut.wait_until(deadline) != std::future_status::ready) break;
        if (fut.get()) return;
        std::unique_lock lk(impl_->done_m);
        impl_->done_cv.wait_for(lk, std::chrono::milliseconds(50));
    }
    spdlog::warn("push: end of stream not confirmed by every target within {} ms; closing",
                 impl_->config.end_timeout.count());
    stop();
}

void PushOutput::stop() { impl_->stop(); }

std::vector<TargetStatus> PushOutput::status() const {
    std::vector<TargetStatus> out;
    const auto now = Clock::now();
    for (const auto& r : impl_->runners) {
        std::lock_guard lk(r->status_m);
        TargetStatus s = r->snapshot;
        if (s.retry_in_ms > 0) {
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - r->snapshot_at).count();
            s.retry_in_ms = std::max<std::int64_t>(0, s.retry_in_ms - elapsed);
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace asfcast::push
