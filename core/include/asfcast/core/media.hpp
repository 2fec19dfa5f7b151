// Media units that flow one way between the parts: capture -> encode -> asfmux -> outputs.
// Times are microseconds on the capture clock (pipeline running time, starting near 0).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast {

using Micros = std::int64_t;

// One raw picture, planar I420 (Y, then U, then V, tightly packed).
struct RawVideoFrame {
    Micros pts = 0;
    int width = 0;
    int height = 0;
    Bytes i420;
};

// Interleaved signed 16-bit PCM.
struct RawAudioBlock {
    Micros pts = 0;
    int sample_rate = 0;
    int channels = 0;
    std::vector<std::int16_t> samples;  // frames * channels
    std::size_t frames() const { return channels ? samples.size() / static_cast<std::size_t>(channels) : 0; }
};

// command: ASF script commands (Command Media streams: captions, URLs, ...), see asfmux.
enum class MediaKind { video, audio, command };

// What the muxer must know about a video encoder's output to describe it in the header.
struct VideoStreamFormat {
    int stream = 1;
    int width = 0;
    int height = 0;
    std::uint32_t fourcc = 0;     // biCompression, e.g. 'H','2','6','4'
    Bytes codec_private;          // appended to BITMAPINFOHEADER (H.264: Annex B SPS+PPS)
    std::uint32_t bitrate = 0;    // bits/s, average
    std::uint32_t max_bitrate = 0;  // bits/s, VBV peak (leaky bucket rate)
    std::uint32_t buffer_ms = 0;    // VBV buffer in ms
    double frame_rate = 30.0;
    std::string codec_name;         // for the Codec List, e.g. "H.264"
    std::string codec_description;  // e.g. "libx264 high 1280x720 30fps 2000 kbit/s"
    std::string stream_name;        // optional Extended Stream Properties name
};

// WAVEFORMATEX fields plus codec data.
struct AudioStreamFormat {
    int stream = 2;
    std::uint16_t format_tag = 0x0161;  // WMA2
    std::uint16_t channels = 2;
    std::uint32_t sample_rate = 44100;
    std::uint32_t avg_bytes_per_sec = 16000;
    std::uint16_t block_align = 0;
    std::uint16_t bits_per_sample = 16;
    Bytes codec_data;                 // cbSize bytes after WAVEFORMATEX
    std::uint32_t bitrate = 0;        // bits/s
    bool spread_error_correction = true;  // WMA: Audio Spread; MP3: none (brief.md)
    std::string codec_name;
    std::string codec_description;
    std::string stream_name;
};

// A compressed media object ready for the muxer. `stream` is the ASF stream number (1..127).
struct EncodedFrame {
    int stream = 0;
    MediaKind kind = MediaKind::video;
    Micros pts = 0;
    Micros dts = 0;
    bool keyframe = false;
    Bytes data;
    Micros duration = 0;  // the frame's duration when its source says (a network source's H.264); 0: unknown
    // Set on the first frame of a new format of its stream (a network source's H.264 changed its
    // picture size, issue 15): the muxer's owner starts a new header before this frame, a header
    // change on every output. Null on every other frame.
    std::shared_ptr<const VideoStreamFormat> new_format;
    // Audio: the same for an audio stream's format (audio.codec copy: the source's AAC changed its
    // AudioSpecificConfig). Set on the first frame of the new format only.
    std::shared_ptr<const AudioStreamFormat> new_audio_format;
    // A network source's compressed audio (audio.codec copy): its codec configuration as the source
    // describes it (AAC: the AudioSpecificConfig). Null for encoded output.
    std::shared_ptr<const Bytes> codec_config;
};

}  // namespace asfcast
