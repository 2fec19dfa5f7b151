// wire_check: proves that the data packets asfcast sends on the wire are its archive's packets
// with only the padding taken out. Written from the specs alone (no asfcast code):
//   MS-WMSP 2.2.3.1 (Framing Header, MMS Data Packet), 2.2.3.3 ($D), 2.2.3.4 ($E), 2.2.3.5 ($H);
//   MS-WMHTTP 2.2.3.3 ($D: one complete ASF data packet, Padding Data removed, Padding Length
//   field saying it does not exist); ASF-notes §4, §5, §15 (header, File Properties, Data Object)
//   and §16 (data packet: error correction, payload parsing information, payloads).
//
// usage: wire_check --archive FILE [--pull BODY] [--push DUMP]
//   FILE  the archive (Header Object, 50-byte Data Object start, fixed-size packets, indexes)
//   BODY  a raw MS-WMSP Play response body ($H, $D..., $E), LocationId = ASF packet number
//   DUMP  the strict receiver's --wire-out records: type byte ('H' or 'D'), DWORD length, bytes;
//         the 'D' records are every $D payload pushed, from the broadcast's first packet
//
// For every wire packet W of packet number N (archive packet A, packet size S):
//   - the Length Type Flags (after the error correction data) say no Packet Length and no
//     Padding Length; |W| <= S; |W| < S only in the multiple-payloads layout; W's payloads end
//     exactly where W ends;
//   - W zero-padded to S parses to the same payloads (stream byte with the key-frame bit, media
//     object number, offset, replicated data, payload bytes), Send Time and Duration as A, and
//     the added bytes are all that follows the payloads;
//   - W with its padding restored the ASF way (Padding Length Type WORD, the WORD field put back
//     after Property Flags / Packet Length / Sequence with the value S - |W| - 2, zeros to S) is A
//     byte for byte; a full W (|W| = S) is A byte for byte as it is.
// The $H pulled and the header pushed are the same bytes, and the archive's header but for the
// fields an archive fills in when it is finalized (sizes, counts, durations, Broadcast flag).
// Every archive packet parses, its payloads end where its padding starts, and its padding is zeros.
// Prints one line of counts per input and exits 1 at the first mismatch, saying what differs.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Mismatch : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename... A>
std::string fmt(const char* f, A... a) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, f, a...);
    return buf;
}

[[noreturn]] void fail(const std::string& what) { throw Mismatch(what); }

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::uint32_t le16(const std::uint8_t* p) { return p[0] | p[1] << 8; }
std::uint32_t le32(const std::uint8_t* p) {
    return p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) { return le32(p) | static_cast<std::uint64_t>(le32(p + 4)) << 32; }

std::string hex(const std::uint8_t* p, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += fmt("%02X%s", p[i], i + 1 < n ? " " : "");
    return s;
}

// The bytes around the first difference of two buffers, for a mismatch message.
std::string first_difference(const Bytes& got, const Bytes& want, const char* want_name = "archive") {
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    const std::size_t from = i >= 8 ? i - 8 : 0;
    const auto span = [&](const Bytes& b) {
        const std::size_t to = std::min(b.size(), from + 24);
        return from < to ? hex(b.data() + from, to - from) : std::string("(none)");
    };
    return fmt("first difference at byte %zu (sizes %zu and %zu); from byte %zu: got [%s], %s [%s]", i, got.size(),
               want.size(), from, span(got).c_str(), want_name, span(want).c_str());
}

// ---- ASF-notes §16: data packets ------------------------------------------------------------

// Size of a field coded by a 2-bit length type (§16.2): 0 absent, 1 BYTE, 2 WORD, 3 DWORD.
std::size_t type_size(unsigned t) { return t == 3 ? 4 : t; }

struct Payload {
    std::uint8_t stream = 0;  // bits 0-6 stream number, bit 7 key frame
    std::uint32_t object = 0;
    std::uint32_t offset = 0;
    Bytes replicated;
    Bytes data;
    bool operator==(const Payload& o) const {
        return stream == o.stream && object == o.object && offset == o.offset && replicated == o.replicated &&
               data == o.data;
    }
};

struct Packet {
    std::size_t ltf_at = 0;       // offset of the Length Type Flags byte
    std::uint8_t ltf = 0;         // Length Type Flags
    std::uint8_t property = 0;    // Property Flags
    bool has_packet_length = false;
    std::uint32_t packet_length = 0;  // the field, or the bytes given
    std::uint32_t sequence = 0;
    std::uint32_t padding = 0;    // Padding Length field (0 when absent)
    std::uint32_t send_time = 0;
    std::uint32_t duration = 0;
    bool multiple = false;
    std::vector<Payload> payloads;
    std::size_t end = 0;          // offset just past the last payload
};

