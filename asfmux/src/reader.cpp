// ASF reader: Header Object + Data Object start (ASF-notes §4–§15) and data packets (§16).
// Every read goes through ByteReader, so malformed input ends in ParseError; lengths from the
// input are only ever used to slice the input itself, never to size an allocation.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "objects.hpp"

namespace asfcast::asfmux {
namespace {

using detail::guid_name;
namespace pkt = detail::pkt;
namespace guids = detail::guids;

Guid read_guid(ByteReader& r) {
    ByteView b = r.bytes(16);
    Guid g{};
    std::copy(b.begin(), b.end(), g.begin());
    return g;
}

std::string name_of(const Guid& g) {
    const char* n = guid_name(g);
    return n ? std::string(n) : guid_to_string(g);
}

std::string fourcc_string(std::uint32_t v) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        const auto c = static_cast<char>((v >> (8 * i)) & 0xFF);
        s += (c >= 0x20 && c < 0x7F) ? c : '.';
    }
    return s;
}

struct HeaderParser {
    HeaderInfo& h;
    bool have_file_properties = false;
    std::set<int> extended;                       // streams with Extended Stream Properties
    std::map<int, std::uint32_t> bitrates;        // Stream Bitrate Properties
    std::map<int, std::string> names;             // first Stream Name per stream
    std::map<int, std::vector<PayloadExtensionSystem>> extensions;  // per stream, from Extended Stream Properties

    // Walks a sequence of complete objects occupying all of `area`, which starts at file offset `base`.
    void walk(ByteView area, std::uint64_t base, int depth, const char* parent) {
        std::size_t pos = 0;
        while (pos < area.size()) {
            const std::uint64_t at = base + pos;
            if (area.size() - pos < 24)
                throw ParseError(fmt::format("{}: {} stray bytes at offset {}, too short for an object header", parent,
                                             area.size() - pos, at));
            ByteReader r(area.subspan(pos), "object header");
            const Guid g = read_guid(r);
            const std::uint64_t size = r.u64();
            const std::string name = name_of(g);
            if (size < 24 || size > area.size() - pos)
                throw ParseError(fmt::format("{}: object {} at offset {} has size {}, but {} bytes are left", parent,
                                             name, at, size, area.size() - pos));
            h.objects.push_back({name, g, at, size, depth});
            const ByteView body = area.subspan(pos + 24, static_cast<std::size_t>(size) - 24);
            const std::string what = fmt::format("{} object at offset {}", name, at);
            ByteReader br(body, what);
            if (g == guids::file_properties) file_properties(br);
            else if (g == guids::stream_properties) stream_properties(br);
            else if (g == guids::header_extension && depth == 1) header_extension(br, at, what);
            else if (g == guids::extended_stream_properties) extended_stream_properties(br, at + 24, depth, what);
            else if (g == guids::stream_bitrate_properties) stream_bitrate_properties(br);
            else if (g == guids::bitrate_mutual_exclusion && depth == 1) bitrate_mutual_exclusion(br);
            else if (g == guids::codec_list) codec_list(br);
            else if (g == guids::content_description) content_description(br);
            else if (g == guids::extended_content_description) extended_content_description(br);
            else if (g == guids::script_command && depth == 1) script_command(br);
            else if (g == guids::marker && depth == 1) marker(br);
            else if (g == guids::protection_system_identifier) protection_system(br);
            pos += static_cast<std::size_t>(size);
        }
    }

    void file_properties(ByteReader& r) {  // ASF-notes §5
        h.file_id = read_guid(r);
        h.file_size = r.u64();
        (void)r.u64();  // Creation Date
        h.data_packets = r.u64();
        h.play_duration_100ns = r.u64();
        h.send_duration_100ns = r.u64();
        h.preroll_ms = r.u64();
        h.flags = r.u32();
        h.min_packet_size = r.u32();
        h.max_packet_size = r.u32();
        h.max_bitrate = r.u32();
        have_file_properties = true;
    }

