// Header Object + Data Object start (ASF-notes §4–§11, §15).
//
// Order of the objects in the Header Object (File Properties first, every Stream Properties
// before the Header Extension that refers to the streams, as Windows Media encoders do; ffmpeg,
// GStreamer asfdemux and VLC read the children in any order):
//   File Properties, Stream Properties × N (by stream number), Header Extension (Extended Stream
//   Properties × N), Stream Bitrate Properties, Bitrate Mutual Exclusion (one per media kind with
//   two or more streams: the MBR renditions), Codec List, Content Description, Extended Content
//   Description, then the packager's objects (HeaderAdditions::protection) and the reserved room:
//   a Padding Object in the live header; in the final header a Script Command Object, a Marker
//   Object and a Padding Object that together take exactly the same bytes (§12, §14).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "objects.hpp"

namespace asfcast::asfmux {
namespace detail {
namespace {

// Starts an object (ASF-notes §1: GUID + QWORD size); returns where it begins.
std::size_t begin_object(ByteWriter& w, const Guid& g) {
    const std::size_t at = w.size();
    w.bytes(g.data(), g.size());
    w.u64(0);  // patched by end_object
    return at;
}

void end_object(ByteWriter& w, std::size_t at) { w.patch_u64(at + 16, w.size() - at); }

void put_guid(ByteWriter& w, const Guid& g) { w.bytes(g.data(), g.size()); }

// UTF-16LE bytes of `s` (NUL-terminated if asked), for computing a length before writing.
std::size_t utf16_bytes(std::string_view s, bool nul) {
    ByteWriter tmp;
    return tmp.utf16le(s, nul);
}

// WORD length (in bytes, or characters if `chars`) then the NUL-terminated UTF-16LE string.
// Empty strings are written as length 0 with no bytes when `empty_is_zero`.
void put_counted_string(ByteWriter& w, std::string_view s, bool chars, bool empty_is_zero, const char* what) {
    if (s.empty() && empty_is_zero) {
        w.u16(0);
        return;
    }
    const std::size_t n = utf16_bytes(s, true);
    const std::size_t v = chars ? n / 2 : n;
    if (v > 0xFFFF) throw std::invalid_argument(std::string("ASF header: ") + what + " is too long (over 65535)");
    w.u16(static_cast<std::uint16_t>(v));
    w.utf16le(s, true);
}

std::uint32_t clamp_u32(std::uint64_t v) {
    return v > std::numeric_limits<std::uint32_t>::max() ? std::numeric_limits<std::uint32_t>::max()
                                                          : static_cast<std::uint32_t>(v);
}

std::uint32_t video_data_bitrate(const VideoStreamFormat& v) { return v.max_bitrate ? v.max_bitrate : v.bitrate; }

// Average time per frame in 100-ns units (ASF-notes §8).
std::uint64_t video_frame_time_100ns(const VideoStreamFormat& v) {
    if (!(v.frame_rate > 0.0) || !std::isfinite(v.frame_rate)) return 0;
    return static_cast<std::uint64_t>(std::llround(1e7 / v.frame_rate));
}

// Common part of the Stream Properties Object up to the type-specific data (ASF-notes §6). A
// packager's StreamProtection sets the Encrypted Content flag (bit 15) and may replace the type.
void put_stream_properties_head(ByteWriter& w, const Guid& type, const Guid& ec, std::size_t tsd_len,
                                std::size_t ec_len, int stream, const StreamProtection* prot = nullptr) {
    const bool encrypted = prot && prot->encrypted;
    put_guid(w, prot && prot->stream_type ? *prot->stream_type : type);  // Stream Type
    put_guid(w, ec);                                     // Error Correction Type
    w.u64(0);                                            // Time Offset
    w.u32(static_cast<std::uint32_t>(tsd_len));          // Type-Specific Data Length
    w.u32(static_cast<std::uint32_t>(ec_len));           // Error Correction Data Length
    w.u16(static_cast<std::uint16_t>((stream & 0x7F) | (encrypted ? 0x8000 : 0)));  // Flags: number, bit 15 Encrypted Content
    w.u32(0);                                            // Reserved
}

void put_extended_stream_properties(ByteWriter& w, int stream, std::uint32_t bitrate, std::uint32_t buffer_ms,
                                    std::uint64_t frame_time_100ns, const std::string& name,
                                    const StreamProtection* prot = nullptr) {
    const std::size_t systems = prot ? prot->extensions.size() : 0;
    const std::size_t at = begin_object(w, guids::extended_stream_properties);  // ASF-notes §8
    w.u64(0);               // Start Time
    w.u64(0);               // End Time
    w.u32(bitrate);         // Data Bitrate
    w.u32(buffer_ms);       // Buffer Size
    w.u32(0);               // Initial Buffer Fullness (live: start empty)
    w.u32(bitrate);         // Alternate Data Bitrate
    w.u32(buffer_ms);       // Alternate Buffer Size
    w.u32(0);               // Alternate Initial Buffer Fullness
    w.u32(0);               // Maximum Object Size (unknown)
    w.u32(0);               // Flags: none (the same in live and final headers; see build_final)
    w.u16(static_cast<std::uint16_t>(stream));  // Stream Number
    w.u16(0);               // Stream Language ID Index
    w.u64(frame_time_100ns);  // Average Time Per Frame
    w.u16(name.empty() ? 0 : 1);  // Stream Name Count
    w.u16(static_cast<std::uint16_t>(systems));  // Payload Extension System Count
    if (!name.empty()) {
        w.u16(0);           // Language ID Index
        put_counted_string(w, name, false, false, "stream name");  // length in bytes, incl. NUL
    }
    for (std::size_t i = 0; i < systems; ++i) {
        const PayloadExtensionSystem& e = prot->extensions[i];
        put_guid(w, e.id);                                // Extension System ID
        w.u16(e.data_size);                               // Extension Data Size (fixed)
        w.u32(static_cast<std::uint32_t>(e.info.size()));  // Extension System Info Length
        w.bytes(e.info);                                  // Extension System Info
    }
    end_object(w, at);
}

const StreamProtection* protection_of(const ProtectionHeader* p, int stream) { return p ? p->stream(stream) : nullptr; }


}  // namespace

std::uint32_t audio_bitrate(const AudioStreamFormat& a) {
    return a.bitrate ? a.bitrate : clamp_u32(std::uint64_t{a.avg_bytes_per_sec} * 8);
}

std::vector<StreamRef> ordered_streams(const StreamSet& streams) {
    std::vector<StreamRef> out;
    for (const auto& v : streams.video) out.push_back({v.stream, &v, nullptr, nullptr});
    for (const auto& a : streams.audio) out.push_back({a.stream, nullptr, &a, nullptr});
    for (const auto& c : streams.commands) out.push_back({c.stream, nullptr, nullptr, &c});
    std::sort(out.begin(), out.end(), [](const StreamRef& x, const StreamRef& y) { return x.number < y.number; });
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i].number < 1 || out[i].number > 127)
            throw std::invalid_argument("ASF stream number " + std::to_string(out[i].number) + " is outside 1..127");
        if (i && out[i].number == out[i - 1].number)
            throw std::invalid_argument("ASF stream number " + std::to_string(out[i].number) + " is used twice");
    }
    return out;
}

