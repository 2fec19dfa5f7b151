// Audio through libavcodec: WMA2 (wmav2, format tag 0x0161) or MP3 (libmp3lame, tag 0x0055).
//
// Timing: every sample has a position on the capture timeline counted in samples,
// pos = capture_us * rate / 1e6. Frames go to the codec with pts = position of their first sample
// (time base 1/rate); the codec returns packets whose pts is that position minus its encoder
// delay (initial padding), which is exactly when the packet's decoded samples play. Incoming blocks
// continue the previous position unless their own timestamp is more than 100 ms off, which resyncs.
#include <cstdint>
#include <cstring>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>
}

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "asfcast/core/bytes.hpp"
#include "asfcast/encode/encode.hpp"
#include "asfcast/encode/passthrough.hpp"

namespace asfcast::encode {

std::string to_string(AudioCodec c) {
    switch (c) {
        case AudioCodec::wma2: return "wma2";
        case AudioCodec::mp3: return "mp3";
        case AudioCodec::aac: return "aac";
    }
    return "unknown";
}

namespace {

constexpr Micros kResyncThreshold = 100000;  // 100 ms

std::string av_err(int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(err, buf, sizeof buf);
    return buf;
}

// floor(a / b) for b > 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b) != 0 && a < 0) --q;
    return q;
}

}  // namespace

struct AudioEncoder::Impl {
    AudioEncoderConfig cfg;
    AudioStreamFormat fmt;
    AVCodecContext* ctx = nullptr;
    AVFrame* frame = nullptr;
    AVPacket* pkt = nullptr;
    AVSampleFormat sample_fmt = AV_SAMPLE_FMT_NONE;
    int frame_size = 0;
    bool tail_frame = false;  // codec without delay capability still holds an overlap frame

    std::vector<std::int16_t> pending;  // interleaved samples not yet sent to the codec
    std::int64_t pending_pos = 0;       // timeline position (samples) of pending[0]
    bool have_pos = false;
    bool submitted_any = false;
    bool flushed = false;
    Micros last_pts = std::numeric_limits<Micros>::min();

    ~Impl() {
        av_packet_free(&pkt);
        av_frame_free(&frame);
        avcodec_free_context(&ctx);
    }

    std::int64_t us_to_pos(Micros us) const { return floor_div(us * cfg.sample_rate + 500000, 1000000); }
    Micros pos_to_us(std::int64_t pos) const { return floor_div(pos * 1000000 + cfg.sample_rate / 2, cfg.sample_rate); }
    std::int64_t pending_frames() const { return static_cast<std::int64_t>(pending.size()) / cfg.channels; }

