// The MS-WMHTTP client role (3.1) for one target as a plain state machine: fed the muxed
// stream, the server's bytes, transport events and the time; it produces the bytes to send,
// connect/close commands and the next time it wants to be called. No sockets, no threads, no
// clock of its own: PushOutput's Asio adapter only moves bytes, and tests drive it directly.
//
// One session = one target. Per connection: PushSetup (with credentials after a 401), 204, then
// PushStart on the same connection with a Content-Length budget: $H, $D..., $F filler using up
// the budget exactly, a new PushStart when the server answers; $E (reason 1) then $C carrying the
// new header when the header changes (a new playlist entry, MS-WMHTTP 2.2.2.2, 3.1.4.4, 3.1.4.5);
// $E (reason 0) at the end. Failures reconnect after an exponential back-off with jitter,
// starting a new server session (push-id 0) with PushSetup and $H; send times are the muxer's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/core/muxed.hpp"
#include "asfcast/push/http_auth_client.hpp"
#include "asfcast/push/push_output.hpp"
#include "asfcast/push/wmhttp_wire.hpp"

namespace asfcast::push {

// A data packet as every target sends it: the muxer's wire form (MS-WMHTTP 2.2.3.3: no padding,
// no Padding Length or Packet Length field), shared by all targets; nothing is copied or parsed.
struct PushPacket {
    PacketPtr source;
    HeaderPtr header;  // the header it was made with

    ByteView payload() const { return source->wire_form(); }
    std::uint32_t send_time_ms() const { return source->send_time_ms; }
};
using PushPacketPtr = std::shared_ptr<const PushPacket>;

struct SessionConfig {
    PushUrl url;
    std::string user, password;  // the target's, else the URL's
    std::string template_path;   // Template-URL path, empty for none
    bool auto_remove = false;
    std::string user_agent = "WMEncoder/11.0.5721.5145";  // as in MS-WMHTTP 2.2.1.8 and 4.8
    PushConfig tuning;           // back-off, timeouts, queue bound, chunk limit, budget
    std::uint64_t seed = 0;      // jitter; 0 = random
    int index = 0;               // for log lines
};

// Parses a target into a session config; nullopt with *error set for an unusable URL/template.
std::optional<SessionConfig> make_session_config(const PushTarget& target, const PushConfig& tuning,
                                                 std::string* error);

class WmhttpSession {
public:
    using TimePoint = SteadyClock::time_point;
    static constexpr std::size_t kMaxReplyHead = 16 * 1024;
    static constexpr std::size_t kOutputWatermark = 64 * 1024;

    explicit WmhttpSession(SessionConfig config);

    // ---- The muxed stream (higher layer) ----
    void on_header(HeaderPtr header, TimePoint now);
    void on_packet(PushPacketPtr packet, TimePoint now);
    void on_end(TimePoint now);  // queue $E(0) after what is queued; finish when not streaming
    // A session that must begin at a start point (a new server session after a reconnect, or a
    // queue that overflowed) asks for one; it then ignores on_packet until start_from() gives it
    // the packets from the newest start point (core/start_points.hpp, every video stream) up to
    // the newest packet it was offered. An empty list: no start point yet, it keeps asking.
    bool wants_start() const;
    void start_from(std::vector<PushPacketPtr> packets, TimePoint now);
    void stop(TimePoint now);    // abort: close at once, no $E

    // ---- Transport events ----
    void on_connected(TimePoint now);
    void on_connect_failed(std::string_view why, TimePoint now);
    void on_data(ByteView data, TimePoint now);
    void on_peer_closed(TimePoint now);
    void on_transport_error(std::string_view why, TimePoint now);
    void on_write_progress(TimePoint now);  // some of the taken bytes were written
    void on_write_done(TimePoint now);      // everything taken with take_output() is written
    void on_timer(TimePoint now);       // call at (or after) deadline()

    // ---- Transport commands (each returned once) ----
    // Open a new connection to this endpoint; any current connection is closed first.
    std::optional<PushUrl> take_connect();
    // Close the current connection now (pending writes are dropped).
    bool take_close();
    // Half-close the sending side once the bytes already taken are written.
    bool take_shutdown();
    // Bytes to write next; refills from the queue while streaming. Empty: nothing to send.
    Bytes take_output(TimePoint now);