    void stream_properties(ByteReader& r) {  // ASF-notes §6
        const Guid type = read_guid(r);
        const Guid ec = read_guid(r);
        (void)r.u64();  // Time Offset
        const std::uint32_t tsd_len = r.u32();
        const std::uint32_t ec_len = r.u32();
        const std::uint16_t flags = r.u16();
        (void)r.u32();  // Reserved
        const ByteView tsd = r.bytes(tsd_len);
        (void)r.bytes(ec_len);
        StreamInfo s;
        s.number = flags & 0x7F;
        s.encrypted = (flags & 0x8000) != 0;
        s.type = type;
        s.spread_error_correction = ec == guids::audio_spread;
        if (type == guids::command_media || (s.encrypted && tsd.size() == 16 &&
                                             std::equal(tsd.begin(), tsd.end(), guids::script_type_two_strings.begin()))) {
            // A script command stream (a packager may have renamed its type): no codec.
            s.kind = MediaKind::command;
        } else if (type == guids::video_media) {
            s.kind = MediaKind::video;
            ByteReader t(tsd, "video type-specific data");
            s.width = static_cast<int>(t.u32());
            s.height = static_cast<int>(t.u32());
            (void)t.u8();  // Reserved Flags
            const std::uint16_t format_size = t.u16();
            if (format_size < 40)
                throw ParseError(fmt::format("video stream {}: Format Data Size {} is below 40", s.number, format_size));
            ByteView format = t.bytes(format_size);
            ByteReader bih(format, "BITMAPINFOHEADER");
            bih.skip(16);  // biSize, biWidth, biHeight, biPlanes, biBitCount
            s.fourcc = fourcc_string(bih.u32());
            ByteView extra = format.subspan(40);
            s.codec_data.assign(extra.begin(), extra.end());
        } else if (type == guids::audio_media) {
            s.kind = MediaKind::audio;
            ByteReader t(tsd, "WAVEFORMATEX");
            s.format_tag = t.u16();
            s.channels = t.u16();
            s.sample_rate = t.u32();
            s.avg_bytes_per_sec = t.u32();
            s.block_align = t.u16();
            (void)t.u16();  // wBitsPerSample
            if (!t.empty()) {
                const std::uint16_t cb = t.u16();
                ByteView extra = t.bytes(cb);
                s.codec_data.assign(extra.begin(), extra.end());
            }
        } else {
            return;  // command/binary/... streams are not described in StreamInfo
        }
        h.streams.push_back(std::move(s));
    }

    void header_extension(ByteReader& r, std::uint64_t at, const std::string& what) {  // ASF-notes §7
        (void)read_guid(r);  // Reserved Field 1
        (void)r.u16();       // Reserved Field 2
        const std::uint32_t size = r.u32();
        if (size > r.remaining())
            throw ParseError(fmt::format("{}: Header Extension Data Size {} exceeds the {} bytes left", what, size,
                                         r.remaining()));
        const std::uint64_t data_at = at + 24 + r.pos();
        walk(r.bytes(size), data_at, 2, "Header Extension");
    }

    void extended_stream_properties(ByteReader& r, std::uint64_t body_at, int depth, const std::string& what) {
        // ASF-notes §8
        r.skip(48);  // Start/End Time, bitrates, buffers, fullness, Maximum Object Size, Flags
        const int stream = r.u16() & 0x7F;
        extended.insert(stream);
        (void)r.u16();  // Stream Language ID Index
        (void)r.u64();  // Average Time Per Frame
        const std::uint16_t name_count = r.u16();
        const std::uint16_t systems = r.u16();
        for (unsigned i = 0; i < name_count; ++i) {
            (void)r.u16();  // Language ID Index
            ByteView name = r.bytes(r.u16());  // UTF-16LE, length in bytes
            if (i == 0 && !names.count(stream)) {
                ByteReader nr(name, "stream name");
                std::string text = nr.utf16le(name.size());
                while (!text.empty() && text.back() == '\0') text.pop_back();
                names[stream] = std::move(text);
            }
        }
        for (unsigned i = 0; i < systems; ++i) {
            PayloadExtensionSystem e;
            e.id = read_guid(r);
            e.data_size = r.u16();
            const ByteView info = r.bytes(r.u32());
            e.info.assign(info.begin(), info.end());
            if (extensions[stream].size() < 64) extensions[stream].push_back(std::move(e));
        }
        // An embedded Stream Properties Object may follow.
        if (!r.empty() && depth < 3) {
            const std::uint64_t at = body_at + r.pos();
            walk(r.bytes(r.remaining()), at, depth + 1, what.c_str());
        }
    }

