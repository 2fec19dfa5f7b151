// The network edge of the pull server: one Asio io_context on one thread ("asfcast-pull") serves
// every connection. Protocol decisions are made by WmspResponder; this file only moves bytes,
// keeps per-connection cursors into each mount's shared PacketRing and enforces the limits.
#include "asfcast/pullserver/pullserver.hpp"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/core/log.hpp"
#include "asfcast/core/output_feed.hpp"
#include "asfcast/core/thread_annotations.hpp"
#include "asfcast/core/thread_name.hpp"
#include "client_cursor.hpp"
#include "asfcast/core/ip_acl.hpp"
#include "send_batch.hpp"
#include "wmsp_framing.hpp"
#include "wmsp_responder.hpp"

namespace asfcast::pull {

namespace {

using asio::ip::tcp;

constexpr std::size_t kMaxBatch = CursorStep::kMaxBatch;  // $D packets per gather write
constexpr std::size_t kReadChunk = 16 * 1024;   // bytes read per readiness event
constexpr std::int64_t kHousekeepingUs = 500'000;
// The ring keeps max_lag_ms plus this much of the stream (and always its newest start points):
// older packets are of use to no client, since one that far behind skips ahead anyway.
constexpr std::uint32_t kRingMarginMs = 2000;
constexpr int kMaxFlushRounds = 64;             // bounds the follow-up writes one wake makes
// Responses waiting on a streaming connection (MS-WMSP 3.2.1 Pending-Responses): they are all sent
// (3.2.4.1, 3.2.5.7, 3.2.5.10); a client with more than this many requests unanswered is closed.
constexpr std::size_t kMaxPendingResponses = 32;

}  // namespace

class Connection;

struct Mount;

// Lets the mux thread wake the network thread for a mount until the server stops.
struct MountWaker {
    std::mutex m;
    PullServer::Impl* server = nullptr;
    Mount* mount = nullptr;
    void wake();
};

struct Mount {
    Mount(std::string p, std::size_t ring_packets, std::size_t feed_packets, asio::io_context& io)
        : path(std::move(p)),
          state(ring_packets),
          feed(std::make_shared<OutputFeed>(OutputFeed::Config{"pull " + path, feed_packets})),
          send_timer(io) {}
    std::string path;
    MountState state;
    MountView view;
    std::shared_ptr<OutputFeed> feed;  // from the mux thread
    std::shared_ptr<MountWaker> waker;
    OutputFeed::Batch batch;           // reused by drain()
    // The connections streaming from this mount, in a dense array (Connection::stream_slot is
    // each one's index): a wake walks it in one pass.
    std::vector<Connection*> streaming;
    void add_streaming(Connection* c);
    void remove_streaming(Connection* c);
    asio::steady_timer send_timer;  // coalesces sends (PullConfig::send_interval_ms)
    bool send_armed = false;
};

struct PullServer::Impl {
    explicit Impl(PullConfig c);

    void start();
    void accept_next();
    void on_accept(tcp::socket socket);
    void refuse(tcp::socket socket, int status, std::string_view text);
    void housekeeping();
    void close(Connection& c, std::string_view why);
    void drain(Mount& m);
    void header_changed(Mount& m, HeaderPtr h);
    void trim_ring(Mount& m);
    void broadcast_ended(Mount& m);
    void wake_all(Mount& m);
    void flush_sends();

