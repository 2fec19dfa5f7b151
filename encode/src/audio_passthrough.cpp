// AAC pass-through (passthrough.hpp, `audio.codec: copy`, issue 15 point 3).
//
// The WAVEFORMATEX form. Three format tags name AAC in RIFF/ASF headers:
//   - 0x1610 WAVE_FORMAT_MPEG_HEAAC, the form Windows (Media Foundation) uses: HEAACWAVEFORMAT, i.e.
//     HEAACWAVEINFO (wPayloadType 0 = raw, wAudioProfileLevelIndication, wStructType 0, two reserved
//     fields: 12 bytes) followed by the AudioSpecificConfig (Microsoft Learn, "HEAACWAVEINFO
//     structure" and "AAC Decoder": MF_MT_USER_DATA);
//   - 0x00FF and 0xA106, which ffmpeg's RIFF tag table (libavformat/riff.c ff_codec_wav_tags) maps
//     to AAC; its WAVEFORMATEX reader (libavformat/riffdec.c ff_get_wav_header) hands all cbSize
//     bytes to the decoder as extradata, which its AAC decoder reads as an AudioSpecificConfig;
//     ffmpeg's own ASF muxer writes 0x00FF with the bare AudioSpecificConfig.
// Measured with Debian 12's players on files differing only in this field (tests/interop/
// rtsp_aac_copy.sh keeps measuring the form chosen, docs/network-sources.md "AAC copy" has the table):
//   0x1610 + HEAACWAVEINFO + ASC: ffmpeg 5.1 does not know the tag ("codec none"); GStreamer 1.22
//     asfdemux has no caps for it (not-linked); VLC 3.0.24 maps it to AAC but passes all cbSize
//     bytes to faad/avcodec as the config, which fail on the HEAACWAVEINFO ("Failed to initialize
//     faad using extra data"). No player here decodes it.
//   0xA106 + ASC: ffmpeg and VLC decode it; GStreamer does not (no caps for the tag).
//   0x00FF + ASC: ffmpeg, VLC and GStreamer (avdec_aac/faad after asfdemux) all decode it.
// So asfcast writes 0x00FF + the bare AudioSpecificConfig, deviating from Windows' 0x1610 form,
// which no player on this platform reads; Windows Media Player's ASF reader takes neither
// (AAC in ASF is not a Windows Media format), which is why the preset keeps copy behind
// audio.allow_copy. nBlockAlign = 768 bytes per channel (6144 bits per channel, the most one AAC
// frame may take, ISO/IEC 14496-3 4.5.3.2) and wBitsPerSample = 16, as ffmpeg's ASF muxer writes.
#include "asfcast/encode/passthrough.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace asfcast::encode {

namespace {

constexpr Micros kUnset = std::numeric_limits<Micros>::min();
constexpr int kAacFrameSamples = 1024;  // AAC LC frame (960-sample frames are not used by cameras)
// Silence stamped more than this after the last frame starts at the filler's own time instead.
constexpr Micros kSilenceGap = 100'000;

// ISO/IEC 14496-3 Table 1.16 (samplingFrequencyIndex).
constexpr int kAacRates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};

class BitReader {
public:
    explicit BitReader(ByteView d) : d_(d) {}
    unsigned read(int n) {
        unsigned v = 0;
        for (int i = 0; i < n; ++i) {
            if (pos_ >= d_.size() * 8) throw EncodeError("the AudioSpecificConfig is too short");
            v = (v << 1) | ((d_[pos_ / 8] >> (7 - pos_ % 8)) & 1u);
            ++pos_;
        }
        return v;
    }

private:
    ByteView d_;
    std::size_t pos_ = 0;
};

int object_type(BitReader& r) {
    const unsigned t = r.read(5);
    return t == 31 ? static_cast<int>(32 + r.read(6)) : static_cast<int>(t);  // 1.6.2.1 GetAudioObjectType()
}

int frequency(BitReader& r) {
    const unsigned index = r.read(4);
    if (index == 15) return static_cast<int>(r.read(24));
    if (index >= 13) throw EncodeError(fmt::format("the AudioSpecificConfig has a reserved frequency index {}", index));
    return kAacRates[index];
}

}  // namespace