    void stream_bitrate_properties(ByteReader& r) {  // ASF-notes §9
        const std::uint16_t n = r.u16();
        for (unsigned i = 0; i < n; ++i) {
            const int stream = r.u16() & 0x7F;
            bitrates[stream] = r.u32();
        }
    }

    void bitrate_mutual_exclusion(ByteReader& r) {  // ASF-notes §13
        ExclusionGroup g;
        g.type = name_of(read_guid(r));
        const std::uint16_t n = r.u16();
        for (unsigned i = 0; i < n; ++i) g.streams.push_back(r.u16() & 0x7F);  // each read bounded by the input
        h.mutual_exclusions.push_back(std::move(g));
    }

    void script_command(ByteReader& r) {  // ASF-notes §12
        (void)read_guid(r);  // Reserved
        const std::uint16_t commands = r.u16();
        const std::uint16_t types = r.u16();
        std::vector<std::string> table;
        for (unsigned i = 0; i < types; ++i) table.push_back(r.utf16le(std::size_t{r.u16()} * 2));  // length in chars
        for (unsigned i = 0; i < commands; ++i) {  // each reads >= 8 bytes: bounded by the input
            ScriptCommandInfo c;
            c.time_ms = r.u32();
            const std::uint16_t index = r.u16();
            c.type = index < table.size() ? table[index] : std::string();
            c.name = r.utf16le(std::size_t{r.u16()} * 2);
            h.script_commands.push_back(std::move(c));
        }
        h.script_command_types.insert(h.script_command_types.end(), table.begin(), table.end());
    }

    void marker(ByteReader& r) {  // ASF-notes §12
        (void)read_guid(r);  // Reserved
        const std::uint32_t count = r.u32();
        (void)r.u16();             // Reserved
        r.skip(r.u16());           // Name Length (bytes) + Name
        for (std::uint32_t i = 0; i < count; ++i) {  // each reads >= 30 bytes: bounded by the input
            MarkerInfo m;
            m.offset = r.u64();
            m.time_100ns = r.u64();
            const std::uint16_t entry_length = r.u16();
            ByteReader e(r.bytes(entry_length), "marker entry");
            m.send_time_ms = e.u32();
            (void)e.u32();  // Flags
            const std::uint32_t chars = e.u32();
            if (chars > e.remaining() / 2)
                throw ParseError(fmt::format("Marker Object: entry {} says {} characters but holds {} bytes", i, chars,
                                             e.remaining()));
            m.description = e.utf16le(std::size_t{chars} * 2);
            h.markers.push_back(std::move(m));
        }
    }

    void protection_system(ByteReader& r) {  // PlayReady ASF: System ID, System Version, Data Size, Data
        ProtectionSystemInfo p;
        p.system_id = read_guid(r);
        p.version = r.u32();
        const ByteView data = r.bytes(r.u32());
        p.data.assign(data.begin(), data.end());
        h.protection_systems.push_back(std::move(p));
    }

    void codec_list(ByteReader& r) {  // ASF-notes §10
        (void)read_guid(r);
        const std::uint32_t n = r.u32();
        for (std::uint32_t i = 0; i < n; ++i) {  // each entry reads >= 8 bytes: bounded by the input
            (void)r.u16();  // Type
            h.codecs.push_back(r.utf16le(std::size_t{r.u16()} * 2));
            r.skip(std::size_t{r.u16()} * 2);  // Codec Description
            r.skip(r.u16());                   // Codec Information
        }
    }

    void content_description(ByteReader& r) {  // ASF-notes §11
        std::uint16_t len[5];
        for (auto& l : len) l = r.u16();
        Metadata& m = h.metadata;
        std::string* fields[] = {&m.title, &m.author, &m.copyright, &m.description, &m.rating};
        for (int i = 0; i < 5; ++i) *fields[i] = r.utf16le(len[i]);
    }

