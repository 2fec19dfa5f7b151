#include "msbd_message.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace asfcast::msbd {
namespace {

constexpr std::uint8_t kSignatureBytes[4] = {'M', 'S', 'B', ' '};  // 0x2042534D little-endian (2.2.1)

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool valid_stream_id(std::uint16_t id) { return id <= 0x07FF || (id >= 0x8000 && id <= 0x87FF); }

void expect_id(const MsbdMessage& m, MessageId a, MessageId b = MessageId{0}) {
    if (m.id != a && m.id != b)
        throw ParseError(fmt::format("expected {}, got {}", message_name(a), message_name(m.id)));
}

}  // namespace

bool is_message_id(std::uint16_t value) {
    return (value >= 0x0001 && value <= 0x0005) || (value >= 0x0007 && value <= 0x000A);
}

std::string message_name(std::uint16_t value) {
    switch (value) {
        case 0x0001: return "MSB_MSG_REQ_PING";
        case 0x0002: return "MSB_MSG_RES_PING";
        case 0x0003: return "MSB_MSG_REQ_STREAMINFO";
        case 0x0004: return "MSB_MSG_RES_STREAMINFO";
        case 0x0005: return "MSB_MSG_IND_STREAMINFO";
        case 0x0007: return "MSB_MSG_REQ_CONNECT";
        case 0x0008: return "MSB_MSG_RES_CONNECT";
        case 0x0009: return "MSB_MSG_IND_EOS";
        case 0x000A: return "MSB_MSG_IND_PACKET";
        default: return fmt::format("unknown message 0x{:04X}", value);
    }
}

// ---- Builders ----

void append_message_header(Bytes& out, MessageId id, std::size_t message_size, std::uint32_t hr) {
    // MS-MSBD 2.2.1: dwSignature, wVersion, wMessageId, cbMessage (0x0010..0xFFFF), hr.
    if (message_size < kMinMessageSize || message_size > kMaxMessageSize)
        throw std::invalid_argument(fmt::format("{} of {} bytes: MS-MSBD 2.2.1 allows 16..65535 bytes",
                                                message_name(id), message_size));
    ByteWriter w(out);
    w.u32(kSignature);
    w.u16(kVersion);
    w.u16(static_cast<std::uint16_t>(id));
    w.u32(static_cast<std::uint32_t>(message_size));
    w.u32(hr);
}

Bytes header_only_message(MessageId id, std::uint32_t hr) {
    Bytes out;
    out.reserve(kHeaderSize);
    append_message_header(out, id, kHeaderSize, hr);
    return out;
}

Bytes connect_response(std::uint32_t hr) {
    // MS-MSBD 2.2.8: dwFlags 0 (the ASF header is not in an .nsc file); delivery on this TCP
    // connection, so sin_family SHOULD be 0, sin_port and sin_addr SHOULD be 0, sin_zero 0.
    Bytes out;
    out.reserve(kConnectResponseSize);
    append_message_header(out, MessageId::res_connect, kConnectResponseSize, hr);
    ByteWriter w(out);
    w.u32(0);   // dwFlags
    w.u16(0);   // sin_family
    w.u16(0);   // sin_port (big-endian)
    w.u32(0);   // sin_addr (big-endian)
    w.zeros(8); // sin_zero
    return out;
}

Bytes connect_request(std::uint32_t flags, std::string_view channel_utf8) {
    // MS-MSBD 2.2.7: dwFlags, then szChannel in UTF-16LE without the terminating NUL.
    Bytes channel;
    ByteWriter(channel).utf16le(channel_utf8, false);
    Bytes out;
    append_message_header(out, MessageId::req_connect, kHeaderSize + 4 + channel.size());
    ByteWriter w(out);
    w.u32(flags);
    w.bytes(channel);
    return out;
}

Bytes stream_info_message(MessageId id, const StreamInfo& info, std::uint32_t hr) {
    if (id != MessageId::res_streaminfo && id != MessageId::ind_streaminfo)
        throw std::invalid_argument("stream_info_message: " + message_name(id) + " is not a STREAMINFO message");
    // MS-MSBD 2.2.6 ranges.
    if (!valid_stream_id(info.stream_id))
        throw std::invalid_argument(fmt::format("wStreamId 0x{:04X} is outside 0x0000..0x07FF and 0x8000..0x87FF "
                                                "(MS-MSBD 2.2.6)", info.stream_id));
    if (info.packet_size > 0xFFF7)
        throw std::invalid_argument(fmt::format("cbPacketSize {} is above 0xFFF7 (MS-MSBD 2.2.6)", info.packet_size));
    for (const auto& [name, part] : {std::pair<const char*, const Bytes*>{"cbTitle", &info.title},
                                     {"cbDescription", &info.description},
                                     {"cbLink", &info.link},
                                     {"cbHeader", &info.header}})
        if (part->size() > kMaxStreamInfoHeader)
            throw std::invalid_argument(fmt::format("{} {} is above 0xFFCF (MS-MSBD 2.2.6)", name, part->size()));
    const std::size_t binary = info.title.size() + info.description.size() + info.link.size() + info.header.size();
    if (binary > kMaxStreamInfoBinary)
        throw std::invalid_argument(fmt::format("bBinaryData of {} bytes is above 65,487 (MS-MSBD 2.2.6): the ASF "
                                                "header is too large for MSBD", binary));
    Bytes out;
    out.reserve(kStreamInfoFixedSize + binary);
    append_message_header(out, id, kStreamInfoFixedSize + binary, hr);
    ByteWriter w(out);
    w.u16(info.stream_id);
    w.u16(info.packet_size);
    w.u32(info.total_packets);
    w.u32(info.bit_rate);
    w.u32(info.duration_ms);
    w.u32(static_cast<std::uint32_t>(info.title.size()));
    w.u32(static_cast<std::uint32_t>(info.description.size()));
    w.u32(static_cast<std::uint32_t>(info.link.size()));
    w.u32(static_cast<std::uint32_t>(info.header.size()));
    w.bytes(info.title);
    w.bytes(info.description);
    w.bytes(info.link);
    w.bytes(info.header);
    return out;
}