AacConfig parse_audio_specific_config(ByteView asc) {
    BitReader r(asc);
    AacConfig c;
    c.object_type = object_type(r);
    c.sample_rate = frequency(r);
    const unsigned channel_config = r.read(4);
    if (channel_config == 0 || channel_config > 7)
        throw EncodeError(fmt::format("the AudioSpecificConfig's channel configuration {} is not supported",
                                      channel_config));
    c.channels = channel_config == 7 ? 8 : static_cast<int>(channel_config);
    c.output_rate = c.sample_rate;
    if (c.object_type == 5 || c.object_type == 29) {  // explicit SBR/PS signalling (1.6.2.1)
        c.output_rate = frequency(r);
        c.object_type = object_type(r);
    }
    if (c.sample_rate <= 0 || c.output_rate <= 0) throw EncodeError("the AudioSpecificConfig has a zero frequency");
    return c;
}

AudioStreamFormat aac_stream_format(const AudioStreamFormat& base, ByteView asc) {
    const AacConfig c = parse_audio_specific_config(asc);
    if (c.channels > 2)
        throw EncodeError(fmt::format("AAC with {} channels is not supported (1 or 2)", c.channels));
    AudioStreamFormat f = base;
    f.format_tag = 0x00FF;
    f.channels = static_cast<std::uint16_t>(c.channels);
    f.sample_rate = static_cast<std::uint32_t>(c.output_rate);
    f.avg_bytes_per_sec = f.bitrate / 8;
    f.block_align = static_cast<std::uint16_t>(768 * c.channels);
    f.bits_per_sample = 16;
    f.codec_data.assign(asc.begin(), asc.end());
    f.spread_error_correction = false;  // Audio Spread is for WMA's fixed blocks, not AAC frames
    f.codec_name = "AAC";
    f.codec_description = fmt::format("AAC (object type {}) {} Hz, {}, {} kbit/s", c.object_type, c.output_rate,
                                      c.channels == 1 ? "mono" : "stereo", f.bitrate / 1000);
    return f;
}

struct AudioPassthrough::Impl {
    AudioPassthroughConfig cfg;
    AudioStreamFormat fmt;
    AudioPassthroughStats stats;
    bool have_source_config = false;
    AacConfig header_config;        // what the header's AudioSpecificConfig says
    Micros last_pts = kUnset;       // of the last frame handed on
    Micros last_duration = 0;
    // Silence: an AAC encoder at the stream's rate and channels, open while the filler runs.
    std::unique_ptr<AudioEncoder> silence;
    Micros silence_start = 0;       // the first silence frame's time
    std::int64_t silence_count = 0; // silence frames stamped so far (since silence_start)
    Micros silence_end = kUnset;    // the filler's time so far (block pts + duration)
    Micros last_log = kUnset;

    explicit Impl(AudioPassthroughConfig c) : cfg(std::move(c)) {
        // The header before the source's config is known: AAC LC at the preset's rate and
        // channels, the config the silence encoder writes for them.
        AudioEncoderConfig ec{cfg.stream, AudioCodec::aac, cfg.bitrate_kbps, cfg.sample_rate, cfg.channels};
        AudioEncoder initial(ec);
        fmt = initial.format();
        fmt.stream_name = cfg.stream_name;
        header_config = parse_audio_specific_config(fmt.codec_data);
    }

    Micros frame_us() const { return static_cast<Micros>(kAacFrameSamples) * 1'000'000 / static_cast<Micros>(fmt.sample_rate); }

    void emit(EncodedFrame&& f, std::vector<EncodedFrame>& out) {
        last_pts = f.pts;
        out.push_back(std::move(f));
    }

    // Silence frames from the encoder, stamped one after the other; those from `until` on are not
    // needed (the source is back by then).
    void take_silence(std::vector<EncodedFrame>& encoded, Micros until, std::vector<EncodedFrame>& out) {
        for (auto& e : encoded) {
            const Micros pts = silence_start + silence_count * kAacFrameSamples * 1'000'000 / static_cast<Micros>(fmt.sample_rate);
            ++silence_count;
            // A frame that would end more than half a frame after `until` is not needed: the
            // source's frame there follows the previous one (times a microsecond apart from
            // rounding must not give two frames one slot).
            if (pts + frame_us() / 2 > until || (last_pts != kUnset && pts <= last_pts)) continue;
            e.stream = fmt.stream;
            e.kind = MediaKind::audio;
            e.pts = e.dts = pts;
            e.keyframe = true;
            ++stats.silence_frames;
            emit(std::move(e), out);
        }
        encoded.clear();
    }

    void end_silence(Micros until, std::vector<EncodedFrame>& out) {
        if (!silence) return;
        std::vector<EncodedFrame> encoded;
        silence->flush(encoded);
        take_silence(encoded, until, out);
        silence.reset();
    }

