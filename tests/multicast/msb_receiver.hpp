// A strict MS-MSB receiver (the client role, MS-MSB 3.2), written from the specification's text
// (MS-MSB 2.2.1-2.2.4, 3.2; the ASF packet fields from ASF-notes §16), not from asfcast's sender:
// it reads the .nsc file with its own decoder, takes datagrams as they arrive, rebuilds one lost
// packet per error correction cycle from the parity packet (3.2.5.3), and hands out the ASF
// packets in order. Every deviation from the specification it can see is a violation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace msbtest {

using Bytes = std::vector<std::uint8_t>;

// What the receiver needs from the .nsc file (MS-MSB 2.2.1).
struct ReceiverNsc {
    std::string group;                     // IP Address
    std::uint16_t port = 0;                // IP Port
    std::string adapter;                   // Multicast Adapter (may be empty)
    std::optional<std::uint32_t> ttl;      // Time To Live
    std::optional<std::uint32_t> default_ecc;
    std::map<std::uint16_t, Bytes> headers;  // Format ID -> ASF header (Header Object + 50 bytes)
    std::vector<std::string> property_order;  // [Address] names as read
};

// Reads the .nsc text with a decoder of its own (MS-MSB 2.2.1.1-2.2.1.3); throws
// std::runtime_error naming the line on anything the specification does not allow.
ReceiverNsc read_nsc(std::string_view text);
// The value of an encoded block ("02..."): Key and data; throws on a bad CRC or length.
std::pair<std::uint32_t, Bytes> decode_block(std::string_view value);

struct ReceivedPacket {
    std::uint32_t packet_id = 0;    // dwPacketID
    std::uint16_t format_id = 0;    // low 11 bits of wStreamID
    std::uint16_t stream_id = 0;    // wStreamID
    Bytes asf;                      // the ASF packet (rebuilt: the XOR result, zero-extended to the cycle's longest)
    bool rebuilt = false;
};

struct ReceiverCounts {
    std::uint64_t datagrams = 0;
    std::uint64_t beacons = 0;
    std::uint64_t data_packets = 0;     // received
    std::uint64_t parity_packets = 0;   // received
    std::uint64_t unknown_format = 0;   // MSB packets ignored: Format ID not in the .nsc (3.2.5.2)
    std::uint64_t cycles = 0;
    std::uint64_t recovered = 0;        // data packets rebuilt from parity
    std::uint64_t lost = 0;             // data packets missing that could not be rebuilt
    std::uint64_t parity_checked = 0;   // complete cycles whose parity packet was verified
    std::uint64_t beacons_while_streaming = 0;  // between MSB packets less than a beacon interval apart
    double min_beacon_gap_s = 0;        // smallest time between two beacons (0: fewer than two)
};

class MsbReceiver {
public:
    // `packet_size`: the ASF data packet size of the headers (File Properties), for the checks.
    MsbReceiver(ReceiverNsc nsc, std::uint32_t packet_size);

    // One UDP payload as it arrived at `t` seconds.
    void on_datagram(const std::uint8_t* data, std::size_t size, double t);
    // The End of Stream timer expired (3.2.6.2): the open cycle is settled.
    void finish();

    // ASF packets settled since the last call, in dwPacketID order.
    std::vector<ReceivedPacket> take_packets();
    const ReceiverCounts& counts() const { return counts_; }
    const std::vector<std::string>& violations() const { return violations_; }
    bool last_was_parity() const { return last_was_parity_; }
    std::optional<double> last_packet_time() const { return last_packet_t_; }

private:
    struct Entry {
        std::uint32_t id = 0;
        std::uint16_t stream_id = 0;
        int number = 0;
        Bytes asf;  // whole ASF packet
    };
    struct Cycle {
        int cycle = -1;
        std::map<std::uint32_t, Entry> data;
        std::optional<Entry> parity;
    };
    void violation(std::string what);
    void settle(Cycle& c);
    void check_wire_form(const std::uint8_t* asf, std::size_t n, std::uint32_t id);

    ReceiverNsc nsc_;
    std::uint32_t packet_size_;
    bool fec_expected_;
    ReceiverCounts counts_;
    std::vector<std::string> violations_;
    std::vector<ReceivedPacket> ready_;
    std::optional<Cycle> open_;
    std::optional<std::uint32_t> first_data_id_;      // lowest data dwPacketID received
    std::optional<std::uint32_t> last_data_id_;       // highest data dwPacketID received
    std::optional<std::uint32_t> prev_cycle_end_;     // last data dwPacketID of the previous settled cycle (known from its parity)
    std::optional<int> prev_cycle_;                   // Cycle of the previous settled cycle
    std::optional<std::uint16_t> stream_id_;
    std::optional<double> last_beacon_t_;
    std::optional<double> last_packet_t_;
    bool last_was_parity_ = false;
    std::size_t violation_budget_ = 200;
};

}  // namespace msbtest