    void extended_content_description(ByteReader& r) {  // ASF-notes §11
        const std::uint16_t n = r.u16();
        for (unsigned i = 0; i < n; ++i) {
            std::string name = r.utf16le(r.u16());
            const std::uint16_t type = r.u16();
            ByteView value = r.bytes(r.u16());
            ByteReader v(value, "descriptor value");
            std::string text;
            auto le = [&](std::size_t width) {
                std::uint64_t x = 0;
                for (std::size_t k = 0; k < width && k < value.size(); ++k) x |= std::uint64_t{value[k]} << (8 * k);
                return x;
            };
            switch (type) {
                case 0: text = v.utf16le(value.size()); break;
                case 2: text = le(4) ? "true" : "false"; break;
                case 3: text = std::to_string(le(4)); break;
                case 4: text = std::to_string(le(8)); break;
                case 5: text = std::to_string(le(2)); break;
                default: text = hex(value, value.size()); break;
            }
            h.metadata.extended.emplace_back(std::move(name), std::move(text));
        }
    }
};

// Fields of the payload parsing information (ASF-notes §16.1–§16.2) and where they are.
struct PacketHead {
    bool ec = false;
    std::uint8_t length_type_flags = 0;
    std::uint8_t property_flags = 0;
    std::size_t length_at = 0, length_width = 0;
    std::size_t padding_at = 0, padding_width = 0;
    std::uint32_t packet_length = 0;
    std::uint32_t padding = 0;
    std::uint32_t send_time = 0;
    std::uint16_t duration = 0;
    std::size_t end_of_head = 0;
};

std::size_t width_of(unsigned length_type) { return length_type == 3 ? 4 : length_type; }

// `wire`: the packet came without its padding (MS-WMSP 2.2.3.3), so without a Packet Length field
// it is as long as the bytes given, which may not exceed the fixed size.
PacketHead read_packet_head(ByteView packet, std::uint32_t packet_size, bool wire = false) {
    PacketHead ph;
    ByteReader r(packet, "data packet");
    std::uint8_t b = r.u8();
    if (b & 0x80) {  // Error Correction Flags (§16.1)
        ph.ec = true;
        if (b & 0x60)
            throw ParseError(fmt::format("data packet: error correction length type {} is not supported",
                                         (b >> 5) & 3));
        r.skip(b & 0x0F);
        b = r.u8();
    }
    ph.length_type_flags = b;
    ph.property_flags = r.u8();
    ph.length_at = r.pos();
    ph.length_width = width_of((b >> 5) & 3);
    const std::uint32_t explicit_length = r.sized((b >> 5) & 3);
    (void)r.sized((b >> 1) & 3);  // Sequence
    ph.padding_at = r.pos();
    ph.padding_width = width_of((b >> 3) & 3);
    ph.padding = r.sized((b >> 3) & 3);
    ph.send_time = r.u32();
    ph.duration = r.u16();
    ph.end_of_head = r.pos();
    if (wire && packet_size && packet.size() > packet_size)
        throw ParseError(fmt::format("data packet: {} bytes, more than the fixed packet size {}", packet.size(),
                                     packet_size));
    ph.packet_length = ph.length_width ? explicit_length
                       : wire          ? static_cast<std::uint32_t>(packet.size())
                                       : packet_size;
    if (ph.packet_length > packet.size())
        throw ParseError(fmt::format("data packet: packet length {} but only {} bytes given", ph.packet_length,
                                     packet.size()));
    if (ph.packet_length < ph.end_of_head || ph.padding > ph.packet_length - ph.end_of_head)
        throw ParseError(fmt::format("data packet: padding length {} does not fit a {}-byte packet with a {}-byte "
                                     "header",
                                     ph.padding, ph.packet_length, ph.end_of_head));
    return ph;
}

}  // namespace

