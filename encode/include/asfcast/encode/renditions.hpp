// Multiple bit rate (MBR): one captured picture sequence feeds several video encoders
// (renditions of different size, bitrate and frame rate), and one captured audio stream feeds
// several audio encoders. Windows Media MBR: the renditions are separate ASF streams that players
// pick between, so their key frames must fall on the same capture times (a client switching
// renditions or joining late finds a key frame at the same moment in every stream).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/media.hpp"
#include "asfcast/encode/encode.hpp"

namespace asfcast::encode {

struct VideoRendition {
    VideoEncoderConfig encoder;  // size, rate, bitrate, stream number, ...; keyframe_interval unused
    std::string name;            // Extended Stream Properties stream name, e.g. "720p 2500k"
};

struct VideoRenditionsConfig {
    // What arrives from capture: I420 at this size; frames about 1/rate apart (pts in us).
    int capture_width = 1280;
    int capture_height = 720;
    int capture_fps_num = 30;
    int capture_fps_den = 1;
    double keyframe_interval_s = 2.0;  // every rendition gets an IDR on this grid of capture time
    std::vector<VideoRendition> renditions;
    // Encode the renditions of different sizes on worker threads (one per distinct size beyond the
    // first); false runs everything on the caller's thread.
    bool parallel = true;
};

// Fan-out: scales once per distinct rendition size with libswscale (one scaler and one reused
// frame buffer per size, shared by the renditions of that size), drops frames for renditions with
// a lower frame rate by keeping the capture frames nearest to that rate's grid of presentation
// times, and forces IDRs at the same capture frames in every rendition. Not thread-safe: one
// caller at a time (its own workers are internal).
class VideoRenditions {
public:
    explicit VideoRenditions(VideoRenditionsConfig config);  // throws EncodeError
    ~VideoRenditions();
    VideoRenditions(const VideoRenditions&) = delete;
    VideoRenditions& operator=(const VideoRenditions&) = delete;

    // Stream formats in rendition order, with the rendition names as stream names.
    std::vector<VideoStreamFormat> formats() const;
    // One capture frame in; encoded frames of every rendition out (in rendition order per call).
    void encode(const RawVideoFrame& frame, std::vector<EncodedFrame>& out);
    void flush(std::vector<EncodedFrame>& out);

    std::size_t size() const;
    // For tests and logs.
    std::size_t scaler_count() const;                          // libswscale contexts (distinct scaled sizes)
    std::vector<std::uint64_t> frames_fed() const;             // frames given to each rendition's encoder
    std::vector<std::uint64_t> keyframes_forced() const;       // IDRs requested per rendition

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct AudioRenditionsConfig {
    std::vector<AudioEncoderConfig> encoders;  // same sample rate/channels as captured; stream numbers differ
    std::vector<std::string> names;            // optional stream names, by index
};

// The same captured audio through several audio encoders (e.g. WMA2 128k and 64k).
class AudioRenditions {
public:
    explicit AudioRenditions(const AudioRenditionsConfig& config);  // throws EncodeError
    ~AudioRenditions();
    AudioRenditions(const AudioRenditions&) = delete;
    AudioRenditions& operator=(const AudioRenditions&) = delete;

    std::vector<AudioStreamFormat> formats() const;
    std::vector<Micros> frame_durations_us() const;  // AudioEncoder::frame_duration_us, by index
    void encode(const RawAudioBlock& block, std::vector<EncodedFrame>& out);
    void flush(std::vector<EncodedFrame>& out);
    std::size_t size() const;

private:
    std::vector<std::unique_ptr<AudioEncoder>> encoders_;
    std::vector<std::string> names_;
};

}  // namespace asfcast::encode
