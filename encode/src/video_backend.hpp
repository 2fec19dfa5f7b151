// Internal: the codec behind encode::VideoEncoder when it is not x264. VideoEncoder keeps the x264
// path itself and hands every call to one of these for other codecs (wmv2_encoder.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/encode/encode.hpp"

namespace asfcast::encode::detail {

class VideoBackend {
public:
    virtual ~VideoBackend() = default;
    virtual const VideoStreamFormat& format() const = 0;
    virtual void encode(const RawVideoFrame& frame, std::vector<EncodedFrame>& out) = 0;
    virtual void flush(std::vector<EncodedFrame>& out) = 0;
    virtual void force_keyframe() = 0;
};

// Windows Media Video 8 (FourCC WMV2) through libavcodec's wmv2 encoder. Throws EncodeError.
std::unique_ptr<VideoBackend> make_wmv2_backend(const VideoEncoderConfig& config);

// biCompression value of a 4-character FourCC (first character in the low byte).
std::uint32_t fourcc_value(const std::string& s);

}  // namespace asfcast::encode::detail
