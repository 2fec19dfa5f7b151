// Helpers for the asfmux tests: hand-written hex literals and readable byte comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <stdexcept>
#include <string_view>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/bytes.hpp"

namespace asfcast::testutil {

// "A1 DC AB" "8C 47" ... -> bytes; whitespace is ignored, digits are read in pairs.
inline Bytes H(std::string_view s) {
    Bytes out;
    int hi = -1;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::toupper(static_cast<unsigned char>(c)) - 'A' + 10);
        if (v < 0 || v > 15) throw std::invalid_argument("bad hex digit");
        if (hi < 0) hi = v;
        else { out.push_back(static_cast<std::uint8_t>(hi << 4 | v)); hi = -1; }
    }
    if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
    return out;
}

inline Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline Bytes zeros(std::size_t n) { return Bytes(n, 0); }
inline Bytes fill(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

// Compares as hex strings so a failure shows where the bytes differ.
#define EXPECT_BYTES_EQ(actual, expected)                                              \
    do {                                                                               \
        const ::asfcast::Bytes a_ = (actual);                                          \
        const ::asfcast::Bytes e_ = (expected);                                        \
        EXPECT_EQ(a_.size(), e_.size());                                               \
        EXPECT_EQ(::asfcast::hex(a_, 1u << 20), ::asfcast::hex(e_, 1u << 20));         \
    } while (0)

// Streams used across the tests.
inline const asfmux::Guid kFileId = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                      0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F};

inline VideoStreamFormat test_video() {
    VideoStreamFormat v;
    v.stream = 1;
    v.width = 320;
    v.height = 240;
    v.fourcc = 'H' | '2' << 8 | '6' << 16 | '4' << 24;
    v.codec_private = {0x00, 0x00, 0x00, 0x01, 0x67, 0x42};
    v.bitrate = 500000;
    v.frame_rate = 25.0;
    v.codec_name = "H264";
    v.codec_description = "x";
    v.stream_name = "V";
    return v;
}

inline AudioStreamFormat test_audio() {
    AudioStreamFormat a;
    a.stream = 2;
    a.format_tag = 0x0161;
    a.channels = 2;
    a.sample_rate = 44100;
    a.avg_bytes_per_sec = 16000;
    a.block_align = 1486;
    a.bits_per_sample = 16;
    a.codec_data = {0x00, 0x88, 0x00, 0x00, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00};
    a.bitrate = 128000;
    a.spread_error_correction = true;
    a.codec_name = "WMA";
    return a;
}

}  // namespace asfcast::testutil