    PullConfig config;
    asio::io_context io;
    tcp::acceptor acceptor{io};
    asio::steady_timer timer{io};
    std::thread thread;
    std::map<std::string, std::unique_ptr<Mount>, std::less<>> mounts;
    PullStats stats;
    // set_document may run on any thread; the responder reads on the network thread.
    Mutex documents_mutex;
    std::map<std::string, PullDocument, std::less<>> documents GUARDED_BY(documents_mutex);
    WmspResponder responder;
    IpAcl acl;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
    std::unordered_map<std::uint32_t, Connection*> streaming_by_client;
    std::unordered_map<std::string, std::size_t> per_ip;
    std::uint64_t next_connection_id = 1;
    std::uint16_t bound_port = 0;
    bool running = false;
    Bytes read_buffer = Bytes(kReadChunk);
    std::vector<Connection*> wake_list;                 // reused: no allocation per packet
    // The $D writes of one wake go out in io_uring submissions when the kernel allows it
    // (PullConfig::batch_sends); `batching` is true while a wake queues them.
    std::unique_ptr<SendBatch> send_batch;
    bool batching = false;
    // Capture-to-socket latency histogram, 1 ms buckets; the last one counts everything above.
    std::array<std::uint64_t, 2001> latency_ms{};
    Micros latency_max_us = 0;
    void note_latency(Micros us) {
        const auto ms = static_cast<std::size_t>(std::clamp<Micros>(us / 1000, 0, 2000));
        ++latency_ms[ms];
        latency_max_us = std::max(latency_max_us, us);
    }  // shared by every connection: reads are handled at once
};

// One TCP connection: reads requests, writes replies, and while streaming writes $D packets from
// its mount's ring. Lives in Impl::connections; async handlers hold a shared_ptr.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(PullServer::Impl& server, tcp::socket socket, std::uint64_t id, std::string peer)
        : server_(server), socket_(std::move(socket)), id_(id), peer_(std::move(peer)),
          connected_unix_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()) {}

    void start() {
        head_deadline_us_ = monotonic_us() + std::int64_t{server_.config.header_timeout_ms} * 1000;
        wait_readable();
    }

    std::uint64_t id() const { return id_; }
    const std::string& peer() const { return peer_; }
    bool closed() const { return closed_; }
    std::uint32_t client_id() const { return client_id_; }
    std::uint64_t bytes_sent() const { return bytes_sent_; }
    std::uint64_t lag_skips() const { return cursor_ ? cursor_->lag_skips() : 0; }
    bool streaming() const { return mount_ != nullptr; }
    const std::string& user_agent() const { return user_agent_; }
    std::int64_t connected_unix_ms() const { return connected_unix_ms_; }

    // A SelectStream for this connection's session (MS-WMSP 3.2.5.7), from any connection: the
    // cursor switches at the right payloads from the next packet on.
    void select_streams(const StreamSelection& selection) {
        if (!mount_ || !cursor_) return;
        cursor_->select(selection, mount_->state);
        spdlog::debug("pull: connection {} (client-id {}) switches streams", id_, client_id_);
    }

    // Called by Impl::close only.
    void shut() {
        closed_ = true;
        asio::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        for (std::size_t i = 0; i < step_.data_count; ++i) step_.data[i].keep.reset();
        step_.data_count = 0;
        parser_.reset();
    }

    // Whether check_deadlines has anything to do now (housekeeping asks every connection).
    bool deadline_due(std::int64_t now) const {
        if (closed_) return false;
        if (!mount_ && head_deadline_us_ && now > head_deadline_us_) return true;
        if (change_hold_until_us_ && now >= change_hold_until_us_ && !writing_) return true;
        return writing_ && now - write_started_us_ > stall_us();
    }
    std::int64_t stall_us() const {
        return std::max<std::int64_t>(std::int64_t{server_.config.max_lag_ms} * 2000, 5'000'000);
    }

    // Deadlines: a request head that takes too long, a client that stopped reading.
    void check_deadlines(std::int64_t now) {
        if (closed_) return;
        if (!mount_ && head_deadline_us_ && now > head_deadline_us_) {
            ++server_.stats.header_timeouts;
            if (!writing_) {
                reply_raw(408, "the request head did not arrive in time", true);
            } else {
                server_.close(*this, "request head timeout");
            }
            return;
        }
        if (writing_ && now - write_started_us_ > stall_us()) {
            ++server_.stats.lag_disconnects;
            server_.close(*this, "client stopped reading");
            return;
        }
        if (change_hold_until_us_ && now >= change_hold_until_us_) pump();  // the held $C is due
    }

    // The mount has a new packet or ended: continue streaming if idle. What to write comes from
    // the client's ClientCursor; this only writes it.
    void pump() {
        if (closed_ || !mount_) return;
        if (writing_) {
            // A write that does not finish while the live edge runs away: the client stopped
            // reading. With the disconnect policy it goes now; with skip, when the write ends.
            if (server_.config.lag_policy == "disconnect" && cursor_->started() && cursor_->lagging(mount_->state)) {
                ++server_.stats.lag_disconnects;
                server_.close(*this, "fell behind the live stream");
            }
            return;
        }
        if (!queued_.empty()) return write_control(false);
        if (holding_stream_change()) return;
        for (;;) {
            cursor_->next(mount_->state, step_);
            if (step_.skipped) ++server_.stats.lag_skips;
            switch (step_.kind) {
                case CursorStep::Kind::wait:
                    return;
                case CursorStep::Kind::disconnect:
                    ++server_.stats.lag_disconnects;
                    return server_.close(*this, step_.reason);
                case CursorStep::Kind::finish:
                    queued_.insert(queued_.end(), step_.control.begin(), step_.control.end());
                    // MS-WMSP 3.2.4.1: after the $E and the zero-length chunk, every pending
                    // response. (Without chunking the body runs to the close: nothing can follow.)
                    if (chunked_) take_pending_responses();
                    leave_mount();
                    return write_control(true);
                case CursorStep::Kind::send:
                    break;
            }
            if (step_.data_count == 0) {  // $C + $H
                queued_.insert(queued_.end(), step_.control.begin(), step_.control.end());
                return write_control(false);
            }
            // A 12-byte prefix of our own per packet (and chunk framing), the packet bytes shared
            // with every other client, in one gather write.
            iov_count_ = iov_index_ = 0;
            for (std::size_t i = 0; i < step_.data_count; ++i) {
                CursorStep::Data& d = step_.data[i];
                iov_[iov_count_++] = {d.prefix.data(), d.prefix_size};
                iov_[iov_count_++] = {const_cast<std::uint8_t*>(d.payload.data()), d.payload.size()};
                if (d.chunk_end) iov_[iov_count_++] = {const_cast<char*>("\r\n"), 2};
            }
            write_started_us_ = monotonic_us();
            if (!write_data()) return;  // queued in the wake's batch, waiting for the socket, or closed
        }
    }

    // Writes the gathered $D packets: queued in the wake's io_uring batch (on_batch_done gets the
    // result), or at once with sendmsg. Returns true when everything went out already.
    bool write_data() {
        if (server_.batching) {
            msghdr msg{};
            msg.msg_iov = &iov_[iov_index_];
            msg.msg_iovlen = iov_count_ - iov_index_;
            if (server_.send_batch->queue(socket_.native_handle(), msg, reinterpret_cast<std::uintptr_t>(this))) {
                in_batch_ = writing_ = true;
                return false;
            }
            // The batch is full (a follow-up write while it is being handed out): write now.
        }
        return send_gathered();
    }

    // The result of a batched write (what sendmsg returned, or -errno).
    void on_batch_done(long result) {
        in_batch_ = writing_ = false;
        if (closed_) return;
        if (result < 0) {
            if (result == -EAGAIN || result == -EWOULDBLOCK) return wait_writable();
            if (result != -EINTR)
                return server_.close(*this, std::string("send failed: ") + std::strerror(static_cast<int>(-result)));
        } else {
            sent(static_cast<std::size_t>(result));
        }
        // The rest of a partial write goes with sendmsg (the socket is most likely full: it then
        // waits for room); then more packets, if the cursor has them.
        if (!send_gathered()) return;
        if (!queued_.empty()) return write_control(false);
        pump();
    }

    // Sends the gathered $D packets with non-blocking sendmsg, straight from the network thread:
    // no per-write allocation or completion handler while the socket takes the data. When it is
    // full, waits for it to drain. Returns true when everything went out.
    bool send_gathered() {
        while (iov_index_ < iov_count_) {
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
                server_.close(*this, std::string("send failed: ") + std::strerror(errno));
                return false;
            }
            this->sent(static_cast<std::size_t>(sent));
        }
        if (iov_count_ == 0) return true;  // nothing was gathered (or already finished)
        const Micros now = monotonic_us();
        for (std::size_t i = 0; i < step_.data_count; ++i) {
            // Packets a client at the live edge receives (not its start-up burst).
            if (step_.data[i].capture_us > 0) server_.note_latency(now - step_.data[i].capture_us);
            step_.data[i].keep.reset();
        }
        step_.data_count = 0;
        iov_count_ = iov_index_ = 0;
        return true;
    }

    // Counts `bytes` written and moves the gather list past them.
    void sent(std::size_t bytes) {
        server_.stats.bytes_sent += bytes;
        bytes_sent_ += bytes;
        std::size_t left = bytes;
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

    void wait_writable() {
        writing_ = true;
        socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const asio::error_code& ec) {
            self->writing_ = false;
            if (self->closed_) return;
            if (ec) return self->server_.close(*self, "write wait failed: " + ec.message());
            if (!self->send_gathered()) return;
            if (!self->queued_.empty()) return self->write_control(false);
            self->pump();
        });
    }

    // Stop (§3.2.5.10) from another connection, or the server ending the stream.
    void stop_streaming() {
        if (!mount_) return;
        leave_mount();
        if (!chunked_) return server_.close(*this, "stopped by the client");
        // §3.2.5.10: a zero-length chunk ends the $D stream, then the waiting responses follow.
        const char* end = "0\r\n\r\n";
        queued_.insert(queued_.end(), end, end + 5);
        take_pending_responses();
        waiting_reply_ = true;
        write_control(false);
    }

    void leave_mount() {
        if (!mount_) return;
        mount_->remove_streaming(this);
        mount_ = nullptr;
        if (client_id_) {
            auto it = server_.streaming_by_client.find(client_id_);
            if (it != server_.streaming_by_client.end() && it->second == this) server_.streaming_by_client.erase(it);
            server_.responder.streaming_ended(client_id_, monotonic_us());
        }
        if (server_.stats.streaming_now) --server_.stats.streaming_now;
    }

