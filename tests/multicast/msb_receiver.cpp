#include "msb_receiver.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

namespace msbtest {

namespace {

// MS-MSB 2.2.1.3.2, the decoding table as the specification prints it (0xff: not a valid character).
constexpr std::array<std::uint8_t, 128> kInverseSixtyFour = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32,
    0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0xff, 0x3f, 0xff, 0xff,
};

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return o;
}

std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }

template <typename... A>
std::string format(const char* f, A... a) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, a...);
    return buf;
}

bool encoded_form(std::string_view v) {
    if (v.size() < 14 || v.substr(0, 2) != "02") return false;
    for (char c : v.substr(2))
        if (static_cast<unsigned char>(c) >= 128 || kInverseSixtyFour[static_cast<unsigned char>(c)] == 0xff) return false;
    return true;
}

// A string property: plain printable ASCII, or an encoded UTF-16LE string with its NUL (2.2.1.2).
std::string string_value(std::string_view v) {
    if (!encoded_form(v)) return std::string(v);
    auto [key, data] = decode_block(v);
    if (key != 0) throw std::runtime_error("an encoded string with a non-zero Key");
    if (data.size() < 2 || data.size() % 2 || data[data.size() - 1] || data[data.size() - 2])
        throw std::runtime_error("an encoded string not ending with a UTF-16 NUL");
    std::string out;
    for (std::size_t i = 0; i + 2 < data.size(); i += 2) {
        const unsigned u = data[i] | (data[i + 1] << 8);
        out += u < 0x80 ? static_cast<char>(u) : '?';  // the test only needs ASCII
    }
    return out;
}

std::uint32_t integer_value(std::string_view v) {
    // 2.2.1.1: integer = "0x" 8HEXDIG
    if (v.size() != 10 || (v.substr(0, 2) != "0x" && v.substr(0, 2) != "0X"))
        throw std::runtime_error("an integer not written as 0x and 8 hex digits: " + std::string(v));
    std::uint32_t n = 0;
    for (char c : v.substr(2)) {
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) throw std::runtime_error("an integer with a non-hex digit: " + std::string(v));
        n = n * 16 + static_cast<std::uint32_t>(d);
    }
    return n;
}

}  // namespace

std::pair<std::uint32_t, Bytes> decode_block(std::string_view value) {
    if (value.substr(0, 2) != "02") throw std::runtime_error("a binary value without the 02 prefix");
    // 2.2.1.3.2: each character is six bits, most significant first; they form the bytes of
    // EncodedDataHeader {BYTE CRC; DWORD Key; DWORD Length} (Key and Length big-endian) + data.
    Bytes bytes;
    unsigned acc = 0;
    int bits = 0;
    for (char c : value.substr(2)) {
        const auto u = static_cast<unsigned char>(c);
        const std::uint8_t v = u < 128 ? kInverseSixtyFour[u] : 0xff;
        if (v == 0xff) throw std::runtime_error(std::string("an invalid character in an encoded block: ") + c);
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
        }
    }
    if (bytes.size() < 9) throw std::runtime_error("an encoded block shorter than its EncodedDataHeader");
    auto be32 = [&](std::size_t at) {
        return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) | (std::uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    };
    const std::uint32_t key = be32(1), length = be32(5);
    if (length > bytes.size() - 9) throw std::runtime_error("an encoded block's Length runs past its characters");
    std::uint8_t crc = 0;
    for (std::size_t i = 1; i < 9 + length; ++i) crc ^= bytes[i];
    if (crc != bytes[0]) throw std::runtime_error(format("an encoded block with CRC 0x%02X, computed 0x%02X", bytes[0], crc));
    return {key, Bytes(bytes.begin() + 9, bytes.begin() + 9 + length)};
}

