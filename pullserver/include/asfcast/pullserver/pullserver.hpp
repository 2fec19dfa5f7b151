// pullserver: the pull source. Serves the muxed stream over MS-WMSP (HTTP, "mmsh") to players and
// distribution servers, thousands at once, from one shared packet ring per mount point.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/output_feed.hpp"

namespace asfcast::pull {

struct PullUser {
    std::string name;
    std::string password;  // never logged
};

struct PullConfig {
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 8080;                 // 0: any free port (tests)
    std::size_t max_clients = 20000;           // connections, all mounts together
    std::size_t max_clients_per_ip = 0;        // 0: no per-address limit
    // Authentication schemes offered, in order of preference: "basic", "digest", "ntlm" (NTLMv2,
    // authenticates the connection). Empty (or just "none"): no authentication.
    std::vector<std::string> auth;
    std::string realm = "asfcast";
    std::vector<PullUser> users;
    std::vector<std::string> allow;            // CIDR blocks; empty: every address not denied
    std::vector<std::string> deny;             // CIDR blocks, checked first
    std::size_t max_head_bytes = 8192;         // request line + headers
    std::size_t max_body_bytes = 65536;        // Log POST bodies
    std::uint32_t header_timeout_ms = 10000;   // whole request head must arrive within this
    std::uint32_t idle_timeout_ms = 60000;     // MS-WMSP 3.2.2 Idle-Timeout
    std::uint32_t max_lag_ms = 4000;           // a client further behind than this is lagging
    std::string lag_policy = "skip";           // skip: jump to the next key frame; disconnect
    std::size_t ring_packets = 4096;           // packets kept per mount (bounded memory)
    std::size_t feed_packets = 1024;           // hand-off from the mux thread (OutputFeed)
    // Kernel send buffer per connection (SO_SNDBUF). Bounds what a client that stops reading
    // holds in the kernel, so the lag policy sees it within about a second.
    int send_buffer_bytes = 128 * 1024;
    // Packets that arrive within this interval go to a caught-up client in one write. 0 sends
    // each packet at once (lowest latency, most system calls).
    std::uint32_t send_interval_ms = 100;
    // Submit the $D writes of one wake (one per caught-up client) together through io_uring, where
    // the kernel offers it: the same TCP writes without a system call each. Off, or where io_uring
    // is unavailable: one sendmsg per write.
    bool batch_sends = true;
    unsigned batch_entries = 256;              // writes per io_uring submission
    std::size_t log_entries = 1000;            // client Log bodies kept (bounded)
};

// Counters for the status line, the control API and tests.
struct PullStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0;     // limits, ACL
    std::uint64_t auth_failures = 0;
    std::uint64_t auth_refusals = 0;           // the client accepts none of our schemes (403)
    std::uint64_t bad_requests = 0;
    std::uint64_t header_timeouts = 0;
    std::uint64_t describes = 0;
    std::uint64_t plays = 0;
    std::uint64_t lag_skips = 0;
    std::uint64_t lag_disconnects = 0;
    std::uint64_t log_requests = 0;
    std::uint64_t documents_served = 0;        // .nsc, .asx (PullServer::set_document)
    std::uint64_t bytes_sent = 0;
    std::size_t clients_now = 0;               // open connections
    std::size_t streaming_now = 0;             // connections receiving $D
    std::size_t ring_packets = 0;              // packets the mounts' rings hold now
    // From the capture of a packet's oldest media to its last byte leaving the socket, for
    // clients at the live edge (not their start-up burst); live sources only.
    std::uint64_t latency_samples = 0;
    double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
};

// One open connection, for the control API's client list.
struct PullClientInfo {
    std::string address;
    std::string user_agent;             // of its latest request; empty before one arrived
    std::uint64_t bytes_sent = 0;
    std::int64_t connected_unix_ms = 0;  // when it was accepted
    bool streaming = false;              // receiving $D
};

// A small document served over plain HTTP beside the stream: the multicast's .nsc announcement,
// an .asx redirector. GET and HEAD only, same address rules and authentication as the stream,
// never cached by the client (the text changes when the stream's header does).
struct PullDocument {
    std::string content_type;  // e.g. "application/x-netshow-channel"
    // The body for one request. `host` is the request's Host header ("name[:port]"), empty when
    // the client sent none: an .asx names URLs the client can reach. Empty: not available yet (503). Called on the network thread; must not block.
    std::function<std::string(std::string_view host)> body;
};

class PullServer {
public:
    explicit PullServer(PullConfig config);
    ~PullServer();
    PullServer(const PullServer&) = delete;
    PullServer& operator=(const PullServer&) = delete;

    // Adds a mount point ("/" for the default stream, "/name" for others) and returns its feed,
    // which the muxer's bus publishes to (MuxedStreamBus::attach). Call before start().
    std::shared_ptr<OutputFeed> add_mount(const std::string& path);
    // Serves `doc` at `path` (e.g. "/stream.nsc"), replacing what was there; a mount path cannot
    // be a document. Any thread, before or after start().
    void set_document(const std::string& path, PullDocument doc);
    // Binds and starts the network thread. Throws std::runtime_error naming the address on failure.
    void start();
    // Closes every connection and joins the network thread. Idempotent.
    void stop();
    std::uint16_t port() const;  // the bound port
    PullStats stats() const;
    // The open connections (at most `max`, oldest first); empty when the server is not running.
    std::vector<PullClientInfo> clients(std::size_t max) const;
    // Reload (issue 14, point 5): new limits, address rules and authentication for connections and
    // requests from now on; connected clients keep streaming. Runs on the network thread and waits
    // for it (never call it there). Throws std::invalid_argument (a bad CIDR block or scheme)
    // before changing anything.
    void update_access(std::size_t max_clients, std::size_t max_clients_per_ip, const std::vector<std::string>& auth,
                       const std::string& realm, const std::vector<PullUser>& users,
                       const std::vector<std::string>& allow, const std::vector<std::string>& deny);

    struct Impl;  // defined in pull_server.cpp only

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::pull
