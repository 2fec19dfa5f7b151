// asfmux: our own ASF writer and reader. Pure: no sockets, no files, no threads, no clocks
// (time comes in as arguments). Layouts follow ../shared/specs/ASF-notes.md; the section
// numbers in comments (ASF-notes §N) refer to that fact sheet.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/media.hpp"
#include "asfcast/core/muxed.hpp"

namespace asfcast::asfmux {

using Guid = std::array<std::uint8_t, 16>;  // bytes as stored on disk (ASF-notes §1)

struct MuxConfig {
    std::uint32_t packet_size = 8192;        // every data packet is exactly this long
    std::uint32_t preroll_ms = 3000;         // File Properties Preroll; added to presentation times
    std::uint32_t max_packet_delay_ms = 100; // flush a packet when its oldest data waited this long
    bool key_frame_starts_packet = true;     // video key frames begin a new packet (clean joins)
};

struct Metadata {
    std::string title, author, copyright, description, rating;
    // Extended Content Description: name -> UTF-16 string value (e.g. "WM/EncodingSettings").
    std::vector<std::pair<std::string, std::string>> extended;
};

// A script command stream: ASF "Command Media" (ASF-notes §3). Each media object is one command,
// two NUL-terminated UTF-16LE strings, the type ("CAPTION", "URL", ...) then its parameter: the
// "two strings" script format of the Windows Media Format SDK (WMSCRIPTTYPE_TwoStrings, whose GUID
// is the stream's type-specific data). See encode_script_command().
struct CommandStreamFormat {
    int stream = 3;
    std::uint32_t bitrate = 2000;  // bits/s declared in Stream Bitrate Properties and Extended Stream Properties
    std::string stream_name;       // optional Extended Stream Properties name
};

struct StreamSet {
    std::vector<VideoStreamFormat> video;
    std::vector<AudioStreamFormat> audio;
    std::vector<CommandStreamFormat> commands;  // none or one
    // What a header declares, bits/s, packetization overhead included: per stream (the Stream
    // Bitrate Properties records, in stream-number order as ordered_streams lists them), at least
    // the stream's share of the packets sent in any second; and their sum, the File Properties
    // Maximum Bitrate. `extension_bytes`: payload extension data in every payload's replicated data.
    std::vector<std::uint32_t> stream_bitrates(const MuxConfig& config, std::size_t extension_bytes = 0) const;
    std::uint32_t total_bitrate(const MuxConfig& config, std::size_t extension_bytes = 0) const;
};

// What the archive patches in at the end (ASF-notes §5, §15).
struct FileTotals {
    std::uint64_t file_size = 0;       // bytes of header + data object + indexes
    std::uint64_t data_packets = 0;
    Micros play_duration = 0;          // duration of the content, without preroll
    Micros send_duration = 0;
};

// One payload extension system of an Extended Stream Properties Object (ASF-notes §8): its data
// is carried in every payload's replicated data after the 8 bytes of object size and presentation
// time, in the order the systems are listed. Only fixed sizes (not 0xFFFF) are accepted, so that
// the packetizer knows every payload header's size before it writes it.
struct PayloadExtensionSystem {
    Guid id{};
    std::uint16_t data_size = 0;  // bytes per payload
    Bytes info;                   // Extension System Info
};

struct StreamProtection {
    int stream = 0;
    bool encrypted = true;                            // Stream Properties Flags bit 15 (ASF-notes §6)
    std::vector<PayloadExtensionSystem> extensions;  // listed in the stream's Extended Stream Properties
    std::optional<Guid> stream_type;                 // replaces the Stream Type GUID (e.g. an encrypted command type)
};

// What a packager adds to the header. Objects are complete ASF objects (GUID, QWORD size, body).
struct ProtectionHeader {
    std::string description;                      // for logs ("PlayReady AES-128-CTR, KID ..."); never key material
    std::vector<Bytes> header_objects;            // children of the Header Object
    std::vector<Bytes> header_extension_objects;  // children of the Header Extension Object
    std::vector<StreamProtection> streams;        // streams without an entry are not flagged, no extension
    const StreamProtection* stream(int number) const {
        for (const auto& s : streams)
            if (s.stream == number) return &s;
        return nullptr;
    }
    // Bytes of payload extension data a payload of `number` carries (sum of the systems' sizes).
    std::size_t extension_bytes(int number) const;
};

// A script command as the header's Script Command Object lists it (ASF-notes §12) and as a
// command stream carries it. `pts` is the presentation time without the preroll.
struct ScriptCommand {
    Micros pts = 0;
    std::string type;       // CAPTION, URL, FILENAME, EVENT, TEXT or a custom type
    std::string parameter;
};

// A named point of the recording (Marker Object, ASF-notes §12): players list them and jump there.
struct Marker {
    Micros pts = 0;              // presentation time without the preroll
    std::string name;
    std::uint64_t packet = 0;    // number of the first data packet sent at or after it
    std::uint32_t send_time_ms = 0;
};

// What the final header of an archive lists, in the room the live header reserved.
struct ScriptListing {
    std::vector<ScriptCommand> commands;
    std::vector<Marker> markers;
};

// What build_final() could list in the reserved room (the rest stays in the command stream only).
struct FinalHeaderReport {
    std::size_t commands_listed = 0, commands_dropped = 0;
    std::size_t markers_listed = 0, markers_dropped = 0;
};

// Additions to the header: what a packager adds (ASF-notes §4, §6–§8) and the room for the
// Script Command and Marker Objects that the archive's final header lists.
struct HeaderAdditions {
    std::optional<ProtectionHeader> protection;
    // Bytes of the live header given to a Padding Object (ASF-notes §14) that build_final() fills
    // with a Script Command Object and a Marker Object, so that the final header keeps the live
    // header's length. 0: none (no listing in the archive). At least 24 when not 0.
    std::uint32_t reserve_bytes = 0;
};

// Builds the Header Object + 50-byte Data Object start. Objects written (ASF-notes §4–§11):
// File Properties, Stream Properties per stream, Header Extension holding Extended Stream
// Properties per stream, Stream Bitrate Properties, Codec List, Content Description,
// Extended Content Description; then the protection objects and the reserved room, if any.
class HeaderBuilder {
public:
    // Throws std::invalid_argument for streams or additions it cannot write (a protection entry
    // for an unknown stream, a variable-size payload extension, more than 247 extension bytes per
    // payload, a malformed protection object, a reservation below 24 bytes).
    HeaderBuilder(MuxConfig config, StreamSet streams, Metadata metadata, Guid file_id,
                  std::uint64_t creation_filetime, HeaderAdditions additions = {});

