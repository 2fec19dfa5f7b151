#include "wmsp_framing.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace asfcast::pull {
namespace {

void put_u16(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Framing Header + MMS Data Packet header; both length fields count the MMS packet.
std::array<std::uint8_t, 12> mms_prefix(char type, std::uint32_t location_id, std::uint8_t incarnation,
                                        std::uint8_t afflags, std::size_t payload_size) {
    const std::size_t mms_size = kMmsPacketHeaderSize + payload_size;
    if (mms_size > kMaxMmsPacketSize)
        throw std::length_error("MS-WMSP $" + std::string(1, type) + " packet: payload of " +
                                std::to_string(payload_size) + " bytes exceeds the 65,527-byte limit");
    std::array<std::uint8_t, 12> b{};
    b[0] = kFrameMarker;
    b[1] = static_cast<std::uint8_t>(type);
    put_u16(&b[2], static_cast<std::uint32_t>(mms_size));  // PacketLength (2.2.3.1.1)
    put_u32(&b[4], location_id);                           // LocationId (2.2.3.1.2)
    b[8] = incarnation;
    b[9] = afflags;
    put_u16(&b[10], static_cast<std::uint32_t>(mms_size));  // PacketSize (2.2.3.1.2)
    return b;
}

std::array<std::uint8_t, 8> reason_packet(char type, std::uint32_t reason) {
    std::array<std::uint8_t, 8> b{};
    b[0] = kFrameMarker;
    b[1] = static_cast<std::uint8_t>(type);
    put_u16(&b[2], 4);  // PacketLength: just the Reason
    put_u32(&b[4], reason);
    return b;
}

}  // namespace

Bytes header_packets(ByteView asf_header, std::uint8_t incarnation) {
    const std::size_t pieces = asf_header.empty() ? 1 : (asf_header.size() + kMaxMmsPayload - 1) / kMaxMmsPayload;
    Bytes out;
    out.reserve(asf_header.size() + pieces * 12);
    for (std::size_t i = 0; i < pieces; ++i) {
        const std::size_t at = i * kMaxMmsPayload;
        const std::size_t n = std::min(kMaxMmsPayload, asf_header.size() - at);
        std::uint8_t flags = kAfMiddle;
        if (i == 0) flags |= kAfFirst;
        if (i + 1 == pieces) flags |= kAfLast;
        const auto prefix = mms_prefix('H', static_cast<std::uint32_t>(i), incarnation, flags, n);
        out.insert(out.end(), prefix.begin(), prefix.end());
        out.insert(out.end(), asf_header.begin() + static_cast<std::ptrdiff_t>(at),
                   asf_header.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    return out;
}

std::array<std::uint8_t, 12> data_packet_prefix(std::uint32_t location_id, std::uint8_t incarnation,
                                                std::uint8_t afflags, std::uint16_t payload_size) {
    return mms_prefix('D', location_id, incarnation, afflags, payload_size);
}

std::array<std::uint8_t, 8> end_of_stream_packet(std::uint32_t reason) { return reason_packet('E', reason); }

std::array<std::uint8_t, 8> stream_change_packet(std::uint32_t reason) { return reason_packet('C', reason); }

}  // namespace asfcast::pull
