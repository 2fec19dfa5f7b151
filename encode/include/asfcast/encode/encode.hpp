// encode: raw media -> EncodedFrame with true presentation times and key-frame flags.
// Video through the libx264 API (H.264) or libavcodec (WMV2 = Windows Media Video 8); audio through
// libavcodec (WMA2 = format tag 0x0161, or MP3).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asfcast/core/media.hpp"

namespace asfcast::encode {

class EncodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct VideoEncoderConfig {
    int stream = 1;                 // ASF stream number
    std::string codec = "h264";     // h264 (libx264) | wmv2 (libavcodec, Windows Media Video 8)
    int width = 1280;
    int height = 720;
    int fps_num = 30;
    int fps_den = 1;
    int bitrate_kbps = 2000;        // target average
    int max_bitrate_kbps = 2000;    // VBV max rate (0 = no VBV)
    int vbv_buffer_kbit = 2000;     // VBV buffer size
    int keyframe_interval = 60;     // frames between key frames (IDR)
    // x264 only (wmv2: profile, preset, tune and threads are not used; bframes must be 0).
    std::string profile = "main";   // baseline | main | high
    std::string preset = "veryfast";
    std::string tune;               // "" or x264 tune, e.g. "zerolatency"
    int bframes = 0;
    int threads = 0;                // 0 = x264 decides
    std::string fourcc;             // biCompression spelling; "" = the codec's own (H264 / WMV2)
    // Key frames only where force_keyframe() asks (no scene-cut or keyint IDRs): MBR renditions
    // (renditions.hpp) put their IDRs at the same capture times.
    bool keyframes_on_request = false;
};

class VideoEncoder {
public:
    explicit VideoEncoder(const VideoEncoderConfig& config);  // throws EncodeError
    ~VideoEncoder();
    VideoEncoder(const VideoEncoder&) = delete;
    VideoEncoder& operator=(const VideoEncoder&) = delete;

    // Known right after construction (H.264: SPS/PPS from x264_encoder_headers; WMV2: the
    // encoder's 4 bytes of extradata).
    const VideoStreamFormat& format() const;
    // Encodes one I420 frame of the configured size; appends any finished frames to out.
    void encode(const RawVideoFrame& frame, std::vector<EncodedFrame>& out);
    // Drains delayed frames at end of stream.
    void flush(std::vector<EncodedFrame>& out);
    void force_keyframe();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// aac: libavcodec's native AAC-LC encoder, for the silence of audio.codec copy (AudioPassthrough).
enum class AudioCodec { wma2, mp3, aac };

struct AudioEncoderConfig {
    int stream = 2;
    AudioCodec codec = AudioCodec::wma2;
    int bitrate_kbps = 128;
    int sample_rate = 44100;
    int channels = 2;
};

class AudioEncoder {
public:
    explicit AudioEncoder(const AudioEncoderConfig& config);  // throws EncodeError
    ~AudioEncoder();
    AudioEncoder(const AudioEncoder&) = delete;
    AudioEncoder& operator=(const AudioEncoder&) = delete;

    // WAVEFORMATEX + codec data, known right after construction.
    const AudioStreamFormat& format() const;
    // The codec's frame duration, rounded down: consecutive frames' timestamps are this far apart
    // (or a microsecond more) unless the input resynchronizes.
    Micros frame_duration_us() const;
    // Accepts any number of samples; emits one EncodedFrame per codec frame. Presentation time
    // of each frame is the capture time of its first sample.
    void encode(const RawAudioBlock& block, std::vector<EncodedFrame>& out);
    void flush(std::vector<EncodedFrame>& out);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string to_string(AudioCodec c);

}  // namespace asfcast::encode