Bytes empty_stream_info(MessageId id) {
    // MS-MSBD 3.1.5.3: no bBinaryData, hr 0xC00D0033, every other field 0.
    return stream_info_message(id, StreamInfo{}, hresult::no_more_streams);
}

std::array<std::uint8_t, kPacketPrefixSize> packet_message_prefix(std::uint32_t packet_id, std::uint16_t stream_id,
                                                                  std::size_t payload_size) {
    // MS-MSBD 2.2.10: header, dwPacketId, wStreamId, wPacketSize (payload + the 8 bytes of these
    // three fields), then bPayload: one whole ASF packet.
    if (payload_size > kMaxPacketPayload)
        throw std::invalid_argument(fmt::format("an ASF packet of {} bytes does not fit in MSB_MSG_IND_PACKET "
                                                "(at most {}, MS-MSBD 2.2.10)", payload_size, kMaxPacketPayload));
    std::array<std::uint8_t, kPacketPrefixSize> p{};
    auto put = [&p](std::size_t at, std::uint32_t v, int n) {
        for (int i = 0; i < n; ++i) p[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    put(0, kSignature, 4);
    put(4, kVersion, 2);
    put(6, static_cast<std::uint16_t>(MessageId::ind_packet), 2);
    put(8, static_cast<std::uint32_t>(kPacketPrefixSize + payload_size), 4);
    put(12, hresult::ok, 4);
    put(16, packet_id, 4);
    put(20, stream_id, 2);
    put(22, static_cast<std::uint32_t>(payload_size + 8), 2);
    return p;
}

// ---- Decoders ----

std::string ConnectRequest::channel_text() const {
    ByteReader r(channel, "szChannel");
    return r.utf16le(channel.size() & ~std::size_t{1});
}

ConnectRequest parse_connect_request(const MsbdMessage& m) {
    expect_id(m, MessageId::req_connect);
    if (m.body.size() < 4)
        throw ParseError(fmt::format("MSB_MSG_REQ_CONNECT of {} bytes has no dwFlags (MS-MSBD 2.2.7: at least 20)",
                                     kHeaderSize + m.body.size()));
    ConnectRequest c;
    c.flags = le32(m.body.data());
    c.channel.assign(m.body.begin() + 4, m.body.end());
    return c;
}

ConnectResponse parse_connect_response(const MsbdMessage& m) {
    expect_id(m, MessageId::res_connect);
    if (m.body.size() != kConnectResponseSize - kHeaderSize)
        throw ParseError(fmt::format("MSB_MSG_RES_CONNECT of {} bytes (MS-MSBD 2.2.8: 36)", kHeaderSize + m.body.size()));
    const std::uint8_t* p = m.body.data();
    ConnectResponse c;
    c.flags = le32(p);
    c.sin_family = le16(p + 4);
    c.sin_port = static_cast<std::uint16_t>((p[6] << 8) | p[7]);
    c.sin_addr = (static_cast<std::uint32_t>(p[8]) << 24) | (static_cast<std::uint32_t>(p[9]) << 16) |
                 (static_cast<std::uint32_t>(p[10]) << 8) | p[11];
    return c;
}

StreamInfo parse_stream_info(const MsbdMessage& m) {
    expect_id(m, MessageId::ind_streaminfo, MessageId::res_streaminfo);
    const std::string name = message_name(m.id);
    ByteReader r(m.body, name);
    if (m.body.size() < kStreamInfoFixedSize - kHeaderSize)
        throw ParseError(fmt::format("{} of {} bytes is shorter than its 48 fixed bytes (MS-MSBD 2.2.6)", name,
                                     kHeaderSize + m.body.size()));
    StreamInfo s;
    s.stream_id = r.u16();
    s.packet_size = r.u16();
    s.total_packets = r.u32();
    s.bit_rate = r.u32();
    s.duration_ms = r.u32();
    const std::uint32_t sizes[4] = {r.u32(), r.u32(), r.u32(), r.u32()};
    static constexpr const char* kNames[4] = {"cbTitle", "cbDescription", "cbLink", "cbHeader"};
    std::uint64_t sum = 0;
    for (int i = 0; i < 4; ++i) {
        if (sizes[i] > kMaxStreamInfoHeader)
            throw ParseError(fmt::format("{}: {} {} is above 0xFFCF (MS-MSBD 2.2.6)", name, kNames[i], sizes[i]));
        sum += sizes[i];
    }
    // MS-MSBD 5.1: the lengths must not reach past the message.
    if (sum != r.remaining())
        throw ParseError(fmt::format("{}: cbTitle + cbDescription + cbLink + cbHeader = {} but bBinaryData has {} "
                                     "bytes (MS-MSBD 2.2.6)", name, sum, r.remaining()));
    auto take = [&r](std::uint32_t n) {
        const ByteView v = r.bytes(n);
        return Bytes(v.begin(), v.end());
    };
    s.title = take(sizes[0]);
    s.description = take(sizes[1]);
    s.link = take(sizes[2]);
    s.header = take(sizes[3]);
    return s;
}

PacketMessage parse_packet_message(const MsbdMessage& m) {
    expect_id(m, MessageId::ind_packet);
    if (m.body.size() < 8)
        throw ParseError(fmt::format("MSB_MSG_IND_PACKET of {} bytes is shorter than its 24 fixed bytes (MS-MSBD 2.2.10)",
                                     kHeaderSize + m.body.size()));
    PacketMessage p;
    p.packet_id = le32(m.body.data());
    p.stream_id = le16(m.body.data() + 4);
    const std::uint16_t size = le16(m.body.data() + 6);
    if (size < 8 || size > 0xFFEF)
        throw ParseError(fmt::format("MSB_MSG_IND_PACKET: wPacketSize {} is outside 0x0008..0xFFEF (MS-MSBD 2.2.10)", size));
    if (size != m.body.size())
        throw ParseError(fmt::format("MSB_MSG_IND_PACKET: wPacketSize {} but the message carries {} bytes after its "
                                     "header (MS-MSBD 2.2.10)", size, m.body.size()));
    p.payload = ByteView(m.body).subspan(8);
    return p;
}

void expect_header_only(const MsbdMessage& m) {
    if (!m.body.empty())
        throw ParseError(fmt::format("{} of {} bytes: it is only the 16-byte header (MS-MSBD 2.2)", message_name(m.id),
                                     kHeaderSize + m.body.size()));
}

// ---- MsbdMessageReader ----

MsbdMessageReader::MsbdMessageReader(std::size_t max_message_bytes)
    : max_message_(std::clamp(max_message_bytes, kMinMessageSize, kMaxMessageSize)) {}

void MsbdMessageReader::feed(ByteView data) {
    if (failed() || data.empty()) return;
    if (pos_ > 0) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
    buf_.insert(buf_.end(), data.begin(), data.end());
}

MsbdMessageReader::Status MsbdMessageReader::fail(std::string message) {
    error_ = std::move(message);
    buf_ = Bytes();
    pos_ = 0;
    return Status::malformed;
}

MsbdMessageReader::Status MsbdMessageReader::next(MsbdMessage& out) {
    if (failed()) return Status::malformed;
    const std::size_t avail = buf_.size() - pos_;
    if (avail == 0) return Status::need_more;
    const std::uint8_t* p = buf_.data() + pos_;
    // MS-MSBD 2.2.1, field by field as the bytes arrive.
    const std::size_t sig = std::min<std::size_t>(avail, 4);
    if (std::memcmp(p, kSignatureBytes, sig) != 0)
        return fail(fmt::format("dwSignature {} is not 4D 53 42 20 (\"MSB \", MS-MSBD 2.2.1)", hex(ByteView(p, sig))));
    if (avail < 8) return Status::need_more;
    const std::uint16_t id = le16(p + 6);
    if (!is_message_id(id)) return fail(fmt::format("wMessageId 0x{:04X} is not a message MS-MSBD 2.2.1 defines", id));
    if (avail < 12) return Status::need_more;
    const std::uint32_t size = le32(p + 8);
    if (size < kMinMessageSize)
        return fail(fmt::format("{}: cbMessage {} is below 16, the size of its header (MS-MSBD 2.2.1)", message_name(id), size));
    if (size > max_message_)
        return fail(fmt::format("{}: cbMessage {} is above {} bytes{}", message_name(id), size, max_message_,
                                max_message_ == kMaxMessageSize ? " (MS-MSBD 2.2.1)" : ", the bound for this peer"));
    if (avail < size) return Status::need_more;
    out.version = le16(p + 4);
    out.id = static_cast<MessageId>(id);
    out.hr = le32(p + 12);
    out.body.assign(p + kHeaderSize, p + size);
    pos_ += size;
    ++messages_;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    return Status::message;
}

}  // namespace asfcast::msbd