void write_file_properties(ByteWriter& w, const FilePropertiesFields& f) {
    const std::size_t at = begin_object(w, guids::file_properties);  // ASF-notes §5
    put_guid(w, f.file_id);           // File ID
    w.u64(f.file_size);               // File Size
    w.u64(f.creation_filetime);       // Creation Date
    w.u64(f.data_packets);            // Data Packets Count
    w.u64(f.play_duration_100ns);     // Play Duration (includes preroll)
    w.u64(f.send_duration_100ns);     // Send Duration
    w.u64(f.preroll_ms);              // Preroll (ms)
    w.u32(f.flags);                   // Flags: 0x01 broadcast, 0x02 seekable
    w.u32(f.packet_size);             // Minimum Data Packet Size
    w.u32(f.packet_size);             // Maximum Data Packet Size
    w.u32(f.max_bitrate);             // Maximum Bitrate
    end_object(w, at);
}

void write_stream_properties(ByteWriter& w, const VideoStreamFormat& v) { write_stream_properties_with(w, v, nullptr); }
void write_stream_properties(ByteWriter& w, const AudioStreamFormat& a) { write_stream_properties_with(w, a, nullptr); }
void write_stream_properties(ByteWriter& w, const CommandStreamFormat& c) { write_stream_properties_with(w, c, nullptr); }

void write_stream_properties_with(ByteWriter& w, const VideoStreamFormat& v, const StreamProtection* prot) {
    // ASF-notes §6, video type-specific data: 11 bytes + BITMAPINFOHEADER (40) + codec private.
    const std::size_t extra = v.codec_private.size();
    if (40 + extra > 0xFFFF) throw std::invalid_argument("ASF header: video codec private data is too long");
    const auto width = static_cast<std::uint32_t>(v.width);
    const auto height = static_cast<std::uint32_t>(v.height);
    const std::size_t at = begin_object(w, guids::stream_properties);
    put_stream_properties_head(w, guids::video_media, guids::no_error_correction, 11 + 40 + extra, 0, v.stream, prot);
    w.u32(width);                                      // Encoded Image Width
    w.u32(height);                                     // Encoded Image Height
    w.u8(2);                                           // Reserved Flags
    w.u16(static_cast<std::uint16_t>(40 + extra));     // Format Data Size
    w.u32(static_cast<std::uint32_t>(40 + extra));     // biSize
    w.u32(width);                                      // biWidth
    w.u32(height);                                     // biHeight
    w.u16(1);                                          // biPlanes
    w.u16(24);                                         // biBitCount
    w.u32(v.fourcc);                                   // biCompression
    w.u32(clamp_u32(std::uint64_t{width} * height * 3));  // biSizeImage
    w.u32(0);                                          // biXPelsPerMeter
    w.u32(0);                                          // biYPelsPerMeter
    w.u32(0);                                          // biClrUsed
    w.u32(0);                                          // biClrImportant
    w.bytes(v.codec_private);                          // codec extra data (H.264: Annex B SPS+PPS)
    end_object(w, at);
}

