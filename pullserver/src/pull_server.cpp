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
#include <unordered_set>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/core/log.hpp"
#include "asfcast/core/packet_ring.hpp"
#include "ip_acl.hpp"
#include "wmsp_framing.hpp"
#include "wmsp_responder.hpp"

namespace asfcast::pull {

namespace {

using asio::ip::tcp;

// One ASF data packet as it goes out in $D packets: padding removed once for every client.
struct WirePacket {
    PacketPtr original;            // as the muxer made it (padding included), for stream filtering
    Bytes payload;                 // MS-WMSP 2.2.3.3: no Padding Data, Padding Length 0
    std::uint32_t location_id = 0; // MS-WMSP 2.2.3.1.2: the ASF packet number
    std::uint32_t send_time_ms = 0;
    std::uint32_t header_version = 0;
    // Variants for clients that selected only some streams, built on first use (network thread).
    mutable std::vector<std::pair<StreamMask, std::shared_ptr<const Bytes>>> filtered;
};
using WirePtr = std::shared_ptr<const WirePacket>;

constexpr std::size_t kMaxBatch = 8;            // $D packets per gather write
constexpr std::size_t kReadChunk = 16 * 1024;   // bytes read per readiness event
constexpr std::int64_t kHousekeepingUs = 500'000;

}  // namespace

class Connection;

struct Mount {
    Mount(std::string p, std::size_t ring_packets, asio::io_context& io)
        : path(std::move(p)), ring(ring_packets), send_timer(io) {}
    std::string path;
    HeaderPtr header;
    Bytes header_frames;          // the header as $H packets
    std::uint32_t header_version = 0;
    bool audio_only = false;
    MountView view;
    PacketRing<WirePacket> ring;
    std::unordered_set<Connection*> streaming;
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
    void header_changed(Mount& m, HeaderPtr h, Bytes frames);
    void packet_arrived(Mount& m, WirePtr w, bool start_point, PacketRing<WirePacket>::StreamSet keys,
                        Micros group);
    void broadcast_ended(Mount& m);
    void wake_all(Mount& m);

    PullConfig config;
    asio::io_context io;
    tcp::acceptor acceptor{io};
    asio::steady_timer timer{io};
    std::thread thread;
    std::map<std::string, std::unique_ptr<Mount>, std::less<>> mounts;
    PullStats stats;
    WmspResponder responder;
    IpAcl acl;
    std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
    std::unordered_map<std::uint32_t, Connection*> streaming_by_client;
    std::unordered_map<std::string, std::size_t> per_ip;
    std::uint64_t next_connection_id = 1;
    std::uint16_t bound_port = 0;
    bool running = false;
    Bytes read_buffer = Bytes(kReadChunk);
    std::vector<std::weak_ptr<MuxedStreamSink>> sinks;  // detached at stop
    std::vector<Connection*> wake_list;                 // reused: no allocation per packet
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
        : server_(server), socket_(std::move(socket)), id_(id), peer_(std::move(peer)) {}

    void start() {
        head_deadline_us_ = monotonic_us() + std::int64_t{server_.config.header_timeout_ms} * 1000;
        wait_readable();
    }

    std::uint64_t id() const { return id_; }
    const std::string& peer() const { return peer_; }
    bool closed() const { return closed_; }
    std::uint32_t client_id() const { return client_id_; }
    std::uint64_t bytes_sent() const { return bytes_sent_; }
    std::uint64_t lag_skips() const { return lag_skips_; }

    // Called by Impl::close only.
    void shut() {
        closed_ = true;
        asio::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        for (auto& w : inflight_) w.reset();
        parser_.reset();
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
        const std::int64_t stall_us = std::max<std::int64_t>(std::int64_t{server_.config.max_lag_ms} * 2000, 5'000'000);
        if (writing_ && now - write_started_us_ > stall_us) {
            ++server_.stats.lag_disconnects;
            server_.close(*this, "client stopped reading");
        }
    }