ReceiverNsc read_nsc(std::string_view text) {
    // 2.2.1: ASCII, lines separated by CR LF, [Address] then [Formats].
    static const std::vector<std::string> kOrder = {
        "name", "nsc format version", "multicast adapter", "ip address", "ip port", "time to live", "default ecc",
        "log url", "unicast url", "allow splitting", "allow caching", "cache expiration time", "network buffer time"};
    ReceiverNsc nsc;
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = text.find("\r\n", pos);
        if (end == std::string_view::npos) throw std::runtime_error("the .nsc file does not end with CR LF");
        lines.emplace_back(text.substr(pos, end - pos));
        pos = end + 2;
    }
    for (std::size_t i = 0; i < lines.size(); ++i)
        for (char c : lines[i])
            if (static_cast<unsigned char>(c) > 0x7E || c == '\n' || c == '\r')
                throw std::runtime_error(format("line %zu: a byte that is not printable ASCII", i + 1));
    if (lines.empty() || lower(lines[0]) != "[address]") throw std::runtime_error("the .nsc file does not start with [Address]");
    std::size_t i = 1;
    int last = -1;
    bool have_ip = false, have_port = false;
    for (; i < lines.size() && lower(lines[i]) != "[formats]"; ++i) {
        const std::size_t eq = lines[i].find('=');
        if (eq == std::string::npos) throw std::runtime_error(format("line %zu: no '='", i + 1));
        std::string name = lower(lines[i].substr(0, eq));
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
        std::string_view value(lines[i]);
        value.remove_prefix(eq + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        const auto it = std::find(kOrder.begin(), kOrder.end(), name);
        if (it == kOrder.end()) throw std::runtime_error(format("line %zu: unknown property '%s'", i + 1, name.c_str()));
        const int index = static_cast<int>(it - kOrder.begin());
        // 2.2.1.4: properties in the order of the ABNF.
        if (index <= last) throw std::runtime_error(format("line %zu: '%s' out of the ABNF's order", i + 1, name.c_str()));
        last = index;
        nsc.property_order.push_back(name);
        if (name == "ip address") {
            nsc.group = string_value(value);
            have_ip = !nsc.group.empty();
        } else if (name == "ip port") {
            const std::uint32_t p = integer_value(value);
            if (p == 0 || p > 65535) throw std::runtime_error("IP Port out of range");
            nsc.port = static_cast<std::uint16_t>(p);
            have_port = true;
        } else if (name == "multicast adapter") {
            nsc.adapter = string_value(value);
        } else if (name == "time to live") {
            nsc.ttl = integer_value(value);
        } else if (name == "default ecc") {
            nsc.default_ecc = integer_value(value);
        } else if (name == "nsc format version") {
            if (string_value(value) != "3.0") throw std::runtime_error("NSC Format Version is not 3.0");
        } else if (name == "allow splitting" || name == "allow caching" || name == "cache expiration time" ||
                   name == "network buffer time") {
            (void)integer_value(value);
        } else {
            (void)string_value(value);
        }
    }
    if (!have_ip || !have_port) throw std::runtime_error("the [Address] section lacks IP Address or IP Port");
    if (i >= lines.size()) throw std::runtime_error("no [Formats] section");
    for (++i; i < lines.size(); ++i) {
        const std::size_t eq = lines[i].find('=');
        if (eq == std::string::npos) throw std::runtime_error(format("line %zu: no '='", i + 1));
        const std::string name = lower(lines[i].substr(0, eq));
        std::string_view value(lines[i]);
        value.remove_prefix(eq + 1);
        if (name.rfind("format", 0) == 0) {
            // 2.2.1.4: the ASF header, its Key the 11-bit Format ID.
            auto [key, data] = decode_block(value);
            if (key > 0x7FF) throw std::runtime_error("a Format Key with more than 11 bits");
            if (nsc.headers.count(static_cast<std::uint16_t>(key))) throw std::runtime_error("two headers with one Format ID");
            nsc.headers[static_cast<std::uint16_t>(key)] = std::move(data);
        } else if (name.rfind("description", 0) == 0) {
            (void)string_value(value);
        } else {
            throw std::runtime_error(format("line %zu: '%s' in [Formats]", i + 1, name.c_str()));
        }
    }
    if (nsc.headers.empty()) throw std::runtime_error("no Format in [Formats]");
    return nsc;
}

MsbReceiver::MsbReceiver(ReceiverNsc nsc, std::uint32_t packet_size)
    : nsc_(std::move(nsc)), packet_size_(packet_size), fec_expected_(nsc_.default_ecc.has_value()) {}

void MsbReceiver::violation(std::string what) {
    if (violations_.size() < violation_budget_) violations_.push_back(std::move(what));
}

std::vector<ReceivedPacket> MsbReceiver::take_packets() {
    std::vector<ReceivedPacket> out;
    out.swap(ready_);
    return out;
}

