#include "asfcast/core/bytes.hpp"

#include <fmt/format.h>

namespace asfcast {

std::size_t ByteWriter::utf16le(std::string_view s, bool nul_terminate) {
    const std::size_t start = size();
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = 0xFFFD;
        int extra = 0;
        if (c < 0x80) { cp = c; }
        else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; extra = 1; }
        else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; extra = 2; }
        else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; extra = 3; }
        ++i;
        for (int k = 0; k < extra; ++k, ++i) {
            if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) { cp = 0xFFFD; break; }
            cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
        }
        if (cp >= 0x10000 && cp <= 0x10FFFF) {
            cp -= 0x10000;
            u16(static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
            u16(static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
        } else {
            u16(static_cast<std::uint16_t>(cp > 0xFFFF ? 0xFFFD : cp));
        }
    }
    if (nul_terminate) u16(0);
    return size() - start;
}

void ByteWriter::patch(std::size_t at, std::uint64_t v, int n) {
    Bytes& b = buf();
    if (at + static_cast<std::size_t>(n) > b.size()) throw std::out_of_range("ByteWriter::patch past end");
    for (int i = 0; i < n; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t ByteReader::get(int n) {
    if (remaining() < static_cast<std::size_t>(n)) fail(static_cast<std::size_t>(n));
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + static_cast<std::size_t>(i)]) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
}

std::uint32_t ByteReader::sized(unsigned length_type) {
    switch (length_type & 3) {
        case 0: return 0;
        case 1: return u8();
        case 2: return u16();
        default: return u32();
    }
}

ByteView ByteReader::bytes(std::size_t n) {
    if (remaining() < n) fail(n);
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
}

std::string ByteReader::utf16le(std::size_t n_bytes) {
    ByteView raw = bytes(n_bytes);
    std::string out;
    for (std::size_t i = 0; i + 1 < raw.size(); i += 2) {
        std::uint32_t cp = raw[i] | (raw[i + 1] << 8);
        if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < raw.size()) {
            std::uint32_t lo = raw[i + 2] | (raw[i + 3] << 8);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (cp == 0) break;
        if (cp < 0x80) out += static_cast<char>(cp);
        else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

void ByteReader::seek(std::size_t p) {
    if (p > data_.size()) fail(p - pos_);
    pos_ = p;
}

void ByteReader::fail(std::size_t need) const {
    throw ParseError(fmt::format("{}: truncated at byte {} (need {} more, {} left)", what_, pos_, need, remaining()));
}

std::string hex(ByteView v, std::size_t max_bytes) {
    std::string s;
    for (std::size_t i = 0; i < v.size() && i < max_bytes; ++i) s += fmt::format("{}{:02X}", i ? " " : "", v[i]);
    if (v.size() > max_bytes) s += " …";
    return s;
}

}  // namespace asfcast