    // Live/broadcast header: Broadcast flag set, Seekable clear, sizes/counts/durations 0,
    // min = max packet size, non-zero max bitrate, Data Object size 50 and packet count 0.
    MuxedHeader build_live() const;
    // The same header for a finished file: same length, byte-for-byte the same except File
    // Properties (file size, packet count, play/send duration, flags = Seekable) and the Data
    // Object size/packet count. The archive overwrites the live header with this at the end.
    // With a reservation, `listing` goes into it: a Script Command Object (ASF-notes §12) with the
    // commands, a Marker Object with the markers (both in presentation order), and a Padding Object
    // with what is left; what does not fit is left out and counted in `report`.
    Bytes build_final(const FileTotals& totals, const ScriptListing& listing = {},
                      FinalHeaderReport* report = nullptr) const;

    const Guid& file_id() const { return file_id_; }
    bool protected_content() const { return additions_.protection.has_value(); }

private:
    Bytes build(const FileTotals* totals, const ScriptListing* listing, FinalHeaderReport* report) const;

    MuxConfig config_;
    StreamSet streams_;
    Metadata metadata_;
    Guid file_id_;
    std::uint64_t creation_filetime_;
    HeaderAdditions additions_;
};

class Packager;  // packager.hpp

// Turns encoded frames (in send order) into fixed-size data packets (ASF-notes §16): EC header
// 0x82 00 00, several payloads per packet, replicated data (object size, presentation time),
// key-frame flag on every fragment of a video key frame, padding. Audio frames are never split
// across packets; video frames are fragmented freely. Send times never go backwards.
class Packetizer {
public:
    Packetizer(MuxConfig config, const StreamSet& streams);
    // With a packager: every media object goes through packager->protect() before any of its
    // bytes is written, and each payload's replicated data carries the extension data it returns
    // (`protection` is the header the packager gave, the same the HeaderBuilder wrote).
    Packetizer(MuxConfig config, const StreamSet& streams, std::shared_ptr<Packager> packager,
               const ProtectionHeader& protection);

