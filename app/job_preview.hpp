// The control page's preview: about once a second the capture thread keeps a scaled-down copy of
// the encoder's input (a point-sampled I420 picture at most 320 pixels wide: no filter, a few
// hundred microseconds); the control thread encodes the newest one to JPEG (libavcodec's MJPEG
// encoder) when asked, once per picture. Nothing is done while nobody looks except the copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/media.hpp"

namespace asfcast::app {

class PreviewGrabber {
public:
    explicit PreviewGrabber(int max_width = 320, Micros interval_us = 1'000'000)
        : max_width_(max_width), interval_us_(interval_us) {}
    // Capture thread: keeps a scaled copy when the last one is `interval_us` old.
    void offer(const RawVideoFrame& frame);
    // Any thread: the newest picture as a JPEG; nullopt before the first frame or if encoding fails.
    std::optional<std::string> jpeg();

    // For the log at the end: pictures encoded and the time it took.
    std::uint64_t jpegs_encoded() const { return jpegs_.load(); }
    std::uint64_t encode_us_total() const { return encode_us_.load(); }
    std::uint64_t scale_us_total() const { return scale_us_.load(); }
    std::uint64_t pictures_kept() const { return pictures_.load(); }

private:
    const int max_width_;
    const Micros interval_us_;
    std::atomic<Micros> last_kept_us_{0};
    std::mutex mutex_;
    int width_ = 0, height_ = 0;  // of `picture_`, under mutex_
    Bytes picture_;               // I420, under mutex_
    std::uint64_t picture_number_ = 0;
    std::uint64_t encoded_number_ = 0;
    std::string encoded_;  // JPEG of encoded_number_
    std::atomic<std::uint64_t> jpegs_{0}, encode_us_{0}, scale_us_{0}, pictures_{0};
};

}  // namespace asfcast::app