private:
    // MS-WMSP 3.2.4.2: the $C of a header change waits until 8 s after the session's most recent
    // SelectStream, and by that SelectStream's client-lag (at most 15 s). Housekeeping wakes the
    // connection when the wait is over; meanwhile the new header's packets gather in the ring.
    bool holding_stream_change() {
        if (!mount_->state.header || cursor_->header_version() == mount_->state.header_version ||
            cursor_->draining(mount_->state)) {
            change_hold_until_us_ = 0;
            return false;
        }
        const std::int64_t now = monotonic_us();
        if (change_hold_until_us_ == 0) {
            const std::int64_t delay = client_id_ ? server_.responder.stream_change_delay_us(client_id_, now) : 0;
            if (delay <= 0) return false;
            change_hold_until_us_ = now + delay;
        }
        if (now < change_hold_until_us_) return true;
        change_hold_until_us_ = 0;
        return false;
    }

    // Queues the Pending-Responses, oldest first (MS-WMSP 3.2.1), after what is queued already.
    void take_pending_responses() {
        queued_.insert(queued_.end(), pending_reply_.begin(), pending_reply_.end());
        pending_reply_.clear();
        pending_count_ = 0;
    }

    // A SelectStream on the data connection while it streams with chunked transfer coding
    // (MS-WMSP 3.2.5.7, pipelined mode): a zero-length chunk ends the running response, the pending
    // responses follow, then the SelectStream response, whose body the $D packets go on in.
    void continue_after_select(const std::string& head) {
        const char* end = "0\r\n\r\n";
        queued_.insert(queued_.end(), end, end + 5);
        take_pending_responses();
        queued_.insert(queued_.end(), head.begin(), head.end());
        write_control(false);
    }

    // Writes a reply, $H, $C or $E. A write already running (a $D batch) finishes first.
    void write_control(bool close_after) {
        close_when_done_ = close_when_done_ || close_after;
        if (writing_ || queued_.empty()) return;  // on_written sends what is queued next
        control_ = std::move(queued_);
        queued_ = Bytes();
        writing_ = true;
        write_started_us_ = monotonic_us();
        asio::async_write(socket_, asio::buffer(control_),
                          [self = shared_from_this()](const asio::error_code& ec, std::size_t bytes) {
                              self->control_ = Bytes();
                              self->on_written(ec, bytes);
                          });
    }

    void on_written(const asio::error_code& ec, std::size_t bytes) {
        writing_ = false;
        if (closed_) return;
        if (ec) return server_.close(*this, "write failed: " + ec.message());
        server_.stats.bytes_sent += bytes;
        bytes_sent_ += bytes;
        if (!queued_.empty()) return write_control(false);
        if (close_when_done_) return server_.close(*this, "done");
        if (mount_) return pump();
        waiting_reply_ = false;
        after_reply();
    }

    void wait_readable() {
        if (closed_ || reading_) return;
        reading_ = true;
        socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
            self->reading_ = false;
            if (self->closed_) return;
            if (ec) return self->server_.close(*self, "read failed: " + ec.message());
            self->on_readable();
        });
    }

    void on_readable() {
        asio::error_code ec;
        Bytes& buf = server_.read_buffer;
        socket_.non_blocking(true, ec);
        const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_readable();
        if (ec) return server_.close(*this, ec == asio::error::eof ? "client closed" : "read failed: " + ec.message());
        pending_in_.insert(pending_in_.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        if (pending_in_.size() > server_.config.max_head_bytes + server_.config.max_body_bytes) {
            ++server_.stats.bad_requests;
            return reply_raw(431, "too many bytes before an answer", true);
        }
        process_input();
        if (!closed_ && !waiting_reply_) wait_readable();
    }

    void process_input() {
        while (!closed_ && !waiting_reply_ && !pending_in_.empty()) {
            if (body_needed_ > 0 || (parser_ && parser_->status() == http::HeadStatus::Complete)) {
                const std::size_t take = std::min(body_needed_, pending_in_.size());
                body_.insert(body_.end(), pending_in_.begin(), pending_in_.begin() + static_cast<std::ptrdiff_t>(take));
                pending_in_.erase(pending_in_.begin(), pending_in_.begin() + static_cast<std::ptrdiff_t>(take));
                body_needed_ -= take;
                if (body_needed_ == 0) handle_request();
                continue;
            }
            if (!parser_) {
                parser_ = std::make_unique<http::HttpHeadParser>(http::HttpHeadParser::Kind::Request,
                                                                 server_.config.max_head_bytes);
                if (!head_deadline_us_)
                    head_deadline_us_ = monotonic_us() + std::int64_t{server_.config.header_timeout_ms} * 1000;
            }
            const std::size_t used = parser_->feed(pending_in_);
            pending_in_.erase(pending_in_.begin(), pending_in_.begin() + static_cast<std::ptrdiff_t>(used));
            switch (parser_->status()) {
                case http::HeadStatus::NeedMore:
                    return;
                case http::HeadStatus::TooLarge:
                    ++server_.stats.bad_requests;
                    return reply_raw(431, "the request head is larger than " +
                                              std::to_string(server_.config.max_head_bytes) + " bytes", true);
                case http::HeadStatus::Malformed:
                    ++server_.stats.bad_requests;
                    return reply_raw(400, "malformed request: " + parser_->error(), true);
                case http::HeadStatus::Complete: {
                    const auto length = parser_->head().content_length().value_or(0);
                    if (parser_->head().chunked()) {
                        ++server_.stats.bad_requests;
                        return reply_raw(501, "chunked request bodies are not accepted", true);
                    }
                    if (length > server_.config.max_body_bytes) {
                        ++server_.stats.bad_requests;
                        return reply_raw(413, "request body larger than " +
                                                  std::to_string(server_.config.max_body_bytes) + " bytes", true);
                    }
                    body_needed_ = length;
                    body_.clear();
                    if (length == 0) handle_request();
                    break;
                }
            }
        }
    }

    void handle_request() {
        const http::HttpHead head = parser_->head();
        parser_.reset();
        if (const auto* agent = head.find("User-Agent")) user_agent_ = agent->substr(0, 256);
        head_deadline_us_ = 0;
        Bytes body = std::move(body_);
        body_ = Bytes();
        WmspReply r = server_.responder.respond(head, body, peer_, id_, monotonic_us());
        if (r.stop_streaming_of) {
            auto it = server_.streaming_by_client.find(r.stop_streaming_of);
            if (it != server_.streaming_by_client.end() && it->second != this) it->second->stop_streaming();
        }
        if (r.select_streams_of) {
            // Sessions are keyed by client-id: the SelectStream usually arrives on a connection of
            // its own (non-pipelined mode), and the data connection's cursor switches.
            auto it = server_.streaming_by_client.find(r.select_streams_of);
            if (it != server_.streaming_by_client.end()) it->second->select_streams(r.selection);
        }
        if (mount_) {
            // Requests on the connection that is streaming (pipelined mode): their answers wait
            // until the $D stream ends (§3.2.5.8 Pending-Responses); a Stop ends it now, and a
            // SelectStream ends the running response and goes on in its own (§3.2.5.7).
            if (r.stop_streaming_of == client_id_ && client_id_) {
                pending_reply_.append(r.head);
                pending_reply_.append(r.body.begin(), r.body.end());
                stop_streaming();
            } else if (r.continues_stream && r.select_streams_of == client_id_ && client_id_ && chunked_) {
                continue_after_select(r.head);
            } else if (pending_count_ < kMaxPendingResponses) {
                pending_reply_.append(r.head);
                pending_reply_.append(r.body.begin(), r.body.end());
                ++pending_count_;
            } else {
                server_.close(*this, "more than " + std::to_string(kMaxPendingResponses) +
                                         " requests waiting for their responses on a streaming connection");
            }
            return;
        }
        if (r.start_streaming) return start_streaming(std::move(r));
        send_reply(r.head, r.body, r.close_after);
    }

    void start_streaming(WmspReply r) {
        auto it = server_.mounts.find(r.mount);
        if (it == server_.mounts.end()) return reply_raw(404, "no such mount", true);
        Mount& m = *it->second;
        mount_ = &m;
        m.add_streaming(this);
        client_id_ = r.client_id;
        server_.streaming_by_client[client_id_] = this;
        chunked_ = r.chunked;
        CursorConfig cc;
        cc.max_lag_ms = server_.config.max_lag_ms;
        cc.disconnect_on_lag = server_.config.lag_policy == "disconnect";
        cc.chunked = chunked_;
        cc.predictive_selection = r.predictive_selection;
        cursor_.emplace(cc, m.state.header_version, r.selection);
        ++server_.stats.streaming_now;
        // The head and the current $H go first; $D follow from the newest key frame.
        queued_.insert(queued_.end(), r.head.begin(), r.head.end());
        if (chunked_) {
            const std::string line = fmt::format("{:x}\r\n", m.state.header_frames.size());
            queued_.insert(queued_.end(), line.begin(), line.end());
        }
        queued_.insert(queued_.end(), m.state.header_frames.begin(), m.state.header_frames.end());
        if (chunked_) queued_.insert(queued_.end(), {'\r', '\n'});
        write_control(false);
        // Keep reading: pipelined requests, and to notice the client closing.
        wait_readable();
    }

    void send_reply(const std::string& head, const Bytes& body, bool close_after) {
        queued_.insert(queued_.end(), head.begin(), head.end());
        queued_.insert(queued_.end(), body.begin(), body.end());
        waiting_reply_ = true;
        write_control(close_after);
    }

    // Back to reading requests (keep-alive), answering what was left pending first.
    void after_reply() {
        if (!pending_reply_.empty()) {
            std::string text = std::move(pending_reply_);
            pending_reply_.clear();
            pending_count_ = 0;
            return send_reply(text, {}, false);
        }
        head_deadline_us_ = monotonic_us() + std::int64_t{server_.config.header_timeout_ms} * 1000;
        process_input();
        if (!closed_ && !waiting_reply_) wait_readable();
    }

public:
    // An error answer written before closing (the responder is not involved: no request parsed).
    void reply_raw(int status, const std::string& text, bool close) {
        if (mount_) return server_.close(*this, text);
        parser_.reset();
        pending_in_.clear();
        const std::string body = text + "\n";
        const std::string head = "HTTP/1.0 " + std::to_string(status) + " " + std::string(status_reason(status)) +
                                 "\r\nServer: " + std::string(WmspResponder::kServer) +
                                 "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n";
        send_reply(head, Bytes(body.begin(), body.end()), close);
    }

private:
    PullServer::Impl& server_;
    tcp::socket socket_;
    std::uint64_t id_;
    std::string peer_;
    bool closed_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool in_batch_ = false;  // a $D write queued in the wake's batch (writing_ is set too)
    bool waiting_reply_ = false;
    bool close_when_done_ = false;
    std::int64_t head_deadline_us_ = 0;
    std::int64_t write_started_us_ = 0;
    std::unique_ptr<http::HttpHeadParser> parser_;  // only while a request is arriving
    Bytes pending_in_;
    Bytes body_;
    std::size_t body_needed_ = 0;
    std::string pending_reply_;     // Pending-Responses (MS-WMSP 3.2.1), concatenated
    std::size_t pending_count_ = 0;
    std::int64_t change_hold_until_us_ = 0;  // a $C held back until then (3.2.4.2), 0 none
    Bytes control_;  // a reply, $H, $C, $E being written
    Bytes queued_;   // control bytes waiting for the running write

    // Streaming state.
    Mount* mount_ = nullptr;
public:
    std::size_t stream_slot = 0;  // index in mount_->streaming
private:
    std::uint32_t client_id_ = 0;
    std::optional<ClientCursor> cursor_;
    CursorStep step_;  // the $D batch being written
    bool chunked_ = false;
    std::uint64_t bytes_sent_ = 0;
    std::string user_agent_;  // for PullServer::clients()
    std::int64_t connected_unix_ms_ = 0;
    std::array<iovec, kMaxBatch * 3> iov_{};
    std::size_t iov_count_ = 0, iov_index_ = 0;
};

