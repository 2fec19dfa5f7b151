// The MS-MSBD wire format (2.2): the 16-byte MSBMSGBASE header every message starts with, builders
// for the messages a server sends, decoders for every message body, and MsbdMessageReader, which
// cuts a TCP byte stream into messages under a size bound. Plain functions and one plain class: no
// sockets, no clock. Every integer is little-endian (2.2) except the sin_port and sin_addr fields
// of MSB_MSG_RES_CONNECT (2.2.8), which are big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "asfcast/core/bytes.hpp"

namespace asfcast::msbd {

// MS-MSBD 2.2.1 MSBMSGBASE.
inline constexpr std::uint32_t kSignature = 0x2042534D;  // "MSB " read as a little-endian DWORD
inline constexpr std::uint16_t kVersion = 0x0106;
inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kMinMessageSize = 0x0010;  // cbMessage range (2.2.1)
inline constexpr std::size_t kMaxMessageSize = 0xFFFF;

// 2.2.10: IND_PACKET = header + dwPacketId + wStreamId + wPacketSize + bPayload; wPacketSize
// (payload + 8) is at most 0xFFEF, so one ASF packet is at most 0xFFE7 bytes.
inline constexpr std::size_t kPacketPrefixSize = kHeaderSize + 8;
inline constexpr std::size_t kMaxPacketPayload = 0xFFEF - 8;
// 2.2.5/2.2.6: the fixed part of a STREAMINFO message; bBinaryData is at most 65,487 bytes and
// cbHeader at most 0xFFCF.
inline constexpr std::size_t kStreamInfoFixedSize = kHeaderSize + 32;
inline constexpr std::size_t kMaxStreamInfoBinary = 65487;
inline constexpr std::size_t kMaxStreamInfoHeader = 0xFFCF;
// 2.2.8: MSB_MSG_RES_CONNECT is the header + dwFlags + a 16-byte sockaddr_in.
inline constexpr std::size_t kConnectResponseSize = kHeaderSize + 20;

// wMessageId (2.2.1).
enum class MessageId : std::uint16_t {
    req_ping = 0x0001,        // 2.2.3, server to client
    res_ping = 0x0002,        // 2.2.2, client to server
    req_streaminfo = 0x0003,  // 2.2.4, client to server (deprecated)
    res_streaminfo = 0x0004,  // 2.2.5, server to client
    ind_streaminfo = 0x0005,  // 2.2.6, server to client
    req_connect = 0x0007,     // 2.2.7, client to server
    res_connect = 0x0008,     // 2.2.8, server to client
    ind_eos = 0x0009,         // 2.2.9, server to client
    ind_packet = 0x000A,      // 2.2.10, server to client
};

// True for the nine values 2.2.1 lists (0x0006 is not one of them).
bool is_message_id(std::uint16_t value);
// "MSB_MSG_REQ_CONNECT"; "unknown message 0x0006" for other values.
std::string message_name(std::uint16_t value);
inline std::string message_name(MessageId id) { return message_name(static_cast<std::uint16_t>(id)); }

// dwFlags of MSB_MSG_REQ_CONNECT (2.2.7).
inline constexpr std::uint32_t kConnectOverTcp = 0x0001;     // packets on this TCP connection
inline constexpr std::uint32_t kConnectMulticast = 0x0002;   // packets to an IP multicast group

// HRESULT values this server sends (MS-ERREF 2.1).
namespace hresult {
inline constexpr std::uint32_t ok = 0x00000000;
inline constexpr std::uint32_t fail = 0x80004005;                 // E_FAIL
inline constexpr std::uint32_t invalid_argument = 0x80070057;     // E_INVALIDARG (3.1.5.1)
inline constexpr std::uint32_t multicast_not_offered = 0xC00D001A;  // 3.1.5.1, UDP delivery refused
inline constexpr std::uint32_t access_denied = 0x80070005;        // E_ACCESSDENIED: address rules
// HRESULT_FROM_WIN32(ERROR_REQ_NOT_ACCEP): no more connections can be accepted now.
inline constexpr std::uint32_t too_many_connections = 0x80070047;
inline constexpr std::uint32_t no_more_streams = 0xC00D0033;      // 3.1.5.3, the empty STREAMINFO
inline bool failed(std::uint32_t hr) { return (hr & 0x80000000u) != 0; }
}  // namespace hresult

// One message as it came off the wire: the MSBMSGBASE fields and the bytes after them.
struct MsbdMessage {
    std::uint16_t version = 0;
    MessageId id = MessageId::req_ping;
    std::uint32_t hr = 0;
    Bytes body;  // cbMessage - 16 bytes
};

// ---- Builders (what a server sends; REQ_CONNECT for tests and load generators) ----

// Appends an MSBMSGBASE header (2.2.1) for a message of `message_size` bytes in all. Throws
// std::invalid_argument when the size is outside 0x0010..0xFFFF.
void append_message_header(Bytes& out, MessageId id, std::size_t message_size, std::uint32_t hr = hresult::ok);

// A message that is only the header: MSB_MSG_REQ_PING, MSB_MSG_RES_PING, MSB_MSG_REQ_STREAMINFO,
// MSB_MSG_IND_EOS (2.2.2, 2.2.3, 2.2.4, 2.2.9).
Bytes header_only_message(MessageId id, std::uint32_t hr = hresult::ok);

// MSB_MSG_RES_CONNECT (2.2.8) for delivery on the TCP connection: dwFlags 0 (the ASF header is not
// in an .nsc file: it comes in the STREAMINFO), sin_family, sin_port, sin_addr and sin_zero all 0.
Bytes connect_response(std::uint32_t hr);

// MSB_MSG_REQ_CONNECT (2.2.7): dwFlags and szChannel as UTF-16LE without a terminating NUL.
Bytes connect_request(std::uint32_t flags, std::string_view channel_utf8 = "NetShow");

// The fields of MSB_MSG_RES_STREAMINFO / MSB_MSG_IND_STREAMINFO (2.2.5, 2.2.6).
struct StreamInfo {
    std::uint16_t stream_id = 0;       // wStreamId: 0x0000..0x07FF or 0x8000..0x87FF
    std::uint16_t packet_size = 0;     // cbPacketSize: largest IND_PACKET payload, 0..0xFFF7
    std::uint32_t total_packets = 0;   // cTotalPackets: 0 when not known (live)
    std::uint32_t bit_rate = 0;        // dwBitRate: File Properties Maximum Bitrate
    std::uint32_t duration_ms = 0;     // msDuration: 0xFFFFFFFF when not known (live)
    Bytes title, description, link;    // bBinaryData parts, in this order, before the header
    Bytes header;                      // the ASF Header Object + the 50-byte Data Object start
};
inline constexpr std::uint32_t kUnknownDuration = 0xFFFFFFFF;

// A STREAMINFO message: `id` is res_streaminfo or ind_streaminfo. Throws std::invalid_argument
// when a field is outside the range 2.2.6 gives (stream id, packet size, cbHeader, bBinaryData).
Bytes stream_info_message(MessageId id, const StreamInfo& info, std::uint32_t hr = hresult::ok);
// The "empty" STREAMINFO that follows MSB_MSG_IND_EOS at the end of the last stream (3.1.5.3):
// every field 0, no bBinaryData, hr 0xC00D0033.
Bytes empty_stream_info(MessageId id = MessageId::ind_streaminfo);

// The first 24 bytes of an MSB_MSG_IND_PACKET (2.2.10) carrying `payload_size` bytes of one ASF
// packet; the packet follows as it is. Throws std::invalid_argument above kMaxPacketPayload.
std::array<std::uint8_t, kPacketPrefixSize> packet_message_prefix(std::uint32_t packet_id, std::uint16_t stream_id,
                                                                  std::size_t payload_size);

// ---- Decoders: each throws ParseError naming the message, the field and the section ----

struct ConnectRequest {
    std::uint32_t flags = 0;  // dwFlags
    Bytes channel;            // szChannel, UTF-16LE as sent (2.2.7: an even number of bytes)
    bool channel_is_unicode() const { return channel.size() % 2 == 0; }
    std::string channel_text() const;  // UTF-8 for log lines (an odd last byte is dropped)
};
ConnectRequest parse_connect_request(const MsbdMessage& m);

struct ConnectResponse {
    std::uint32_t flags = 0;
    std::uint16_t sin_family = 0;
    std::uint16_t sin_port = 0;   // host order (big-endian on the wire)
    std::uint32_t sin_addr = 0;   // host order (big-endian on the wire)
};
ConnectResponse parse_connect_response(const MsbdMessage& m);

// RES_STREAMINFO or IND_STREAMINFO; checks that the four lengths stay inside the message (5.1).
StreamInfo parse_stream_info(const MsbdMessage& m);

struct PacketMessage {
    std::uint32_t packet_id = 0;
    std::uint16_t stream_id = 0;
    ByteView payload;  // a view into the message body
};
// IND_PACKET; checks wPacketSize against the message size and the 0x0008..0xFFEF range.
PacketMessage parse_packet_message(const MsbdMessage& m);

// A header-only message (pings, REQ_STREAMINFO, IND_EOS) with bytes after the header.
void expect_header_only(const MsbdMessage& m);

// ---- MsbdMessageReader: bytes in, whole messages out ----
//
// Checks each MSBMSGBASE field as soon as its bytes are there: a wrong dwSignature, a wMessageId
// 2.2.1 does not list, or a cbMessage below 16 or above the bound fail at once, before the rest of
// the message is waited for or buffered. At most one message (the bound) is held.
class MsbdMessageReader {
public:
    enum class Status { message, need_more, malformed };

    // max_message_bytes: the largest cbMessage accepted (16..0xFFFF; larger values are clamped).
    explicit MsbdMessageReader(std::size_t max_message_bytes = kMaxMessageSize);

    // Appends received bytes. Call next() until it returns need_more before the next feed(), so
    // that the bytes held stay below the bound plus one read.
    void feed(ByteView data);
    // The next complete message into `out`. After `malformed`, error() says why and every later
    // call returns malformed.
    Status next(MsbdMessage& out);

    const std::string& error() const { return error_; }
    bool failed() const { return !error_.empty(); }
    std::size_t buffered() const { return buf_.size() - pos_; }
    std::uint64_t messages() const { return messages_; }

private:
    Status fail(std::string message);

    std::size_t max_message_;
    Bytes buf_;
    std::size_t pos_ = 0;  // start of the next message in buf_
    std::uint64_t messages_ = 0;
    std::string error_;
};

}  // namespace asfcast::msbd
