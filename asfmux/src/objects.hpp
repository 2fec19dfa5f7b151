// Internal to asfmux (and its tests): GUID constants, the per-object writers the HeaderBuilder
// composes, and the data-packet layout constants. Section numbers refer to
// shared/specs/ASF-notes.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/bytes.hpp"

namespace asfcast::asfmux::detail {

// ---- GUIDs (ASF-notes §3) ----

constexpr std::uint8_t hex_nibble(char c) {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    throw "bad hex digit in GUID literal";  // only reachable at compile time
}

// Canonical "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" to the on-disk byte order: first group a
// little-endian DWORD, second and third little-endian WORDs, last 8 bytes as written (ASF-notes §1).
constexpr Guid guid_from_string(std::string_view s) {
    if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        throw "malformed GUID literal";
    std::uint8_t b[16]{};
    int n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '-') continue;
        b[n / 2] = static_cast<std::uint8_t>(b[n / 2] | (hex_nibble(s[i]) << ((n % 2) ? 0 : 4)));
        ++n;
    }
    return Guid{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]};
}

namespace guids {
// Top level
inline constexpr Guid header = guid_from_string("75B22630-668E-11CF-A6D9-00AA0062CE6C");
inline constexpr Guid data = guid_from_string("75B22636-668E-11CF-A6D9-00AA0062CE6C");
inline constexpr Guid simple_index = guid_from_string("33000890-E5B1-11CF-89F4-00A0C90349CB");
// In the Header Object
inline constexpr Guid file_properties = guid_from_string("8CABDCA1-A947-11CF-8EE4-00C00C205365");
inline constexpr Guid stream_properties = guid_from_string("B7DC0791-A9B7-11CF-8EE6-00C00C205365");
inline constexpr Guid header_extension = guid_from_string("5FBF03B5-A92E-11CF-8EE3-00C00C205365");
inline constexpr Guid codec_list = guid_from_string("86D15240-311D-11D0-A3A4-00A0C90348F6");
inline constexpr Guid content_description = guid_from_string("75B22633-668E-11CF-A6D9-00AA0062CE6C");
inline constexpr Guid extended_content_description = guid_from_string("D2D0A440-E307-11D2-97F0-00A0C95EA850");
inline constexpr Guid stream_bitrate_properties = guid_from_string("7BF875CE-468D-11D1-8D82-006097C9A2B2");
inline constexpr Guid script_command = guid_from_string("1EFB1A30-0B62-11D0-A39B-00A0C90348F6");
inline constexpr Guid marker = guid_from_string("F487CD01-A951-11CF-8EE6-00C00C205365");
inline constexpr Guid padding = guid_from_string("1806D474-CADF-4509-A4BA-9AABCB96AAE8");
// PlayReady in ASF: the Protection System Identifier Object and the PlayReady system ID it names
// (Microsoft PlayReady Format Specification §2.7 "ASF GUIDs", as quoted by mp4parser and read by
// Broadcom's and VisualOn's ASF parsers; see docs/drm.md).
inline constexpr Guid protection_system_identifier = guid_from_string("9A04F079-9840-4286-AB92-E65BE0885F95");
// In the Header Extension
inline constexpr Guid bitrate_mutual_exclusion = guid_from_string("D6E229DC-35DA-11D1-9034-00A0C90349BE");
inline constexpr Guid mutex_language = guid_from_string("D6E22A00-35DA-11D1-9034-00A0C90349BE");
inline constexpr Guid mutex_bitrate = guid_from_string("D6E22A01-35DA-11D1-9034-00A0C90349BE");
inline constexpr Guid mutex_unknown = guid_from_string("D6E22A02-35DA-11D1-9034-00A0C90349BE");
inline constexpr Guid extended_stream_properties = guid_from_string("14E6A5CB-C672-4332-8399-A96952065B5A");
// Stream types, error correction types
inline constexpr Guid audio_media = guid_from_string("F8699E40-5B4D-11CF-A8FD-00805F5C442B");
inline constexpr Guid video_media = guid_from_string("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B");
inline constexpr Guid command_media = guid_from_string("59DACFC0-59E6-11D0-A3AC-00A0C90348F6");
// The "two strings" script format (Windows Media Format SDK WMSCRIPTFORMAT.scriptType): the
// type-specific data of our command streams.
inline constexpr Guid script_type_two_strings = guid_from_string("82F38A70-C29F-11D1-97AD-00A0C95EA850");
inline constexpr Guid no_error_correction = guid_from_string("20FB5700-5B55-11CF-A8FD-00805F5C442B");
inline constexpr Guid audio_spread = guid_from_string("BFC3CD50-618F-11CF-8BB2-00AA00B4E220");
// Reserved fields
inline constexpr Guid reserved_1 = guid_from_string("ABD3D211-A9BA-11CF-8EE6-00C00C205365");
inline constexpr Guid reserved_2 = guid_from_string("86D15241-311D-11D0-A3A4-00A0C90348F6");
inline constexpr Guid reserved_3 = guid_from_string("4B1ACBE3-100B-11D0-A39B-00A0C90348F6");  // Script Command Object
inline constexpr Guid reserved_4 = guid_from_string("4CFEDB20-75F6-11CF-9C0F-00A0C90349CB");  // Marker Object
}  // namespace guids

