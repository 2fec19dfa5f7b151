// Header Object + Data Object start (ASF-notes §4–§11, §15).
//
// Order of the objects in the Header Object (File Properties first, every Stream Properties
// before the Header Extension that refers to the streams, as Windows Media encoders do; ffmpeg,
// GStreamer asfdemux and VLC read the children in any order):
//   File Properties, Stream Properties × N (by stream number), Header Extension (Extended Stream
//   Properties × N), Stream Bitrate Properties, Bitrate Mutual Exclusion (one per media kind with
//   two or more streams: the MBR renditions), Codec List, Content Description, Extended Content
//   Description.
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

// Common part of the Stream Properties Object up to the type-specific data (ASF-notes §6).
void put_stream_properties_head(ByteWriter& w, const Guid& type, const Guid& ec, std::size_t tsd_len,
                                std::size_t ec_len, int stream) {
    put_guid(w, type);                                   // Stream Type
    put_guid(w, ec);                                     // Error Correction Type
    w.u64(0);                                            // Time Offset
    w.u32(static_cast<std::uint32_t>(tsd_len));          // Type-Specific Data Length
    w.u32(static_cast<std::uint32_t>(ec_len));           // Error Correction Data Length
    w.u16(static_cast<std::uint16_t>(stream & 0x7F));    // Flags: stream number, not encrypted
    w.u32(0);                                            // Reserved
}

void put_extended_stream_properties(ByteWriter& w, int stream, std::uint32_t bitrate, std::uint32_t buffer_ms,
                                    std::uint64_t frame_time_100ns, const std::string& name) {
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
    w.u16(0);               // Payload Extension System Count
    if (!name.empty()) {
        w.u16(0);           // Language ID Index
        put_counted_string(w, name, false, false, "stream name");  // length in bytes, incl. NUL
    }
    end_object(w, at);
}

}  // namespace

std::uint32_t audio_bitrate(const AudioStreamFormat& a) {
    return a.bitrate ? a.bitrate : clamp_u32(std::uint64_t{a.avg_bytes_per_sec} * 8);
}