    // Adds one media object. `now_us` is the monotonic time it entered the muxer. Completed
    // packets are appended to `out`. Throws std::invalid_argument for an unknown stream or an
    // audio or command object larger than one packet can carry; lets the packager's exceptions
    // through (PackagerError), in which case nothing of this object was written.
    void add(const EncodedFrame& frame, Micros now_us, std::vector<DataPacket>& out);
    // Closes the open packet if its oldest data has waited max_packet_delay_ms or more.
    void poll(Micros now_us, std::vector<DataPacket>& out);
    // Closes the open packet, if any (end of stream).
    void flush(std::vector<DataPacket>& out);

    // When poll() must next be called to honour the deadline, or nullopt if no packet is open.
    std::optional<Micros> next_deadline() const;
    std::uint64_t packets_written() const { return next_number_; }
    // Largest audio frame a packet can carry (for validation up front), the smallest over the
    // audio streams (payload extension data takes room).
    std::size_t max_audio_frame_bytes() const;
    // Largest media object of `stream` that fits one packet (audio and commands are never split).
    std::size_t max_unsplit_bytes(int stream) const;
    bool protected_content() const { return packager_ != nullptr; }

private:
    struct StreamState {
        std::uint8_t kind = 0;           // 0 not configured, 1 video, 2 audio, 3 command
        std::uint8_t object_number = 0;  // Media Object Number of the next frame (mod 256)
        std::uint8_t extension = 0;      // payload extension bytes in the replicated data
        Micros frame_duration_us = 0;    // video: 1 / frame_rate
        std::uint32_t avg_bytes_per_sec = 0;  // audio: for payload durations
    };
    void open_packet(Micros now_us);
    void close_packet(std::vector<DataPacket>& out);
    // Data bytes the next payload (multiple-payload form) of a stream whose payloads carry
    // `extension` bytes of extension data can carry in the open packet.
    std::size_t free_space(std::size_t extension) const;
    void write(const EncodedFrame& frame, ByteView extension, Micros now_us, std::vector<DataPacket>& out);

