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

#include "asfcast/core/failpoints.hpp"
#include "asfcast/core/thread_name.hpp"

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
        case TargetError::internal: return "internal error";
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

        bool broken = false;  // its session threw: stopped, reported failed
        bool removed = false; // remove_target: closed, kept only for callbacks still queued
        int index = 0;        // for log lines
        PushTarget target;    // as configured, for remove_target

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
                                           call([&] { session.on_connect_failed(ec.message(), Clock::now()); });
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
                call([&] { session.on_connect_failed(ec.message(), Clock::now()); });
                return;
            }
            connected = true;
            asio::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (impl.config.socket_send_buffer > 0)
                socket.set_option(asio::socket_base::send_buffer_size(impl.config.socket_send_buffer), ignored);
            call([&] { session.on_connected(Clock::now()); });
            if (!broken) start_read();
        }

        void start_read() {
            const auto g = gen;
            socket.async_read_some(asio::buffer(read_buf), [this, g](const asio::error_code& ec, std::size_t n) {
                if (g != gen) return;
                const auto now = Clock::now();
                if (!ec) {
                    call([&] { session.on_data(ByteView(read_buf.data(), n), now); });
                    if (g == gen && connected) start_read();
                } else if (ec == asio::error::eof) {
                    call([&] { session.on_peer_closed(now); });
                } else if (ec != asio::error::operation_aborted) {
                    call([&] { session.on_transport_error(ec.message(), now); });
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
                        call([&] { if (ec != asio::error::operation_aborted) session.on_transport_error(ec.message(), now); });
                        return;
                    }
                    write_off += n;
                    if (write_off < write_buf.size()) {
                        call([&] { session.on_write_progress(now); });
                        if (!broken) write_some();
                        return;
                    }
                    writing = false;
                    call([&] { session.on_write_done(now); });
                });
        }

        // Feeds the session an event, then carries out what it asks for.
        template <typename F>
        void call(F&& f) {
            if (broken) return;
            try {
                f();
            } catch (const std::exception& e) {
                impl.fail_target(*this, e.what());
                return;
            }
            sync();
        }

        // Carries out what the session asks for, then re-arms the timer and refreshes the status.
        // An exception here (a bug, or an allocation failure) ends this target only.
        void sync() {
            try {
                sync_unguarded();
            } catch (const std::exception& e) {
                impl.fail_target(*this, e.what());
            }
        }

        void sync_unguarded() {
            if (broken) return;
            if (session.wants_start()) impl.offer_start(*this);
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
                        call([&] { session.on_timer(Clock::now()); });
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
        int i = config.first_index;
        for (const auto& t : config.targets) {
            std::string error;
            auto sc = make_session_config(t, config, &error);
            if (!sc) throw std::invalid_argument(fmt::format("push target {} ('{}'): {}", i + 1, redact(t.url), error));
            sc->index = i;
            runners.push_back(std::make_unique<Runner>(*this, std::move(*sc)));
            runners.back()->index = i;
            runners.back()->target = t;
            ++i;
        }
        feed = std::make_shared<OutputFeed>(OutputFeed::Config{"push", config.feed_packets,
                                                                OutputFeed::Overflow::resume_at_start, true});
        waker = std::make_shared<Waker>();
        waker->impl = this;
        // At most one drain is pending on the network thread (OutputFeed::set_wake).
        feed->set_wake([w = waker] { w->wake(); });
        thread = std::thread([this] {
            // Named so that its CPU time can be read apart from the encoder's (push_bench, top -H).
            set_thread_name("asfcast-push");
            for (;;) {
                try {
                    ioc.run();
                    return;
                } catch (const std::exception& e) {
                    // Handlers guard each target; this is anything else. The loop goes on.
                    spdlog::error("push: unexpected error in the network thread: {}", e.what());
                }
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

    // Lets the mux thread wake the network thread until stop().
    struct Waker {
        std::mutex m;
        Impl* impl = nullptr;
        void wake() {
            std::lock_guard lk(m);
            if (impl) asio::post(impl->ioc, [i = impl] { i->drain(); });
        }
    };

    void drain() {
        const auto now = Clock::now();
        while (feed->take(batch, 512)) {
            for (auto& e : batch.entries) {
                if (e.header != header) {
                    header = e.header;
                    for (auto& r : runners) guarded(*r, [&] { r->session.on_header(header, now); });
                }
                auto pp = std::make_shared<const PushPacket>(PushPacket{std::move(e.packet), e.header});
                for (auto& r : runners)
                    guarded(*r, [&] {
                        failpoint("push.target", r->index);
                        r->session.on_packet(pp, now);
                    });
            }
            if (batch.header && batch.header != header && batch.entries.empty()) {
                header = batch.header;
                for (auto& r : runners) guarded(*r, [&] { r->session.on_header(header, now); });
            }
            if (batch.ended && !ended) {
                ended = true;
                for (auto& r : runners) guarded(*r, [&] { r->session.on_end(now); });
            }
        }
        for (auto& r : runners) r->sync();
    }

    // Runs one target's session call; an exception ends that target only.
    template <typename F>
    void guarded(Runner& r, F&& f) {
        if (r.broken) return;
        try {
            f();
        } catch (const std::exception& e) {
            fail_target(r, e.what());
        }
    }

    void fail_target(Runner& r, const std::string& what) {
        if (r.broken) return;
        r.broken = true;
        r.close_socket();
        asio::error_code ignored;
        r.timer.cancel();
        const auto now = Clock::now();
        {
            std::lock_guard lk(r.status_m);
            r.snapshot.state = TargetState::failed;
            r.snapshot.error = TargetError::internal;
            r.snapshot.last_error = "internal error: " + what;
            r.snapshot.retry_in_ms = 0;
            r.snapshot_at = now;
        }
        spdlog::error("push[{}] {}: stopped after an internal error: {}; the other targets go on", r.index,
                      r.snapshot.url, what);
        notify_progress();
    }

    // A target that must (re)start at a start point gets the packets from the newest group of key
    // frames covering every video stream (core/start_points.hpp), from the feed's recent packets.
    void offer_start(Runner& r) {
        const HeaderPtr h = header;
        if (!h) return;
        std::vector<PushPacketPtr> packets;
        for (auto& e : feed->recent_from_start(video_streams_taken(*h)))
            packets.push_back(std::make_shared<const PushPacket>(PushPacket{std::move(e.packet), std::move(e.header)}));
        r.session.start_from(std::move(packets), Clock::now());
    }

    // Network thread. The new runner is pushed under runners_m: status() reads the list.
    void add_runner(std::unique_ptr<Runner> r) {
        Runner& added = *r;
        {
            std::lock_guard lk(runners_m);
            runners.push_back(std::move(r));
        }
        const auto now = Clock::now();
        if (header) guarded(added, [&] { added.session.on_header(header, now); });
        if (ended) guarded(added, [&] { added.session.on_end(now); });
        added.sync();
    }

    // Network thread. The runner stays in the list (its queued callbacks hold it) but is closed,
    // skipped by drain (broken) and hidden from status() (removed).
    bool remove_runner(const PushTarget& t) {
        for (auto& r : runners) {
            if (r->removed || r->target.url != t.url || r->target.user != t.user ||
                r->target.password != t.password || r->target.template_url != t.template_url ||
                r->target.auto_remove != t.auto_remove)
                continue;
            std::lock_guard lk(runners_m);
            r->removed = true;
            r->broken = true;
            r->session.stop(Clock::now());
            r->close_socket();
            ++r->timer_gen;
            r->timer.cancel();
            return true;
        }
        return false;
    }

    // Runs `f` on the network thread and waits for it (rethrowing what it throws).
    template <typename F>
    auto on_network_thread(F&& f) -> decltype(f()) {
        using R = decltype(f());
        auto done = std::make_shared<std::promise<R>>();
        auto fut = done->get_future();
        asio::post(ioc, [done, fn = std::forward<F>(f)]() mutable {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    done->set_value();
                } else {
                    done->set_value(fn());
                }
            } catch (...) {
                done->set_exception(std::current_exception());
            }
        });
        if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
            throw std::runtime_error("push: the network thread did not answer within 10 s");
        return fut.get();
    }

    void notify_progress() {
        std::lock_guard lk(done_m);
        done_cv.notify_all();
    }

    bool all_done() const {
        for (const auto& r : runners)
            if (!r->broken && !r->removed && !r->session.done()) return false;
        return true;
    }

    void stop() {
        {
            std::lock_guard lk(waker->m);
            if (!waker->impl) return;
            waker->impl = nullptr;
        }
        feed->close();
        guard.reset();
        ioc.stop();
        if (thread.joinable()) thread.join();
        const auto now = Clock::now();
        for (auto& r : runners) {
            if (r->broken) continue;
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
    std::vector<std::unique_ptr<Runner>> runners;  // grows on the network thread only, under runners_m
    mutable std::mutex runners_m;                  // for readers on other threads (status())
    std::thread thread;
    // Keeps what it hands out for a while, so that a target can resume at a start point.
    std::shared_ptr<OutputFeed> feed;
    std::shared_ptr<Waker> waker;
    OutputFeed::Batch batch;  // network thread only
    HeaderPtr header;         // network thread only
    bool ended = false;       // network thread only

    std::mutex done_m;
    std::condition_variable done_cv;
};

PushOutput::PushOutput(PushConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

PushOutput::~PushOutput() { stop(); }

std::shared_ptr<OutputFeed> PushOutput::feed() const { return impl_->feed; }

bool PushOutput::wait_finished(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    // The done flags are read on the network thread: ask it.
    while (Clock::now() < deadline) {
        {
            std::lock_guard lk(impl_->waker->m);
            if (!impl_->waker->impl) return impl_->all_done();
        }
        auto done = std::make_shared<std::promise<bool>>();
        auto fut = done->get_future();
        asio::post(impl_->ioc, [impl = impl_.get(), done] { done->set_value(impl->all_done()); });
        if (fut.wait_until(deadline) != std::future_status::ready) return false;
        if (fut.get()) return true;
        std::unique_lock lk(impl_->done_m);
        impl_->done_cv.wait_for(lk, std::chrono::milliseconds(50));
    }
    return false;
}

void PushOutput::stop() { impl_->stop(); }

void PushOutput::add_target(const PushTarget& target) {
    std::string error;
    auto sc = make_session_config(target, impl_->config, &error);
    if (!sc) throw std::invalid_argument(fmt::format("push target '{}': {}", Impl::redact(target.url), error));
    impl_->on_network_thread([impl = impl_.get(), sc = std::move(*sc), target]() mutable {
        const int index = static_cast<int>(impl->runners.size());
        sc.index = index;
        auto r = std::make_unique<Impl::Runner>(*impl, std::move(sc));
        r->index = index;
        r->target = target;
        impl->add_runner(std::move(r));
    });
}

bool PushOutput::remove_target(const PushTarget& target) {
    return impl_->on_network_thread([impl = impl_.get(), target] { return impl->remove_runner(target); });
}

std::vector<TargetStatus> PushOutput::status() const {
    std::vector<TargetStatus> out;
    const auto now = Clock::now();
    std::lock_guard runners_lock(impl_->runners_m);
    for (const auto& r : impl_->runners) {
        if (r->removed) continue;
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
