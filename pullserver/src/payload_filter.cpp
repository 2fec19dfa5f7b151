#include "payload_filter.hpp"

#include <vector>

#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::pull {
namespace {

std::size_t width_of(unsigned length_type) { return length_type == 3 ? 4 : length_type; }

// Decides payload by payload, in packet order, for the modes that depend on what came before.
class PayloadChooser {
public:
    explicit PayloadChooser(const PayloadFilter& keep) : keep_(keep) {}

    // ASF payload parsing (ASF-notes §16.3): the Stream Number byte carries the key-frame bit
    // (bit 7); `object_start` is an Offset Into Media Object of 0, or a compressed payload (whose
    // sub-payloads are whole media objects).
    bool take(std::uint8_t stream_byte, bool object_start) {
        const std::size_t stream = stream_byte & 0x7F;
        const bool key = stream_byte & 0x80;
        switch (keep_[stream]) {
            case PayloadKeep::none: return false;
            case PayloadKeep::all: return true;
            case PayloadKeep::key_frames: return key;
            case PayloadKeep::from_key_frame:
                if (!started_[stream] && key && object_start) started_[stream] = true;
                return started_[stream];
            case PayloadKeep::from_object_start:
                if (!started_[stream] && object_start) started_[stream] = true;
                return started_[stream];
        }
        return false;
    }

private:
    const PayloadFilter& keep_;
    std::array<bool, 128> started_{};
};

}  // namespace

std::optional<Bytes> filter_payloads(ByteView packet, std::uint32_t packet_size, const PayloadFilter& keep) {
    // A packet shorter than the fixed size came without its padding (wire form). Parsing it whole
    // first validates every field read below.
    const bool wire = packet.size() < packet_size;
    const asfmux::PacketInfo info =
        wire ? asfmux::parse_wire_packet(packet, packet_size) : asfmux::parse_packet(packet, packet_size);

    // Payload parsing information (ASF-notes §16.1-§16.2): where each field sits.
    ByteReader r(packet, "data packet");
    std::uint8_t flags = r.u8();
    if (flags & 0x80) {  // Error Correction data
        r.skip(flags & 0x0F);
        flags = r.u8();
    }
    const std::size_t flags_at = r.pos() - 1;
    const std::uint8_t property_flags = r.u8();
    const std::size_t length_at = r.pos();
    r.skip(width_of((flags >> 5) & 3));  // Packet Length
    const std::size_t sequence_at = r.pos();
    r.skip(width_of((flags >> 1) & 3));  // Sequence
    const std::size_t padding_at = r.pos();
    r.skip(width_of((flags >> 3) & 3));  // Padding Length
    const std::size_t times_at = r.pos();
    r.skip(6);  // Send Time, Duration
    const std::size_t head_end = r.pos();
    const unsigned object_number_type = (property_flags >> 4) & 3;
    const unsigned offset_type = (property_flags >> 2) & 3;
    const unsigned replicated_type = property_flags & 3;

    PayloadChooser chooser(keep);
    const ByteView body = packet.first(info.packet_length - info.padding);
    ByteReader p(body, "data packet payloads");
    p.seek(head_end);
    if (!info.multiple_payloads) {
        const std::uint8_t stream_byte = p.u8();
        p.skip(width_of(object_number_type));
        const std::uint32_t offset = p.sized(offset_type);
        const std::uint32_t replicated = p.sized(replicated_type);
        if (!chooser.take(stream_byte, offset == 0 || replicated == 1)) return std::nullopt;
        return wire ? Bytes(body.begin(), body.end()) : asfmux::to_wire_form(packet, packet_size);
    }

    // Multiple payloads (ASF-notes §16.3): the byte range of every payload, header and data.
    const std::uint8_t payload_flags = p.u8();
    const std::size_t count = payload_flags & 0x3F;
    const unsigned length_type = payload_flags >> 6;
    std::vector<std::pair<std::size_t, std::size_t>> kept;
    kept.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t start = p.pos();
        const std::uint8_t stream_byte = p.u8();
        p.skip(width_of(object_number_type));
        const std::uint32_t offset = p.sized(offset_type);  // the presentation time when compressed
        const std::uint32_t replicated = p.sized(replicated_type);
        p.skip(replicated);                // Replicated Data (a compressed payload's time delta)
        p.skip(p.sized(length_type));      // Payload Length, Payload Data
        if (chooser.take(stream_byte, offset == 0 || replicated == 1)) kept.emplace_back(start, p.pos());
    }
    if (kept.empty()) return std::nullopt;

    // The wire form: the Error Correction data and flags, Length Type Flags without Packet Length
    // and Padding Length, the Sequence (if any), times, then the kept payloads (MS-WMSP 2.2.3.3).
    Bytes out(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(length_at));
    out[flags_at] = static_cast<std::uint8_t>(flags & ~0x78);
    out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(sequence_at),
               packet.begin() + static_cast<std::ptrdiff_t>(padding_at));
    out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(times_at),
               packet.begin() + static_cast<std::ptrdiff_t>(head_end));
    out.push_back(static_cast<std::uint8_t>((payload_flags & 0xC0) | kept.size()));
    for (const auto& [from, to] : kept)
        out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(from),
                   body.begin() + static_cast<std::ptrdiff_t>(to));
    return out;
}

}  // namespace asfcast::pull