HeaderInfo parse_header(ByteView bytes) {
    HeaderInfo h;
    ByteReader r(bytes, "ASF header");
    const Guid g = read_guid(r);
    if (g != guids::header)
        throw ParseError(fmt::format("ASF header: byte 0 starts a {} object, not a Header Object", name_of(g)));
    const std::uint64_t size = r.u64();
    if (size < 30 || size > bytes.size())
        throw ParseError(fmt::format("ASF header: Header Object size {} is invalid ({} bytes given, minimum 30)", size,
                                     bytes.size()));
    h.header_object_count = r.u32();  // the objects are walked by size instead
    r.skip(2);      // Reserved1, Reserved2
    h.header_size = size;
    h.objects.push_back({"Header", g, 0, size, 0});
    HeaderParser p{h};
    p.walk(bytes.subspan(30, static_cast<std::size_t>(size) - 30), 30, 1, "Header Object");
    if (!p.have_file_properties) throw ParseError("ASF header: no File Properties Object");

    // Data Object start (ASF-notes §15)
    const std::size_t at = static_cast<std::size_t>(size);
    if (bytes.size() - at < 50)
        throw ParseError(fmt::format("ASF header: the 50-byte Data Object start at offset {} is missing ({} bytes left)",
                                     at, bytes.size() - at));
    ByteReader d(bytes.subspan(at, 50), "Data Object");
    const Guid dg = read_guid(d);
    if (dg != guids::data)
        throw ParseError(fmt::format("ASF header: offset {} holds a {} object, not the Data Object", at, name_of(dg)));
    h.data_object_size = d.u64();
    (void)read_guid(d);  // File ID
    h.data_object_packets = d.u64();
    h.objects.push_back({"Data", dg, at, h.data_object_size, 0});

    for (auto& s : h.streams) {
        s.has_extended_properties = p.extended.count(s.number) > 0;
        if (auto it = p.bitrates.find(s.number); it != p.bitrates.end()) s.bitrate = it->second;
        if (auto it = p.names.find(s.number); it != p.names.end()) s.name = it->second;
        if (auto it = p.extensions.find(s.number); it != p.extensions.end()) s.payload_extensions = it->second;
    }
    return h;
}

std::optional<std::size_t> StreamInfo::extension_bytes() const {
    std::size_t n = 0;
    for (const auto& e : payload_extensions) {
        if (e.data_size == 0xFFFF) return std::nullopt;
        n += e.data_size;
    }
    return n;
}

namespace {

PacketInfo parse_packet_with(const PacketHead& ph, ByteView packet) {
    PacketInfo info;
    info.error_correction = ph.ec;
    info.multiple_payloads = ph.length_type_flags & 0x01;
    info.packet_length = ph.packet_length;
    info.padding = ph.padding;
    info.send_time_ms = ph.send_time;
    info.duration_ms = ph.duration;

    // Payloads occupy [end_of_head, packet_length - padding).
    ByteReader r(packet.first(ph.packet_length - ph.padding), "data packet payloads");
    r.seek(ph.end_of_head);
    const unsigned pf = ph.property_flags;
    std::size_t count = 1;
    unsigned payload_length_type = 0;
    if (info.multiple_payloads) {
        const std::uint8_t flags = r.u8();
        count = flags & 0x3F;
        payload_length_type = flags >> 6;
        if (payload_length_type == 0)
            throw ParseError("data packet: multiple payloads without a payload length type");
    }
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t start = r.pos();
        PayloadInfo p;
        const std::uint8_t sn = r.u8();  // Stream Number is always a BYTE
        p.stream = sn & 0x7F;
        p.keyframe = sn & 0x80;
        p.object_number = r.sized((pf >> 4) & 3);
        p.offset = r.sized((pf >> 2) & 3);
        const std::uint32_t repl = r.sized(pf & 3);
        if (repl >= 8) {
            const ByteView rd = r.bytes(repl);
            ByteReader rr(rd, "replicated data");
            p.object_size = rr.u32();
            p.pts_ms = rr.u32();
            p.extension.assign(rd.begin() + 8, rd.end());  // payload extension data (§8)
        } else if (repl == 1) {
            p.compressed = true;
        } else if (repl != 0) {
            throw ParseError(fmt::format("data packet: payload {} at byte {} has replicated data length {} (must be "
                                         "0, 1 or at least 8)",
                                         i, start, repl));
        }
        const std::uint8_t delta = p.compressed ? r.u8() : 0;
        const std::size_t length = info.multiple_payloads ? r.sized(payload_length_type) : r.remaining();
        p.data_at = static_cast<std::uint32_t>(r.pos());
        ByteView data = r.bytes(length);
        if (!p.compressed) {
            p.length = static_cast<std::uint32_t>(length);
            info.payloads.push_back(p);
            continue;
        }
        // Compressed payload (§16.3): sub-payloads of 1-byte length + data, each a whole object;
        // the offset field held the presentation time.
        ByteReader sub(data, "compressed payload");
        const std::uint32_t pts = p.offset;
        std::uint32_t k = 0;
        while (!sub.empty()) {
            PayloadInfo s = p;
            s.length = sub.u8();
            sub.skip(s.length);
            s.object_size = s.length;
            s.offset = 0;
            s.object_number = p.object_number + k;
            s.pts_ms = pts + k * delta;
            info.payloads.push_back(s);
            ++k;
        }
    }
    return info;
}

}  // namespace