    MuxConfig config_;
    std::shared_ptr<Packager> packager_;
    EncodedFrame scratch_;  // the object being protected (its buffers are reused)
    Bytes extension_;
    std::array<StreamState, 128> streams_{};
    std::uint64_t next_number_ = 0;
    std::uint32_t last_send_time_ms_ = 0;
    // The open packet: `open_.bytes` is the packet buffer, written in place.
    DataPacket open_;
    bool is_open_ = false;
    bool single_form_ = false;   // its only payload was written in the single-payload form
    std::size_t pos_ = 0;        // write position in open_.bytes
    std::size_t payloads_ = 0;
    std::uint32_t max_dts_ms_ = 0;
};

// Simple Index Object builder for one video stream (ASF-notes §17): one entry per interval,
// each the number of the packet where the latest key frame at or before that time starts.
class SimpleIndexBuilder {
public:
    SimpleIndexBuilder(int stream, std::uint32_t preroll_ms, Micros interval = 1'000'000);
    void add_packet(const DataPacket& packet) { add_packet(packet, packet.number); }
    // `number`: the packet's place in the file, when the file skipped packets of the stream.
    void add_packet(const DataPacket& packet, std::uint64_t number);
    Bytes build(const Guid& file_id) const;
    int stream() const { return stream_; }
    std::size_t entries() const;  // index entries build() would write now

private:
    struct Key {
        Micros time_us;         // presentation time incl. preroll, whole ms, in us
        std::uint32_t packet;   // packet number where the key frame starts
        std::uint16_t count;    // packets it spans
    };
    int stream_;
    std::uint32_t preroll_ms_;
    Micros interval_;
    std::vector<Key> keys_;
    Micros extent_us_ = 0;  // latest presentation time (incl. preroll) seen in any packet
    // The key frame whose fragments may still continue into later packets.
    bool key_open_ = false;
    std::uint32_t key_object_ = 0;  // its Media Object Number
};

// ---- Reading (asfcast inspect, tests, fuzzing). All parsers throw ParseError on bad input. ----

struct ObjectInfo {
    std::string name;          // "File Properties", or the GUID string when unknown
    Guid guid{};
    std::uint64_t offset = 0;  // from the start of the file/header
    std::uint64_t size = 0;
    int depth = 0;             // 0 top level, 1 in Header Object, 2 in Header Extension
};

struct StreamInfo {
    int number = 0;
    MediaKind kind = MediaKind::video;  // command: a Command Media stream (script commands)
    bool spread_error_correction = false;
    bool encrypted = false;             // Stream Properties Flags bit 15 (Encrypted Content)
    Guid type{};                        // Stream Type GUID as stored
    // video
    int width = 0, height = 0;
    std::string fourcc;
    // audio
    std::uint16_t format_tag = 0;
    std::uint16_t channels = 0;
    std::uint32_t sample_rate = 0;
    std::uint32_t avg_bytes_per_sec = 0;
    std::uint16_t block_align = 0;
    Bytes codec_data;
    std::uint32_t bitrate = 0;  // from Stream Bitrate Properties
    bool has_extended_properties = false;
    std::string name;  // first Stream Name in Extended Stream Properties, if any
    std::vector<PayloadExtensionSystem> payload_extensions;  // from Extended Stream Properties, in order
    // Payload extension bytes per payload when every system has a fixed size, else nullopt.
    std::optional<std::size_t> extension_bytes() const;
};

// One command of a Script Command Object (ASF-notes §12).
struct ScriptCommandInfo {
    std::uint32_t time_ms = 0;  // presentation time as stored (includes the preroll)
    std::string type;           // from the command type table ("" if the index is out of range)
    std::string name;           // the command's parameter
};

// One entry of a Marker Object (ASF-notes §12).
struct MarkerInfo {
    std::uint64_t offset = 0;       // bytes into the Data Object's packets
    std::uint64_t time_100ns = 0;   // presentation time as stored (includes the preroll)
    std::uint32_t send_time_ms = 0;
    std::string description;
};

// A Protection System Identifier Object (PlayReady: 9A04F079-9840-4286-AB92-E65BE0885F95):
// System ID, System Version, then the system's data (PlayReady: a PlayReady Object).
struct ProtectionSystemInfo {
    Guid system_id{};
    std::uint32_t version = 0;
    Bytes data;
};

// A Bitrate Mutual Exclusion Object (ASF-notes §13): the listed streams are alternatives.
struct ExclusionGroup {
    std::string type;          // "Mutex Bitrate", "Mutex Language", "Mutex Unknown" or the GUID
    std::vector<int> streams;  // stream numbers, as listed
};

struct HeaderInfo {
    std::vector<ObjectInfo> objects;
    std::uint32_t header_object_count = 0;  // Number of Header Objects, as stored
    Guid file_id{};
    std::uint64_t file_size = 0;
    std::uint64_t data_packets = 0;
    std::uint64_t play_duration_100ns = 0;
    std::uint64_t send_duration_100ns = 0;
    std::uint64_t preroll_ms = 0;
    std::uint32_t flags = 0;  // bit 0 broadcast, bit 1 seekable
    std::uint32_t min_packet_size = 0, max_packet_size = 0, max_bitrate = 0;
    std::vector<StreamInfo> streams;
    std::vector<std::string> codecs;  // Codec List names
    std::vector<ExclusionGroup> mutual_exclusions;  // Bitrate Mutual Exclusion Objects, in order
    Metadata metadata;
    std::vector<std::string> script_command_types;   // Script Command Object type table
    std::vector<ScriptCommandInfo> script_commands;  // Script Command Object commands, as stored
    std::vector<MarkerInfo> markers;                 // Marker Object entries, as stored
    std::vector<ProtectionSystemInfo> protection_systems;
    std::uint64_t header_size = 0;       // Header Object size
    std::uint64_t data_object_size = 0;  // as stored
    std::uint64_t data_object_packets = 0;
};

// Parses a Header Object followed by the 50-byte Data Object start.
HeaderInfo parse_header(ByteView bytes);

struct PayloadInfo {
    int stream = 0;
    bool keyframe = false;
    std::uint32_t object_number = 0;
    std::uint32_t offset = 0;        // offset into media object
    std::uint32_t object_size = 0;   // from replicated data
    std::uint32_t pts_ms = 0;        // presentation time incl. preroll
    std::uint32_t length = 0;        // payload data bytes
    std::uint32_t data_at = 0;       // where the payload data starts in the packet bytes given
    bool compressed = false;
    Bytes extension;                 // replicated data after its first 8 bytes (payload extension data)
};

struct PacketInfo {
    bool error_correction = false;
    bool multiple_payloads = false;
    std::uint32_t packet_length = 0;  // explicit or the fixed size
    std::uint32_t padding = 0;
    std::uint32_t send_time_ms = 0;
    std::uint16_t duration_ms = 0;
    std::vector<PayloadInfo> payloads;
};

// Parses one data packet in its file form; `packet_size` is the fixed size from File Properties.
PacketInfo parse_packet(ByteView packet, std::uint32_t packet_size);

// Parses one packet as it came in a $D / MSB packet (wire form): its length is what was received
// (MS-WMSP 2.2.3.3), unless an explicit Packet Length field says otherwise.
PacketInfo parse_wire_packet(ByteView packet, std::uint32_t packet_size);

// The wire form of a file-form packet made by another muxer (a pre-encoded file): the Padding
// Length field and the Padding Data removed, the Length Type Flags saying neither exists
// (MS-WMSP 2.2.3.3, MS-WMHTTP 2.2.3.3, MS-MSB 2.2.4). A single-payload packet with padding is
// first rewritten in the multiple-payloads layout, so that a client that pads it back to the
// packet size reads no zeros as media; when that layout would not fit (a padding of 1 byte with a
// BYTE field), the packet is returned whole with its padding, which the specs allow (SHOULD).
// Our own Packetizer makes both forms itself (DataPacket::wire_form); nothing re-parses them.
Bytes to_wire_form(ByteView packet, std::uint32_t packet_size);

// Adds `delta_ms` to a packet's Send Time and to the presentation time of every payload (the
// replicated data's, or a compressed payload's Presentation Time field), in place (ASF-notes §16).
// `wire`: the packet is in wire form (parse_wire_packet), else file form. A playlist re-times the
// packets of each entry so that times keep increasing across entries. Throws ParseError for a
// malformed packet or a time that would leave its field (below 0, or wider than the field).
void retime_packet(Bytes& packet, std::uint32_t packet_size, bool wire, std::int64_t delta_ms);

// A copy of a header (Header Object + the 50-byte Data Object start) with the File Properties and
// Data Object fields of a live stream (totals null: Broadcast flag, Seekable clear, sizes, counts
// and durations 0, Data Object size 50) or of a finished file (`totals`: Seekable, the totals;
// play duration gets the header's preroll added as ASF-notes §5 asks). Used for headers that
// HeaderBuilder did not write (a playlist's pre-encoded file). Throws ParseError when `header`
// does not parse or has fixed packet sizes that differ.
Bytes header_with_totals(ByteView header, const FileTotals* totals);

// The wire form of a packet holding only the payloads of streams with keep_stream[number] set, or
// nullopt when no payload remains. `packet` is a file-form or wire-form packet of a stream whose
// fixed size is `packet_size`. Send time, duration and the payloads' bytes are kept; a
// multiple-payload packet stays in that layout even with one payload left. Used for MS-WMSP
// stream selection (2.2.1.4.27). Throws ParseError for a malformed packet.
std::optional<Bytes> filter_packet_streams(ByteView packet, std::uint32_t packet_size,
                                           const std::array<bool, 128>& keep_stream);

std::string guid_to_string(const Guid& g);
// "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" (optionally in braces, any case) in the on-disk order of
// ASF-notes §1, or nullopt.
std::optional<Guid> parse_guid(std::string_view text);
// A script command's media object (CommandStreamFormat): type and parameter as NUL-terminated
// UTF-16LE strings (a byte sequence that is not UTF-8 becomes U+FFFD).
Bytes encode_script_command(std::string_view type, std::string_view parameter);
// The reverse; nullopt unless `data` is exactly two NUL-terminated UTF-16LE strings.
std::optional<std::pair<std::string, std::string>> decode_script_command(ByteView data);
Guid random_guid();
std::uint64_t unix_to_filetime(std::int64_t unix_seconds);

}  // namespace asfcast::asfmux