    void open() {
        const AVCodec* codec = nullptr;
        if (cfg.codec == AudioCodec::wma2) {
            codec = avcodec_find_encoder(AV_CODEC_ID_WMAV2);
            if (!codec) throw EncodeError("libavcodec has no WMA2 (wmav2) encoder");
        } else if (cfg.codec == AudioCodec::aac) {
            codec = avcodec_find_encoder_by_name("aac");  // libavcodec's own: AAC-LC, no external library
            if (!codec) throw EncodeError("libavcodec has no AAC encoder (aac)");
        } else {
            codec = avcodec_find_encoder_by_name("libmp3lame");
            if (!codec) throw EncodeError("libavcodec has no MP3 encoder (libmp3lame)");
        }
        if (cfg.channels < 1 || cfg.channels > 2)
            throw EncodeError(fmt::format("{} supports 1 or 2 channels, not {} (at {} Hz)", to_string(cfg.codec),
                                          cfg.channels, cfg.sample_rate));
        if (cfg.sample_rate <= 0 || cfg.bitrate_kbps <= 0)
            throw EncodeError(fmt::format("invalid {} settings: {} Hz, {} kbit/s", to_string(cfg.codec),
                                          cfg.sample_rate, cfg.bitrate_kbps));
        if (codec->supported_samplerates) {
            bool ok = false;
            std::string list;
            for (const int* r = codec->supported_samplerates; *r; ++r) {
                ok = ok || *r == cfg.sample_rate;
                list += (list.empty() ? "" : ", ") + std::to_string(*r);
            }
            if (!ok)
                throw EncodeError(fmt::format("{} does not support {} Hz with {} channel(s) (rates: {})",
                                              to_string(cfg.codec), cfg.sample_rate, cfg.channels, list));
        }
        // Pick a sample format we convert to by hand: exact 16-bit when possible, else float.
        for (AVSampleFormat want : {AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT}) {
            for (const AVSampleFormat* f = codec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; ++f)
                if (*f == want && sample_fmt == AV_SAMPLE_FMT_NONE) sample_fmt = want;
        }
        if (sample_fmt == AV_SAMPLE_FMT_NONE)
            throw EncodeError(std::string("no usable sample format for encoder ") + codec->name);

        ctx = avcodec_alloc_context3(codec);
        if (!ctx) throw EncodeError("out of memory allocating the audio encoder");
        ctx->sample_rate = cfg.sample_rate;
        ctx->sample_fmt = sample_fmt;
        av_channel_layout_default(&ctx->ch_layout, cfg.channels);
        ctx->bit_rate = static_cast<std::int64_t>(cfg.bitrate_kbps) * 1000;
        ctx->time_base = AVRational{1, cfg.sample_rate};
        int err = avcodec_open2(ctx, codec, nullptr);
        if (err < 0)
            throw EncodeError(fmt::format("{} encoder refused {} Hz, {} channel(s), {} kbit/s: {}",
                                          to_string(cfg.codec), cfg.sample_rate, cfg.channels, cfg.bitrate_kbps,
                                          av_err(err)));
        frame_size = ctx->frame_size;
        if (frame_size <= 0) throw EncodeError(std::string("encoder ") + codec->name + " has no fixed frame size");
        tail_frame = !(codec->capabilities & AV_CODEC_CAP_DELAY) && ctx->initial_padding > 0;

        frame = av_frame_alloc();
        pkt = av_packet_alloc();
        if (!frame || !pkt) throw EncodeError("out of memory allocating audio frames");
        frame->format = sample_fmt;
        frame->nb_samples = frame_size;
        frame->sample_rate = cfg.sample_rate;
        if (av_channel_layout_copy(&frame->ch_layout, &ctx->ch_layout) < 0 || av_frame_get_buffer(frame, 0) < 0)
            throw EncodeError("out of memory allocating audio frame buffers");

        fmt.stream = cfg.stream;
        fmt.channels = static_cast<std::uint16_t>(cfg.channels);
        fmt.sample_rate = static_cast<std::uint32_t>(cfg.sample_rate);
        fmt.bitrate = static_cast<std::uint32_t>(ctx->bit_rate);
        fmt.avg_bytes_per_sec = fmt.bitrate / 8;
        const char* layout = cfg.channels == 1 ? "mono" : "stereo";
        if (cfg.codec == AudioCodec::wma2) {
            fmt.format_tag = 0x0161;
            fmt.block_align = static_cast<std::uint16_t>(ctx->block_align);
            fmt.bits_per_sample = 16;
            fmt.codec_data.assign(ctx->extradata, ctx->extradata + ctx->extradata_size);
            fmt.spread_error_correction = true;
            fmt.codec_name = "Windows Media Audio V2";
        } else if (cfg.codec == AudioCodec::aac) {
            AudioStreamFormat base = fmt;
            fmt = aac_stream_format(base, Bytes(ctx->extradata, ctx->extradata + ctx->extradata_size));
        } else {
            fmt.format_tag = 0x0055;
            fmt.block_align = 1;
            fmt.bits_per_sample = 0;  // MPEGLAYER3WAVEFORMAT: wBitsPerSample is 0
            // MPEGLAYER3WAVEFORMAT extra bytes (cbSize = 12).
            const std::uint32_t bps = static_cast<std::uint32_t>(cfg.bitrate_kbps) * 1000u;
            const std::uint32_t per_frame = cfg.sample_rate >= 32000 ? 144u : 72u;  // MPEG-1 : MPEG-2/2.5
            ByteWriter w(fmt.codec_data);
            w.u16(1);  // wID = MPEGLAYER3_ID_MPEG
            w.u32(2);  // fdwFlags = MPEGLAYER3_FLAG_PADDING_OFF
            w.u16(static_cast<std::uint16_t>(per_frame * bps / static_cast<std::uint32_t>(cfg.sample_rate)));
            w.u16(1);     // nFramesPerBlock
            w.u16(1393);  // nCodecDelay
            fmt.spread_error_correction = false;
            fmt.codec_name = "MPEG Layer-3";
        }
        if (cfg.codec != AudioCodec::aac)
            fmt.codec_description = fmt::format("{} kbit/s, {} Hz, {}", fmt.bitrate / 1000, cfg.sample_rate, layout);
        spdlog::debug("audio encoder {}: frame size {}, initial padding {}, block align {}", codec->name,
                      frame_size, ctx->initial_padding, ctx->block_align);
    }