PacketInfo parse_packet(ByteView packet, std::uint32_t packet_size) {
    return parse_packet_with(read_packet_head(packet, packet_size), packet);
}

PacketInfo parse_wire_packet(ByteView packet, std::uint32_t packet_size) {
    return parse_packet_with(read_packet_head(packet, packet_size, true), packet);
}

Bytes to_wire_form(ByteView packet, std::uint32_t packet_size) {
    const PacketHead ph = read_packet_head(packet, packet_size);
    const PacketInfo info = parse_packet_with(ph, packet);  // validates the whole packet
    if (ph.padding_width == 0)
        return Bytes(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(ph.packet_length));

    const std::size_t content_end = ph.packet_length - ph.padding;
    // Payload parsing information without the Padding Length field, Padding Length Type 0.
    Bytes out;
    out.reserve(content_end + 3);
    out.insert(out.begin(), packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(ph.padding_at));
    const std::size_t flags_at = ph.length_at - 2;
    out[flags_at] = static_cast<std::uint8_t>(out[flags_at] & ~0x18);
    out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(ph.padding_at + ph.padding_width),
               packet.begin() + static_cast<std::ptrdiff_t>(ph.end_of_head));
    if (info.multiple_payloads) {
        out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(ph.end_of_head),
                   packet.begin() + static_cast<std::ptrdiff_t>(content_end));
    } else {
        // Single payload: into the multiple-payloads layout (§16.3), one payload with a WORD length.
        const std::size_t data_len = info.payloads.empty() ? 0 : info.payloads.front().length;
        if (info.payloads.size() != 1 || info.payloads.front().compressed || out.size() + 3 + (content_end - ph.end_of_head) > ph.packet_length ||
            data_len > 0xFFFF)
            return Bytes(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(ph.packet_length));
        out[flags_at] = static_cast<std::uint8_t>(out[flags_at] | 0x01);
        out.push_back(static_cast<std::uint8_t>(pkt::kPayloadLengthWord | 1));
        const std::size_t data_at = content_end - data_len;
        out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(ph.end_of_head),
                   packet.begin() + static_cast<std::ptrdiff_t>(data_at));
        out.push_back(static_cast<std::uint8_t>(data_len));
        out.push_back(static_cast<std::uint8_t>(data_len >> 8));
        out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(data_at),
                   packet.begin() + static_cast<std::ptrdiff_t>(content_end));
    }
    // An explicit Packet Length must agree with the shortened packet.
    if (ph.length_width) {
        ByteWriter w(out);
        if (ph.length_width == 1) out[ph.length_at] = static_cast<std::uint8_t>(out.size());
        else if (ph.length_width == 2) w.patch_u16(ph.length_at, static_cast<std::uint16_t>(out.size()));
        else w.patch_u32(ph.length_at, static_cast<std::uint32_t>(out.size()));
    }
    return out;
}

}  // namespace asfcast::asfmux