void write_stream_properties_with(ByteWriter& w, const AudioStreamFormat& a, const StreamProtection* prot) {
    // ASF-notes §6, audio type-specific data: WAVEFORMATEX + cbSize bytes; Audio Spread EC data.
    if (a.codec_data.size() > 0xFFFF) throw std::invalid_argument("ASF header: audio codec data is too long");
    const bool spread = a.spread_error_correction;
    const std::size_t at = begin_object(w, guids::stream_properties);
    put_stream_properties_head(w, guids::audio_media, spread ? guids::audio_spread : guids::no_error_correction,
                               18 + a.codec_data.size(), spread ? 8 : 0, a.stream, prot);
    w.u16(a.format_tag);                                        // wFormatTag
    w.u16(a.channels);                                          // nChannels
    w.u32(a.sample_rate);                                       // nSamplesPerSec
    w.u32(a.avg_bytes_per_sec);                                 // nAvgBytesPerSec
    w.u16(a.block_align);                                       // nBlockAlign
    w.u16(a.bits_per_sample);                                   // wBitsPerSample
    w.u16(static_cast<std::uint16_t>(a.codec_data.size()));     // cbSize
    w.bytes(a.codec_data);
    if (spread) {
        // Span 1 = no actual interleaving; virtual packet/chunk = one block (0x190 if unknown).
        const std::uint16_t chunk = a.block_align ? a.block_align : 0x190;
        w.u8(1);        // Span
        w.u16(chunk);   // Virtual Packet Length
        w.u16(chunk);   // Virtual Chunk Length
        w.u16(1);       // Silence Data Length
        w.u8(0);        // Silence Data
    }
    end_object(w, at);
}

void write_stream_properties_with(ByteWriter& w, const CommandStreamFormat& c, const StreamProtection* prot) {
    // ASF-notes §6 with Stream Type Command Media; the type-specific data is the script format
    // (WMSCRIPTFORMAT: one GUID, WMSCRIPTTYPE_TwoStrings); no error correction.
    const std::size_t at = begin_object(w, guids::stream_properties);
    put_stream_properties_head(w, guids::command_media, guids::no_error_correction, 16, 0, c.stream, prot);
    put_guid(w, guids::script_type_two_strings);
    end_object(w, at);
}

void write_extended_stream_properties(ByteWriter& w, const VideoStreamFormat& v, const StreamProtection* prot) {
    put_extended_stream_properties(w, v.stream, video_data_bitrate(v), v.buffer_ms ? v.buffer_ms : kDefaultBufferMs,
                                   video_frame_time_100ns(v), v.stream_name, prot);
}

void write_extended_stream_properties(ByteWriter& w, const AudioStreamFormat& a, const StreamProtection* prot) {
    // Average Time Per Frame 0 for audio: frame durations are not fixed for every codec (MP3's
    // nBlockAlign is 1), so "unknown" is the honest value.
    put_extended_stream_properties(w, a.stream, audio_bitrate(a), kDefaultBufferMs, 0, a.stream_name, prot);
}

void write_extended_stream_properties(ByteWriter& w, const CommandStreamFormat& c, const StreamProtection* prot) {
    put_extended_stream_properties(w, c.stream, c.bitrate, kDefaultBufferMs, 0, c.stream_name, prot);
}

void write_header_extension(ByteWriter& w, const std::vector<StreamRef>& streams) {
    write_header_extension(w, streams, nullptr);
}

void write_header_extension(ByteWriter& w, const std::vector<StreamRef>& streams, const ProtectionHeader* protection) {
    const std::size_t at = begin_object(w, guids::header_extension);  // ASF-notes §7
    put_guid(w, guids::reserved_1);  // Reserved Field 1
    w.u16(6);                        // Reserved Field 2
    const std::size_t size_at = w.size();
    w.u32(0);                        // Header Extension Data Size (patched)
    for (const auto& s : streams) {
        const StreamProtection* prot = protection_of(protection, s.number);
        if (s.video) write_extended_stream_properties(w, *s.video, prot);
        else if (s.audio) write_extended_stream_properties(w, *s.audio, prot);
        else write_extended_stream_properties(w, *s.command, prot);
    }
    if (protection)
        for (const Bytes& object : protection->header_extension_objects) w.bytes(object);  // complete objects
    w.patch_u32(size_at, static_cast<std::uint32_t>(w.size() - size_at - 4));
    end_object(w, at);
}

void write_stream_bitrate_properties(ByteWriter& w, const std::vector<StreamRef>& streams,
                                     const std::vector<std::uint32_t>& bitrates) {
    const std::size_t at = begin_object(w, guids::stream_bitrate_properties);  // ASF-notes §9
    w.u16(static_cast<std::uint16_t>(streams.size()));  // Bitrate Records Count
    for (std::size_t i = 0; i < streams.size(); ++i) {
        w.u16(static_cast<std::uint16_t>(streams[i].number));  // Flags: stream number
        w.u32(i < bitrates.size() ? bitrates[i] : 0);            // Average Bitrate, overhead included
    }
    end_object(w, at);
}