// Parses one data packet of `len` bytes (§16.1 - §16.3). Throws Mismatch on anything the layout
// does not allow (fields running past the packet, a stream number that is not a BYTE...).
Packet parse_packet(const std::uint8_t* p, std::size_t len, const std::string& what) {
    Packet k;
    std::size_t at = 0;
    const auto need = [&](std::size_t n, const char* field) {
        if (at + n > len) fail(fmt("%s: %s runs past the packet (offset %zu + %zu > %zu)", what.c_str(), field, at, n, len));
    };
    const auto var = [&](unsigned type, const char* field) -> std::uint32_t {
        const std::size_t n = type_size(type);
        need(n, field);
        std::uint32_t v = n == 0 ? 0 : n == 1 ? p[at] : n == 2 ? le16(p + at) : le32(p + at);
        at += n;
        return v;
    };
    need(1, "first byte");
    if (p[0] & 0x80) {  // §16.1 Error Correction Flags
        if ((p[0] >> 5) & 3) fail(what + ": Error Correction Length Type is not 0");
        at = 1 + (p[0] & 0x0F);
    }
    need(2, "Length Type Flags and Property Flags");
    k.ltf_at = at;
    k.ltf = p[at];
    k.property = p[at + 1];
    at += 2;
    if (k.ltf & 0x80) fail(what + ": Length Type Flags has Error Correction Present set");
    k.multiple = k.ltf & 0x01;
    k.has_packet_length = (k.ltf >> 5) & 3;
    k.packet_length = k.has_packet_length ? var((k.ltf >> 5) & 3, "Packet Length") : static_cast<std::uint32_t>(len);
    k.sequence = var((k.ltf >> 1) & 3, "Sequence");
    k.padding = var((k.ltf >> 3) & 3, "Padding Length");
    k.send_time = var(3, "Send Time");
    k.duration = var(2, "Duration");
    if (k.packet_length > len) fail(fmt("%s: Packet Length %u exceeds the %zu bytes there are", what.c_str(), k.packet_length, len));
    if (k.padding > k.packet_length || k.packet_length - k.padding < at)
        fail(fmt("%s: Padding Length %u leaves no room for the payloads", what.c_str(), k.padding));
    const std::size_t data_end = k.packet_length - k.padding;
    if (((k.property >> 6) & 3) != 1) fail(what + ": Stream Number Length Type is not BYTE");
    const unsigned repl_type = k.property & 3, offset_type = (k.property >> 2) & 3, object_type = (k.property >> 4) & 3;
    const auto payload_header = [&](Payload& pl) {
        need(1, "Stream Number");
        pl.stream = p[at++];
        pl.object = var(object_type, "Media Object Number");
        pl.offset = var(offset_type, "Offset Into Media Object");
        const std::uint32_t r = var(repl_type, "Replicated Data Length");
        need(r, "Replicated Data");
        pl.replicated.assign(p + at, p + at + r);
        at += r;
    };
    len = data_end;  // payloads live before the padding
    if (k.multiple) {
        need(1, "Payload Flags");
        const std::uint8_t flags = p[at++];
        const unsigned count = flags & 0x3F, length_type = flags >> 6;
        if (count == 0) fail(what + ": multiple payloads with Number of Payloads 0");
        if (length_type == 0) fail(what + ": multiple payloads without Payload Length fields");
        for (unsigned i = 0; i < count; ++i) {
            Payload pl;
            payload_header(pl);
            const std::uint32_t n = var(length_type, "Payload Length");
            need(n, "Payload Data");
            pl.data.assign(p + at, p + at + n);
            at += n;
            k.payloads.push_back(std::move(pl));
        }
    } else {
        Payload pl;
        payload_header(pl);
        pl.data.assign(p + at, p + data_end);  // a single payload runs to the padding
        at = data_end;
        k.payloads.push_back(std::move(pl));
    }
    k.end = at;
    return k;
}

std::string describe(const Payload& p) {
    return fmt("stream %u%s object %u offset %u replicated %zu bytes data %zu bytes", p.stream & 0x7F,
               p.stream & 0x80 ? " (key)" : "", p.object, p.offset, p.replicated.size(), p.data.size());
}