// Name for any GUID listed in ASF-notes §3 ("File Properties", "Audio Media", ...), else nullptr.
const char* guid_name(const Guid& g);

// ---- Streams in header order ----

struct StreamRef {
    int number = 0;
    const VideoStreamFormat* video = nullptr;  // exactly one of video/audio/command is set
    const AudioStreamFormat* audio = nullptr;
    const CommandStreamFormat* command = nullptr;
};
// All streams sorted by stream number. Throws std::invalid_argument for numbers outside 1..127 or
// used twice.
std::vector<StreamRef> ordered_streams(const StreamSet& streams);

std::uint32_t audio_bitrate(const AudioStreamFormat& a);  // bitrate, or avg_bytes_per_sec*8 if 0

// ---- Object writers (each appends one complete object) ----

struct FilePropertiesFields {
    Guid file_id{};
    std::uint64_t file_size = 0;
    std::uint64_t creation_filetime = 0;
    std::uint64_t data_packets = 0;
    std::uint64_t play_duration_100ns = 0;
    std::uint64_t send_duration_100ns = 0;
    std::uint64_t preroll_ms = 0;
    std::uint32_t flags = 0;
    std::uint32_t packet_size = 0;  // written as both min and max
    std::uint32_t max_bitrate = 0;
};
void write_file_properties(ByteWriter& w, const FilePropertiesFields& f);                // §5
void write_stream_properties(ByteWriter& w, const VideoStreamFormat& v);                 // §6
void write_stream_properties(ByteWriter& w, const AudioStreamFormat& a);                 // §6
void write_stream_properties(ByteWriter& w, const CommandStreamFormat& c);               // §6
// With a packager's StreamProtection: Encrypted Content flag, maybe another Stream Type (§6).
void write_stream_properties_with(ByteWriter& w, const VideoStreamFormat& v, const StreamProtection* prot);
void write_stream_properties_with(ByteWriter& w, const AudioStreamFormat& a, const StreamProtection* prot);
void write_stream_properties_with(ByteWriter& w, const CommandStreamFormat& c, const StreamProtection* prot);
// With a StreamProtection: its payload extension systems are listed (§8).
void write_extended_stream_properties(ByteWriter& w, const VideoStreamFormat& v,
                                      const StreamProtection* prot = nullptr);            // §8
void write_extended_stream_properties(ByteWriter& w, const AudioStreamFormat& a,
                                      const StreamProtection* prot = nullptr);            // §8
void write_extended_stream_properties(ByteWriter& w, const CommandStreamFormat& c,
                                      const StreamProtection* prot = nullptr);            // §8
void write_header_extension(ByteWriter& w, const std::vector<StreamRef>& streams);       // §7
// With a packager's header: its payload extension systems per stream and its objects (§7, §8).
void write_header_extension(ByteWriter& w, const std::vector<StreamRef>& streams,
                            const ProtectionHeader* protection);                          // §7