std::size_t write_bitrate_mutual_exclusions(ByteWriter& w, const std::vector<StreamRef>& streams) {
    // ASF-notes §13: Exclusion Type GUID, Stream Numbers Count W, Stream Numbers W×n. Windows Media
    // MBR encoders write one object per media kind listing the alternative streams; a player (or
    // a server on the player's behalf) picks one stream of each group by bandwidth.
    std::size_t written = 0;
    for (const bool video : {true, false}) {
        std::vector<int> numbers;
        for (const auto& s : streams)
            if (!s.command && (s.video != nullptr) == video) numbers.push_back(s.number);
        if (numbers.size() < 2) continue;
        const std::size_t at = begin_object(w, guids::bitrate_mutual_exclusion);
        put_guid(w, guids::mutex_bitrate);                        // Exclusion Type
        w.u16(static_cast<std::uint16_t>(numbers.size()));      // Stream Numbers Count
        for (int n : numbers) w.u16(static_cast<std::uint16_t>(n));  // Stream Numbers
        end_object(w, at);
        ++written;
    }
    return written;
}

void write_codec_list(ByteWriter& w, const std::vector<StreamRef>& streams) {
    const std::size_t at = begin_object(w, guids::codec_list);  // ASF-notes §10
    put_guid(w, guids::reserved_2);                      // Reserved
    const auto entries = std::count_if(streams.begin(), streams.end(), [](const StreamRef& s) { return !s.command; });
    w.u32(static_cast<std::uint32_t>(entries));          // Codec Entries Count (a command stream has no codec)
    for (const auto& s : streams) {
        if (s.command) continue;
        w.u16(s.video ? 1 : 2);  // Type: 1 video, 2 audio
        const std::string& name = s.video ? s.video->codec_name : s.audio->codec_name;
        const std::string& desc = s.video ? s.video->codec_description : s.audio->codec_description;
        put_counted_string(w, name, true, false, "codec name");         // length in characters incl. NUL
        put_counted_string(w, desc, true, false, "codec description");  // length in characters incl. NUL
        if (s.video) {
            w.u16(4);               // Codec Information Length
            w.u32(s.video->fourcc); // FourCC
        } else {
            w.u16(2);                  // Codec Information Length
            w.u16(s.audio->format_tag);  // wFormatTag
        }
    }
    end_object(w, at);
}

void write_content_description(ByteWriter& w, const Metadata& m) {
    // ASF-notes §11: five WORD byte lengths, then the strings. Empty fields: length 0, no bytes.
    const std::string* fields[] = {&m.title, &m.author, &m.copyright, &m.description, &m.rating};
    const std::size_t at = begin_object(w, guids::content_description);
    for (const std::string* f : fields) {
        const std::size_t n = f->empty() ? 0 : utf16_bytes(*f, true);
        if (n > 0xFFFF) throw std::invalid_argument("ASF header: a content description field is too long");
        w.u16(static_cast<std::uint16_t>(n));
    }
    for (const std::string* f : fields)
        if (!f->empty()) w.utf16le(*f, true);
    end_object(w, at);
}

void write_extended_content_description(ByteWriter& w, const Metadata& m) {
    if (m.extended.size() > 0xFFFF) throw std::invalid_argument("ASF header: too many extended content descriptors");
    const std::size_t at = begin_object(w, guids::extended_content_description);  // ASF-notes §11
    w.u16(static_cast<std::uint16_t>(m.extended.size()));  // Content Descriptors Count
    for (const auto& [name, value] : m.extended) {
        put_counted_string(w, name, false, false, "descriptor name");    // Name Length (bytes) + name
        w.u16(0);                                                         // Value Data Type: UTF-16 string
        put_counted_string(w, value, false, false, "descriptor value");  // Value Length (bytes) + value
    }
    end_object(w, at);
}


// ---- Script Command Object, Marker Object, Padding Object (ASF-notes §12, §14) ----

namespace {

// Characters (UTF-16 code units) of `s` with its NUL terminator.
std::size_t utf16_chars_with_nul(std::string_view s) { return utf16_bytes(s, true) / 2; }

std::vector<std::string> command_types(const std::vector<ScriptCommand>& commands) {
    std::vector<std::string> types;
    for (const auto& c : commands)
        if (std::find(types.begin(), types.end(), c.type) == types.end()) types.push_back(c.type);
    return types;
}

std::uint32_t ms_with_preroll(Micros pts, std::uint32_t preroll_ms) {
    const std::int64_t ms = (pts > 0 ? pts / 1000 : 0) + preroll_ms;
    return ms > 0xFFFFFFFFLL ? 0xFFFFFFFFu : static_cast<std::uint32_t>(ms);
}

}  // namespace

std::size_t script_command_object_size(const std::vector<ScriptCommand>& commands) {
    std::size_t size = 24 + 16 + 2 + 2;
    for (const auto& t : command_types(commands)) size += 2 + 2 * utf16_chars_with_nul(t);
    for (const auto& c : commands) size += 4 + 2 + 2 + 2 * utf16_chars_with_nul(c.parameter);
    return size;
}

