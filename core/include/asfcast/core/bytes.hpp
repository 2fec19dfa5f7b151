// Little-endian byte writers and bounds-checked readers: every wire format asfcast
// writes (ASF, MS-WMSP, MS-WMHTTP, MS-MSBD) is little-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asfcast {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Appends little-endian values to a growing buffer.
class ByteWriter {
public:
    ByteWriter() = default;
    explicit ByteWriter(Bytes& out) : out_(&out) {}

    void u8(std::uint8_t v) { buf().push_back(v); }
    void u16(std::uint16_t v) { put(v, 2); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void bytes(ByteView v) { buf().insert(buf().end(), v.begin(), v.end()); }
    void bytes(const void* p, std::size_t n) {
        auto b = static_cast<const std::uint8_t*>(p);
        buf().insert(buf().end(), b, b + n);
    }
    void zeros(std::size_t n) { buf().insert(buf().end(), n, 0); }
    // UTF-8 to UTF-16LE, optionally NUL-terminated; returns bytes written.
    std::size_t utf16le(std::string_view utf8, bool nul_terminate);

    std::size_t size() const { return out_ ? out_->size() : own_.size(); }
    // Overwrites an already written value (for object sizes known only at the end).
    void patch_u16(std::size_t at, std::uint16_t v) { patch(at, v, 2); }
    void patch_u32(std::size_t at, std::uint32_t v) { patch(at, v, 4); }
    void patch_u64(std::size_t at, std::uint64_t v) { patch(at, v, 8); }

    Bytes& buf() { return out_ ? *out_ : own_; }
    Bytes take() { return out_ ? *out_ : std::move(own_); }

private:
    void put(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) buf().push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void patch(std::size_t at, std::uint64_t v, int n);

    Bytes* out_ = nullptr;
    Bytes own_;
};

// Thrown by ByteReader when input ends early or is otherwise malformed.
class ParseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads little-endian values from a span, throwing ParseError past the end.
class ByteReader {
public:
    explicit ByteReader(ByteView data, std::string_view what = "input") : data_(data), what_(what) {}

    std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
    std::uint64_t u64() { return get(8); }
    // Reads a field whose width is given by an ASF 2-bit length type (0, 1, 2 or 4 bytes).
    std::uint32_t sized(unsigned length_type);
    ByteView bytes(std::size_t n);
    void skip(std::size_t n) { (void)bytes(n); }
    // Reads n bytes of UTF-16LE and converts to UTF-8, dropping a trailing NUL.
    std::string utf16le(std::size_t n_bytes);

    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return data_.size() - pos_; }
    bool empty() const { return pos_ >= data_.size(); }
    void seek(std::size_t p);

private:
    std::uint64_t get(int n);
    [[noreturn]] void fail(std::size_t need) const;

    ByteView data_;
    std::string_view what_;
    std::size_t pos_ = 0;
};

std::string hex(ByteView v, std::size_t max_bytes = 64);

}  // namespace asfcast