    std::optional<TimePoint> deadline() const;
    TargetStatus status(TimePoint now) const;
    bool finished() const { return phase_ == Phase::finished; }
    // Finished, or failed for good: nothing more will happen without new input.
    bool done() const { return phase_ == Phase::finished || (phase_ == Phase::failed && !retry_at_); }
    const std::string& display_url() const { return display_; }
    std::size_t queued_bytes() const { return queue_bytes_; }

private:
    enum class Phase {
        wait_header,  // nothing to send before the first ASF header
        retry,        // back-off before the next attempt
        connecting,   // TCP connect in progress
        setup_sent,   // PushSetup sent, waiting for the reply
        streaming,    // PushStart body in progress
        await_reply,  // budget used up, waiting for the PushStart reply
        ending,       // $E sent, flushing and waiting for the server to close
        failed,       // permanent error, maybe retried after permanent_retry
        finished,
    };
    enum class Request { none, setup, start };
    struct Item {
        enum class Kind { packet, header, end } kind = Kind::packet;
        PushPacketPtr packet;
        HeaderPtr header;
    };

    void start_connect(TimePoint now, bool counts_as_reconnect);
    void close_connection();
    void send_setup(TimePoint now);
    void send_start(TimePoint now);
    void append_request(std::string_view content_type, std::uint64_t content_length, std::string_view body);
    void fill(TimePoint now);
    void send_filler_and_wait(TimePoint now);
    void handle_reply(const http::HttpHead& head, TimePoint now);
    void on_setup_reply(const http::HttpHead& head, TimePoint now);
    void on_start_reply(const http::HttpHead& head, TimePoint now);
    void on_unauthorized(const http::HttpHead& head, Request request, TimePoint now);
    void on_error_status(const http::HttpHead& head, TimePoint now);
    bool follow_redirect(const http::HttpHead& head, TimePoint now);
    void fail_transient(TargetError kind, std::string text, TimePoint now);
    void fail_permanent(TargetError kind, std::string text, TimePoint now, bool never_retry = false);
    void finish(TimePoint now);
    void enqueue(Item item, TimePoint now);
    std::size_t drop_queued_packets();
    void need_start();
    std::uint64_t effective_budget() const;
    std::chrono::milliseconds backoff_delay();
    void lost_connection(std::string text, TimePoint now);

    SessionConfig cfg_;
    PushUrl url_;  // after redirects
    std::string display_;
    HttpAuthClient auth_;
    std::mt19937_64 rng_;

    Phase phase_ = Phase::wait_header;
    TargetError error_ = TargetError::none;
    std::string last_error_;

    // Connection
    bool connect_pending_ = false, close_pending_ = false, shutdown_pending_ = false;
    bool conn_open_ = false;
    bool connect_in_flight_ = false;  // handed to the transport, no result yet
    bool start_on_connect_ = false;  // the setup succeeded but its connection closed
    bool authenticating_ = false;
    int redirects_ = 0;
    http::HttpHeadParser parser_{http::HttpHeadParser::Kind::Response, kMaxReplyHead};
    std::uint64_t body_skip_ = 0;
    bool body_until_close_ = false;
    bool reply_keeps_connection_ = true;
    Request outstanding_ = Request::none;
    Bytes out_;
    bool write_pending_ = false;
    TimePoint write_progress_{};  // last time the pending write moved
    std::optional<TimePoint> connect_deadline_, reply_deadline_, retry_at_, linger_deadline_;
    bool using_proxy_ = false;
    bool warned_server_ = false;

    // Protocol (MS-WMHTTP 3.1.1)
    std::string push_id_ = "0";
    std::uint64_t remaining_ = 0;  // Length-Remaining
    bool need_header_ = true;      // the next PushStart starts the session: $H first
    bool need_start_ = false;      // waiting for start_from()
    bool entry_ended_ = false;     // $E(1) sent for a header change whose $C is not sent yet
    std::optional<std::uint64_t> last_sent_number_;  // the muxer's number of the last $D sent
    std::optional<std::uint64_t> first_offered_number_;  // of the first packet offered
    std::optional<std::uint64_t> next_unaccounted_;      // packets before it were sent or counted skipped

    // Media
    HeaderPtr header_;             // the header the server has (or will get with $H)
    HeaderPtr latest_header_;      // the newest from the muxer
    std::deque<Item> queue_;
    std::size_t queue_bytes_ = 0;
    bool end_queued_ = false;
    TimePoint last_overflow_log_{};

    // Back-off and counters
    int failures_ = 0;
    std::optional<TimePoint> streaming_since_;
    TargetStatus counters_;
};

}  // namespace asfcast::push