// ---- ASF-notes §4, §5, §15: the header and the archive ---------------------------------------

const std::uint8_t kHeaderGuid[16] = {0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                      0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
const std::uint8_t kDataGuid[16] = {0x36, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11,
                                    0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C};
const std::uint8_t kFilePropertiesGuid[16] = {0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11,
                                              0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65};

struct HeaderInfo {
    std::uint64_t header_object_size = 0;  // the Header Object; the Data Object starts here
    std::uint32_t packet_size = 0;
    std::size_t file_properties = 0;       // offset of the File Properties Object
};

// Reads the Header Object at the start of `b` (whole ASF header or file) for the packet size.
HeaderInfo read_header(const Bytes& b, const std::string& what) {
    if (b.size() < 30 || std::memcmp(b.data(), kHeaderGuid, 16) != 0) fail(what + ": no ASF Header Object");
    HeaderInfo h;
    h.header_object_size = le64(b.data() + 16);
    if (h.header_object_size < 30 || h.header_object_size > b.size()) fail(what + ": bad Header Object size");
    const std::uint32_t count = le32(b.data() + 24);
    std::size_t at = 30;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (at + 24 > h.header_object_size) fail(what + ": header objects run past the Header Object");
        const std::uint64_t size = le64(b.data() + at + 16);
        if (size < 24 || at + size > h.header_object_size) fail(what + ": bad header object size");
        if (std::memcmp(b.data() + at, kFilePropertiesGuid, 16) == 0) {
            if (size < 104) fail(what + ": File Properties Object too short");
            const std::uint32_t min = le32(b.data() + at + 92), max = le32(b.data() + at + 96);
            if (min != max || min == 0) fail(fmt("%s: packet sizes min %u max %u are not one fixed size", what.c_str(), min, max));
            h.packet_size = min;
            h.file_properties = at;
        }
        at += size;
    }
    if (!h.packet_size) fail(what + ": no File Properties Object");
    return h;
}

struct Archive {
    Bytes file;
    HeaderInfo header;
    std::size_t first_packet = 0;  // file offset of packet 0
    std::uint64_t packets = 0;
    const std::uint8_t* packet(std::uint64_t n) const { return file.data() + first_packet + n * header.packet_size; }
};

Archive read_archive(const std::string& path) {
    Archive a;
    a.file = read_file(path);
    a.header = read_header(a.file, "archive");
    const std::size_t d = a.header.header_object_size;
    if (d + 50 > a.file.size() || std::memcmp(a.file.data() + d, kDataGuid, 16) != 0)
        fail("archive: no Data Object after the Header Object");
    const std::uint64_t size = le64(a.file.data() + d + 16), total = le64(a.file.data() + d + 40);
    if (size < 50 || d + size > a.file.size()) fail(fmt("archive: Data Object size %llu does not fit the file", (unsigned long long)size));
    if ((size - 50) % a.header.packet_size) fail("archive: Data Object size is not 50 + whole packets");
    a.first_packet = d + 50;
    a.packets = (size - 50) / a.header.packet_size;
    if (total != 0 && total != a.packets)
        fail(fmt("archive: Total Data Packets %llu but the Data Object holds %llu", (unsigned long long)total,
                 (unsigned long long)a.packets));
    return a;
}

// ---- the checks -------------------------------------------------------------------------------

// A live header ($H) against the archive's: the same bytes except the fields an archive fills in
// when it is finalized: File Properties File Size, Data Packets Count, Play Duration, Send
// Duration, Flags (Broadcast -> Seekable) (§5) and Data Object Size, Total Data Packets (§15).
void check_live_header(const Archive& a, const Bytes& live, const std::string& what) {
    const HeaderInfo h = read_header(live, what);
    if (h.packet_size != a.header.packet_size) fail(fmt("%s: packet size %u, archive %u", what.c_str(), h.packet_size, a.header.packet_size));
    if (live.size() != h.header_object_size + 50 || std::memcmp(live.data() + h.header_object_size, kDataGuid, 16) != 0)
        fail(what + " is not the Header Object plus the 50-byte Data Object start");
    if (h.header_object_size != a.header.header_object_size || h.file_properties != a.header.file_properties)
        fail(fmt("%s: Header Object of %llu bytes, archive's %llu", what.c_str(), (unsigned long long)h.header_object_size,
                 (unsigned long long)a.header.header_object_size));
    std::vector<bool> patched(live.size(), false);
    const auto mark = [&](std::size_t at, std::size_t n) { for (std::size_t i = 0; i < n; ++i) patched[at + i] = true; };
    const std::size_t fp = h.file_properties, d = h.header_object_size;
    mark(fp + 40, 8);  // File Size
    mark(fp + 56, 8);  // Data Packets Count
    mark(fp + 64, 8);  // Play Duration
    mark(fp + 72, 8);  // Send Duration
    mark(fp + 88, 4);  // Flags
    mark(d + 16, 8);   // Data Object Size
    mark(d + 40, 8);   // Total Data Packets
    for (std::size_t i = 0; i < live.size(); ++i)
        if (!patched[i] && live[i] != a.file[i])
            fail(fmt("%s: byte %zu is 0x%02X, archive's 0x%02X (not a field the archive patches)", what.c_str(), i, live[i], a.file[i]));
    const std::uint32_t flags = le32(live.data() + fp + 88);
    if (!(flags & 1)) fail(fmt("%s: File Properties Flags 0x%X without Broadcast", what.c_str(), flags));
}