void write_script_command_object(ByteWriter& w, const std::vector<ScriptCommand>& commands, std::uint32_t preroll_ms) {
    const std::vector<std::string> types = command_types(commands);
    if (commands.size() > 0xFFFF || types.size() > 0xFFFF)
        throw std::invalid_argument("ASF header: more than 65535 script commands or command types");
    const std::size_t at = begin_object(w, guids::script_command);  // ASF-notes §12
    put_guid(w, guids::reserved_3);                             // Reserved
    w.u16(static_cast<std::uint16_t>(commands.size()));        // Commands Count
    w.u16(static_cast<std::uint16_t>(types.size()));           // Command Types Count
    for (const auto& t : types)                                 // Command Type Name Length (chars) + name
        put_counted_string(w, t, true, false, "script command type");
    for (const auto& c : commands) {
        w.u32(ms_with_preroll(c.pts, preroll_ms));              // Presentation Time (ms, with the preroll)
        const auto index = std::find(types.begin(), types.end(), c.type) - types.begin();
        w.u16(static_cast<std::uint16_t>(index));               // Type Index
        put_counted_string(w, c.parameter, true, false, "script command");  // Command Name Length (chars) + name
    }
    end_object(w, at);
}

std::size_t marker_object_size(const std::vector<Marker>& markers) {
    std::size_t size = 24 + 16 + 4 + 2 + 2;
    for (const auto& m : markers) size += 8 + 8 + 2 + 4 + 4 + 4 + 2 * utf16_chars_with_nul(m.name);
    return size;
}

void write_marker_object(ByteWriter& w, const std::vector<Marker>& markers, std::uint32_t preroll_ms,
                         std::uint32_t packet_size) {
    const std::size_t at = begin_object(w, guids::marker);  // ASF-notes §12
    put_guid(w, guids::reserved_4);                          // Reserved
    w.u32(static_cast<std::uint32_t>(markers.size()));      // Markers Count
    w.u16(0);                                                // Reserved
    w.u16(0);                                                // Name Length (bytes): no name
    for (const auto& m : markers) {
        const std::size_t chars = utf16_chars_with_nul(m.name);
        if (12 + 2 * chars > 0xFFFF) throw std::invalid_argument("ASF header: a marker name is too long");
        w.u64(m.packet * packet_size);                       // Offset (bytes into the Data Object's packets)
        w.u64(std::uint64_t{ms_with_preroll(m.pts, preroll_ms)} * 10'000);  // Presentation Time (100 ns, with the preroll)
        w.u16(static_cast<std::uint16_t>(12 + 2 * chars));  // Entry Length: Send Time..Description
        w.u32(m.send_time_ms);                               // Send Time (ms)
        w.u32(0);                                            // Flags
        w.u32(static_cast<std::uint32_t>(chars));            // Marker Description Length (characters, NUL included)
        w.utf16le(m.name, true);                             // Marker Description
    }
    end_object(w, at);
}

void write_padding_object(ByteWriter& w, std::size_t size) {
    if (size < 24) throw std::invalid_argument("ASF header: a Padding Object takes at least 24 bytes");
    const std::size_t at = begin_object(w, guids::padding);  // ASF-notes §14
    w.zeros(size - 24);
    end_object(w, at);
}

void write_data_object_start(ByteWriter& w, const Guid& file_id, std::uint64_t object_size, std::uint64_t packets) {
    put_guid(w, guids::data);   // ASF-notes §15
    w.u64(object_size);         // Object Size
    put_guid(w, file_id);       // File ID
    w.u64(packets);             // Total Data Packets
    w.u8(1);                    // Reserved
    w.u8(1);
}

}  // namespace detail

namespace {

// Audio and command objects are never split across packets (packetizer.cpp): what matters for
// their packets is how many objects a second and the largest one.
struct UnsplitObjects {
    double per_second = 0;
    double max_bytes = 0;
    double bytes_per_second = 0;
};

UnsplitObjects audio_objects(const AudioStreamFormat& a) {
    UnsplitObjects o;
    o.bytes_per_second = detail::audio_bitrate(a) / 8.0;
    if (a.format_tag == 0x0055 && a.sample_rate > 0) {
        // MPEG audio layer III: 1152 samples per frame (MPEG-1, 32 kHz and up), 576 below (MPEG-2
        // and 2.5); a frame is 144 (72) x bitrate / sample rate bytes, one more with its padding slot.
        const bool mpeg1 = a.sample_rate >= 32000;
        o.per_second = a.sample_rate / (mpeg1 ? 1152.0 : 576.0);
        o.max_bytes = std::floor((mpeg1 ? 144.0 : 72.0) * detail::audio_bitrate(a) / a.sample_rate) + 1;
    } else if (a.block_align > 1 && a.avg_bytes_per_sec > 0) {
        // Block codecs (WMA): one block of nBlockAlign bytes per object.
        o.per_second = double(a.avg_bytes_per_sec) / a.block_align;
        o.max_bytes = a.block_align;
    } else {
        o.per_second = 50;  // unknown framing: 20 ms objects
        o.max_bytes = std::ceil(o.bytes_per_second / 50);
    }
    o.max_bytes = std::max(o.max_bytes, std::ceil(o.bytes_per_second / std::max(o.per_second, 1.0)));
    return o;
}

// Video bytes in the worst second. An encoder with a VBV (max_bitrate, buffer_ms) keeps its output
// within a leaky bucket: over any second it sends at most max_bitrate plus the buffer's size (a
// full buffer drained at once, e.g. the first key frame: x264 starts it 90% full). Without a VBV
// nothing bounds a second; we assume a buffer of one second at the average rate, which is what
// x264's ABR and libavcodec's default rate control keep to in practice (tests/interop
// bitrate_truth measures the built-in presets, which all set a VBV or carry no video).
double video_window_bytes(const VideoStreamFormat& v) {
    const double peak = std::max(v.bitrate, v.max_bitrate);
    const double buffer_bits = v.max_bitrate > 0 && v.buffer_ms > 0 ? peak * v.buffer_ms / 1000.0 : peak;
    return (peak + buffer_bits) / 8.0;
}

}  // namespace

