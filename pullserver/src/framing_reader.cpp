#include "asfcast/pullserver/framing_reader.hpp"

#include <fmt/format.h>

namespace asfcast::pull {
namespace {

std::uint32_t le16(const std::uint8_t* p) { return static_cast<std::uint32_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

void FramedStreamReader::feed(ByteView data) {
    if (failed()) return;
    if (pos_ > 0) {  // drop what was returned already, so the buffer holds at most one packet more
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        consumed_ += pos_;
        pos_ = 0;
    }
    buf_.insert(buf_.end(), data.begin(), data.end());
}

std::optional<FramedPacket> FramedStreamReader::fail(std::string message) {
    error_ = fmt::format("byte {}: {}", offset(), message);
    return std::nullopt;
}

std::optional<FramedPacket> FramedStreamReader::next() {
    if (failed() || buffered() < 4) return std::nullopt;
    const std::uint8_t* p = buf_.data() + pos_;
    // Framing Header (MS-WMSP 2.2.3.1.1). We expect B = 0 from our own server.
    if (p[0] != 0x24) return fail(fmt::format("0x{:02X} is not the framing marker 0x24", p[0]));
    FramedPacket pk;
    pk.type = static_cast<char>(p[1]);
    const std::uint32_t length = le16(p + 2);
    switch (pk.type) {
        case 'H': case 'D': case 'M':
            if (length < 8) return fail(fmt::format("${} PacketLength {} is shorter than the 8-byte MMS header", pk.type, length));
            break;
        case 'E': case 'C':
            if (length != 4) return fail(fmt::format("${} PacketLength {} (must be 4)", pk.type, length));
            break;
        case 'P':
            if (length < 4) return fail(fmt::format("$P PacketLength {} has no room for the Reason", length));
            break;
        case 'T':
            if (length != 0) return fail(fmt::format("$T PacketLength {} (must be 0)", length));
            break;
        default:
            return fail(fmt::format("unknown packet type 0x{:02X}", p[1]));
    }
    if (buffered() < 4 + static_cast<std::size_t>(length)) return std::nullopt;
    const std::uint8_t* body = p + 4;
    switch (pk.type) {
        case 'H': case 'D': case 'M': {
            // MMS Data Packet (MS-WMSP 2.2.3.1.2): PacketSize must agree with PacketLength.
            const std::uint32_t size = le16(body + 6);
            if (size != length)
                return fail(fmt::format("${} PacketLength {} differs from PacketSize {}", pk.type, length, size));
            pk.location_id = le32(body);
            pk.incarnation = body[4];
            pk.afflags = body[5];
            pk.payload = ByteView(body + 8, length - 8);
            break;
        }
        case 'E': case 'C':
            pk.reason = le32(body);
            break;
        case 'P':
            pk.reason = le32(body);
            pk.payload = ByteView(body + 4, length - 4);
            break;
        default:
            break;
    }
    pos_ += 4 + length;
    return pk;
}

}  // namespace asfcast::pull