struct Counts {
    std::uint64_t checked = 0, padded = 0, full = 0;
};

// Parses archive packet n and checks its own padding (§16.2: the Padding Length field gives the
// zeros at the end; the payloads end where the padding starts).
Packet archive_packet(const Archive& a, std::uint64_t n) {
    const std::uint32_t S = a.header.packet_size;
    const std::string what = fmt("archive packet %llu", (unsigned long long)n);
    const std::uint8_t* p = a.packet(n);
    Packet k = parse_packet(p, S, what);
    if (k.end != k.packet_length - k.padding)
        fail(fmt("%s: %zu bytes between the payloads and the padding", what.c_str(), k.packet_length - k.padding - k.end));
    for (std::size_t i = k.end; i < S; ++i)
        if (p[i]) fail(fmt("%s: padding byte %zu is 0x%02X, not zero", what.c_str(), i, p[i]));
    return k;
}

void check_wire_packet(const Archive& a, std::uint64_t n, const std::uint8_t* w, std::size_t wsize, const std::string& what,
                       Counts& c) {
    const std::uint32_t S = a.header.packet_size;
    if (n >= a.packets) fail(fmt("%s: packet %llu is not in the archive (%llu packets)", what.c_str(), (unsigned long long)n,
                                 (unsigned long long)a.packets));
    const Bytes archived(a.packet(n), a.packet(n) + S);
    if (wsize > S) fail(fmt("%s: %zu bytes, more than the packet size %u", what.c_str(), wsize, S));

    // MS-WMSP/MS-WMHTTP 2.2.3.3: no Padding Length, and (ASF-notes §16.2) no Packet Length.
    // The Length Type Flags follow the error correction data (§16.1) when there is any.
    const std::size_t ltf_at = wsize > 0 && (w[0] & 0x80) ? 1 + (w[0] & 0x0F) : 0;
    if (ltf_at >= wsize) fail(what + ": too short for its Length Type Flags");
    const std::uint8_t ltf = w[ltf_at];
    if ((ltf >> 5) & 3) fail(fmt("%s: Length Type Flags 0x%02X carry a Packet Length field", what.c_str(), ltf));
    if ((ltf >> 3) & 3) fail(fmt("%s: Length Type Flags 0x%02X carry a Padding Length field", what.c_str(), ltf));
    const Packet k = parse_packet(w, wsize, what);
    if (wsize < S && !k.multiple)
        fail(fmt("%s: %zu of %u bytes in the single-payload layout (Length Type Flags 0x%02X): re-padded, the zeros "
                 "would be media", what.c_str(), wsize, S, k.ltf));
    if (k.end != wsize) fail(fmt("%s: %zu bytes after the last payload", what.c_str(), wsize - k.end));

    // Padded back to the packet size with zeros, as a client does: the archive's payloads.
    Bytes padded(w, w + wsize);
    padded.resize(S, 0);
    const Packet r = parse_packet(padded.data(), S, what + " padded back");
    const Packet f = archive_packet(a, n);
    for (std::size_t i = r.end; i < S; ++i)
        if (padded[i]) fail(fmt("%s padded back: byte %zu after the payloads is 0x%02X", what.c_str(), i, padded[i]));
    if (r.send_time != f.send_time || r.duration != f.duration)
        fail(fmt("%s: send time %u duration %u, archive %u %u", what.c_str(), r.send_time, r.duration, f.send_time, f.duration));
    if (r.payloads.size() != f.payloads.size())
        fail(fmt("%s: %zu payloads, archive %zu", what.c_str(), r.payloads.size(), f.payloads.size()));
    for (std::size_t i = 0; i < r.payloads.size(); ++i)
        if (!(r.payloads[i] == f.payloads[i]))
            fail(fmt("%s: payload %zu is %s; archive: %s%s", what.c_str(), i, describe(r.payloads[i]).c_str(),
                     describe(f.payloads[i]).c_str(), r.payloads[i].data == f.payloads[i].data ? "" : " (data differ)"));

    // The padding restored the ASF way: the archive, byte for byte.
    Bytes restored;
    if (wsize == S) {
        restored = padded;
        ++c.full;
    } else {
        if (S - wsize < 2) fail(fmt("%s: %zu bytes, one short of the packet size: no room for a WORD Padding Length", what.c_str(), wsize));
        const std::size_t at = k.ltf_at + 2 + type_size((k.ltf >> 5) & 3) + type_size((k.ltf >> 1) & 3);
        restored.assign(w, w + at);
        const std::uint32_t pad = static_cast<std::uint32_t>(S - wsize - 2);
        restored.push_back(static_cast<std::uint8_t>(pad & 0xFF));
        restored.push_back(static_cast<std::uint8_t>(pad >> 8));
        restored.insert(restored.end(), w + at, w + wsize);
        restored[k.ltf_at] = static_cast<std::uint8_t>(restored[k.ltf_at] | (2 << 3));  // Padding Length Type WORD
        restored.resize(S, 0);
        ++c.padded;
    }
    if (restored != archived)
        fail(fmt("%s (%zu bytes on the wire, Length Type Flags 0x%02X) %s is not the archive's packet: %s", what.c_str(),
                 wsize, k.ltf, wsize == S ? "as it is" : "with its padding restored", first_difference(restored, archived).c_str()));
    ++c.checked;
}