// The rates a header declares, packetization overhead included (ASF-notes §5: the Maximum Bitrate
// is the sum of the streams' bit rates, which count the ASF packet and payload overhead), and at
// least what the Packetizer (packetizer.cpp) can send in any one second of send time. In packets of
// P bytes, each with a 14-byte header (H) and a 17-byte payload header (+ extension data, h) per
// payload:
//  - Without video, the objects are never split: a packet holds k = floor((P - H) / (h + S))
//    objects of the largest size S (at most 63), or fewer when the packet's deadline comes first
//    (max_packet_delay_ms after its first object, objects arriving evenly), so R objects a second
//    take R / k packets; (R + 1) / k for the start (below).
//  - With video, packets fill up with video fragments around the other objects: the payload bytes
//    (media plus a payload header per video fragment, one more per frame, and one per object) in
//    packets of P - H - h usable bytes (a packet closes when a payload header no longer fits),
//    plus what can be left empty: before every audio or command object that does not fit (h + S
//    at most), a packet closed early for a key frame (one per video stream and second), and, when
//    frames come further apart than the deadline, a packet closed by it after every frame or
//    object (at most one per max_packet_delay_ms).
// Each stream's share is in proportion to its payload bytes; a window holds whole packets, so each
// stream gets a whole number of packets a second, and the Maximum Bitrate is their sum.
std::vector<std::uint32_t> StreamSet::stream_bitrates(const MuxConfig& config, std::size_t extension_bytes) const {
    namespace pkt = detail::pkt;
    const double P = config.packet_size;
    const double h = double(pkt::kMultiplePayloadHeader + extension_bytes);
    const double usable = std::max(P - double(pkt::kMultipleHeader) - h, 1.0);
    const double delay_ms = std::max<double>(config.max_packet_delay_ms, 1.0);
    std::vector<std::pair<int, double>> load;  // stream number, payload bytes a second
    std::vector<UnsplitObjects> unsplit;
    double fastest_frames = 0, key_closes = 0;
    for (const auto& v : video) {
        const double fps = v.frame_rate > 0.0 && std::isfinite(v.frame_rate) ? v.frame_rate : 30.0;
        const double bytes = video_window_bytes(v);
        load.emplace_back(v.stream, bytes + (bytes / usable + std::ceil(fps)) * h);
        fastest_frames = std::max(fastest_frames, std::ceil(fps));
        key_closes += 1;
    }
    std::vector<int> unsplit_numbers;
    for (const auto& a : audio) {
        unsplit.push_back(audio_objects(a));
        unsplit_numbers.push_back(a.stream);
    }
    for (const auto& c : commands) {
        unsplit_numbers.push_back(c.stream);
        UnsplitObjects o;
        o.bytes_per_second = c.bitrate / 8.0;
        o.per_second = 10;
        o.max_bytes = std::ceil(o.bytes_per_second / 10);
        unsplit.push_back(o);
    }
    double objects = 0, max_object = 0;
    for (std::size_t i = 0; i < unsplit.size(); ++i) {
        const UnsplitObjects& o = unsplit[i];
        load.emplace_back(unsplit_numbers[i], o.bytes_per_second + o.per_second * h);
        objects += o.per_second;
        max_object = std::max(max_object, o.max_bytes);
    }
    std::sort(load.begin(), load.end());  // stream-number order, as the header lists them
    double total_load = 0;
    for (const auto& [number, l] : load) total_load += l;
    double packets = 0;  // a second
    if (video.empty()) {
        const double k = std::clamp(std::floor((P - pkt::kMultipleHeader) / (h + max_object)), 1.0,
                                    double(pkt::kMaxPayloads));
        const double by_deadline = std::floor(delay_ms * objects / 1000.0) + 1;
        // One object more than the rate: an audio encoder's first frame comes before time zero
        // (WMA2 primes one 2048-sample block, 46 ms), and a send time never goes below 0, so the
        // first packets' send times are pressed together by up to a frame (measured: 12 packets
        // of 2 WMA2 blocks in the first second of `audio-only`, for 10.8 a second after it).
        packets = (objects + 1) / std::min(k, by_deadline);
    } else {
        double waste = objects * (h + max_object);
        double forced = key_closes;
        if (1000.0 / fastest_frames > delay_ms) forced += std::min(1000.0 / delay_ms, fastest_frames + objects);
        packets = (total_load + waste) / usable + forced;
    }
    std::vector<std::uint32_t> out;
    for (const auto& [number, l] : load) {
        const double share = total_load > 0 ? packets * l / total_load : 0;
        const double bits = std::max(std::ceil(share - 1e-9), 1.0) * P * 8.0;
        out.push_back(bits >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(bits));
    }
    return out;
}