// MS-MSB 2.2.4: the Padding Data removed SHOULD be, and then the Padding Length field says there is
// none. A packet shorter than the packet size must let a reader find where its payloads end
// (multiple payloads, each with its length), or padding it back reads zeros as media.
void MsbReceiver::check_wire_form(const std::uint8_t* asf, std::size_t n, std::uint32_t id) {
    if (n > packet_size_) violation(format("packet %u: ASF packet of %zu bytes, the packet size is %u", id, n, packet_size_));
    std::size_t at = (asf[0] & 0x80) ? 1 + (asf[0] & 0x0F) : 0;
    if (at + 2 > n) {
        violation(format("packet %u: too short for its payload parsing information", id));
        return;
    }
    const std::uint8_t ltf = asf[at];
    const auto field = [](unsigned type) -> std::size_t { return type == 3 ? 4 : type; };
    std::size_t p = at + 2;
    const std::size_t packet_length_bytes = field((ltf >> 5) & 3), sequence_bytes = field((ltf >> 1) & 3),
                      padding_bytes = field((ltf >> 3) & 3);
    p += packet_length_bytes + sequence_bytes;
    if (padding_bytes) {
        if (p + padding_bytes > n) {
            violation(format("packet %u: Padding Length field past the end", id));
            return;
        }
        std::uint32_t padding = 0;
        for (std::size_t k = 0; k < padding_bytes; ++k) padding |= std::uint32_t{asf[p + k]} << (8 * k);
        if (padding != 0) violation(format("packet %u: Padding Length %u in an MSB packet (2.2.4: the padding is removed)", id, padding));
    }
    if (n < packet_size_ && !(ltf & 0x01) && !packet_length_bytes)
        violation(format("packet %u: %zu bytes in the single-payload layout without a Packet Length: padded back to %u bytes its "
                         "payload would take the zeros as media", id, n, packet_size_));
}

