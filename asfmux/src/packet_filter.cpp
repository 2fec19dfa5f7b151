// Stream selection on finished data packets (ASF-notes §16): payloads of unselected streams are
// cut out, and the result is written in the wire form (MS-WMSP 2.2.3.3: no Padding Length field, no
// padding, no Packet Length field) in the multiple-payloads layout, so a client that pads it back
// to the packet size reads exactly the kept payloads.
#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::asfmux {
namespace {

std::size_t width_of(unsigned length_type) { return length_type == 3 ? 4 : length_type; }

}  // namespace

std::optional<Bytes> filter_packet_streams(ByteView packet, std::uint32_t packet_size,
                                           const std::array<bool, 128>& keep_stream) {
    // A packet shorter than the fixed size came without its padding (wire form).
    const bool wire = packet.size() < packet_size;
    const PacketInfo info = wire ? parse_wire_packet(packet, packet_size) : parse_packet(packet, packet_size);

    // Payload parsing information (§16.1-§16.2): where each field sits. parse_packet validated it.
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

    const ByteView body = packet.first(info.packet_length - info.padding);
    if (!info.multiple_payloads) {
        if (!keep_stream[body[head_end] & 0x7F]) return std::nullopt;
        return wire ? Bytes(body.begin(), body.end()) : to_wire_form(packet, packet_size);
    }

    // Multiple payloads (§16.3): find the byte range of every payload, header and data.
    ByteReader p(body, "data packet payloads");
    p.seek(head_end);
    const std::uint8_t payload_flags = p.u8();
    const std::size_t count = payload_flags & 0x3F;
    const unsigned length_type = payload_flags >> 6;
    std::vector<std::pair<std::size_t, std::size_t>> kept;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t start = p.pos();
        const std::size_t stream = p.u8() & 0x7F;
        p.skip(width_of((property_flags >> 4) & 3));  // Media Object Number
        p.skip(width_of((property_flags >> 2) & 3));  // Offset Into Media Object / presentation time
        p.skip(p.sized(property_flags & 3));  // Replicated Data (a compressed payload's time delta)
        p.skip(p.sized(length_type));
        if (keep_stream[stream]) kept.emplace_back(start, p.pos());
    }
    if (kept.empty()) return std::nullopt;

    // The wire form: the Error Correction data and flags, Length Type Flags without Packet Length
    // and Padding Length, the Sequence (if any), times, then the kept payloads.
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

}  // namespace asfcast::asfmux