std::uint32_t StreamSet::total_bitrate(const MuxConfig& config, std::size_t extension_bytes) const {
    std::uint64_t sum = 0;
    for (std::uint32_t r : stream_bitrates(config, extension_bytes)) sum += r;
    if (sum == 0) sum = std::uint64_t{config.packet_size} * 8;  // never 0: one packet a second
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(sum, 0xFFFFFFFFu));
}

std::size_t ProtectionHeader::extension_bytes(int number) const {
    std::size_t n = 0;
    if (const StreamProtection* s = stream(number))
        for (const auto& e : s->extensions) n += e.data_size;
    return n;
}

namespace {

// The largest payload extension data of any stream (for the Maximum Bitrate estimate).
std::size_t max_extension_bytes(const HeaderAdditions& a) {
    std::size_t n = 0;
    if (a.protection)
        for (const auto& s : a.protection->streams) n = std::max(n, a.protection->extension_bytes(s.stream));
    return n;
}

void validate_additions(const HeaderAdditions& a, const std::vector<detail::StreamRef>& streams) {
    if (a.reserve_bytes != 0 && a.reserve_bytes < 24)
        throw std::invalid_argument("ASF header: the reserved room is " + std::to_string(a.reserve_bytes) +
                                    " bytes; a Padding Object takes at least 24");
    if (!a.protection) return;
    const ProtectionHeader& p = *a.protection;
    const auto check_object = [](const Bytes& o, const char* where) {
        // A complete object: GUID, QWORD size equal to its length (ASF-notes §1).
        std::uint64_t size = 0;
        if (o.size() >= 24)
            for (int i = 0; i < 8; ++i) size |= std::uint64_t{o[16 + static_cast<std::size_t>(i)]} << (8 * i);
        if (o.size() < 24 || size != o.size())
            throw std::invalid_argument(std::string("packager: a ") + where + " object of " + std::to_string(o.size()) +
                                        " bytes is not one complete ASF object (GUID, size, body)");
    };
    for (const auto& o : p.header_objects) check_object(o, "header");
    for (const auto& o : p.header_extension_objects) check_object(o, "header extension");
    for (const auto& s : p.streams) {
        if (std::none_of(streams.begin(), streams.end(), [&](const detail::StreamRef& r) { return r.number == s.stream; }))
            throw std::invalid_argument("packager: protection for stream " + std::to_string(s.stream) +
                                        ", which the header does not have");
        std::size_t total = 0;
        for (const auto& e : s.extensions) {
            if (e.data_size == 0xFFFF || e.data_size == 0)
                throw std::invalid_argument("packager: stream " + std::to_string(s.stream) + ": payload extension system " +
                                            guid_to_string(e.id) + " has no fixed data size (variable sizes are not supported)");
            total += e.data_size;
        }
        // Replicated Data Length is a BYTE (Property Flags 0x5D, ASF-notes §16.2): 8 + extensions.
        if (total > 255 - detail::pkt::kReplicatedLength)
            throw std::invalid_argument("packager: stream " + std::to_string(s.stream) + " asks for " +
                                        std::to_string(total) + " bytes of payload extension data (at most 247)");
    }
}

}  // namespace

HeaderBuilder::HeaderBuilder(MuxConfig config, StreamSet streams, Metadata metadata, Guid file_id,
                             std::uint64_t creation_filetime, HeaderAdditions additions)
    : config_(config),
      streams_(std::move(streams)),
      metadata_(std::move(metadata)),
      file_id_(file_id),
      creation_filetime_(creation_filetime),
      additions_(std::move(additions)) {
    if (config_.packet_size < detail::pkt::kMinPacketSize || config_.packet_size > detail::pkt::kMaxPacketSize)
        throw std::invalid_argument("ASF packet size " + std::to_string(config_.packet_size) + " is outside " +
                                    std::to_string(detail::pkt::kMinPacketSize) + ".." +
                                    std::to_string(detail::pkt::kMaxPacketSize));
    validate_additions(additions_, detail::ordered_streams(streams_));
    (void)build(nullptr, nullptr, nullptr);  // validates stream numbers and string lengths up front
}