std::vector<StreamRef> ordered_streams(const StreamSet& streams) {
    std::vector<StreamRef> out;
    for (const auto& v : streams.video) out.push_back({v.stream, &v, nullptr});
    for (const auto& a : streams.audio) out.push_back({a.stream, nullptr, &a});
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

void write_stream_properties(ByteWriter& w, const VideoStreamFormat& v) {
    // ASF-notes §6, video type-specific data: 11 bytes + BITMAPINFOHEADER (40) + codec private.
    const std::size_t extra = v.codec_private.size();
    if (40 + extra > 0xFFFF) throw std::invalid_argument("ASF header: video codec private data is too long");
    const auto width = static_cast<std::uint32_t>(v.width);
    const auto height = static_cast<std::uint32_t>(v.height);
    const std::size_t at = begin_object(w, guids::stream_properties);
    put_stream_properties_head(w, guids::video_media, guids::no_error_correction, 11 + 40 + extra, 0, v.stream);
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

void write_stream_properties(ByteWriter& w, const AudioStreamFormat& a) {
    // ASF-notes §6, audio type-specific data: WAVEFORMATEX + cbSize bytes; Audio Spread EC data.
    if (a.codec_data.size() > 0xFFFF) throw std::invalid_argument("ASF header: audio codec data is too long");
    const bool spread = a.spread_error_correction;
    const std::size_t at = begin_object(w, guids::stream_properties);
    put_stream_properties_head(w, guids::audio_media, spread ? guids::audio_spread : guids::no_error_correction,
                               18 + a.codec_data.size(), spread ? 8 : 0, a.stream);
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

void write_extended_stream_properties(ByteWriter& w, const VideoStreamFormat& v) {
    put_extended_stream_properties(w, v.stream, video_data_bitrate(v), v.buffer_ms ? v.buffer_ms : kDefaultBufferMs,
                                   video_frame_time_100ns(v), v.stream_name);
}

void write_extended_stream_properties(ByteWriter& w, const AudioStreamFormat& a) {
    // Average Time Per Frame 0 for audio: frame durations are not fixed for every codec (MP3's
    // nBlockAlign is 1), so "unknown" is the honest value.
    put_extended_stream_properties(w, a.stream, audio_bitrate(a), kDefaultBufferMs, 0, a.stream_name);
}

void write_header_extension(ByteWriter& w, const std::vector<StreamRef>& streams) {
    const std::size_t at = begin_object(w, guids::header_extension);  // ASF-notes §7
    put_guid(w, guids::reserved_1);  // Reserved Field 1
    w.u16(6);                        // Reserved Field 2
    const std::size_t size_at = w.size();
    w.u32(0);                        // Header Extension Data Size (patched)
    for (const auto& s : streams) {
        if (s.video) write_extended_stream_properties(w, *s.video);
        else write_extended_stream_properties(w, *s.audio);
    }
    w.patch_u32(size_at, static_cast<std::uint32_t>(w.size() - size_at - 4));
    end_object(w, at);
}

void write_stream_bitrate_properties(ByteWriter& w, const std::vector<StreamRef>& streams) {
    const std::size_t at = begin_object(w, guids::stream_bitrate_properties);  // ASF-notes §9
    w.u16(static_cast<std::uint16_t>(streams.size()));  // Bitrate Records Count
    for (const auto& s : streams) {
        w.u16(static_cast<std::uint16_t>(s.number));                  // Flags: stream number
        w.u32(s.video ? s.video->bitrate : audio_bitrate(*s.audio));   // Average Bitrate
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
            if ((s.video != nullptr) == video) numbers.push_back(s.number);
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
    w.u32(static_cast<std::uint32_t>(streams.size()));   // Codec Entries Count
    for (const auto& s : streams) {
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

void write_data_object_start(ByteWriter& w, const Guid& file_id, std::uint64_t object_size, std::uint64_t packets) {
    put_guid(w, guids::data);   // ASF-notes §15
    w.u64(object_size);         // Object Size
    put_guid(w, file_id);       // File ID
    w.u64(packets);             // Total Data Packets
    w.u8(1);                    // Reserved
    w.u8(1);
}

}  // namespace detail

std::uint32_t StreamSet::total_bitrate(std::uint32_t packet_size) const {
    // Media bits plus 17 bytes of payload header per media object (and one extra per packet for
    // a continued fragment), carried in packets of packet_size with a 14-byte header, rounded up to
    // whole packets per second. Never 0: at least one packet per second.
    namespace pkt = detail::pkt;
    double media_bytes = 0, objects = 0;
    for (const auto& v : video) {
        media_bytes += std::max(v.bitrate, v.max_bitrate) / 8.0;
        objects += v.frame_rate > 0.0 && std::isfinite(v.frame_rate) ? std::ceil(v.frame_rate) : 30.0;
    }
    for (const auto& a : audio) {
        media_bytes += detail::audio_bitrate(a) / 8.0;
        objects += a.block_align > 1 && a.avg_bytes_per_sec ? std::ceil(double(a.avg_bytes_per_sec) / a.block_align)
                                                             : 50.0;
    }
    const double per_packet =
        packet_size > pkt::kMultipleHeader + pkt::kMultiplePayloadHeader
            ? double(packet_size - pkt::kMultipleHeader - pkt::kMultiplePayloadHeader)
            : 1.0;
    double packets = std::ceil((media_bytes + objects * pkt::kMultiplePayloadHeader) / per_packet);
    if (media_bytes <= 0) packets = 1;
    packets = std::max(packets, 1.0);
    const double bits = packets * packet_size * 8.0;
    return bits >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(bits);
}

HeaderBuilder::HeaderBuilder(MuxConfig config, StreamSet streams, Metadata metadata, Guid file_id,
                             std::uint64_t creation_filetime)
    : config_(config),
      streams_(std::move(streams)),
      metadata_(std::move(metadata)),
      file_id_(file_id),
      creation_filetime_(creation_filetime) {
    if (config_.packet_size < detail::pkt::kMinPacketSize || config_.packet_size > detail::pkt::kMaxPacketSize)
        throw std::invalid_argument("ASF packet size " + std::to_string(config_.packet_size) + " is outside " +
                                    std::to_string(detail::pkt::kMinPacketSize) + ".." +
                                    std::to_string(detail::pkt::kMaxPacketSize));
    (void)build(nullptr);  // validates stream numbers and string lengths up front
}

Bytes HeaderBuilder::build(const FileTotals* totals) const {
    using namespace detail;
    const std::vector<StreamRef> streams = ordered_streams(streams_);
    Bytes out;
    out.reserve(1024);
    ByteWriter w(out);

    // Header Object (ASF-notes §4)
    put_guid(w, guids::header);
    w.u64(0);  // Object Size (patched below)
    const std::size_t count_at = w.size();
    w.u32(0);    // Number of Header Objects (patched below)
    w.u8(0x01);  // Reserved1
    w.u8(0x02);  // Reserved2

    FilePropertiesFields f;
    f.file_id = file_id_;
    f.creation_filetime = creation_filetime_;
    f.preroll_ms = config_.preroll_ms;
    f.packet_size = config_.packet_size;
    f.max_bitrate = streams_.total_bitrate(config_.packet_size);
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
    for (const auto& s : streams) {
        if (s.video) write_stream_properties(w, *s.video);
        else write_stream_properties(w, *s.audio);
    }
    write_header_extension(w, streams);
    write_stream_bitrate_properties(w, streams);
    const std::size_t exclusions = write_bitrate_mutual_exclusions(w, streams);
    write_codec_list(w, streams);
    write_content_description(w, metadata_);
    write_extended_content_description(w, metadata_);
    // File Properties, Stream Properties × N, Header Extension, Stream Bitrate Properties,
    // exclusions, Codec List, Content Description, Extended Content Description.
    w.patch_u32(count_at, static_cast<std::uint32_t>(streams.size() + 6 + exclusions));
    w.patch_u64(16, w.size());

    const std::uint64_t packets = totals ? totals->data_packets : 0;
    write_data_object_start(w, file_id_, 50 + packets * config_.packet_size, packets);
    return out;
}

MuxedHeader HeaderBuilder::build_live() const {
    MuxedHeader h;
    h.bytes = build(nullptr);
    h.packet_size = config_.packet_size;
    h.preroll_ms = config_.preroll_ms;
    h.max_bitrate = streams_.total_bitrate(config_.packet_size);
    for (const auto& s : detail::ordered_streams(streams_)) (s.video ? h.video_streams : h.audio_streams).push_back(s.number);
    return h;
}

Bytes HeaderBuilder::build_final(const FileTotals& totals) const { return build(&totals); }

}  // namespace asfcast::asfmux