// MS-WMSP 2.2.3: a Play response body.
Bytes check_pull(const Archive& a, const std::string& path) {
    const Bytes b = read_file(path);
    Counts c;
    Bytes header;
    std::size_t pos = 0, h_packets = 0, d_packets = 0, gaps = 0, b_bits = 0;
    std::uint32_t next_h_location = 0, expect_af = 0;
    std::int64_t first = -1, last = -1;
    bool header_done = false, ended = false, first_key = false;
    while (pos < b.size()) {
        if (ended) fail(fmt("pull: %zu bytes after $E", b.size() - pos));
        if (b.size() - pos < 4) fail(fmt("pull: body ends inside a Framing Header at byte %zu", pos));
        const std::uint8_t* f = b.data() + pos;
        if ((f[0] & 0x7F) != 0x24) fail(fmt("pull: byte %zu is 0x%02X, not a Framing Header ($)", pos, f[0]));
        if (f[0] & 0x80) ++b_bits;
        const char id = static_cast<char>(f[1]);
        const std::size_t length = le16(f + 2);
        if (b.size() - pos - 4 < length) fail(fmt("pull: $%c at byte %zu runs past the body", id, pos));
        const std::uint8_t* body = f + 4;
        if (id == 'H' || id == 'D' || id == 'M') {
            if (length < 8) fail(fmt("pull: $%c at byte %zu shorter than an MMS data packet", id, pos));
            const std::uint32_t location = le32(body);
            const std::uint8_t af = body[5];
            const std::uint32_t size = le16(body + 6);
            if (size != length)
                fail(fmt("pull: $%c at byte %zu: PacketSize %u differs from PacketLength %zu", id, pos, size, length));
            const std::uint8_t* payload = body + 8;
            const std::size_t n = length - 8;
            if (id == 'H') {
                if (header_done) fail("pull: a second ASF header");
                if (location != next_h_location++) fail(fmt("pull: $H LocationId %u out of order", location));
                header.insert(header.end(), payload, payload + n);
                ++h_packets;
                if (af == 0x0C || af == 0x08) header_done = true;
                else if (af != (h_packets == 1 ? 0x04 : 0x00)) fail(fmt("pull: $H AFFlags 0x%02X", af));
            } else if (id == 'D') {
                if (!header_done) fail("pull: $D before the whole $H");
                if (af != (expect_af & 0xFF)) fail(fmt("pull: $D #%zu AFFlags %u, expected %u", d_packets, af, expect_af & 0xFF));
                ++expect_af;
                if (last >= 0 && location <= last) fail(fmt("pull: LocationId %u after %lld", location, (long long)last));
                if (last >= 0 && location != last + 1) gaps += location - last - 1;
                if (first < 0) {
                    first = location;
                    const Packet k = parse_packet(payload, n, "pull first $D");
                    first_key = !k.payloads.empty() && (k.payloads[0].stream & 0x80) && k.payloads[0].offset == 0;
                }
                last = location;
                check_wire_packet(a, location, payload, n, fmt("pull $D #%zu (packet %u)", d_packets, location), c);
                ++d_packets;
            }
        } else if (id == 'E') {
            if (length != 4) fail("pull: $E PacketLength not 4");
            if (le32(body) != 0) fail(fmt("pull: $E reason 0x%08X", le32(body)));
            ended = true;
        } else if (id == 'C') {
            fail("pull: unexpected $C (no header change in this broadcast)");
        } else {
            fail(fmt("pull: unknown packet $%c (0x%02X) at byte %zu", id, f[1], pos));
        }
        pos += 4 + length;
    }
    if (!ended) fail("pull: the body does not end with $E");
    check_live_header(a, header, "pull $H");
    if (!first_key) fail("pull: the first $D does not start with a key frame");
    std::printf("pull: checked=%llu padded=%llu full=%llu first=%lld last=%lld gaps=%zu header=%zu h_packets=%zu b_bits=%zu\n",
                (unsigned long long)c.checked, (unsigned long long)c.padded, (unsigned long long)c.full, (long long)first,
                (long long)last, gaps, header.size(), h_packets, b_bits);
    return header;
}