Bytes HeaderBuilder::build(const FileTotals* totals, const ScriptListing* listing, FinalHeaderReport* report) const {
    using namespace detail;
    const std::vector<StreamRef> streams = ordered_streams(streams_);
    const ProtectionHeader* protection = additions_.protection ? &*additions_.protection : nullptr;
    Bytes out;
    out.reserve(1024 + additions_.reserve_bytes);
    ByteWriter w(out);

    // Header Object (ASF-notes §4)
    put_guid(w, guids::header);
    w.u64(0);  // Object Size (patched below)
    const std::size_t count_at = w.size();
    w.u32(0);    // Number of Header Objects (patched below)
    w.u8(0x01);  // Reserved1
    w.u8(0x02);  // Reserved2
    std::uint32_t children = 0;

    FilePropertiesFields f;
    f.file_id = file_id_;
    f.creation_filetime = creation_filetime_;
    f.preroll_ms = config_.preroll_ms;
    f.packet_size = config_.packet_size;
    f.max_bitrate = streams_.total_bitrate(config_, max_extension_bytes(additions_));
    if (totals) {
        f.file_size = totals->file_size;
        f.data_packets = totals->data_packets;
        const auto to_100ns = [](Micros us) { return us > 0 ? static_cast<std::uint64_t>(us) * 10 : 0; };
        f.play_duration_100ns = to_100ns(totals->play_duration) + std::uint64_t{config_.preroll_ms} * 10'000;
        f.send_duration_100ns = to_100ns(totals->send_duration);
        f.flags = 0x02;  // Seekable
    } else {
        f.flags = 0x01;  // Broadcast
    }
    write_file_properties(w, f);
    ++children;
    for (const auto& s : streams) {
        const StreamProtection* prot = protection_of(protection, s.number);
        if (s.video) write_stream_properties_with(w, *s.video, prot);
        else if (s.audio) write_stream_properties_with(w, *s.audio, prot);
        else write_stream_properties_with(w, *s.command, prot);
        ++children;
    }
    write_header_extension(w, streams, protection);
    write_stream_bitrate_properties(w, streams, streams_.stream_bitrates(config_, max_extension_bytes(additions_)));
    children += 2;
    children += static_cast<std::uint32_t>(write_bitrate_mutual_exclusions(w, streams));
    write_codec_list(w, streams);
    write_content_description(w, metadata_);
    write_extended_content_description(w, metadata_);
    children += 3;
    if (protection) {
        for (const Bytes& object : protection->header_objects) w.bytes(object);  // complete objects
        children += static_cast<std::uint32_t>(protection->header_objects.size());
    }
    if (additions_.reserve_bytes) {
        // The reserved room (§12, §14): the live header holds one Padding Object; the final
        // header the listing that fits and a Padding Object for the rest, same bytes in all.
        std::size_t room = additions_.reserve_bytes;
        std::vector<Marker> markers;
        std::vector<ScriptCommand> commands;
        if (totals && listing) {
            markers = listing->markers;
            commands = listing->commands;
            std::stable_sort(markers.begin(), markers.end(), [](const Marker& a, const Marker& b) { return a.pts < b.pts; });
            std::stable_sort(commands.begin(), commands.end(),
                             [](const ScriptCommand& a, const ScriptCommand& b) { return a.pts < b.pts; });
            // Markers first (few, and what players list), then the commands in time order; the
            // rest must be 0 or a whole Padding Object (24 bytes or more).
            const auto used = [&] {
                return (commands.empty() ? 0 : script_command_object_size(commands)) +
                       (markers.empty() ? 0 : marker_object_size(markers));
            };
            const auto fits = [&] {
                const std::size_t u = used();
                return u <= room && (room - u == 0 || room - u >= 24);
            };
            while (!fits() && !commands.empty()) commands.pop_back();
            while (!fits() && !markers.empty()) markers.pop_back();
            if (report) {
                report->commands_listed = commands.size();
                report->commands_dropped = listing->commands.size() - commands.size();
                report->markers_listed = markers.size();
                report->markers_dropped = listing->markers.size() - markers.size();
            }
        }
        if (!commands.empty()) {
            const std::size_t before = w.size();
            write_script_command_object(w, commands, config_.preroll_ms);
            room -= w.size() - before;
            ++children;
        }
        if (!markers.empty()) {
            const std::size_t before = w.size();
            write_marker_object(w, markers, config_.preroll_ms, config_.packet_size);
            room -= w.size() - before;
            ++children;
        }
        if (room) {
            write_padding_object(w, room);
            ++children;
        }
    } else if (report && listing) {
        report->commands_dropped = listing->commands.size();
        report->markers_dropped = listing->markers.size();
    }
    w.patch_u32(count_at, children);
    w.patch_u64(16, w.size());

    const std::uint64_t packets = totals ? totals->data_packets : 0;
    write_data_object_start(w, file_id_, 50 + packets * config_.packet_size, packets);
    return out;
}

MuxedHeader HeaderBuilder::build_live() const {
    MuxedHeader h;
    h.bytes = build(nullptr, nullptr, nullptr);
    h.packet_size = config_.packet_size;
    h.preroll_ms = config_.preroll_ms;
    h.max_bitrate = streams_.total_bitrate(config_, max_extension_bytes(additions_));
    for (const auto& s : detail::ordered_streams(streams_))
        (s.video ? h.video_streams : s.audio ? h.audio_streams : h.command_streams).push_back(s.number);
    h.protected_content = additions_.protection.has_value();
    return h;
}

Bytes HeaderBuilder::build_final(const FileTotals& totals, const ScriptListing& listing, FinalHeaderReport* report) const {
    if (report) *report = {};
    return build(&totals, &listing, report);
}

}  // namespace asfcast::asfmux
