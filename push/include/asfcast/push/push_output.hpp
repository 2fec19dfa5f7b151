// push: publishes the live stream to Windows Media servers (and compatible receivers) over
// MS-WMHTTP, to several targets at once. Each target has its own protocol state machine
// (WmhttpSession, wmhttp_session.hpp), its own bounded queue and its own reconnect schedule; a
// dead or slow target never stalls the muxer or the other targets.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/output_feed.hpp"

namespace asfcast::push {

// One server to publish to (`outputs: push: [ {url, user, password, template, auto_remove} ]`).
struct PushTarget {
    // "http://server[:port]/pubpoint" or the WME-style "server:port/pubpoint".
    std::string url;
    std::string user;      // empty: no credentials (a 401 is then reported as bad credentials)
    std::string password;  // never logged
    // Existing publishing point the server copies when it creates `url`'s publishing point
    // (MS-WMHTTP 2.2.2.1.1): a path such as "/pub" or a URL whose path is used. Empty: none.
    std::string template_url;
    // Ask the server to remove the publishing point at the end of the session (AutoDestroy: 1).
    bool auto_remove = false;
};

struct PushConfig {
    std::vector<PushTarget> targets;
    // The first target's number in log lines ("push[N]") and failpoints ("push.target.N"): a job
    // that gives each target a PushOutput of its own keeps the numbers of one list.
    int first_index = 0;

    // Reconnect back-off: initial delay doubling after every failed attempt up to max, each delay
    // varied by +-jitter (a fraction: 0.2 = +-20%). Reset after streaming for stable_after.
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{30000};
    double backoff_jitter = 0.2;
    std::chrono::milliseconds stable_after{10000};
    // After a permanent error (401 with our credentials, 403, 404, other 4xx) the target is
    // reported failed and tried again after this delay; 0 = never again.
    std::chrono::milliseconds permanent_retry{60000};

    // Per-target queue bound in bytes of ASF packets. On overflow the queued packets are dropped
    // and sending resumes at the next packet that starts with a key frame (counted as skipped).
    std::size_t queue_bytes = 2 * 1024 * 1024;
    // Largest $H/$C/$D/$F chunk (PacketLength) sent; some receivers refuse chunks above 8192.
    std::size_t max_chunk = 8192;
    // PushStart Content-Length (MS-WMHTTP 3.1.4.2.1: 2147483647 unless a proxy is in the path).
    std::uint32_t post_budget = 2147483647u;

    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds response_timeout{15000};  // PushSetup reply, reply at budget end
    std::chrono::milliseconds stall_timeout{20000};     // a write making no progress this long
    std::chrono::milliseconds end_timeout{5000};        // wait_finished's default bound
    std::size_t feed_packets = 2048;                    // hand-off from the mux thread (OutputFeed)
    // Kernel send buffer per connection (SO_SNDBUF). Bounded, so that a server that stops reading
    // shows up as a stall (queue overflow, stall_timeout) within seconds, not after the kernel has
    // soaked up half a minute of the stream. 0: the system default.
    int socket_send_buffer = 256 * 1024;
};

enum class TargetState {
    idle,            // waiting for the first ASF header
    connecting,      // TCP connect, PushSetup
    authenticating,  // answering a 401 challenge
    streaming,       // PushStart body in progress
    retrying,        // waiting retry_in_ms before the next attempt
    failed,          // permanent error (retry_in_ms > 0 if it will be tried again)
    finished,        // $E sent at the end of the broadcast, or stopped
};

enum class TargetError {
    none,
    bad_credentials,  // 401 with our credentials, or credentials needed and none configured
    forbidden,        // 403: no right to the publishing point (or to create it)
    not_found,        // 404: no such publishing point
    server_error,     // 5xx
    refused,          // another 4xx, or a reply we cannot use (redirect loop, proxy auth, ...)
    network,          // connect/resolve failure, reset, timeout, stall, unexpected close
    config,           // bad URL, header or packets larger than max_chunk: never retried
    internal,         // the target's session failed (a bug): stopped, the others go on
};

struct TargetStatus {
    std::string url;  // as displayed: http://host:port/path, no credentials
    TargetState state = TargetState::idle;
    TargetError error = TargetError::none;
    std::string last_error;       // operator text for `error`, e.g. "bad credentials (401)"
    std::int64_t retry_in_ms = 0;  // retrying / failed: time to the next attempt (0: none)
    std::string push_id;           // the server's session id (push-id cookie)
    std::uint64_t packets_sent = 0;
    std::uint64_t packets_skipped = 0;  // dropped: queue overflow, waiting for a key frame
    std::uint64_t bytes_sent = 0;       // PushStart body bytes, $F included
    std::uint64_t reconnects = 0;       // connection attempts after a failure or a server close
    std::uint64_t posts = 0;            // PushStart requests sent
    std::uint64_t header_changes = 0;   // new headers sent in $C (each after an $E with reason 1)

    // "streaming", "retrying in 4 s", "failed: no such publishing point (404)", ...
    std::string describe() const;
};

const char* to_string(TargetState s);
const char* to_string(TargetError e);

// Pushes to every configured target. Owns one network thread ("asfcast-push", standalone Asio),
// fed through an OutputFeed: the mux thread never waits for it. A failure in one target's
// session ends that target (reported failed) and the others go on.
class PushOutput {
public:
    // Throws std::invalid_argument naming the target when a URL cannot be parsed.
    explicit PushOutput(PushConfig config);
    ~PushOutput();  // stop() without the end of stream

    PushOutput(const PushOutput&) = delete;
    PushOutput& operator=(const PushOutput&) = delete;

    // What the mux thread publishes to (MuxedStreamBus::attach). At the end of the stream every
    // streaming target sends what is queued and $E (reason 0).
    std::shared_ptr<OutputFeed> feed() const;
    // Waits until every target has finished (sent $E, or failed for good), at most `timeout`;
    // true when they have. Never called on the mux thread.
    bool wait_finished(std::chrono::milliseconds timeout);
    // Closes every connection at once (no $E) and joins the network thread.
    void stop();

    std::vector<TargetStatus> status() const;

    // Reload (issue 14, point 5): targets change while the others stream on. Both run on the
    // network thread and wait for it (at most a few milliseconds); never called on it.
    // Adds a target: it connects at once and starts at the newest start point of the stream.
    // Throws std::invalid_argument naming the URL when it cannot be parsed.
    void add_target(const PushTarget& target);
    // Closes and forgets the target equal to `target` (URL, credentials and options): it gets no
    // $E, as on stop(). False when there is none.
    bool remove_target(const PushTarget& target);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::push
