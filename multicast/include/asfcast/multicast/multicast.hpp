// multicast: the live stream as an MS-MSB broadcast (UDP multicast, IPv4 or IPv6) with its .nsc
// announcement, for players on a LAN. One datagram per ASF packet to the group, an XOR parity
// packet after every span, Beacons while there is nothing to send. No per-client state: every
// receiver on the network gets the same datagrams.
//
// The protocol is MsbSender (msb_sender.hpp), a plain class; MulticastOutput is its socket and
// thread ("asfcast-mcast"), fed through an OutputFeed like every other output. The .nsc and .asx
// texts are pure functions (nsc.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/output_feed.hpp"
#include "asfcast/multicast/msb_sender.hpp"
#include "asfcast/multicast/nsc.hpp"

namespace asfcast::multicast {

// The output cannot start (bad group or interface, socket options refused, .nsc not writable).
class MulticastError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct MulticastConfig {
    std::string group;       // IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address
    std::uint16_t port = 0;  // UDP destination port, 1..65535
    int ttl = 1;             // IPv4 TTL / IPv6 hop limit, 0..255 (1: this link only)
    // Where the datagrams leave: an address of this host (the source address, and the .nsc's
    // Multicast Adapter) or an interface name. Empty: loopback only (127.0.0.1, or IPv6 loopback),
    // so that nothing reaches a network unless one is named.
    std::string interface;
    MsbSenderConfig msb;     // error correction span, beacon interval

    // The .nsc file: written (atomically: a temporary file renamed) before the first packet of
    // every new header. Empty: not written (nsc_text() still has it).
    std::string nsc_path;
    NscStrings nsc_strings = NscStrings::encoded;
    std::string name;            // Name: "machine, publishing point"
    std::string description;     // Description1
    std::string unicast_url;     // Unicast URL: fail-over for players the multicast misses
    std::string log_url;         // Log URL
    std::optional<std::uint32_t> network_buffer_ms;

    std::size_t feed_packets = 1024;  // hand-off from the mux thread (OutputFeed capacity)
    int send_buffer_bytes = 0;        // SO_SNDBUF; 0: the system default
};

// Throws MulticastError naming the setting (group not multicast, port 0, TTL out of range, span
// or beacon interval outside MS-MSB's bounds).
void validate(const MulticastConfig& config);

struct MulticastStats {
    std::atomic<std::uint64_t> datagrams{0};
    std::atomic<std::uint64_t> bytes{0};           // UDP payload bytes sent
    std::atomic<std::uint64_t> data_packets{0};
    std::atomic<std::uint64_t> parity_packets{0};
    std::atomic<std::uint64_t> beacons{0};
    std::atomic<std::uint64_t> send_errors{0};     // datagrams the kernel refused (logged)
    std::atomic<std::uint64_t> packets_skipped{0}; // lost to a feed that overflowed
    std::atomic<bool> failed{false};
    std::atomic<bool> finished{false};             // the end was sent (or the output failed)
};

class MulticastOutput {
public:
    // Opens the socket (interface, TTL, loopback delivery) and starts the thread, whose Beacon
    // timer runs from now. Throws MulticastError with the reason.
    explicit MulticastOutput(MulticastConfig config);
    ~MulticastOutput();  // stop()
    MulticastOutput(const MulticastOutput&) = delete;
    MulticastOutput& operator=(const MulticastOutput&) = delete;

    // What the mux thread publishes to (MuxedStreamBus::attach).
    std::shared_ptr<OutputFeed> feed() const;
    // Makes the .nsc for `header` now (it gets its Format ID) and writes nsc_path, so that the file
    // exists before the first packet and a path that cannot be written stops the job at its start.
    // Returns the text. Throws MulticastError naming the path. Later headers are announced by the
    // output itself.
    std::string announce(const HeaderPtr& header);
    // The current .nsc text (empty before the first header): what an HTTP server serves as
    // /stream.nsc. Any thread.
    std::string nsc_text() const;
    // Waits until the end of the stream has been sent (last parity packet), at most `timeout`.
    bool wait_finished(std::chrono::milliseconds timeout);
    // Stops sending at once and joins the thread. Idempotent.
    void stop();

    const MulticastStats& stats() const;
    std::string destination() const;  // "239.1.2.3:1234 via 127.0.0.1 (ttl 1)"

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::multicast