PullServer::Impl::Impl(PullConfig c)
    : config(std::move(c)),
      responder(config,
                [this](std::string_view path) -> const MountView* {
                    auto it = mounts.find(path);
                    return it == mounts.end() ? nullptr : &it->second->view;
                },
                stats,
                [this](std::string_view path) -> std::optional<PullDocument> {
                    MutexLock lock(documents_mutex);
                    auto it = documents.find(path);
                    if (it == documents.end()) return std::nullopt;
                    return it->second;
                }),
      acl(IpAcl::parse(config.allow, config.deny)) {}

void PullServer::Impl::start() {
    asio::error_code ec;
    const auto address = asio::ip::make_address(config.bind_address, ec);
    if (ec) throw std::runtime_error("pull: '" + config.bind_address + "' is not an IP address: set outputs.pull.address");
    const tcp::endpoint endpoint(address, config.port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("pull: cannot listen on " + config.bind_address + ":" + std::to_string(config.port) +
                                 ": " + ec.message() + " (another program on that port? choose one with --pull)");
    bound_port = acceptor.local_endpoint().port();
    running = true;
    accept_next();
    timer.expires_after(std::chrono::microseconds(kHousekeepingUs));
    timer.async_wait([this](const asio::error_code& e) {
        if (!e) housekeeping();
    });
    thread = std::thread([this] {
        set_thread_name("asfcast-pull");
        if (config.batch_sends) {
            // Made here: the ring is submitted to by this thread only.
            std::string why;
            send_batch = SendBatch::create(std::max(1u, config.batch_entries), why);
            if (send_batch) {
                send_batch->on_done([](std::uint64_t tag, long result) {
                    reinterpret_cast<Connection*>(static_cast<std::uintptr_t>(tag))->on_batch_done(result);
                });
                spdlog::debug("pull: $D writes are batched with io_uring ({} per submission)", config.batch_entries);
            } else {
                spdlog::info("pull: io_uring unavailable ({}); one sendmsg per client write", why);
            }
        }
        for (;;) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                // A bug in one handler must not take the broadcast down; log it and go on.
                spdlog::error("pull: unexpected error in the network thread: {}", e.what());
            }
        }
    });
}

