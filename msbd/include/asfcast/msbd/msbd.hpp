// msbd: the MS-MSBD server role (Media Stream Broadcast Distribution, 3.1) on TCP. Windows Media
// servers and old players connect (commonly to port 7007, 2.1), send MSB_MSG_REQ_CONNECT and get
// the ASF header in MSB_MSG_IND_STREAMINFO, then every ASF packet in its own MSB_MSG_IND_PACKET, and
// MSB_MSG_IND_EOS at the end. One Asio thread ("asfcast-msbd") serves every client from one shared
// packet ring, with the same limits, address rules and lag rule as the WMSP pull server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/output_feed.hpp"

namespace asfcast::msbd {

struct MsbdConfig {
    std::string address = "127.0.0.1";         // IPv4 (MS-MSBD 2.1: TCP over IPv4)
    std::uint16_t port = 7007;                 // 0: any free port (tests)
    std::size_t max_clients = 1000;            // connections in all
    std::size_t max_clients_per_ip = 0;        // 0: no per-address limit
    std::vector<std::string> allow;            // CIDR blocks; empty: every address not denied
    std::vector<std::string> deny;             // CIDR blocks, checked first
    std::uint32_t connect_timeout_ms = 10000;  // MSB_MSG_REQ_CONNECT must arrive within this
    std::uint32_t ping_interval_ms = 120000;   // MSB_MSG_REQ_PING period (2.2.3: about 2 minutes); 0: none
    std::uint32_t ping_timeout_ms = 120000;    // no MSB_MSG_RES_PING within this closes (3.1.6)
    std::uint32_t max_lag_ms = 4000;           // a client further behind than this is lagging
    std::string lag_policy = "skip";           // skip: jump to the newest key frame; disconnect
    std::size_t ring_packets = 4096;           // at most this many packets kept for the clients, and
                                               // only max_lag_ms + 2 s of the stream (bounded memory)
    std::size_t feed_packets = 1024;           // hand-off from the mux thread (OutputFeed)
    // Kernel send buffer per connection (SO_SNDBUF): bounds what a client that stops reading holds.
    int send_buffer_bytes = 128 * 1024;
    // Packets that arrive within this interval go to a caught-up client in one write; 0: at once.
    std::uint32_t send_interval_ms = 100;
    std::uint32_t end_linger_ms = 3000;        // after IND_EOS, how long a client has to close
};

struct MsbdStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0;  // address rules, limits (RES_CONNECT with a failure hr)
    std::uint64_t connects_rejected = 0;    // REQ_CONNECT refused (multicast asked, bad dwFlags/szChannel)
    std::uint64_t malformed = 0;            // framing errors (signature, ids, lengths): connection closed
    std::uint64_t protocol_errors = 0;      // messages out of sequence or from the server role
    std::uint64_t connect_timeouts = 0;
    std::uint64_t ping_timeouts = 0;
    std::uint64_t pings_sent = 0;
    std::uint64_t pings_answered = 0;
    std::uint64_t lag_skips = 0;
    std::uint64_t lag_disconnects = 0;      // lag policy "disconnect", and clients that stopped reading
    std::uint64_t packets_sent = 0;         // MSB_MSG_IND_PACKET messages, all clients
    std::uint64_t eos_sent = 0;             // clients that received IND_EOS + the empty IND_STREAMINFO
    std::uint64_t bytes_sent = 0;
    std::size_t clients_now = 0;            // open connections
    std::size_t streaming_now = 0;          // accepted clients that have not received IND_EOS yet
    std::size_t ring_packets = 0;           // packets held for the clients (max_lag_ms + 2 s of the stream)
};

class MsbdServer {
public:
    // Throws std::invalid_argument naming the msbd.* key of a bad value (address rules, lag policy).
    explicit MsbdServer(MsbdConfig config);
    ~MsbdServer();
    MsbdServer(const MsbdServer&) = delete;
    MsbdServer& operator=(const MsbdServer&) = delete;

    // The feed the muxer's bus publishes to (MuxedStreamBus::attach).
    std::shared_ptr<OutputFeed> feed() const;
    // Binds and starts the network thread. Throws std::runtime_error naming the address on failure.
    void start();
    // After the end of the stream was published: waits until every accepted client has received
    // IND_EOS (or `timeout` passes). True when none is left waiting.
    bool wait_ended(std::chrono::milliseconds timeout);
    // Closes every connection and joins the network thread. Idempotent.
    void stop();
    std::uint16_t port() const;  // the bound port
    MsbdStats stats() const;

    struct Impl;  // msbd_server.cpp only

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::msbd