    void add_frame(const EncodedFrame& in, std::vector<EncodedFrame>& out) {
        ++stats.frames_in;
        end_silence(in.pts, out);
        std::shared_ptr<const AudioStreamFormat> changed;
        if (in.codec_config && (!have_source_config || *in.codec_config != fmt.codec_data)) {
            AudioStreamFormat next;
            try {
                next = aac_stream_format(fmt, *in.codec_config);
            } catch (const EncodeError& e) {
                ++stats.bad_config;
                if (last_log == kUnset || in.pts - last_log > 10'000'000) {
                    last_log = in.pts;
                    spdlog::warn("audio copy: the source's AAC cannot be carried ({}); its frames are dropped", e.what());
                }
                return;
            }
            // A config that says what the header's says (object type, rates, channels: the
            // preset's AAC LC, written by the silence encoder with its own extension bytes) is no
            // change; any other is a new header.
            const AacConfig parsed = parse_audio_specific_config(*in.codec_config);
            if (parsed.object_type != header_config.object_type || parsed.sample_rate != header_config.sample_rate ||
                parsed.output_rate != header_config.output_rate || parsed.channels != header_config.channels) {
                spdlog::info("audio copy: the source's AAC is {} (config {:02x}): {}", next.codec_description,
                             fmt::join(next.codec_data, ""),
                             have_source_config ? "a new header on every output" : "the header says so");
                fmt = next;
                header_config = parsed;
                ++stats.format_changes;
                changed = std::make_shared<const AudioStreamFormat>(fmt);
            }
            have_source_config = true;
        } else if (!in.codec_config && !have_source_config) {
            ++stats.bad_config;
            return;
        }
        if (last_pts != kUnset && in.pts <= last_pts) {
            ++stats.late;
            return;
        }
        EncodedFrame f;
        f.stream = fmt.stream;
        f.kind = MediaKind::audio;
        f.pts = f.dts = in.pts;
        f.keyframe = true;
        f.duration = in.duration;
        f.data = in.data;
        f.new_audio_format = std::move(changed);
        last_duration = in.duration > 0 ? in.duration : frame_us();
        ++stats.frames_out;
        emit(std::move(f), out);
    }

    void add_block(const RawAudioBlock& b, std::vector<EncodedFrame>& out) {
        if (b.frames() == 0 || b.sample_rate <= 0) return;
        const Micros duration = static_cast<Micros>(b.frames()) * 1'000'000 / b.sample_rate;
        if (!silence) {
            AudioEncoderConfig ec{fmt.stream, AudioCodec::aac, cfg.bitrate_kbps, static_cast<int>(fmt.sample_rate),
                                  static_cast<int>(fmt.channels)};
            silence = std::make_unique<AudioEncoder>(ec);
            // Continuous with the source's last frame when the filler starts right after it.
            const Micros next = last_pts == kUnset ? b.pts : last_pts + last_duration;
            silence_start = (last_pts != kUnset && b.pts - next <= kSilenceGap) ? next : b.pts;
            silence_count = 0;
            silence_end = kUnset;
        }
        RawAudioBlock pcm;
        if (b.sample_rate == static_cast<int>(fmt.sample_rate) && b.channels == static_cast<int>(fmt.channels)) {
            pcm = b;
        } else {  // the filler runs at the preset's rate; the source's may differ: silence of the same length
            pcm.sample_rate = static_cast<int>(fmt.sample_rate);
            pcm.channels = static_cast<int>(fmt.channels);
            pcm.pts = b.pts;
            pcm.samples.assign(static_cast<std::size_t>(duration * pcm.sample_rate / 1'000'000) * static_cast<std::size_t>(pcm.channels), 0);
        }
        // The encoder's own times would follow the filler's blocks; the stamps above follow the
        // frames instead, so its input is made continuous.
        pcm.pts = silence_end == kUnset ? silence_start : silence_end;
        silence_end = pcm.pts + duration;
        std::vector<EncodedFrame> encoded;
        silence->encode(pcm, encoded);
        take_silence(encoded, std::numeric_limits<Micros>::max(), out);
    }
};

AudioPassthrough::AudioPassthrough(AudioPassthroughConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
AudioPassthrough::~AudioPassthrough() = default;

const AudioStreamFormat& AudioPassthrough::format() const { return impl_->fmt; }

void AudioPassthrough::add(const EncodedFrame& frame, std::vector<EncodedFrame>& out) { impl_->add_frame(frame, out); }

void AudioPassthrough::add(const RawAudioBlock& block, std::vector<EncodedFrame>& out) { impl_->add_block(block, out); }

void AudioPassthrough::flush(std::vector<EncodedFrame>& out) {
    impl_->end_silence(std::numeric_limits<Micros>::max(), out);
}

const AudioPassthroughStats& AudioPassthrough::stats() const { return impl_->stats; }

}  // namespace asfcast::encode
