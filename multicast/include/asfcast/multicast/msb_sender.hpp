// MsbSender: the sender role of MS-MSB (3.1) as a plain class. Fed the muxer's headers, packets,
// the end of the stream and the time; it hands out the datagrams to send (MSB packets, parity
// packets, Beacon packets) through a DatagramSink. No sockets, no threads, no clock of its own.
//
// - MSB packet (2.2.4): dwPacketID (from 0, +1 per data packet, repeated by the parity packet
//   that follows), wStreamID (the header's 11-bit Format ID; bit 15 flips at every new stream),
//   wPacketSize, then the ASF packet in its wire form (no padding, no Padding Length field).
// - Error correction (2.2.2): after every `fec_span` data packets an XOR parity packet; each ASF
//   packet's Error Correction Data carries Type, Number and Cycle. The sender writes those three
//   bytes into its own datagram head; the shared packet bytes are sent as they are.
// - Beacons (2.2.3, 3.1.3.2): while there is nothing to send (before the first packet, during a
//   stall), a Beacon every `beacon_interval`; none while packets flow (3.1.5.1), none after the end.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/muxed.hpp"

namespace asfcast::multicast {

class MsbError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct MsbSenderConfig {
    // Data packets per error correction cycle, 1..15 (MS-MSB 2.2.2; SHOULD be 10); 0 turns error
    // correction off (Type, Number and Cycle then 0).
    int fec_span = 10;
    // A cycle open this long is closed early with a parity packet, so that a receiver can rebuild
    // a loss within its buffer even when packets come slowly (a low bit rate). 0: never early.
    std::chrono::milliseconds fec_max_delay{1000};
    // Beacon timer (MS-MSB 3.1.2): 1 s to 10 s.
    std::chrono::milliseconds beacon_interval{5000};
    std::uint32_t first_packet_id = 0;  // dwPacketID of the first MSB packet (SHOULD be 0)
    std::uint8_t first_cycle = 0;       // Cycle of the first cycle (SHOULD be 0)
};

// Throws MsbError naming the setting when a value is outside what MS-MSB allows.
void validate(const MsbSenderConfig& config);

enum class DatagramKind { beacon, data, parity };

// One UDP payload in two pieces, sent with one gather write: `head` is the sender's own bytes
// (the 8-byte MSB packet header and the ASF packet's 3 error correction bytes; a Beacon's 4
// bytes), `body` the rest (the muxer's packet after its error correction fields, or the parity
// data). Both views are valid only during DatagramSink::send.
struct MsbDatagram {
    DatagramKind kind = DatagramKind::data;
    ByteView head;
    ByteView body;
    std::size_t size() const { return head.size() + body.size(); }
    Bytes joined() const;  // head + body in one buffer (tests)
};

class DatagramSink {
public:
    virtual void send(const MsbDatagram& datagram) = 0;

protected:
    ~DatagramSink() = default;
};

struct MsbSenderStats {
    std::uint64_t datagrams = 0;
    std::uint64_t bytes = 0;  // UDP payload bytes
    std::uint64_t data_packets = 0;
    std::uint64_t parity_packets = 0;
    std::uint64_t beacons = 0;
    std::uint64_t streams = 0;  // headers started (wStreamID changes)
};

// A header the sender has used, with the Format ID its packets carry.
struct MsbFormat {
    HeaderPtr header;
    std::uint16_t format_id = 0;
};

class MsbSender {
public:
    using TimePoint = SteadyClock::time_point;

    // Starts the Beacon timer at `now` (3.1.3.2). Throws MsbError for a bad config.
    MsbSender(MsbSenderConfig config, TimePoint now);

    // The header of the packets that follow. A header not seen before is a new stream (3.1.5.1):
    // an open cycle is first closed with its parity packet, then the header gets a Format ID
    // (distinct from every other header's) and bit 15 of wStreamID flips. The same header again
    // (same pointer, or same version and bytes) changes nothing. Returns true for a new stream.
    // Throws MsbError when the header's packets cannot fit an MSB packet.
    bool on_header(const HeaderPtr& header, TimePoint now, DatagramSink& sink);
    // One data packet (its wire form is sent). Throws MsbError before any on_header, or for a
    // packet longer than the header's packet size or without a readable error correction field.
    void on_packet(const DataPacket& packet, TimePoint now, DatagramSink& sink);
    // The end of the stream: the last cycle is closed with its parity packet (3.1.5.3); no beacon
    // follows. Nothing is sent after this.
    void on_end(TimePoint now, DatagramSink& sink);
    // Timers: a Beacon when the Beacon timer expired (3.1.6.1), a parity packet when the open
    // cycle is older than fec_max_delay.
    void on_timer(TimePoint now, DatagramSink& sink);
    // When on_timer is next due; nullopt after the end.
    std::optional<TimePoint> deadline() const;

    // Every header used so far, oldest first (the .nsc file lists them all).
    const std::vector<MsbFormat>& formats() const { return formats_; }
    std::uint16_t stream_id() const { return stream_id_; }  // wStreamID of the current stream
    const MsbSenderStats& stats() const { return stats_; }
    const MsbSenderConfig& config() const { return config_; }
    bool ended() const { return ended_; }

private:
    bool fec() const { return config_.fec_span > 0; }
    void close_cycle(TimePoint now, DatagramSink& sink);
    void emit(DatagramKind kind, ByteView body, TimePoint now, DatagramSink& sink);
    std::uint16_t assign_format_id(const HeaderPtr& header);

    MsbSenderConfig config_;
    std::vector<MsbFormat> formats_;
    HeaderPtr header_;
    std::uint16_t stream_id_ = 0;
    bool toggle_ = true;  // flipped before the first stream: it starts with bit 15 clear
    std::uint32_t next_packet_id_;
    std::uint32_t last_packet_id_ = 0;
    std::uint8_t cycle_;
    int in_cycle_ = 0;  // data packets in the open cycle
    TimePoint cycle_started_{};
    Bytes parity_;           // XOR of the open cycle's packets after their EC fields
    std::size_t parity_len_ = 0;  // longest packet (after its EC fields) in the open cycle
    std::array<std::uint8_t, 11> head_{};  // the datagram head being built
    TimePoint last_sent_;
    bool ended_ = false;
    MsbSenderStats stats_;
};

}  // namespace asfcast::multicast
