// The input format of h264_access_unit_fuzz (and of the seeds h264_access_unit_seeds writes): a
// sequence of records, each starting with a control byte c.
//   c & 0xC0 == 0xC0: an event: c & 3 == 0 resync(), 1 a slate picture, 2 flush(), 3 nothing.
//   otherwise: an access unit: 2 bytes of length (big-endian, cut to what is left), then its
//   bytes (Annex B, as a network source hands it on). Its decode time is the previous one plus
//   (c & 0x3F) ms; its presentation time is that plus one frame period (c & 0x40) or two (c & 0x80).
#pragma once

#include <cstddef>
#include <cstdint>

namespace asfcast::fuzz_h264 {

constexpr std::int64_t kPeriodUs = 33'333;
constexpr std::uint8_t kEventResync = 0xC0;
constexpr std::uint8_t kEventSlate = 0xC1;
constexpr std::uint8_t kEventFlush = 0xC2;

constexpr bool is_event(std::uint8_t c) { return (c & 0xC0) == 0xC0; }
constexpr std::int64_t dts_step_us(std::uint8_t c) { return (c & 0x3F) * 1000; }
constexpr std::int64_t pts_delay_us(std::uint8_t c) { return (c & 0x40 ? 1 : 0) * kPeriodUs + (c & 0x80 ? 2 : 0) * kPeriodUs; }
// The control byte of an access unit whose decode time is step_ms after the previous one and
// whose presentation time comes `reorder` periods (0..2) after its decode time.
constexpr std::uint8_t unit_control(int step_ms, int reorder) {
    return static_cast<std::uint8_t>((step_ms & 0x3F) | (reorder == 1 ? 0x40 : reorder == 2 ? 0x80 : 0));
}

}  // namespace asfcast::fuzz_h264