    void fill_frame(const std::int16_t* in) {
        const int ch = cfg.channels;
        const int n = frame_size;
        switch (sample_fmt) {
            case AV_SAMPLE_FMT_S16:
                std::memcpy(frame->data[0], in, sizeof(std::int16_t) * static_cast<std::size_t>(n * ch));
                break;
            case AV_SAMPLE_FMT_S16P:
                for (int c = 0; c < ch; ++c) {
                    auto* dst = reinterpret_cast<std::int16_t*>(frame->extended_data[c]);
                    for (int i = 0; i < n; ++i) dst[i] = in[i * ch + c];
                }
                break;
            case AV_SAMPLE_FMT_FLTP:
                for (int c = 0; c < ch; ++c) {
                    auto* dst = reinterpret_cast<float*>(frame->extended_data[c]);
                    for (int i = 0; i < n; ++i) dst[i] = static_cast<float>(in[i * ch + c]) * (1.0f / 32768.0f);
                }
                break;
            case AV_SAMPLE_FMT_FLT: {
                auto* dst = reinterpret_cast<float*>(frame->data[0]);
                for (int i = 0; i < n * ch; ++i) dst[i] = static_cast<float>(in[i]) * (1.0f / 32768.0f);
                break;
            }
            default: throw EncodeError("internal: unexpected sample format");
        }
    }

    void drain(std::vector<EncodedFrame>& out) {
        for (;;) {
            int err = avcodec_receive_packet(ctx, pkt);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
            if (err < 0) throw EncodeError("audio encoding failed: " + av_err(err));
            EncodedFrame f;
            f.stream = cfg.stream;
            f.kind = MediaKind::audio;
            f.keyframe = false;
            Micros pts = pkt->pts != AV_NOPTS_VALUE ? pos_to_us(pkt->pts) : last_pts + pos_to_us(frame_size);
            if (last_pts != std::numeric_limits<Micros>::min() && pts <= last_pts) pts = last_pts + 1;
            last_pts = pts;
            f.pts = f.dts = pts;
            f.data.assign(pkt->data, pkt->data + pkt->size);
            av_packet_unref(pkt);
            out.push_back(std::move(f));
        }
    }

    // Sends one full frame (frame_size samples) whose first sample sits at `pos`.
    void submit(const std::int16_t* in, std::int64_t pos, std::vector<EncodedFrame>& out) {
        int err = av_frame_make_writable(frame);
        if (err < 0) throw EncodeError("audio frame not writable: " + av_err(err));
        frame->nb_samples = frame_size;
        frame->pts = pos;
        fill_frame(in);
        err = avcodec_send_frame(ctx, frame);
        if (err < 0) throw EncodeError("audio encoding failed: " + av_err(err));
        submitted_any = true;
        drain(out);
    }

