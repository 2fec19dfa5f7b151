#include "asfcast/multicast/msb_sender.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "asfcast/multicast/nsc.hpp"

namespace asfcast::multicast {

namespace {

constexpr std::size_t kMsbHeaderBytes = 8;  // dwPacketID, wStreamID, wPacketSize (MS-MSB 2.2.4)
constexpr std::size_t kEcBytes = 3;         // Error Correction Flags + 2 bytes of Error Correction Data
constexpr std::size_t kHeadBytes = kMsbHeaderBytes + kEcBytes;
// The largest UDP payload IPv4 can carry (65535 - 20 IP - 8 UDP); wPacketSize allows 0xFFFF.
constexpr std::size_t kMaxDatagram = 65507;
// Headers remembered for the .nsc file; the oldest beyond this are dropped from it.
constexpr std::size_t kMaxFormats = 32;

// Error Correction Flags (ASF-notes §16.1): bit 7 Error Correction Present, bit 4 Opaque Data
// Present (set only on parity packets, MS-MSB 2.2.2), bits 0-3 the Error Correction Data length.
constexpr std::uint8_t kEcPresent = 0x80;
constexpr std::uint8_t kEcOpaqueData = 0x10;
constexpr std::uint8_t kEcDataLength2 = 0x02;

// Error Correction Data, first byte (MS-MSB 2.2.2): the 4-bit Type (0 none, 1 data, 2 parity) and
// the 4-bit Number. The ASF specification lists the fields from the low bits up, so Type is the
// low nibble and Number the high one (ASF-notes §16.1 marks this order unverified against
// Windows Media Services traffic). The second byte is the 8-bit Cycle.
constexpr std::uint8_t ec_type_number(std::uint8_t type, std::uint8_t number) {
    return static_cast<std::uint8_t>((type & 0x0F) | ((number & 0x0F) << 4));
}
constexpr std::uint8_t kTypeData = 1;
constexpr std::uint8_t kTypeParity = 2;

void put_u16(std::uint8_t* at, std::uint16_t v) {
    at[0] = static_cast<std::uint8_t>(v);
    at[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// parity[0..n) ^= data[0..n), eight bytes at a time.
void xor_into(std::uint8_t* parity, const std::uint8_t* data, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t a, b;
        std::memcpy(&a, parity + i, 8);
        std::memcpy(&b, data + i, 8);
        a ^= b;
        std::memcpy(parity + i, &a, 8);
    }
    for (; i < n; ++i) parity[i] ^= data[i];
}

}  // namespace

Bytes MsbDatagram::joined() const {
    Bytes out(head.begin(), head.end());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

void validate(const MsbSenderConfig& c) {
    if (c.fec_span < 0 || c.fec_span > 15)
        throw MsbError(fmt::format("error correction span {} is outside 1..15 (MS-MSB 2.2.2), or 0 for none", c.fec_span));
    if (c.beacon_interval < std::chrono::seconds(1) || c.beacon_interval > std::chrono::seconds(10))
        throw MsbError(fmt::format("beacon interval {} ms is outside 1 s..10 s (MS-MSB 3.1.2)", c.beacon_interval.count()));
    if (c.fec_max_delay.count() < 0)
        throw MsbError(fmt::format("error correction delay {} ms is negative", c.fec_max_delay.count()));
}

MsbSender::MsbSender(MsbSenderConfig config, TimePoint now)
    : config_(config), next_packet_id_(config.first_packet_id), cycle_(config.first_cycle), last_sent_(now) {
    validate(config_);
}

std::uint16_t MsbSender::assign_format_id(const HeaderPtr& header) {
    for (const auto& f : formats_)
        if (f.header->bytes == header->bytes) return f.format_id;  // an identical header: one ID
    // MS-MSB 2.2.1.4: every header in the .nsc file has its own Format ID. A hash of the header,
    // moved on to the next free value when another header already has it.
    std::uint16_t id = format_id_for(header->bytes);
    for (int tries = 0; tries < 2048; ++tries) {
        const bool used = std::any_of(formats_.begin(), formats_.end(), [&](const MsbFormat& f) { return f.format_id == id; });
        if (!used) break;
        id = static_cast<std::uint16_t>((id + 1) & 0x7FF);
    }
    formats_.push_back({header, id});
    if (formats_.size() > kMaxFormats) formats_.erase(formats_.begin());
    return id;
}

bool MsbSender::on_header(const HeaderPtr& header, TimePoint now, DatagramSink& sink) {
    if (!header) throw MsbError("no ASF header");
    if (ended_) return false;
    if (header_ && (header == header_ || (header->version == header_->version && header->bytes == header_->bytes)))
        return false;
    if (header->packet_size == 0 || header->packet_size + kHeadBytes > kMaxDatagram)
        throw MsbError(fmt::format("ASF packet size {} does not fit an MSB packet in one UDP datagram (at most {} bytes)",
                                   header->packet_size, kMaxDatagram - kHeadBytes));
    // MS-MSB 3.1.5.3: the last packet of a stream ends its error correction cycle.
    close_cycle(now, sink);
    const std::uint16_t format_id = assign_format_id(header);
    // MS-MSB 2.2.4, 3.1.5.1: the low 11 bits are the Format ID; the most significant bit flips at
    // every new stream, so that even a stream with the same header has a different wStreamID; the
    // 4 bits between are zero.
    toggle_ = !toggle_;
    stream_id_ = static_cast<std::uint16_t>((format_id & 0x7FF) | (toggle_ ? 0x8000 : 0));
    header_ = header;
    if (parity_.size() < header->packet_size) parity_.resize(header->packet_size);
    ++stats_.streams;
    return true;
}

void MsbSender::emit(DatagramKind kind, ByteView body, TimePoint now, DatagramSink& sink) {
    MsbDatagram d;
    d.kind = kind;
    d.head = kind == DatagramKind::beacon ? ByteView(head_.data(), 4) : ByteView(head_.data(), kHeadBytes);
    d.body = body;
    sink.send(d);
    ++stats_.datagrams;
    stats_.bytes += d.size();
    last_sent_ = now;  // the Beacon timer restarts (3.1.6.1) or stays stopped while packets flow (3.1.5.1)
}

void MsbSender::on_packet(const DataPacket& packet, TimePoint now, DatagramSink& sink) {
    if (ended_) throw MsbError("a packet after the end of the stream");
    if (!header_) throw MsbError("a packet before any ASF header");
    const ByteView wire = packet.wire_form();
    if (wire.empty() || wire.size() > header_->packet_size)
        throw MsbError(fmt::format("packet {} is {} bytes; the header's packet size is {}", packet.number, wire.size(),
                                   header_->packet_size));
    // The ASF packet after its Error Correction Flags and Error Correction Data (ASF-notes §16.1):
    // those fields are the sender's own; the rest is sent and XORed as it is (MS-MSB 2.2.2).
    ByteView body = wire;
    if (wire[0] & kEcPresent) {
        if ((wire[0] >> 5) & 0x03)
            throw MsbError(fmt::format("packet {}: Error Correction Length Type {} is not the 4-bit length (0)",
                                       packet.number, (wire[0] >> 5) & 0x03));
        const std::size_t ec = 1 + (wire[0] & 0x0F);
        if (wire.size() <= ec) throw MsbError(fmt::format("packet {}: {} bytes hold only error correction fields", packet.number, wire.size()));
        body = wire.subspan(ec);
    }

    std::uint8_t ec_data0 = 0, ec_cycle = 0;
    if (fec()) {
        if (in_cycle_ == 0) {
            cycle_started_ = now;
            parity_len_ = 0;
        }
        ++in_cycle_;
        // MS-MSB 2.2.2: Number counts the packets of the span from 1 and the parity packet is
        // span + 1. A span of 15 would need 16 for its parity packet, more than 4 bits hold: there
        // every packet has Number 1, the alternative the section allows.
        const int number = config_.fec_span == 15 ? 1 : in_cycle_;
        ec_data0 = ec_type_number(kTypeData, static_cast<std::uint8_t>(number));
        ec_cycle = cycle_;
        // Parity of packets of different sizes: the shorter ones zero-extended (MS-MSB 2.2.2).
        if (body.size() > parity_len_) {
            std::fill(parity_.begin() + static_cast<std::ptrdiff_t>(parity_len_),
                      parity_.begin() + static_cast<std::ptrdiff_t>(body.size()), 0);
            parity_len_ = body.size();
        }
        xor_into(parity_.data(), body.data(), body.size());
    }

    // MS-MSB 2.2.4: dwPacketID, wStreamID, wPacketSize (the whole MSB packet), then the ASF packet.
    last_packet_id_ = next_packet_id_++;
    put_u32(head_.data(), last_packet_id_);
    put_u16(head_.data() + 4, stream_id_);
    put_u16(head_.data() + 6, static_cast<std::uint16_t>(kHeadBytes + body.size()));
    // ASF-notes §16.1, MS-MSB 2.2.2: Error Correction Present, 2 bytes of Error Correction Data
    // (Type 1 and Number with error correction; all 0 without), Opaque Data Present clear.
    head_[8] = kEcPresent | kEcDataLength2;
    head_[9] = ec_data0;
    head_[10] = ec_cycle;
    emit(DatagramKind::data, body, now, sink);
    ++stats_.data_packets;

    // MS-MSB 3.1.5.2: the last packet of every cycle is its parity packet.
    if (fec() && in_cycle_ >= config_.fec_span) close_cycle(now, sink);
}

void MsbSender::close_cycle(TimePoint now, DatagramSink& sink) {
    if (!fec() || in_cycle_ == 0) return;
    // MS-MSB 2.2.4: a parity packet repeats the dwPacketID of the packet before it.
    put_u32(head_.data(), last_packet_id_);
    put_u16(head_.data() + 4, stream_id_);
    put_u16(head_.data() + 6, static_cast<std::uint16_t>(kHeadBytes + parity_len_));
    // MS-MSB 2.2.2: Opaque Data Present set on parity packets only; Type 2; Number span + 1; the
    // cycle's Cycle; then nothing but the parity data.
    head_[8] = kEcPresent | kEcOpaqueData | kEcDataLength2;
    const int number = config_.fec_span == 15 ? 1 : in_cycle_ + 1;
    head_[9] = ec_type_number(kTypeParity, static_cast<std::uint8_t>(number));
    head_[10] = cycle_;
    emit(DatagramKind::parity, ByteView(parity_.data(), parity_len_), now, sink);
    ++stats_.parity_packets;
    ++cycle_;  // MS-MSB 2.2.2: +1 per cycle (wrapping at 8 bits)
    in_cycle_ = 0;
    parity_len_ = 0;
}

void MsbSender::on_end(TimePoint now, DatagramSink& sink) {
    if (ended_) return;
    close_cycle(now, sink);  // MS-MSB 3.1.5.3: the last MSB packet ends the last cycle
    ended_ = true;           // and no Beacon: this broadcast does not come back
}

void MsbSender::on_timer(TimePoint now, DatagramSink& sink) {
    if (ended_) return;
    if (fec() && in_cycle_ > 0 && config_.fec_max_delay.count() > 0 && now >= cycle_started_ + config_.fec_max_delay)
        close_cycle(now, sink);
    if (now >= last_sent_ + config_.beacon_interval) {
        // MS-MSB 2.2.3: the 4 bytes "MSB " (0x2042534D as a little-endian DWORD).
        put_u32(head_.data(), 0x2042534Du);
        emit(DatagramKind::beacon, {}, now, sink);
        ++stats_.beacons;
    }
}

std::optional<MsbSender::TimePoint> MsbSender::deadline() const {
    if (ended_) return std::nullopt;
    TimePoint due = last_sent_ + config_.beacon_interval;
    if (fec() && in_cycle_ > 0 && config_.fec_max_delay.count() > 0)
        due = std::min(due, cycle_started_ + config_.fec_max_delay);
    return due;
}

}  // namespace asfcast::multicast
