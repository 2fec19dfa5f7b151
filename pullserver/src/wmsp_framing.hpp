// MS-WMSP 2.2.3 packet framing, written by the server: the 4-byte Framing Header (2.2.3.1.1)
// followed by an MMS Data Packet (2.2.3.1.2) or a Reason. The B bit is always 0: we never promise
// that the next packet follows immediately.
#pragma once

#include <array>
#include <cstdint>

#include "asfcast/core/bytes.hpp"

namespace asfcast::pull {

inline constexpr std::uint8_t kFrameMarker = 0x24;          // MS-WMSP 2.2.3.1.1: Frame 0x24, B 0
inline constexpr std::size_t kMmsPacketHeaderSize = 8;      // LocationId, Incarnation, AFFlags, PacketSize
inline constexpr std::size_t kMaxMmsPacketSize = 65535;     // MS-WMSP 2.2.3.1.2
inline constexpr std::size_t kMaxMmsPayload = kMaxMmsPacketSize - kMmsPacketHeaderSize;
// $H/$M AFFlags (MS-WMSP 2.2.3.1.2).
inline constexpr std::uint8_t kAfFirst = 0x04;
inline constexpr std::uint8_t kAfLast = 0x08;
inline constexpr std::uint8_t kAfMiddle = 0x00;
inline constexpr std::uint8_t kAfSingle = kAfFirst | kAfLast;

// The ASF header (Header Object + 50-byte Data Object start) as one or more $H packets, each MMS
// packet at most 65,535 bytes; LocationId counts the pieces from 0 (MS-WMSP 2.2.3.5).
Bytes header_packets(ByteView asf_header, std::uint8_t incarnation);

// The 12 bytes that precede an ASF packet of `payload_size` bytes in a $D packet (MS-WMSP 2.2.3.3):
// PacketLength == PacketSize == 8 + payload_size (VLC reads one, ffmpeg the other). `afflags` is the
// $D sequence number. Throws std::length_error when the MMS packet would exceed 65,535 bytes.
std::array<std::uint8_t, 12> data_packet_prefix(std::uint32_t location_id, std::uint8_t incarnation,
                                                std::uint8_t afflags, std::uint16_t payload_size);

// $E (MS-WMSP 2.2.3.4): reason 0 ends the stream; 1 means another playlist entry follows.
std::array<std::uint8_t, 8> end_of_stream_packet(std::uint32_t reason);
// $C (MS-WMSP 2.2.3.2): the server moves to another playlist entry; a new $H follows.
std::array<std::uint8_t, 8> stream_change_packet(std::uint32_t reason);

}  // namespace asfcast::pull