void MsbReceiver::on_datagram(const std::uint8_t* d, std::size_t size, double t) {
    ++counts_.datagrams;
    if (size == 4) {
        // 2.2.3: "MSB " = 0x2042534D
        if (le32(d) != 0x2042534Du) {
            violation("a 4-byte datagram that is not a Beacon");
            return;
        }
        ++counts_.beacons;
        if (last_beacon_t_) {
            const double gap = t - *last_beacon_t_;
            if (counts_.min_beacon_gap_s == 0 || gap < counts_.min_beacon_gap_s) counts_.min_beacon_gap_s = gap;
            // 3.1.3.2: the Beacon timer expires at most once a second (a little slack for scheduling).
            if (gap < 0.9) violation(format("beacons %.3f s apart (3.1.3.2: not more often than once a second)", gap));
        }
        if (last_packet_t_ && t - *last_packet_t_ < 1.0) ++counts_.beacons_while_streaming;
        last_beacon_t_ = t;
        return;
    }
    if (size < 8) {
        violation(format("a datagram of %zu bytes: neither a Beacon nor an MSB packet", size));
        return;
    }
    const std::uint32_t id = le32(d);
    const std::uint16_t sid = le16(d + 4), psize = le16(d + 6);
    // 2.2.4: wPacketSize is the whole MSB packet, 8 to 0xFFFF.
    if (psize != size) {
        violation(format("packet %u: wPacketSize %u, datagram %zu bytes", id, psize, size));
        return;
    }
    if (size == 8) {
        violation(format("packet %u: an MSB packet with no ASF packet", id));
        return;
    }
    if (sid & 0x7800) violation(format("packet %u: wStreamID 0x%04X has the unused bits 11-14 set (2.2.4)", id, sid));
    const auto fid = static_cast<std::uint16_t>(sid & 0x7FF);
    if (!nsc_.headers.count(fid)) {
        // 3.2.5.2: ignored. The sender must announce every header it uses: a violation here.
        ++counts_.unknown_format;
        violation(format("packet %u: Format ID %u is not in the .nsc file", id, fid));
        return;
    }
    if (stream_id_ && *stream_id_ != sid && open_) {
        settle(*open_);
        open_.reset();
    }
    stream_id_ = sid;
    last_packet_t_ = t;

    const std::uint8_t* asf = d + 8;
    const std::size_t n = size - 8;
    const std::uint8_t ecf = asf[0];
    if (!(ecf & 0x80)) {
        // ASF-notes §16.1: no error correction field. 2.2.2: with error correction it is present.
        if (fec_expected_) violation(format("packet %u: no Error Correction field though the .nsc announces Default Ecc", id));
        if (last_data_id_ && id <= *last_data_id_) violation(format("packet %u: dwPacketID did not increase", id));
        if (!first_data_id_) first_data_id_ = id;
        last_data_id_ = id;
        ++counts_.data_packets;
        check_wire_form(asf, n, id);
        ready_.push_back({id, fid, sid, Bytes(asf, asf + n), false});
        return;
    }
    if ((ecf >> 5) & 0x03) violation(format("packet %u: Error Correction Length Type %u (0: the length is in the flags)", id, (ecf >> 5) & 3));
    // 2.2.2: Type, Number and Cycle: 2 bytes of Error Correction Data, the same size in every packet.
    if ((ecf & 0x0F) != 2) {
        violation(format("packet %u: %u bytes of Error Correction Data, not 2", id, ecf & 0x0F));
        return;
    }
    if (n < 4) {
        violation(format("packet %u: an ASF packet of %zu bytes", id, n));
        return;
    }
    const bool opaque = ecf & 0x10;
    const int type = asf[1] & 0x0F, number = asf[1] >> 4, cycle = asf[2];
    if (type > 2) violation(format("packet %u: error correction Type %d (0, 1 or 2)", id, type));
    if ((type == 2) != opaque)
        violation(format("packet %u: Type %d with Opaque Data Present %d (2.2.2: set on parity packets only)", id, type, opaque));

    if (type == 0) {
        // 2.2.2: without error correction, Number and Cycle are 0.
        if (number || cycle) violation(format("packet %u: Type 0 with Number %d, Cycle %d", id, number, cycle));
        if (last_data_id_ && id <= *last_data_id_) violation(format("packet %u: dwPacketID did not increase", id));
        if (!first_data_id_) first_data_id_ = id;
        last_data_id_ = id;
        ++counts_.data_packets;
        last_was_parity_ = false;
        check_wire_form(asf, n, id);
        ready_.push_back({id, fid, sid, Bytes(asf, asf + n), false});
        return;
    }
    if (type == 2 || opaque) {
        ++counts_.parity_packets;
        last_was_parity_ = true;
        if (n - 3 > packet_size_) violation(format("parity packet %u: %zu bytes of parity, more than the packet size", id, n - 3));
        if (open_ && open_->cycle != cycle) {
            settle(*open_);
            open_.reset();
        }
        if (!open_) open_ = Cycle{cycle, {}, {}};
        if (!open_->data.empty() && id < open_->data.rbegin()->first)
            violation(format("parity packet %u: dwPacketID below its cycle's packet %u (2.2.4: it repeats the previous one)", id,
                             open_->data.rbegin()->first));
        open_->parity = Entry{id, sid, number, Bytes(asf, asf + n)};
        settle(*open_);
        open_.reset();
        return;
    }
    // A data packet of an error correction cycle.
    ++counts_.data_packets;
    last_was_parity_ = false;
    if (last_data_id_ && id <= *last_data_id_)
        violation(format("packet %u: dwPacketID did not increase (previous %u; 2.2.4)", id, *last_data_id_));
    if (!first_data_id_) first_data_id_ = id;
    last_data_id_ = id;
    if (number < 1) violation(format("packet %u: Number 0 in an error-corrected packet (2.2.2: from 1)", id));
    check_wire_form(asf, n, id);
    if (open_ && open_->cycle != cycle) {
        settle(*open_);
        open_.reset();
    }
    if (!open_) open_ = Cycle{cycle, {}, {}};
    if (open_->data.count(id)) violation(format("packet %u received twice", id));
    open_->data[id] = Entry{id, sid, number, Bytes(asf, asf + n)};
}