// Script Command Object: the type table (distinct types in first-use order), then the commands;
// names as NUL-terminated UTF-16LE with their length in characters, NUL included (§12).
std::size_t script_command_object_size(const std::vector<ScriptCommand>& commands);
void write_script_command_object(ByteWriter& w, const std::vector<ScriptCommand>& commands,
                                 std::uint32_t preroll_ms);                               // §12
// Marker Object with no name; entries with offset = packet × packet_size (§12).
std::size_t marker_object_size(const std::vector<Marker>& markers);
void write_marker_object(ByteWriter& w, const std::vector<Marker>& markers, std::uint32_t preroll_ms,
                         std::uint32_t packet_size);                                       // §12
// Padding Object of `size` bytes in all (>= 24), zeros after its header (§14).
void write_padding_object(ByteWriter& w, std::size_t size);                               // §14
// §9; `bitrates[i]` for streams[i] (StreamSet::stream_bitrates, in the same order).
void write_stream_bitrate_properties(ByteWriter& w, const std::vector<StreamRef>& streams,
                                     const std::vector<std::uint32_t>& bitrates);
void write_codec_list(ByteWriter& w, const std::vector<StreamRef>& streams);             // §10
// One Bitrate Mutual Exclusion Object (Mutex Bitrate) per media kind with two or more streams:
// the renditions of an MBR stream are alternatives (§13). Returns the number of objects written.
std::size_t write_bitrate_mutual_exclusions(ByteWriter& w, const std::vector<StreamRef>& streams);  // §13
void write_content_description(ByteWriter& w, const Metadata& m);                        // §11
void write_extended_content_description(ByteWriter& w, const Metadata& m);               // §11
void write_data_object_start(ByteWriter& w, const Guid& file_id, std::uint64_t object_size,
                             std::uint64_t packets);                                      // §15

// Constants of the ExtendedStreamProperties we write (§8).
inline constexpr std::uint32_t kDefaultBufferMs = 3000;

// ---- Data packet layout written by the Packetizer (ASF-notes §16) ----
namespace pkt {
inline constexpr std::uint8_t kEcFlags = 0x82;            // §16.1: EC present, 2 data bytes (00 00)
inline constexpr std::uint8_t kPaddingWord = 0x10;        // §16.2: Length Type Flags: Padding Length WORD
inline constexpr std::uint8_t kMultiplePayloads = 0x01;   // §16.2: Length Type Flags bit 0
inline constexpr std::uint8_t kPropertyFlags = 0x5D;      // §16.2: repl BYTE, offset DWORD, obj# BYTE, stream BYTE
inline constexpr std::uint8_t kPayloadLengthWord = 0x80;  // §16.3: Payload Flags length type WORD
inline constexpr std::uint8_t kReplicatedLength = 8;      // object size D + presentation time D
inline constexpr std::size_t kMaxPayloads = 63;           // 6-bit count in Payload Flags
// Multiple-payloads layout (file form): EC 3, Length Type Flags, Property Flags, Padding Length W,
// Send Time D, Duration W, Payload Flags. The wire form drops the 2 Padding Length bytes.
inline constexpr std::size_t kOffLengthTypeFlags = 3;
inline constexpr std::size_t kOffPadding = 5;
inline constexpr std::size_t kOffSendTime = 7;
inline constexpr std::size_t kOffDuration = 11;
inline constexpr std::size_t kOffPayloadFlags = 13;
inline constexpr std::size_t kMultipleHeader = 14;
// Single-payload layout, used only for a packet its payload fills completely (no padding, so no
// Padding Length field): EC 3, Length Type Flags, Property Flags, Send Time D, Duration W.
inline constexpr std::size_t kSingleHeader = 11;
inline constexpr std::size_t kSingleOffSendTime = 5;
inline constexpr std::size_t kSingleOffDuration = 9;
inline constexpr std::size_t kSinglePayloadHeader = 15;    // stream, obj#, offset D, repl len, repl 8
inline constexpr std::size_t kMultiplePayloadHeader = 17;  // + payload length W
inline constexpr std::size_t kMinPacketSize = kMultipleHeader + kMultiplePayloadHeader + 1;
inline constexpr std::size_t kMaxPacketSize = 65535;
}  // namespace pkt

}  // namespace asfcast::asfmux::detail
