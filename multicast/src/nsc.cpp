#include "asfcast/multicast/nsc.hpp"
#include "asfcast/core/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

namespace asfcast::multicast {

namespace {

// MS-MSB 2.2.1.3.2: the 64 characters of the encoding, indexed by a 6-bit value.
constexpr std::string_view kSixtyFour = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz{}";
constexpr std::uint8_t kInvalid = 0xFF;
constexpr std::size_t kEncodedDataHeaderBytes = 9;  // BYTE CRC, DWORD Key, DWORD Length (2.2.1.3.1)

// The decoding table of MS-MSB 2.2.1.3.2 (invalid characters map to 0xFF).
constexpr std::array<std::uint8_t, 128> make_inverse() {
    std::array<std::uint8_t, 128> t{};
    for (auto& v : t) v = kInvalid;
    for (std::size_t i = 0; i < kSixtyFour.size(); ++i) t[static_cast<unsigned char>(kSixtyFour[i])] = static_cast<std::uint8_t>(i);
    return t;
}
constexpr std::array<std::uint8_t, 128> kInverse = make_inverse();

std::uint8_t sextet(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 128 ? kInverse[u] : kInvalid;
}

bool is_block_char(char c) { return sextet(c) != kInvalid; }

// A value in the form the ABNF calls binary: "02" and at least 12 encoded characters.
bool looks_encoded(std::string_view v) {
    return v.size() >= 14 && v.substr(0, 2) == "02" && std::all_of(v.begin() + 2, v.end(), is_block_char);
}

bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// MS-MSB 2.2.1.2: printable ASCII may stand as it is; anything else is encoded. A plain value
// that a reader would take for an encoded block, or that loses blanks at its ends, is encoded too.
std::string string_value(std::string_view s, NscStrings strings) {
    if (strings == NscStrings::plain_when_possible && printable_ascii(s) && !looks_encoded(s) && s.front() != ' ' &&
        s.back() != ' ')
        return std::string(s);
    return encode_nsc_string(s);
}

// MS-MSB 2.2.1.1: integer = "0x" 8HEXDIG.
std::string integer_value(std::uint32_t v) { return fmt::format("0x{:08X}", v); }

}  // namespace

std::string encode_nsc_block(ByteView data, std::uint32_t key) {
    // MS-MSB 2.2.1.3.1/2.2.1.3.2: EncodedDataHeader {CRC, Key, Length} with Key and Length
    // big-endian, the CRC the XOR of the Key, Length and data bytes; then the data; the whole read
    // as one bit string, most significant bit first, six bits per character, the last group
    // padded with zero bits.
    const auto length = static_cast<std::uint32_t>(data.size());
    std::array<std::uint8_t, kEncodedDataHeaderBytes> head{};
    for (int i = 0; i < 4; ++i) {
        head[1 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(key >> (24 - 8 * i));
        head[5 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
    }
    std::uint8_t crc = 0;
    for (std::size_t i = 1; i < head.size(); ++i) crc ^= head[i];
    for (std::uint8_t b : data) crc ^= b;
    head[0] = crc;

    std::string out = "02";  // MS-MSB 2.2.1.1: binary = "02" encoded-block
    out.reserve(2 + ((head.size() + data.size()) * 8 + 5) / 6);
    std::uint32_t acc = 0;
    int bits = 0;
    auto put = [&](std::uint8_t b) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kSixtyFour[(acc >> bits) & 0x3F];
        }
        acc &= (1u << bits) - 1;
    };
    for (std::uint8_t b : head) put(b);
    for (std::uint8_t b : data) put(b);
    if (bits > 0) out += kSixtyFour[(acc << (6 - bits)) & 0x3F];
    return out;
}

std::string encode_nsc_string(std::string_view utf8) {
    Bytes utf16;
    ByteWriter(utf16).utf16le(utf8, true);  // MS-MSB 2.2.1.2: UTF-16LE, the NUL included
    return encode_nsc_block(utf16, 0);
}

NscBlock decode_nsc_block(std::string_view value) {
    if (value.substr(0, 2) != "02")
        throw NscError(fmt::format("an encoded value starts with \"02\" (MS-MSB 2.2.1.1), this one with \"{}\"",
                                   value.substr(0, 2)));
    const std::string_view chars = value.substr(2);
    if (chars.size() < 12)
        throw NscError(fmt::format("an encoded block has at least 12 characters (MS-MSB 2.2.1.1), this one {}", chars.size()));
    Bytes bytes;
    bytes.reserve(chars.size() * 6 / 8);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < chars.size(); ++i) {
        const std::uint8_t v = sextet(chars[i]);
        if (v == kInvalid)
            throw NscError(fmt::format("character {} of an encoded block ('{}') is not in the encoding table (MS-MSB 2.2.1.3.2)",
                                       i + 3, printable_ascii(chars.substr(i, 1)) ? std::string(1, chars[i]) : fmt::format("\\x{:02X}", static_cast<unsigned char>(chars[i]))));
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes.push_back(static_cast<std::uint8_t>(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    auto be32 = [&](std::size_t at) {
        return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) | (std::uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    };
    NscBlock block;
    block.key = be32(1);
    const std::uint32_t length = be32(5);
    const std::size_t have = bytes.size() - kEncodedDataHeaderBytes;
    if (length > have)
        throw NscError(fmt::format("an encoded block says Length {} but holds {} bytes of data", length, have));
    // Exactly the characters the header and data need, the pad bits zero: nothing else follows.
    const std::size_t need = ((kEncodedDataHeaderBytes + length) * 8 + 5) / 6;
    if (chars.size() != need)
        throw NscError(fmt::format("an encoded block of Length {} is {} characters, not {}", length, chars.size(), need));
    const int pad_bits = static_cast<int>(need * 6 - (kEncodedDataHeaderBytes + length) * 8);
    if (pad_bits > 0 && (sextet(chars.back()) & ((1u << pad_bits) - 1)) != 0)
        throw NscError("an encoded block's last character has non-zero pad bits (MS-MSB 2.2.1.3.2)");
    std::uint8_t crc = 0;
    for (std::size_t i = 1; i < kEncodedDataHeaderBytes + length; ++i) crc ^= bytes[i];
    if (crc != bytes[0])
        throw NscError(fmt::format("an encoded block's CRC is 0x{:02X}, its Key, Length and data give 0x{:02X} "
                                   "(MS-MSB 2.2.1.3.1)", bytes[0], crc));
    block.data.assign(bytes.begin() + kEncodedDataHeaderBytes, bytes.begin() + static_cast<std::ptrdiff_t>(kEncodedDataHeaderBytes + length));
    return block;
}

std::string decode_nsc_string(std::string_view value) {
    NscBlock b = decode_nsc_block(value);
    if (b.key != 0) throw NscError(fmt::format("an encoded string has Key {}, not 0 (MS-MSB 2.2.1.3.1)", b.key));
    if (b.data.size() < 2 || b.data.size() % 2 != 0 || b.data[b.data.size() - 1] != 0 || b.data[b.data.size() - 2] != 0)
        throw NscError(fmt::format("an encoded string is UTF-16 ending with a NUL character (MS-MSB 2.2.1.2); this "
                                   "one has {} bytes{}", b.data.size(), b.data.size() >= 2 ? " without the NUL" : ""));
    for (std::size_t i = 0; i + 2 < b.data.size(); i += 2)
        if (b.data[i] == 0 && b.data[i + 1] == 0) throw NscError("an encoded string has a NUL character before its end");
    ByteReader r(b.data, "encoded string");
    return r.utf16le(b.data.size());
}

std::uint16_t format_id_for(ByteView asf_header) {
    // FNV-1a, folded to 11 bits. Identical headers get one ID; MsbSender moves a header whose
    // ID another header already has to the next free one.
    std::uint32_t h = 2166136261u;
    for (std::uint8_t b : asf_header) h = (h ^ b) * 16777619u;
    return static_cast<std::uint16_t>((h ^ (h >> 11) ^ (h >> 22)) & 0x7FF);
}

std::string make_nsc(const NscAnnouncement& a, NscStrings strings) {
    if (a.ip_address.empty()) throw NscError("the .nsc file needs the multicast group's IP Address");
    if (a.ip_port == 0) throw NscError("the .nsc file needs an IP Port from 1 to 65535");
    if (a.formats.empty()) throw NscError("the .nsc file lists at least one ASF header (Format1)");
    for (std::size_t i = 0; i < a.formats.size(); ++i) {
        const NscFormat& f = a.formats[i];
        if (f.format_id > 0x7FF) throw NscError(fmt::format("Format{}: Format ID {} has more than 11 bits", i + 1, f.format_id));
        if (f.asf_header.empty()) throw NscError(fmt::format("Format{}: no ASF header", i + 1));
        for (std::size_t j = 0; j < i; ++j)
            if (a.formats[j].format_id == f.format_id)
                throw NscError(fmt::format("Format{} and Format{} have the same Format ID {} (MS-MSB 2.2.1.4)", j + 1, i + 1, f.format_id));
    }
    std::string out;
    auto line = [&](std::string_view name, const std::string& value) {
        out += name;
        out += '=';
        out += value;
        out += "\r\n";  // MS-MSB 2.2.1: CR LF line ends
    };
    auto str = [&](std::string_view name, const std::string& value) {
        if (!value.empty()) line(name, string_value(value, strings));  // empty: the property is absent
    };
    auto num = [&](std::string_view name, std::optional<std::uint32_t> value) {
        if (value) line(name, integer_value(*value));
    };
    auto flag = [&](std::string_view name, std::optional<bool> value) {
        if (value) line(name, integer_value(*value ? 1 : 0));
    };
    // MS-MSB 2.2.1.1/2.2.1.4: the sections and properties in the ABNF's order.
    out += "[Address]\r\n";
    str("Name", a.name);
    if (a.format_version) str("NSC Format Version", "3.0");
    str("Multicast Adapter", a.multicast_adapter);
    str("IP Address", a.ip_address);
    num("IP Port", a.ip_port);
    num("Time To Live", a.time_to_live);
    num("Default Ecc", a.default_ecc);
    str("Log URL", a.log_url);
    str("Unicast URL", a.unicast_url);
    flag("Allow Splitting", a.allow_splitting);
    flag("Allow Caching", a.allow_caching);
    num("Cache Expiration Time", a.cache_expiration_s);
    num("Network Buffer Time", a.network_buffer_ms);
    out += "[Formats]\r\n";
    for (std::size_t i = 0; i < a.formats.size(); ++i) {
        const NscFormat& f = a.formats[i];
        // MS-MSB 2.2.1.4: the ASF header encoded with its Format ID as the Key.
        line(fmt::format("Format{}", i + 1), encode_nsc_block(f.asf_header, f.format_id));
        str(fmt::format("Description{}", i + 1), f.description);
    }
    return out;
}

namespace {

enum class Kind { string, integer, flag, version };

struct AddressProperty {
    std::string_view name;
    Kind kind;
};

// MS-MSB 2.2.1.1: address-section = optional-properties1 ip-address ip-port optional-properties2,
// in this order.
constexpr std::array<AddressProperty, 13> kAddressProperties = {{
    {"Name", Kind::string},
    {"NSC Format Version", Kind::version},
    {"Multicast Adapter", Kind::string},
    {"IP Address", Kind::string},
    {"IP Port", Kind::integer},
    {"Time To Live", Kind::integer},
    {"Default Ecc", Kind::integer},
    {"Log URL", Kind::string},
    {"Unicast URL", Kind::string},
    {"Allow Splitting", Kind::flag},
    {"Allow Caching", Kind::flag},
    {"Cache Expiration Time", Kind::integer},
    {"Network Buffer Time", Kind::integer},
}};

class NscReader {
public:
    explicit NscReader(std::string_view text) : text_(text) {}

    NscAnnouncement read() {
        NscAnnouncement a;
        a.format_version = false;
        std::string_view l;
        if (!next_line(l)) throw NscError("the .nsc text is empty; it starts with [Address] (MS-MSB 2.2.1.1)");
        if (!iequals(l, "[Address]")) fail(fmt::format("the file starts with [Address], not \"{}\"", shown(l)));
        int last = -1;  // index in kAddressProperties of the last property read
        bool formats_section = false;
        while (next_line(l)) {
            if (iequals(l, "[Formats]")) {
                formats_section = true;
                break;
            }
            auto [name, value] = split(l);
            int index = -1;
            for (std::size_t i = 0; i < kAddressProperties.size(); ++i)
                if (iequals(name, kAddressProperties[i].name)) index = static_cast<int>(i);
            if (index < 0) fail(fmt::format("\"{}\" is not a property of the [Address] section (MS-MSB 2.2.1.4)", shown(name)));
            const AddressProperty& p = kAddressProperties[static_cast<std::size_t>(index)];
            if (index == last) fail(fmt::format("{} appears twice", p.name));
            if (index < last)
                fail(fmt::format("{} comes after {}; properties keep the ABNF's order (MS-MSB 2.2.1.4)", p.name,
                                 kAddressProperties[static_cast<std::size_t>(last)].name));
            last = index;
            read_address(a, p, value);
        }
        if (!formats_section) fail_at(line_no_ + 1, "no [Formats] section (MS-MSB 2.2.1.1)");
        if (a.ip_address.empty()) throw NscError("the [Address] section has no IP Address (MS-MSB 2.2.1.1 requires it)");
        if (a.ip_port == 0) throw NscError("the [Address] section has no IP Port (MS-MSB 2.2.1.1 requires it)");

        std::string last_format_number;
        bool described = false;
        while (next_line(l)) {
            auto [name, value] = split(l);
            if (istarts_with(name, "Format") && digits(name.substr(6))) {
                const std::string number(name.substr(6));
                NscFormat f;
                NscBlock b = block(name, value, "an ASF header");
                if (b.key > 0x7FF)
                    fail(fmt::format("{}: Key {} is not an 11-bit Format ID (MS-MSB 2.2.1.3.1)", shown(name), b.key));
                if (b.data.empty()) fail(fmt::format("{}: the ASF header is empty", shown(name)));
                f.format_id = static_cast<std::uint16_t>(b.key);
                f.asf_header = std::move(b.data);
                for (const auto& other : a.formats)
                    if (other.format_id == f.format_id)
                        fail(fmt::format("{}: Format ID {} is already another header's (MS-MSB 2.2.1.4)", shown(name), f.format_id));
                for (const auto& n : numbers_)
                    if (n == number) fail(fmt::format("{} appears twice", shown(name)));
                numbers_.push_back(number);
                a.formats.push_back(std::move(f));
                last_format_number = number;
                described = false;
            } else if (istarts_with(name, "Description") && digits(name.substr(11))) {
                if (a.formats.empty() || name.substr(11) != last_format_number || described)
                    fail(fmt::format("{} does not follow Format{} (MS-MSB 2.2.1.1: a description follows its format)",
                                     shown(name), name.substr(11)));
                a.formats.back().description = string(name, value);
                described = true;
            } else {
                fail(fmt::format("\"{}\" is not a property of the [Formats] section (Format<n>, Description<n>)", shown(name)));
            }
        }
        if (a.formats.empty()) throw NscError("the [Formats] section lists no ASF header (Format1; MS-MSB 2.2.1.1)");
        return a;
    }

private:
    [[noreturn]] void fail(const std::string& what) const { fail_at(line_no_, what); }
    [[noreturn]] static void fail_at(std::size_t line, const std::string& what) {
        throw NscError(fmt::format(".nsc line {}: {}", line, what));
    }

    static std::string shown(std::string_view s) {
        std::string out;
        for (char c : s.substr(0, 60)) out += (c >= 0x20 && c <= 0x7E) ? c : '?';
        if (s.size() > 60) out += "...";
        return out;
    }

    // The next CR LF terminated line (MS-MSB 2.2.1: ASCII, lines separated by CR LF).
    bool next_line(std::string_view& line) {
        if (pos_ >= text_.size()) return false;
        ++line_no_;
        const std::size_t end = text_.find("\r\n", pos_);
        const std::string_view rest = text_.substr(pos_, end == std::string_view::npos ? std::string_view::npos : end - pos_);
        for (char c : rest) {
            if (c == '\n') fail("a line ends with LF alone; .nsc lines end with CR LF (MS-MSB 2.2.1)");
            if (c == '\r') fail("a CR without LF; .nsc lines end with CR LF (MS-MSB 2.2.1)");
            if (static_cast<unsigned char>(c) > 0x7E || (static_cast<unsigned char>(c) < 0x20 && c != '\t'))
                fail(fmt::format("byte 0x{:02X} is not a printable ASCII character (MS-MSB 2.2.1)", static_cast<unsigned char>(c)));
        }
        if (end == std::string_view::npos) fail("the last line does not end with CR LF (MS-MSB 2.2.1.1)");
        line = rest;
        pos_ = end + 2;
        if (line.empty()) fail("an empty line (the ABNF has none)");
        return true;
    }

    // name *WSP "=" *WSP value
    std::pair<std::string_view, std::string_view> split(std::string_view l) const {
        const std::size_t eq = l.find('=');
        if (eq == std::string_view::npos) fail(fmt::format("\"{}\" is not a Name=value property", shown(l)));
        std::string_view name = l.substr(0, eq), value = l.substr(eq + 1);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        if (name.empty()) fail("a property without a name");
        return {name, value};
    }

    static bool digits(std::string_view s) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    }

    NscBlock block(std::string_view name, std::string_view value, std::string_view what) const {
        try {
            return decode_nsc_block(value);
        } catch (const NscError& e) {
            fail(fmt::format("{} ({}): {}", shown(name), what, e.what()));
        }
    }

    std::string string(std::string_view name, std::string_view value) const {
        if (looks_encoded(value)) {
            try {
                return decode_nsc_string(value);
            } catch (const NscError& e) {
                fail(fmt::format("{}: {}", shown(name), e.what()));
            }
        }
        if (!printable_ascii(value)) fail(fmt::format("{}: a plain string is printable ASCII (MS-MSB 2.2.1.2)", shown(name)));
        return std::string(value);
    }

    std::uint32_t integer(std::string_view name, std::string_view value) const {
        // MS-MSB 2.2.1.1: integer = "0x" 8HEXDIG
        const bool ok = value.size() == 10 && istarts_with(value, "0x") &&
                        std::all_of(value.begin() + 2, value.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
        if (!ok) fail(fmt::format("{}: \"{}\" is not an integer written 0x and 8 hex digits (MS-MSB 2.2.1.1)", shown(name), shown(value)));
        return static_cast<std::uint32_t>(std::stoul(std::string(value.substr(2)), nullptr, 16));
    }

    void read_address(NscAnnouncement& a, const AddressProperty& p, std::string_view value) const {
        const std::string_view n = p.name;
        switch (p.kind) {
            case Kind::version: {
                const std::string v = string(n, value);
                if (v != "3.0") fail(fmt::format("NSC Format Version is \"{}\"; MS-MSB 2.2.1.4 has only 3.0", shown(v)));
                a.format_version = true;
                return;
            }
            case Kind::string: {
                std::string v = string(n, value);
                if (n == "Name") a.name = std::move(v);
                else if (n == "Multicast Adapter") a.multicast_adapter = std::move(v);
                else if (n == "IP Address") a.ip_address = std::move(v);
                else if (n == "Log URL") a.log_url = std::move(v);
                else if (n == "Unicast URL") a.unicast_url = std::move(v);
                return;
            }
            case Kind::flag: {
                const std::uint32_t v = integer(n, value);
                if (v > 1) fail(fmt::format("{} is {}; it is 1 or 0 (MS-MSB 2.2.1.4)", n, v));
                (n == "Allow Splitting" ? a.allow_splitting : a.allow_caching) = v == 1;
                return;
            }
            case Kind::integer: {
                const std::uint32_t v = integer(n, value);
                if (n == "IP Port") {
                    if (v == 0 || v > 65535) fail(fmt::format("IP Port {} is not a UDP port (1..65535)", v));
                    a.ip_port = static_cast<std::uint16_t>(v);
                } else if (n == "Time To Live") {
                    if (v > 255) fail(fmt::format("Time To Live {} is more than an IP header holds (255)", v));
                    a.time_to_live = v;
                } else if (n == "Default Ecc") {
                    a.default_ecc = v;
                } else if (n == "Cache Expiration Time") {
                    a.cache_expiration_s = v;
                } else if (n == "Network Buffer Time") {
                    a.network_buffer_ms = v;
                }
                return;
            }
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_no_ = 0;
    std::vector<std::string> numbers_;  // Format<n> numbers seen
};

}  // namespace

NscAnnouncement parse_nsc(std::string_view text) { return NscReader(text).read(); }

AsxRedirector make_redirector(std::string title, std::string pull_url, std::string nsc_url) {
    AsxRedirector r;
    r.title = std::move(title);
    if (!nsc_url.empty()) r.refs.push_back(std::move(nsc_url));
    if (!pull_url.empty()) r.refs.push_back(std::move(pull_url));
    return r;
}

std::string make_asx(const AsxRedirector& r) {
    if (r.refs.empty()) throw NscError("an .asx redirector lists at least one URL (REF)");
    std::string out = "<ASX VERSION=\"3.0\">\r\n";
    if (!r.title.empty()) out += "  <TITLE>" + xml_escape(r.title) + "</TITLE>\r\n";
    out += "  <ENTRY>\r\n";
    if (!r.title.empty()) out += "    <TITLE>" + xml_escape(r.title) + "</TITLE>\r\n";
    for (const auto& ref : r.refs) out += "    <REF HREF=\"" + xml_escape(ref) + "\" />\r\n";
    out += "  </ENTRY>\r\n</ASX>\r\n";
    return out;
}

}  // namespace asfcast::multicast
