// H.264 pass-through (`video.codec: copy`, issue 15 point 2): a network source's access units go
// into the ASF stream as they came, without decoding or re-encoding. What this adds to them:
// key-frame flags from the NAL unit types (an IDR slice, not the transport's word), the SPS and
// PPS in front of an IDR that lacks them (a late joiner or a player switching streams starts
// there), and the stream format the header describes (picture size from the SPS). A changed
// picture size is a new format: the first frame of it carries EncodedFrame::new_format, and the
// job signals a header change on every output. While the source is lost, the slate's pictures are
// encoded with x264 at the stream's current size (no header change), and afterwards the source's
// units wait for its next IDR: a decoder cannot continue the source's pictures from the slate's.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "asfcast/core/media.hpp"
#include "asfcast/encode/encode.hpp"

namespace asfcast::encode {

struct PassthroughConfig {
    // The slate's encoder. Its stream, fourcc, size, frame rate and bit rates are also the stream
    // format before the source's first IDR says otherwise; the bit rates are what the header
    // declares for the source (the muxer cannot know the rate of what it does not encode).
    VideoEncoderConfig slate;
    std::string stream_name;
};

struct PassthroughStats {
    std::uint64_t units_in = 0;            // access units from the source
    std::uint64_t units_out = 0;           // handed to the muxer
    std::uint64_t idr_units = 0;           // of those, IDRs
    std::uint64_t waiting_for_idr = 0;     // dropped: before the first IDR, or after the slate
    std::uint64_t malformed = 0;           // dropped: not H.264 the reader could follow (logged)
    std::uint64_t parameter_sets_added = 0;  // IDRs that came without SPS/PPS and got the last ones
    std::uint64_t format_changes = 0;      // new picture sizes (header changes)
    std::uint64_t slate_frames = 0;        // slate pictures encoded
};

class VideoPassthrough {
public:
    explicit VideoPassthrough(PassthroughConfig config);  // throws EncodeError (slate settings)
    ~VideoPassthrough();
    VideoPassthrough(const VideoPassthrough&) = delete;
    VideoPassthrough& operator=(const VideoPassthrough&) = delete;

    // The stream format now: at first the slate's (the configured size), then the source's.
    const VideoStreamFormat& format() const;
    // One access unit of the source (Annex B, one picture, times on the capture clock). Appends
    // it (or nothing: see PassthroughStats) to out. Never throws for bad input: a unit it cannot
    // read is dropped, counted and logged.
    void add(const EncodedFrame& unit, std::vector<EncodedFrame>& out);
    // One slate picture (I420, any size: scaled to the stream's size).
    void add(const RawVideoFrame& slate, std::vector<EncodedFrame>& out);
    void flush(std::vector<EncodedFrame>& out);
    // Units were lost before they got here (a full queue): the source goes on from its next IDR.
    void resync();
    const PassthroughStats& stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The stream format for an H.264 stream whose parameter sets are `sps_nal` and `pps_nals`
// (NAL units without start codes): size and frame rate from the SPS (`fallback_fps` when it has
// no timing), codec data = Annex B SPS + PPS, bit rates and names from `base`. Throws
// h264::H264Error for an SPS it cannot read.
VideoStreamFormat h264_stream_format(const VideoStreamFormat& base, ByteView sps_nal,
                                     const std::vector<Bytes>& pps_nals, double fallback_fps);

// ---- AAC pass-through (`audio.codec: copy`, issue 15 point 3) ----

// What an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) says: audio object type (2 = AAC LC,
// 5 = SBR, 29 = PS), sampling frequency (of the core), channel configuration, and for SBR/PS the
// output sampling frequency. Throws EncodeError for one it cannot read (too short, frequency index
// 13/14, channel configuration 0: a program config element this reader does not follow).
struct AacConfig {
    int object_type = 0;
    int sample_rate = 0;      // the core's
    int channels = 0;
    int output_rate = 0;      // SBR (explicit signalling): the extension's; else sample_rate
};
AacConfig parse_audio_specific_config(ByteView asc);

// The ASF audio stream format for AAC with AudioSpecificConfig `asc`: WAVEFORMATEX with wFormatTag
// 0x00FF and the AudioSpecificConfig as its extra bytes (see audio_passthrough.cpp for why this
// form, not Windows' 0x1610); sample rate (the output rate) and channels from the config; stream,
// bit rate and names from `base`. Throws EncodeError for a config it cannot read.
AudioStreamFormat aac_stream_format(const AudioStreamFormat& base, ByteView asc);

struct AudioPassthroughConfig {
    int stream = 2;
    int sample_rate = 48000;  // the header's until the source's AudioSpecificConfig is known
    int channels = 2;
    int bitrate_kbps = 128;   // what the header declares for the source, and the silence's rate
    std::string stream_name;
};

struct AudioPassthroughStats {
    std::uint64_t frames_in = 0;        // AAC frames from the source
    std::uint64_t frames_out = 0;       // of those, handed to the muxer
    std::uint64_t late = 0;             // dropped: not after the last frame handed on (the silence's)
    std::uint64_t bad_config = 0;       // dropped: an AudioSpecificConfig that cannot be read
    std::uint64_t silence_frames = 0;   // AAC frames encoded from the filler's PCM
    std::uint64_t format_changes = 0;   // new AudioSpecificConfigs (header changes)
};

// The source's AAC frames go on as they came (their times kept; only ordering is enforced); the
// filler's PCM (silence while the source is late or lost) is encoded with libavcodec's AAC-LC
// encoder at the stream's sample rate and channels, its frames stamped one after the other from
// where the source stopped, so the audio stream has no gap. When the source's frames come back,
// the silence encoder is drained up to their time and closed. A new AudioSpecificConfig from the
// source (other rate, channels or object type) is a new format: its first frame carries
// EncodedFrame::new_audio_format, and the job signals a header change on every output.
class AudioPassthrough {
public:
    explicit AudioPassthrough(AudioPassthroughConfig config);  // throws EncodeError
    ~AudioPassthrough();
    AudioPassthrough(const AudioPassthrough&) = delete;
    AudioPassthrough& operator=(const AudioPassthrough&) = delete;

    const AudioStreamFormat& format() const;
    // One AAC frame of the source (codec_config set). Never throws for bad input: dropped, counted.
    void add(const EncodedFrame& frame, std::vector<EncodedFrame>& out);
    // Filler PCM: encoded as AAC (a block at another rate or channel count counts as silence of its
    // duration).
    void add(const RawAudioBlock& block, std::vector<EncodedFrame>& out);
    void flush(std::vector<EncodedFrame>& out);
    const AudioPassthroughStats& stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::encode