    // The mount has a new packet or ended: continue streaming if idle.
    void pump() {
        if (closed_ || !mount_) return;
        if (writing_) {
            // A write that does not finish while the live edge runs away: the client stopped
            // reading. With the disconnect policy it goes now; with skip, when the write ends.
            if (server_.config.lag_policy == "disconnect" && started_ && lagging(*mount_)) {
                ++server_.stats.lag_disconnects;
                server_.close(*this, "fell behind the live stream");
            }
            return;
        }
        if (!queued_.empty()) return write_control(false);
        Mount& m = *mount_;
        const std::int64_t now = monotonic_us();

        if (!started_) {
            // A new client starts at the newest key frame (MS-WMSP 3.2.5.6 leaves the position to us).
            // With MBR renditions, at the key frames of the streams it takes.
            auto start = m.ring.newest_start_for(start_streams(m));
            if (!start) {
                if (m.view.ended) return finish_stream();
                return;  // wait for the first start point
            }
            cursor_ = *start;
            started_ = true;
        }

        // A header change: $C then the new $H before the packets made with it (§3.2.4.2).
        if (header_version_ != m.header_version && cursor_ >= m.ring.oldest()) {
            const WirePtr* first = m.ring.at(cursor_);
            if (first && (*first)->header_version == m.header_version) {
                header_version_ = m.header_version;
                auto c = stream_change_packet(0);
                queued_.insert(queued_.end(), c.begin(), c.end());
                queued_.insert(queued_.end(), m.header_frames.begin(), m.header_frames.end());
                return write_control(false);
            }
        }

        if (cursor_ < m.ring.oldest() || lagging(m)) {
            if (server_.config.lag_policy == "disconnect") {
                ++server_.stats.lag_disconnects;
                return server_.close(*this, "fell behind the live stream");
            }
            auto next = m.ring.newest_start_for(start_streams(m));
            ++server_.stats.lag_skips;
            ++lag_skips_;
            at_live_edge_ = false;
            cursor_ = next ? *next : m.ring.next();
        }

        // Gather up to kMaxBatch $D packets: a 12-byte prefix of our own per packet, the packet
        // bytes shared with every other client.
        for (;;) {
            iov_count_ = iov_index_ = 0;
            inflight_count_ = 0;
            std::size_t n = 0;
            while (n < kMaxBatch && cursor_ < m.ring.next()) {
                const WirePtr& w = *m.ring.at(cursor_);
                if (w->header_version != header_version_) break;  // $C + $H first
                ++cursor_;
                const Bytes* payload = select(*w);
                if (!payload) continue;
                auto& prefix = prefixes_[n];
                std::size_t used = 0;
                if (chunked_) used = chunk_line(prefix.data(), payload->size() + 12);
                const auto d =
                    data_packet_prefix(w->location_id, 0, afflags_++, static_cast<std::uint16_t>(payload->size()));
                std::copy(d.begin(), d.end(), prefix.begin() + static_cast<std::ptrdiff_t>(used));
                used += d.size();
                iov_[iov_count_++] = {prefix.data(), used};
                iov_[iov_count_++] = {const_cast<std::uint8_t*>(payload->data()), payload->size()};
                if (chunked_) iov_[iov_count_++] = {const_cast<char*>("\r\n"), 2};
                inflight_[inflight_count_++] = w;
                ++n;
            }
            if (iov_count_ == 0) {
                if (m.view.ended && cursor_ >= m.ring.next()) finish_stream();
                return;
            }
            write_started_us_ = now;
            if (!send_gathered()) return;  // waiting for the socket, or closed
        }
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
        const Micros now = monotonic_us();
        for (std::size_t i = 0; i < inflight_count_; ++i) {
            const Micros captured = inflight_[i]->original->capture_us;
            if (at_live_edge_ && captured > 0) server_.note_latency(now - captured);
            inflight_[i].reset();
        }
        inflight_count_ = 0;
        iov_count_ = iov_index_ = 0;
        // Once a client has caught up with the ring, what it gets next is live-edge traffic.
        if (mount_ && cursor_ >= mount_->ring.next()) at_live_edge_ = true;
        return true;
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

    // Ends the $D stream: §3.2.4.1 $E with reason 0 (then a zero-length chunk when chunked).
    void finish_stream() {
        auto e = end_of_stream_packet(0);
        if (chunked_) {
            char line[16];
            const std::size_t used = chunk_line(reinterpret_cast<std::uint8_t*>(line), e.size());
            queued_.insert(queued_.end(), line, line + used);
            queued_.insert(queued_.end(), e.begin(), e.end());
            const char* tail = "\r\n0\r\n\r\n";
            queued_.insert(queued_.end(), tail, tail + 7);
        } else {
            queued_.insert(queued_.end(), e.begin(), e.end());
        }
        leave_mount();
        write_control(true);
    }

    // Stop (§3.2.5.10) from another connection, or the server ending the stream.
    void stop_streaming() {
        if (!mount_) return;
        leave_mount();
        if (!chunked_) return server_.close(*this, "stopped by the client");
        // §3.2.5.10: a zero-length chunk ends the $D stream, then the waiting responses follow.
        const char* end = "0\r\n\r\n";
        queued_.insert(queued_.end(), end, end + 5);
        queued_.insert(queued_.end(), pending_reply_.begin(), pending_reply_.end());
        pending_reply_.clear();
        waiting_reply_ = true;
        write_control(false);
    }

    void leave_mount() {
        if (!mount_) return;
        mount_->streaming.erase(this);
        mount_ = nullptr;
        if (client_id_) {
            auto it = server_.streaming_by_client.find(client_id_);
            if (it != server_.streaming_by_client.end() && it->second == this) server_.streaming_by_client.erase(it);
            server_.responder.streaming_ended(client_id_, monotonic_us());
        }
        if (server_.stats.streaming_now) --server_.stats.streaming_now;
    }

private:
    static std::size_t chunk_line(std::uint8_t* out, std::size_t size) {
        static const char* hex = "0123456789abcdef";
        char tmp[16];
        std::size_t n = 0;
        do {
            tmp[n++] = hex[size & 15];
            size >>= 4;
        } while (size);
        std::size_t used = 0;
        while (n) out[used++] = static_cast<std::uint8_t>(tmp[--n]);
        out[used++] = '\r';
        out[used++] = '\n';
        return used;
    }

    bool lagging(const Mount& m) const {
        if (cursor_ >= m.ring.next()) return false;
        const WirePtr* at = m.ring.at(cursor_);
        const WirePtr* newest = m.ring.at(m.ring.next() - 1);
        if (!at || !newest) return true;
        return (*newest)->send_time_ms > (*at)->send_time_ms &&
               (*newest)->send_time_ms - (*at)->send_time_ms > server_.config.max_lag_ms;
    }

    // The video streams whose key frames a start position must hold: the selected ones (all
    // of them with no selection). Empty with one video stream: any start point will do.
    PacketRing<WirePacket>::StreamSet start_streams(const Mount& m) const {
        PacketRing<WirePacket>::StreamSet want;
        if (!m.header || m.header->video_streams.size() < 2) return want;
        for (int v : m.header->video_streams)
            if (v > 0 && v < 128 && (all_selected_ || selected_[static_cast<std::size_t>(v)])) want.set(static_cast<std::size_t>(v));
        return want;
    }

    const Bytes* select(const WirePacket& w) {
        if (all_selected_) return &w.payload;
        for (const auto& [mask, bytes] : w.filtered)
            if (mask == selected_) return bytes.get();
        auto filtered = asfmux::filter_packet_streams(w.original->bytes, static_cast<std::uint32_t>(w.original->bytes.size()), selected_);
        std::shared_ptr<const Bytes> keep = filtered ? std::make_shared<const Bytes>(std::move(*filtered)) : nullptr;
        w.filtered.emplace_back(selected_, keep);
        return keep.get();
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
        head_deadline_us_ = 0;
        Bytes body = std::move(body_);
        body_ = Bytes();
        WmspReply r = server_.responder.respond(head, body, peer_, id_, monotonic_us());
        if (r.stop_streaming_of) {
            auto it = server_.streaming_by_client.find(r.stop_streaming_of);
            if (it != server_.streaming_by_client.end() && it->second != this) it->second->stop_streaming();
        }
        if (mount_) {
            // Requests on the connection that is streaming (pipelined mode): their answers wait
            // until the $D stream ends (§3.2.5.8 Pending-Responses); a Stop ends it now.
            if (r.stop_streaming_of == client_id_ && client_id_) {
                pending_reply_ = r.head;
                pending_reply_.append(r.body.begin(), r.body.end());
                stop_streaming();
            } else if (pending_reply_.size() < 8192) {
                pending_reply_.append(r.head);
                pending_reply_.append(r.body.begin(), r.body.end());
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
        m.streaming.insert(this);
        client_id_ = r.client_id;
        server_.streaming_by_client[client_id_] = this;
        chunked_ = r.chunked;
        all_selected_ = r.all_selected;
        selected_ = r.selected;
        started_ = false;
        afflags_ = 0;
        ++server_.stats.streaming_now;
        // The head and the current $H go first; $D follow from the newest key frame.
        queued_.insert(queued_.end(), r.head.begin(), r.head.end());
        if (chunked_) {
            std::uint8_t line[16];
            const std::size_t used = chunk_line(line, m.header_frames.size());
            queued_.insert(queued_.end(), line, line + used);
        }
        queued_.insert(queued_.end(), m.header_frames.begin(), m.header_frames.end());
        if (chunked_) queued_.insert(queued_.end(), {'\r', '\n'});
        header_version_ = m.header_version;
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
    bool waiting_reply_ = false;
    bool close_when_done_ = false;
    std::int64_t head_deadline_us_ = 0;
    std::int64_t write_started_us_ = 0;
    std::unique_ptr<http::HttpHeadParser> parser_;  // only while a request is arriving
    Bytes pending_in_;
    Bytes body_;
    std::size_t body_needed_ = 0;
    std::string pending_reply_;
    Bytes control_;  // a reply, $H, $C, $E being written
    Bytes queued_;   // control bytes waiting for the running write

    // Streaming state.
    Mount* mount_ = nullptr;
    std::uint32_t client_id_ = 0;
    std::uint64_t cursor_ = 0;
    std::uint32_t header_version_ = 0;
    std::uint8_t afflags_ = 0;  // MS-WMSP 2.2.3.1.2: $D sequence number
    bool started_ = false;
    bool at_live_edge_ = false;  // caught up once: latency is measured from then on
    bool chunked_ = false;
    bool all_selected_ = true;
    StreamMask selected_{};
    std::uint64_t lag_skips_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::array<std::array<std::uint8_t, 24>, kMaxBatch> prefixes_{};  // chunk line + $D prefix
    std::array<iovec, kMaxBatch * 3> iov_{};
    std::size_t iov_count_ = 0, iov_index_ = 0;
    std::array<WirePtr, kMaxBatch> inflight_{};  // keeps the packets being sent alive
    std::size_t inflight_count_ = 0;
};

PullServer::Impl::Impl(PullConfig c)
    : config(std::move(c)),
      responder(config,
                [this](std::string_view path) -> const MountView* {
                    auto it = mounts.find(path);
                    return it == mounts.end() ? nullptr : &it->second->view;
                },
                stats),
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
        pthread_setname_np(pthread_self(), "asfcast-pull");
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
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(connections.size());
    for (auto& [id, c] : connections) all.push_back(c);
    for (auto& c : all) c->check_deadlines(now);
    responder.expire_sessions(now);
    timer.expires_after(std::chrono::microseconds(kHousekeepingUs));
    timer.async_wait([this](const asio::error_code& e) {
        if (!e) housekeeping();
    });
}

void PullServer::Impl::header_changed(Mount& m, HeaderPtr h, Bytes frames) {
    m.header = std::move(h);
    m.header_frames = std::move(frames);
    ++m.header_version;
    m.audio_only = m.header->video_streams.empty();
    m.view.header_frames = &m.header_frames;
    m.view.streams = m.header->video_streams;
    m.view.streams.insert(m.view.streams.end(), m.header->audio_streams.begin(), m.header->audio_streams.end());
    m.view.ended = false;
    // Packets made with the old header are of no use to anyone who sees the new one.
    m.ring.clear();
    wake_all(m);
}

void PullServer::Impl::packet_arrived(Mount& m, WirePtr w, bool start_point, PacketRing<WirePacket>::StreamSet keys,
                                      Micros group) {
    m.ring.push(std::move(w), start_point || m.audio_only, keys, group);
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

void PullServer::Impl::wake_all(Mount& m) {
    wake_list.assign(m.streaming.begin(), m.streaming.end());
    for (Connection* c : wake_list) c->pump();
}

void PullServer::Impl::broadcast_ended(Mount& m) {
    m.view.ended = true;
    wake_all(m);
}

// The muxer's thread calls this sink; it prepares what it can there and hands the rest to the
// network thread, which alone touches the ring.
class MountSink : public MuxedStreamSink {
public:
    MountSink(PullServer::Impl* server, Mount* mount) : server_(server), mount_(mount) {}

    void detach() {
        std::lock_guard lock(m_);
        server_ = nullptr;
    }

    void on_header(HeaderPtr header) override {
        header_ = true;
        ++header_version_;
        Bytes frames = header_packets(header->bytes, 0);
        post([header, frames = std::move(frames)](PullServer::Impl& s, Mount& m) mutable {
            s.header_changed(m, header, std::move(frames));
        });
    }

    void on_packet(PacketPtr packet) override {
        if (!header_) return;
        auto w = std::make_shared<WirePacket>();
        w->payload = asfmux::strip_padding(packet->bytes, static_cast<std::uint32_t>(packet->bytes.size()));
        w->location_id = static_cast<std::uint32_t>(packet->number);
        w->send_time_ms = packet->send_time_ms;
        w->header_version = header_version_;
        const bool start = packet->starts_with_key_frame;
        // The video streams whose key frames start here, grouped by capture time: MBR renditions
        // have their key frames at the same times, in adjacent packets.
        PacketRing<WirePacket>::StreamSet keys;
        const Micros group = start && !packet->key_frames.empty() ? packet->key_frames.front().pts : 0;
        if (start)
            for (const auto& k : packet->key_frames)
                if (k.stream > 0 && k.stream < 128) keys.set(static_cast<std::size_t>(k.stream));
        w->original = std::move(packet);
        post([w = WirePtr(std::move(w)), start, keys, group](PullServer::Impl& s, Mount& m) {
            s.packet_arrived(m, w, start, keys, group);
        });
    }

    void on_end() override {
        post([](PullServer::Impl& s, Mount& m) { s.broadcast_ended(m); });
    }

private:
    template <typename F>
    void post(F f) {
        std::lock_guard lock(m_);
        if (!server_) return;
        asio::post(server_->io, [s = server_, m = mount_, f = std::move(f)]() mutable { f(*s, *m); });
    }

    std::mutex m_;
    PullServer::Impl* server_;
    Mount* mount_;
    bool header_ = false;
    std::uint32_t header_version_ = 0;
};

PullServer::PullServer(PullConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

PullServer::~PullServer() { stop(); }

std::shared_ptr<MuxedStreamSink> PullServer::add_mount(const std::string& path) {
    if (impl_->running) throw std::logic_error("pull: add_mount after start");
    if (path.empty() || path.front() != '/') throw std::invalid_argument("pull: mount path must start with '/': " + path);
    std::string key = path;
    while (key.size() > 1 && key.back() == '/') key.pop_back();
    if (impl_->mounts.contains(key)) throw std::invalid_argument("pull: mount " + key + " is configured twice");
    auto mount = std::make_unique<Mount>(key, impl_->config.ring_packets, impl_->io);
    auto sink = std::make_shared<MountSink>(impl_.get(), mount.get());
    impl_->mounts.emplace(key, std::move(mount));
    impl_->sinks.push_back(sink);
    return sink;
}

void PullServer::start() { impl_->start(); }

void PullServer::stop() {
    if (!impl_) return;
    for (auto& weak : impl_->sinks)
        if (auto s = weak.lock()) static_cast<MountSink*>(s.get())->detach();
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

}  // namespace asfcast::pull