// The strict receiver's --wire-out dump: $D payloads in arrival order, from the first packet.
Bytes check_push(const Archive& a, const std::string& path) {
    const Bytes b = read_file(path);
    Counts c;
    std::size_t pos = 0;
    std::uint64_t n = 0;
    Bytes header;
    while (pos < b.size()) {
        if (b.size() - pos < 5) fail("push dump: truncated record");
        const char type = static_cast<char>(b[pos]);
        const std::size_t len = le32(b.data() + pos + 1);
        if (b.size() - pos - 5 < len) fail("push dump: truncated record");
        const std::uint8_t* p = b.data() + pos + 5;
        if (type == 'H') {
            header.assign(p, p + len);
        } else if (type == 'D') {
            check_wire_packet(a, n, p, len, fmt("push $D #%llu (packet %llu)", (unsigned long long)n, (unsigned long long)n), c);
            ++n;
        } else {
            fail(fmt("push dump: record type 0x%02X", b[pos]));
        }
        pos += 5 + len;
    }
    check_live_header(a, header, "push $H");
    std::printf("push: checked=%llu padded=%llu full=%llu archive_packets=%llu header=%zu\n", (unsigned long long)c.checked,
                (unsigned long long)c.padded, (unsigned long long)c.full, (unsigned long long)a.packets, header.size());
    return header;
}

}  // namespace

int main(int argc, char** argv) {
    std::string archive, pull, push;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--archive") archive = argv[i + 1];
        else if (k == "--pull") pull = argv[i + 1];
        else if (k == "--push") push = argv[i + 1];
        else archive.clear(), i = argc;
    }
    if (archive.empty() || argc % 2 == 0) {
        std::fprintf(stderr, "usage: wire_check --archive FILE [--pull BODY] [--push DUMP]\n");
        return 2;
    }
    try {
        const Archive a = read_archive(archive);
        std::uint64_t padded = 0;
        for (std::uint64_t n = 0; n < a.packets; ++n)
            if ((archive_packet(a, n).ltf >> 3) & 3) ++padded;
        std::printf("archive: packets=%llu with_padding_field=%llu packet_size=%u header=%llu\n",
                    (unsigned long long)a.packets, (unsigned long long)padded, a.header.packet_size,
                    (unsigned long long)a.header.header_object_size + 50);
        Bytes pull_header, push_header;
        if (!pull.empty()) pull_header = check_pull(a, pull);
        if (!push.empty()) push_header = check_push(a, push);
        if (!pull.empty() && !push.empty() && pull_header != push_header)
            fail("the pulled $H and the pushed $H differ: " + first_difference(pull_header, push_header, "pushed"));
    } catch (const Mismatch& e) {
        std::fprintf(stderr, "wire_check: MISMATCH: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wire_check: %s\n", e.what());
        return 2;
    }
    return 0;
}