namespace asfcast::asfmux {

// Walks the payloads the way parse_packet_with() does, shifting each time field in place.
void retime_packet(Bytes& packet, std::uint32_t packet_size, bool wire, std::int64_t delta_ms) {
    const PacketHead ph = read_packet_head(packet, packet_size, wire);
    (void)parse_packet_with(ph, packet);  // the whole packet is valid before anything is written
    if (delta_ms == 0) return;
    const auto shift = [&](std::size_t at, std::size_t width, const char* what) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{packet[at + i]} << (8 * i);
        const std::int64_t n = static_cast<std::int64_t>(v) + delta_ms;
        const std::int64_t max = width >= 4 ? 0xFFFFFFFFLL : (std::int64_t{1} << (8 * width)) - 1;
        if (n < 0 || n > max)
            throw ParseError(fmt::format("data packet: {} {} ms shifted by {} ms leaves its {}-byte field", what, v,
                                         delta_ms, width));
        for (std::size_t i = 0; i < width; ++i) packet[at + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(n) >> (8 * i));
    };
    shift(ph.end_of_head - 6, 4, "send time");  // Send Time, then the WORD Duration (§16.2)
    ByteReader r(ByteView(packet).first(ph.packet_length - ph.padding), "data packet payloads");
    r.seek(ph.end_of_head);
    const unsigned pf = ph.property_flags;
    std::size_t count = 1;
    unsigned payload_length_type = 0;
    const bool multiple = ph.length_type_flags & 0x01;
    if (multiple) {
        const std::uint8_t flags = r.u8();
        count = flags & 0x3F;
        payload_length_type = flags >> 6;
    }
    for (std::size_t i = 0; i < count; ++i) {
        r.u8();  // Stream Number
        (void)r.sized((pf >> 4) & 3);
        const std::size_t offset_at = r.pos();
        const std::size_t offset_width = width_of((pf >> 2) & 3);
        (void)r.sized((pf >> 2) & 3);
        const std::uint32_t repl = r.sized(pf & 3);
        if (repl >= 8) {
            shift(r.pos() + 4, 4, "presentation time");  // after the media object size (§16.3)
            r.skip(repl);
        } else if (repl == 1) {
            shift(offset_at, offset_width, "presentation time");  // compressed: the offset field holds it
            r.u8();                                               // Presentation Time Delta
        }
        const std::size_t length = multiple ? r.sized(payload_length_type) : r.remaining();
        r.skip(length);
    }
}

Bytes header_with_totals(ByteView header, const FileTotals* totals) {
    const HeaderInfo info = parse_header(header);
    if (info.min_packet_size != info.max_packet_size)
        throw ParseError(fmt::format("ASF header: packet sizes are not fixed ({}..{})", info.min_packet_size,
                                     info.max_packet_size));
    const auto fp = std::find_if(info.objects.begin(), info.objects.end(),
                                 [](const ObjectInfo& o) { return o.name == "File Properties" && o.depth == 1; });
    if (fp == info.objects.end() || fp->size < 104) throw ParseError("ASF header: no File Properties Object");
    Bytes out(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(info.header_size + 50));
    ByteWriter w(out);
    const auto f = static_cast<std::size_t>(fp->offset);
    const std::uint64_t packets = totals ? totals->data_packets : 0;
    const auto to_100ns = [](Micros us) { return us > 0 ? static_cast<std::uint64_t>(us) * 10 : 0; };
    // File Properties (ASF-notes §5): File Size, Data Packets Count, Play Duration (with the
    // preroll), Send Duration, Flags (0x01 Broadcast, 0x02 Seekable).
    w.patch_u64(f + 40, totals ? totals->file_size : 0);
    w.patch_u64(f + 56, packets);
    w.patch_u64(f + 64, totals ? to_100ns(totals->play_duration) + info.preroll_ms * 10'000 : 0);
    w.patch_u64(f + 72, totals ? to_100ns(totals->send_duration) : 0);
    w.patch_u32(f + 88, (info.flags & ~0x3u) | (totals ? 0x2u : 0x1u));
    // Data Object (ASF-notes §15): Object Size, Total Data Packets.
    const auto d = static_cast<std::size_t>(info.header_size);
    w.patch_u64(d + 16, 50 + packets * info.max_packet_size);
    w.patch_u64(d + 40, packets);
    return out;
}

}  // namespace asfcast::asfmux