    // Sends every complete frame in `pending`.
    void submit_pending(std::vector<EncodedFrame>& out) {
        const std::size_t chunk = static_cast<std::size_t>(frame_size) * static_cast<std::size_t>(cfg.channels);
        std::size_t off = 0;
        while (pending.size() - off >= chunk) {
            submit(pending.data() + off, pending_pos, out);
            pending_pos += frame_size;
            off += chunk;
        }
        if (off) pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(off));
    }

    // Pads what is pending with silence to one full frame and sends it.
    void submit_padded(std::vector<EncodedFrame>& out) {
        if (pending.empty()) return;
        pending.resize(static_cast<std::size_t>(frame_size) * static_cast<std::size_t>(cfg.channels), 0);
        submit_pending(out);
    }

    void encode(const RawAudioBlock& b, std::vector<EncodedFrame>& out) {
        if (flushed) throw EncodeError("audio encoder already flushed");
        if (b.sample_rate != cfg.sample_rate || b.channels != cfg.channels)
            throw EncodeError(fmt::format("audio block is {} Hz / {} channel(s), encoder expects {} Hz / {}",
                                          b.sample_rate, b.channels, cfg.sample_rate, cfg.channels));
        const std::int64_t n = static_cast<std::int64_t>(b.frames());
        if (n == 0) return;
        const std::int64_t block_pos = us_to_pos(b.pts);
        std::int64_t skip = 0;  // leading frames of this block to drop
        if (!have_pos) {
            pending_pos = block_pos;
            have_pos = true;
        } else {
            const std::int64_t expected = pending_pos + pending_frames();
            const Micros drift = b.pts - pos_to_us(expected);
            if (drift > kResyncThreshold) {
                // A gap (lost samples): finish the pending frame with silence, restart at the block.
                spdlog::debug("audio stream {}: block at {} us is {} us late, resynchronizing", cfg.stream, b.pts,
                              drift);
                submit_padded(out);
                pending_pos = std::max(block_pos, pending_pos);
            } else if (drift < -kResyncThreshold) {
                // Overlap: samples whose time is already encoded are dropped to keep A/V sync.
                skip = std::min(n, expected - block_pos);
                spdlog::debug("audio stream {}: block at {} us is {} us early, dropping {} samples", cfg.stream,
                              b.pts, -drift, skip);
                if (skip >= n) return;
            }
        }
        pending.insert(pending.end(), b.samples.begin() + static_cast<std::ptrdiff_t>(skip * cfg.channels),
                       b.samples.begin() + static_cast<std::ptrdiff_t>(n * cfg.channels));
        submit_pending(out);
    }

    void flush(std::vector<EncodedFrame>& out) {
        if (flushed) return;
        flushed = true;
        submit_padded(out);
        if (tail_frame && submitted_any) {
            // The codec keeps the last frame's overlap until it sees one more frame.
            std::vector<std::int16_t> silence(static_cast<std::size_t>(frame_size) *
                                              static_cast<std::size_t>(cfg.channels));
            submit(silence.data(), pending_pos, out);
            pending_pos += frame_size;
        }
        int err = avcodec_send_frame(ctx, nullptr);
        if (err < 0 && err != AVERROR_EOF) throw EncodeError("audio flush failed: " + av_err(err));
        drain(out);
    }
};

AudioEncoder::AudioEncoder(const AudioEncoderConfig& config) : impl_(std::make_unique<Impl>()) {
    impl_->cfg = config;
    impl_->open();
}

AudioEncoder::~AudioEncoder() = default;

const AudioStreamFormat& AudioEncoder::format() const { return impl_->fmt; }

Micros AudioEncoder::frame_duration_us() const {
    return static_cast<Micros>(impl_->frame_size) * 1'000'000 / impl_->cfg.sample_rate;
}

void AudioEncoder::encode(const RawAudioBlock& block, std::vector<EncodedFrame>& out) { impl_->encode(block, out); }

void AudioEncoder::flush(std::vector<EncodedFrame>& out) { impl_->flush(out); }

}  // namespace asfcast::encode