void PullServer::Impl::accept_next() {
    acceptor.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
        if (!acceptor.is_open()) return;
        if (ec) {
            // Out of descriptors or similar: try again shortly instead of spinning.
            spdlog::warn("pull: accept failed: {}", ec.message());
            auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(100));
            t->async_wait([this, t](const asio::error_code&) { accept_next(); });
            return;
        }
        on_accept(std::move(socket));
        accept_next();
    });
}

void PullServer::Impl::refuse(tcp::socket socket, int status, std::string_view text) {
    ++stats.connections_refused;
    auto s = std::make_shared<tcp::socket>(std::move(socket));
    auto msg = std::make_shared<std::string>("HTTP/1.0 " + std::to_string(status) + " " +
                                             std::string(status_reason(status)) + "\r\nServer: " +
                                             std::string(WmspResponder::kServer) +
                                             "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                                             std::to_string(text.size() + 1) + "\r\n\r\n" + std::string(text) + "\n");
    asio::error_code ec;
    s->non_blocking(true, ec);
    // One non-blocking write; a refused client gets no buffer and no second chance.
    s->write_some(asio::buffer(*msg), ec);
    s->shutdown(tcp::socket::shutdown_both, ec);
    s->close(ec);
}

void PullServer::Impl::on_accept(tcp::socket socket) {
    asio::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto address = remote.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    std::string peer = address.to_string();
    if (!acl.allowed(peer)) {
        spdlog::info("pull: {} refused by the address rules", peer);
        return refuse(std::move(socket), 403, "your address may not connect to this server");
    }
    if (connections.size() >= config.max_clients)
        return refuse(std::move(socket), 503, "the server has its maximum number of clients");
    std::size_t& count = per_ip[peer];
    if (config.max_clients_per_ip && count >= config.max_clients_per_ip) {
        if (count == 0) per_ip.erase(peer);
        return refuse(std::move(socket), 503, "too many connections from your address");
    }
    ++count;
    socket.set_option(tcp::no_delay(true), ec);
    if (config.send_buffer_bytes > 0) socket.set_option(asio::socket_base::send_buffer_size(config.send_buffer_bytes), ec);
    ++stats.connections_accepted;
    const std::uint64_t id = next_connection_id++;
    auto c = std::make_shared<Connection>(*this, std::move(socket), id, std::move(peer));
    connections.emplace(id, c);
    stats.clients_now = connections.size();
    c->start();
}

void PullServer::Impl::close(Connection& c, std::string_view why) {
    if (c.closed()) return;
    spdlog::debug("pull: connection {} from {} closed after {} bytes ({} lag skips): {}", c.id(), c.peer(),
                  c.bytes_sent(), c.lag_skips(), why);
    c.leave_mount();
    responder.connection_closed(c.id());  // NTLM authenticated this connection only
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

void PullServer::Impl::housekeeping() {
    const std::int64_t now = monotonic_us();
    // Only the connections with a deadline passed are held (and handled) here: no reference
    // count traffic for the thousands that stream along.
    std::vector<std::shared_ptr<Connection>> due;
    for (auto& [id, c] : connections)
        if (c->deadline_due(now)) due.push_back(c);
    for (auto& c : due) c->check_deadlines(now);
    // MS-WMSP 3.2.6.2: a session's Idle-Timeout closes the connections still open to its client.
    for (std::uint64_t id : responder.expire_sessions(now)) {
        auto it = connections.find(id);
        if (it == connections.end() || it->second->streaming()) continue;
        auto keep = it->second;
        close(*keep, "session idle timeout (MS-WMSP 3.2.6.2)");
    }
    timer.expires_after(std::chrono::microseconds(kHousekeepingUs));
    timer.async_wait([this](const asio::error_code& e) {
        if (!e) housekeeping();
    });
}

void PullServer::Impl::header_changed(Mount& m, HeaderPtr h) {
    MountState& st = m.state;
    st.header = std::move(h);
    st.header_frames = header_packets(st.header->bytes, 0);
    ++st.header_version;
    st.ended = false;
    m.view.header_frames = &st.header_frames;
    m.view.streams = st.header->video_streams;
    m.view.video_streams = st.header->video_streams;
    m.view.streams.insert(m.view.streams.end(), st.header->audio_streams.begin(), st.header->audio_streams.end());
    m.view.command_streams = st.header->command_streams;
    m.view.ended = false;
    // MS-WMSP 3.2.4.2: each playlist entry (header) gets a different Playlist-gen-id: 0 for the
    // first header, then 1, 2, ... (2.2.1.4.18: 1 through 4,294,967,295 once it is sent).
    m.view.playlist_gen_id = st.header_version - 1;
    // The ring keeps the old header's packets: a client sends those it has not sent yet before
    // its $C (ClientCursor::draining); they age out of the ring as usual.
}

// The network thread takes what the mux thread published (pointers only: the packets' wire form
// was made once by the muxer) into the mount's ring, then lets the clients write.
void PullServer::Impl::drain(Mount& m) {
    bool got_packets = false;
    bool ended = false;
    while (m.feed->take(m.batch, 256)) {
        for (auto& e : m.batch.entries) {
            if (e.header != m.state.header) header_changed(m, e.header);
            auto mp = std::make_shared<MountPacket>();
            mp->header_version = m.state.header_version;
            const StartPoint sp = start_point_of(*e.packet, *e.header);
            mp->packet = std::move(e.packet);
            m.state.ring.push(std::move(mp), sp);
            got_packets = true;
        }
        // A header published with no packet yet (Describe answers with it at once).
        if (m.batch.header && m.batch.header != m.state.header && m.batch.entries.empty()) header_changed(m, m.batch.header);
        if (m.batch.ended) ended = true;
    }
    if (got_packets) trim_ring(m);
    if (ended) return broadcast_ended(m);
    if (!got_packets) return wake_all(m);
    if (config.send_interval_ms == 0) return wake_all(m);
    // Clients that are caught up get the packets that arrived within one interval in one
    // sendmsg: far fewer system calls per client, at the cost of at most that much latency.
    if (m.send_armed) return;
    m.send_armed = true;
    m.send_timer.expires_after(std::chrono::milliseconds(config.send_interval_ms));
    m.send_timer.async_wait([this, &m](const asio::error_code& ec) {
        m.send_armed = false;
        if (!ec) wake_all(m);
    });
}

void Mount::add_streaming(Connection* c) {
    c->stream_slot = streaming.size();
    streaming.push_back(c);
}

void Mount::remove_streaming(Connection* c) {
    const std::size_t i = c->stream_slot;
    if (i >= streaming.size() || streaming[i] != c) return;
    streaming[i] = streaming.back();
    streaming[i]->stream_slot = i;
    streaming.pop_back();
}

// Every streaming client of the mount writes what it has. With a send batch the writes of the
// whole wake are queued and submitted together (flush_sends); their results continue each
// connection (more packets, waiting for a full socket, closing on an error).
// Bounds the ring by time as well as by count (ring_packets): it keeps the last max_lag_ms +
// kRingMarginMs of send time, and everything from the newest start point of each video stream
// (and of all of them together) on, so that where a new or a lagging client starts is never
// dropped. A client whose next packet is dropped is further behind than max_lag_ms with a newer
// start point to go to: ClientCursor::lagging() says so either way. Memory then follows the stream
// rate (a few MB at most) instead of filling ring_packets, up to 32 MB at 8 KB packets.
void PullServer::Impl::trim_ring(Mount& m) {
    auto& ring = m.state.ring;
    if (ring.size() < 2 || !m.state.header) return;
    std::uint64_t keep_from = ring.next() - 1;
    const auto& video = m.state.header->video_streams;
    if (auto all = ring.newest_start_for(video_streams_taken(*m.state.header))) keep_from = std::min(keep_from, *all);
    for (int v : video) {
        if (v <= 0 || v >= 128) continue;
        asfcast::StreamMask one;
        one.set(static_cast<std::size_t>(v));
        if (auto s = ring.newest_start_for(one)) keep_from = std::min(keep_from, *s);
    }
    const std::uint32_t newest = (*ring.at(ring.next() - 1))->send_time_ms();
    const std::uint32_t keep_ms = config.max_lag_ms + kRingMarginMs;
    std::uint64_t drop = ring.oldest();
    for (; drop < keep_from; ++drop) {
        const std::uint32_t t = (*ring.at(drop))->send_time_ms();
        if (!(newest > t && newest - t > keep_ms)) break;
    }
    if (drop > ring.oldest()) ring.drop_before(drop);
}

void PullServer::Impl::wake_all(Mount& m) {
    wake_list.assign(m.streaming.begin(), m.streaming.end());
    batching = send_batch != nullptr;
    for (Connection* c : wake_list) {
        if (batching && send_batch->full()) send_batch->flush();
        c->pump();
    }
    flush_sends();
}

void PullServer::Impl::flush_sends() {
    if (!send_batch) return;
    // A completion may queue the connection's next write (a cursor with more than one batch of
    // packets): flush until nothing is queued, the last rounds without batching.
    for (int round = 0; send_batch->queued() > 0; ++round) {
        if (round >= kMaxFlushRounds) batching = false;
        send_batch->flush();
    }
    batching = false;
}

void PullServer::Impl::broadcast_ended(Mount& m) {
    m.state.ended = true;
    m.view.ended = true;
    wake_all(m);
}

void MountWaker::wake() {
    std::lock_guard lock(m);
    if (!server) return;
    asio::post(server->io, [s = server, mt = mount] { s->drain(*mt); });
}

PullServer::PullServer(PullConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

PullServer::~PullServer() { stop(); }

std::shared_ptr<OutputFeed> PullServer::add_mount(const std::string& path) {
    if (impl_->running) throw std::logic_error("pull: add_mount after start");
    if (path.empty() || path.front() != '/') throw std::invalid_argument("pull: mount path must start with '/': " + path);
    std::string key = path;
    while (key.size() > 1 && key.back() == '/') key.pop_back();
    if (impl_->mounts.contains(key)) throw std::invalid_argument("pull: mount " + key + " is configured twice");
    auto mount = std::make_unique<Mount>(key, impl_->config.ring_packets, impl_->config.feed_packets, impl_->io);
    mount->waker = std::make_shared<MountWaker>();
    mount->waker->server = impl_.get();
    mount->waker->mount = mount.get();
    // At most one drain is pending on the network thread per mount (OutputFeed::set_wake).
    mount->feed->set_wake([w = mount->waker] { w->wake(); });
    auto feed = mount->feed;
    impl_->mounts.emplace(key, std::move(mount));
    return feed;
}

void PullServer::set_document(const std::string& path, PullDocument doc) {
    if (path.size() < 2 || path.front() != '/' || path.back() == '/')
        throw std::invalid_argument("pull: a document path is like /stream.nsc: " + path);
    if (impl_->mounts.contains(path)) throw std::invalid_argument("pull: " + path + " is a mount point, not a document");
    MutexLock lock(impl_->documents_mutex);
    impl_->documents[path] = std::move(doc);
}

void PullServer::start() { impl_->start(); }

void PullServer::stop() {
    if (!impl_) return;
    for (auto& [path, m] : impl_->mounts) {
        m->feed->close();  // the mux thread publishes into nothing from now on
        std::lock_guard lock(m->waker->m);
        m->waker->server = nullptr;
    }
    if (!impl_->running) return;
    // Handlers run in order on the one network thread: close everything, then stop.
    asio::post(impl_->io, [impl = impl_.get()] {
        asio::error_code ec;
        impl->acceptor.close(ec);
        impl->timer.cancel();
        std::vector<std::shared_ptr<Connection>> all;
        for (auto& [id, c] : impl->connections) all.push_back(c);
        for (auto& c : all) impl->close(*c, "server stopping");
        asio::post(impl->io, [impl] { impl->io.stop(); });
    });
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->running = false;
}

std::uint16_t PullServer::port() const { return impl_->bound_port; }

PullStats PullServer::stats() const {
    if (!impl_->running) return impl_->stats;
    auto promise = std::make_shared<std::promise<PullStats>>();
    auto future = promise->get_future();
    asio::post(impl_->io, [impl = impl_.get(), promise] {
        PullStats s = impl->stats;
        for (auto& [path, m] : impl->mounts) s.ring_packets += m->state.ring.size();
        std::uint64_t total = 0;
        for (auto n : impl->latency_ms) total += n;
        s.latency_samples = total;
        if (total) {
            auto percentile = [&](double q) {
                const auto want = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
                std::uint64_t seen = 0;
                for (std::size_t i = 0; i < impl->latency_ms.size(); ++i)
                    if ((seen += impl->latency_ms[i]) >= want) return static_cast<double>(i) + 0.5;
                return 2000.0;
            };
            s.latency_p50_ms = percentile(0.50);
            s.latency_p99_ms = percentile(0.99);
            s.latency_max_ms = static_cast<double>(impl->latency_max_us) / 1000.0;
        }
        promise->set_value(s);
    });
    if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
    return future.get();
}

std::vector<PullClientInfo> PullServer::clients(std::size_t max) const {
    if (!impl_->running) return {};
    auto promise = std::make_shared<std::promise<std::vector<PullClientInfo>>>();
    auto future = promise->get_future();
    asio::post(impl_->io, [impl = impl_.get(), promise, max] {
        std::vector<PullClientInfo> out;
        for (const auto& [id, c] : impl->connections) {  // ids increase: the map's order is not
            if (c->closed()) continue;
            out.push_back({c->peer(), c->user_agent(), c->bytes_sent(), c->connected_unix_ms(), c->streaming()});
        }
        std::sort(out.begin(), out.end(),
                  [](const PullClientInfo& a, const PullClientInfo& b) { return a.connected_unix_ms < b.connected_unix_ms; });
        if (out.size() > max) out.resize(max);
        promise->set_value(std::move(out));
    });
    if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
    return future.get();
}

}  // namespace asfcast::pull

namespace asfcast::pull {

void PullServer::update_access(std::size_t max_clients, std::size_t max_clients_per_ip,
                               const std::vector<std::string>& auth, const std::string& realm,
                               const std::vector<PullUser>& users, const std::vector<std::string>& allow,
                               const std::vector<std::string>& deny) {
    // Built here, so that a bad value throws before anything changes.
    auto acl = std::make_shared<IpAcl>(IpAcl::parse(allow, deny));
    auto authenticator = std::make_shared<Authenticator>(auth, realm, users);
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    asio::post(impl_->io, [impl = impl_.get(), acl, authenticator, done, max_clients, max_clients_per_ip] {
        impl->config.max_clients = max_clients;
        impl->config.max_clients_per_ip = max_clients_per_ip;
        impl->acl = std::move(*acl);
        impl->responder.set_authenticator(std::move(*authenticator));
        done->set_value();
    });
    if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
        throw std::runtime_error("pull: the network thread did not take the new access rules within 10 s");
}

}  // namespace asfcast::pull
