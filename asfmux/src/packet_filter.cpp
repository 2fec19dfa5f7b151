// Stream selection on finished data packets (ASF-notes §16): payloads of unselected streams are
// cut out. The remaining payloads are laid out in a packet of the original length, the freed bytes
// turned into padding, and strip_padding then removes it, so $D packets are shortened one way only.
#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::asfmux {
namespace {

std::size_t width_of(unsigned length_type) { return length_type == 3 ? 4 : length_type; }

}  // namespace

std::optional<Bytes> filter_packet_streams(ByteView packet, std::uint32_t packet_size,
                                           const std::array<bool, 128>& keep_stream) {
    const PacketInfo info = parse_packet(packet, packet_size);  // validates everything read below

    // Payload parsing information (§16.1-§16.2): where each field sits.
    ByteReader r(packet, "data packet");
    std::uint8_t flags = r.u8();
    if (flags & 0x80) {  // Error Correction data
        r.skip(flags & 0x0F);
        flags = r.u8();
    }
    const std::size_t flags_at = r.pos() - 1;
    const std::uint8_t property_flags = r.u8();
    r.skip(width_of((flags >> 5) & 3));  // Packet Length
    r.skip(width_of((flags >> 1) & 3));  // Sequence
    const std::size_t padding_at = r.pos();
    const std::size_t padding_width = width_of((flags >> 3) & 3);
    r.skip(padding_width);
    r.skip(6);  // Send Time, Duration
    const std::size_t head_end = r.pos();

    const ByteView body = packet.first(info.packet_length - info.padding);
    if (!info.multiple_payloads) {
        if (!keep_stream[body[head_end] & 0x7F]) return std::nullopt;
        return strip_padding(packet, packet_size);
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
    if (kept.size() == count) return strip_padding(packet, packet_size);

    // Rebuild at the original length. The Padding Length field becomes a WORD if it was absent or a
    // BYTE, as the freed space may not fit a byte; a dropped payload frees more than the 2 bytes
    // this can add.
    const std::size_t new_padding_width = padding_width < 2 ? 2 : padding_width;
    Bytes out(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(padding_at));
    out[flags_at] = static_cast<std::uint8_t>((flags & ~0x18) | (new_padding_width == 2 ? 0x10 : 0x18));
    const std::size_t new_padding_at = out.size();
    out.resize(out.size() + new_padding_width, 0);
    out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(padding_at + padding_width),
               packet.begin() + static_cast<std::ptrdiff_t>(head_end));
    out.push_back(static_cast<std::uint8_t>((payload_flags & 0xC0) | kept.size()));
    for (const auto& [from, to] : kept)
        out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(from),
                   body.begin() + static_cast<std::ptrdiff_t>(to));
    if (out.size() > info.packet_length) throw ParseError("data packet: filtered packet outgrew the original");
    const std::size_t padding = info.packet_length - out.size();
    for (std::size_t i = 0; i < new_padding_width; ++i)
        out[new_padding_at + i] = static_cast<std::uint8_t>(padding >> (8 * i));
    out.resize(info.packet_length, 0);
    return strip_padding(out, packet_size);
}

}  // namespace asfcast::asfmux