void MsbReceiver::settle(Cycle& c) {
    ++counts_.cycles;
    // Cycles follow each other, +1 each (2.2.2; wrapping at 8 bits).
    if (prev_cycle_ && c.cycle != (*prev_cycle_ + 1) % 256)
        violation(format("Cycle %d follows Cycle %d (2.2.2: +1 per cycle)", c.cycle, *prev_cycle_));
    prev_cycle_ = c.cycle;

    // Numbers: either the packet's place in the span (the parity packet span + 1), or 1 in every
    // packet (2.2.2).
    bool all_one = c.parity ? c.parity->number == 1 : true;
    for (const auto& [id, e] : c.data) all_one = all_one && e.number == 1;

    std::optional<std::uint32_t> start, end;
    if (c.parity) end = c.parity->id;  // 2.2.4: the parity packet repeats the cycle's last dwPacketID
    if (!all_one) {
        if (c.parity && c.parity->number > 1) start = c.parity->id - static_cast<std::uint32_t>(c.parity->number - 1) + 1;
        for (const auto& [id, e] : c.data) {
            const std::uint32_t s = id - static_cast<std::uint32_t>(e.number) + 1;
            if (start && s != *start)
                violation(format("packet %u: Number %d does not fit the cycle starting at packet %u (2.2.2)", id, e.number, *start));
            if (!start) start = s;
        }
    }
    if (prev_cycle_end_) {
        const std::uint32_t s = *prev_cycle_end_ + 1;
        if (start && *start != s)
            violation(format("a cycle starts at packet %u, the previous one ended at %u", *start, *prev_cycle_end_));
        start = s;
    }
    if (!start && !c.data.empty()) start = c.data.begin()->first;
    if (!end && !c.data.empty()) end = c.data.rbegin()->first;

    std::vector<std::uint32_t> missing;
    if (start && end) {
        if (*end < *start || *end - *start + 1 > 15) {
            violation(format("a cycle from packet %u to %u: the span is 1..15 (2.2.2)", *start, *end));
        } else {
            const std::uint32_t span = *end - *start + 1;
            if (nsc_.default_ecc && span > *nsc_.default_ecc)
                violation(format("a span of %u packets, more than Default Ecc %u (2.2.2)", span, *nsc_.default_ecc));
            if (c.parity && !all_one && span + 1 <= 15 && c.parity->number != static_cast<int>(span + 1))
                violation(format("parity packet %u: Number %d for a span of %u (2.2.2: span + 1)", c.parity->id, c.parity->number, span));
            for (std::uint32_t id = *start; id != *end + 1; ++id)
                if (!c.data.count(id)) missing.push_back(id);
        }
    }
    prev_cycle_end_ = c.parity ? end : std::nullopt;

    // 2.2.2: the parity is the byte-wise XOR of the span's packets, without their Error Correction
    // Flags and Data (3 bytes here), the shorter ones zero-extended to the longest.
    std::vector<ReceivedPacket> out;
    for (auto& [id, e] : c.data) out.push_back({id, static_cast<std::uint16_t>(e.stream_id & 0x7FF), e.stream_id, std::move(e.asf), false});
    if (c.parity) {
        const Bytes& par = c.parity->asf;
        const std::size_t plen = par.size() - 3;
        Bytes x(plen, 0);
        bool too_long = false;
        for (const auto& p : out) {
            if (p.asf.size() - 3 > plen) too_long = true;
            for (std::size_t k = 3; k < p.asf.size() && k - 3 < plen; ++k) x[k - 3] ^= p.asf[k];
        }
        if (too_long) violation(format("parity packet %u is shorter than a packet of its span (2.2.2: as large as the largest)", c.parity->id));
        if (missing.empty() && start) {
            std::size_t longest = 0;
            for (const auto& p : out) longest = std::max(longest, p.asf.size() - 3);
            if (longest != plen) violation(format("parity packet %u has %zu bytes of parity, the longest packet %zu", c.parity->id, plen, longest));
            if (!std::equal(x.begin(), x.end(), par.begin() + 3)) violation(format("parity packet %u is not the XOR of its span", c.parity->id));
            ++counts_.parity_checked;
        } else if (missing.size() == 1) {
            // 3.2.5.3: one lost packet per span is the XOR of the others and the parity packet.
            for (std::size_t k = 0; k < plen; ++k) x[k] ^= par[3 + k];
            ReceivedPacket r;
            r.packet_id = missing[0];
            r.stream_id = c.parity->stream_id;
            r.format_id = static_cast<std::uint16_t>(r.stream_id & 0x7FF);
            const int number = all_one ? 1 : static_cast<int>(missing[0] - *start + 1);
            r.asf = {0x82, static_cast<std::uint8_t>(1 | (number << 4)), static_cast<std::uint8_t>(c.cycle)};
            r.asf.insert(r.asf.end(), x.begin(), x.end());
            r.rebuilt = true;
            out.push_back(std::move(r));
            ++counts_.recovered;
            first_data_id_ = first_data_id_ ? std::min(*first_data_id_, missing[0]) : missing[0];
            last_data_id_ = last_data_id_ ? std::max(*last_data_id_, missing[0]) : missing[0];
        }
    }
    std::sort(out.begin(), out.end(), [](const ReceivedPacket& a, const ReceivedPacket& b) { return a.packet_id < b.packet_id; });
    for (auto& p : out) ready_.push_back(std::move(p));
}

void MsbReceiver::finish() {
    if (open_) {
        settle(*open_);
        open_.reset();
    }
    // Every data packet from the first to the last dwPacketID either arrived or was rebuilt.
    if (last_data_id_ && first_data_id_) {
        const std::uint64_t expected = std::uint64_t{*last_data_id_} - *first_data_id_ + 1;
        const std::uint64_t have = counts_.data_packets + counts_.recovered;
        counts_.lost = expected > have ? expected - have : 0;
    }
}

}  // namespace msbtest
