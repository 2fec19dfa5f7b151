// Windows Media Video 8 (FourCC WMV2) through libavcodec's wmv2 encoder, for players that predate
// H.264 in ASF (Windows Media Player 7+, old Windows Mobile players).
//
// Timing: libavcodec's mpegvideo rate control takes the frame rate from the time base, so the
// codec runs in a 1/fps time base with pts = frame counter. WMV2 has no B-frames and the encoder
// has no delay, so packets leave in input order: each packet takes the capture time (µs) of the
// oldest picture still queued, and dts = pts.
#include <cstdint>
#include <deque>

extern "C" {
#include <libavutil/opt.h>
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "video_backend.hpp"

namespace asfcast::encode::detail {

namespace {

std::string av_err(int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(err, buf, sizeof buf);
    return buf;
}

// Owners for the libavcodec objects, so that a constructor that throws frees them too.
struct CtxFree {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};

class Wmv2Backend final : public VideoBackend {
public:
    explicit Wmv2Backend(const VideoEncoderConfig& c) : cfg_(c) {
        // libavcodec refuses odd widths for WMV1/2; our I420 frames need even heights too.
        if (c.width <= 0 || c.height <= 0 || c.width % 2 || c.height % 2)
            throw EncodeError(fmt::format("wmv2: video size {}x{} must be positive and even", c.width, c.height));
        if (c.width > 4096 || c.height > 4096)
            throw EncodeError(fmt::format("wmv2: video size {}x{} is larger than 4096x4096", c.width, c.height));
        if (c.fps_num <= 0 || c.fps_den <= 0 || c.fps_num > 65535 || c.fps_den > 65535)
            throw EncodeError(fmt::format("wmv2: invalid video frame rate {}/{}", c.fps_num, c.fps_den));
        if (c.bitrate_kbps <= 0) throw EncodeError(fmt::format("wmv2: invalid video bitrate {} kbit/s", c.bitrate_kbps));
        if (c.max_bitrate_kbps < 0 || c.vbv_buffer_kbit < 0 || (c.max_bitrate_kbps > 0 && c.vbv_buffer_kbit <= 0))
            throw EncodeError(fmt::format("wmv2: invalid VBV settings: max bitrate {} kbit/s, buffer {} kbit",
                                          c.max_bitrate_kbps, c.vbv_buffer_kbit));
        if (c.keyframe_interval <= 0)
            throw EncodeError(fmt::format("wmv2: invalid key-frame interval {}", c.keyframe_interval));
        // libavcodec refuses a VBV buffer smaller than one frame at the average rate.
        if (c.max_bitrate_kbps > 0 &&
            std::int64_t{c.vbv_buffer_kbit} * c.fps_num < std::int64_t{c.bitrate_kbps} * c.fps_den)
            throw EncodeError(fmt::format("wmv2: VBV buffer {} kbit is smaller than one frame at {} kbit/s and {}/{} fps",
                                          c.vbv_buffer_kbit, c.bitrate_kbps, c.fps_num, c.fps_den));
        if (c.bframes != 0) throw EncodeError(fmt::format("wmv2 has no B-frames (bframes is {}, allowed 0)", c.bframes));
        const std::string fourcc = c.fourcc.empty() ? "WMV2" : c.fourcc;
        if (fourcc != "WMV2")
            throw EncodeError("wmv2: video fourcc must be WMV2, got '" + fourcc + "'");

        const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_WMV2);
        if (!codec) throw EncodeError("libavcodec has no Windows Media Video 8 (wmv2) encoder");
        ctx_owner_.reset(avcodec_alloc_context3(codec));
        frame_owner_.reset(av_frame_alloc());
        pkt_owner_.reset(av_packet_alloc());
        ctx_ = ctx_owner_.get();
        frame_ = frame_owner_.get();
        pkt_ = pkt_owner_.get();
        if (!ctx_ || !frame_ || !pkt_) throw EncodeError("out of memory allocating the wmv2 encoder");
        ctx_->width = c.width;
        ctx_->height = c.height;
        ctx_->pix_fmt = AV_PIX_FMT_YUV420P;
        ctx_->time_base = AVRational{c.fps_den, c.fps_num};
        ctx_->framerate = AVRational{c.fps_num, c.fps_den};
        ctx_->sample_aspect_ratio = AVRational{1, 1};
        ctx_->gop_size = c.keyframe_interval;
        if (c.keyframes_on_request) {
            // MBR: key frames only where force_keyframe() puts them, the same capture times in
            // every rendition (no interval or scene-change I-frames of its own).
            ctx_->gop_size = 1 << 20;
            av_opt_set_int(ctx_->priv_data, "sc_threshold", 1000000000, 0);
        }
        ctx_->max_b_frames = 0;
        ctx_->bit_rate = std::int64_t{c.bitrate_kbps} * 1000;
        // libavcodec's default tolerance (4 Mbit) lets a 1-pass encode drift far from the target;
        // one second's worth keeps the average near bit_rate.
        ctx_->bit_rate_tolerance = static_cast<int>(std::min<std::int64_t>(ctx_->bit_rate, 1 << 30));
        if (c.max_bitrate_kbps > 0) {
            ctx_->rc_max_rate = std::int64_t{std::max(c.max_bitrate_kbps, c.bitrate_kbps)} * 1000;
            // With max == average (and no min rate) libavcodec prints "impossible bitrate
            // constraints, this will fail", a notice about strict CBR, which is not asked for here;
            // 1 bit/s of headroom keeps it quiet and changes nothing measurable.
            if (ctx_->rc_max_rate == ctx_->bit_rate) ctx_->rc_max_rate += 1;
            ctx_->rc_buffer_size = static_cast<int>(std::min<std::int64_t>(std::int64_t{c.vbv_buffer_kbit} * 1000, 1 << 30));
        }
        const int err = avcodec_open2(ctx_, codec, nullptr);
        if (err < 0)
            throw EncodeError(fmt::format("wmv2 encoder refused {}x{} {}/{} fps, {} kbit/s (max {}, buffer {} kbit): {}",
                                          c.width, c.height, c.fps_num, c.fps_den, c.bitrate_kbps, c.max_bitrate_kbps,
                                          c.vbv_buffer_kbit, av_err(err)));
        frame_->format = AV_PIX_FMT_YUV420P;
        frame_->width = c.width;
        frame_->height = c.height;

        VideoStreamFormat& f = fmt_;
        f.stream = c.stream;
        f.width = c.width;
        f.height = c.height;
        f.fourcc = fourcc_value(fourcc);
        // The 4 bytes of WMV2 extradata (coding flags) follow BITMAPINFOHEADER; decoders need them.
        if (ctx_->extradata && ctx_->extradata_size > 0)
            f.codec_private.assign(ctx_->extradata, ctx_->extradata + ctx_->extradata_size);
        if (f.codec_private.size() != 4)
            throw EncodeError(fmt::format("wmv2 encoder gave {} bytes of extradata, expected 4", f.codec_private.size()));
        const int peak_kbps = std::max(c.bitrate_kbps, c.max_bitrate_kbps);
        f.bitrate = static_cast<std::uint32_t>(c.bitrate_kbps) * 1000u;
        f.max_bitrate = static_cast<std::uint32_t>(peak_kbps) * 1000u;
        f.buffer_ms = c.max_bitrate_kbps > 0
                          ? static_cast<std::uint32_t>(std::int64_t{c.vbv_buffer_kbit} * 1000 / peak_kbps)
                          : 0u;
        f.frame_rate = static_cast<double>(c.fps_num) / c.fps_den;
        f.codec_name = "Windows Media Video 8";
        f.codec_description = fmt::format("libavcodec wmv2 {}x{} {:g} fps {} kbit/s", c.width, c.height, f.frame_rate,
                                          c.bitrate_kbps);
        const std::size_t luma = static_cast<std::size_t>(c.width) * static_cast<std::size_t>(c.height);
        frame_bytes_ = luma + 2 * (luma / 4);
    }

    const VideoStreamFormat& format() const override { return fmt_; }

    void encode(const RawVideoFrame& in, std::vector<EncodedFrame>& out) override {
        if (flushed_) throw EncodeError("wmv2: encode() after flush()");
        if (in.width != cfg_.width || in.height != cfg_.height)
            throw EncodeError(fmt::format("video frame is {}x{}, encoder expects {}x{}", in.width, in.height,
                                          cfg_.width, cfg_.height));
        if (in.i420.size() != frame_bytes_)
            throw EncodeError(fmt::format("I420 frame has {} bytes, expected {}", in.i420.size(), frame_bytes_));
        // A fresh buffer each time: the encoder may keep a reference to the previous one.
        av_frame_unref(frame_);
        frame_->format = AV_PIX_FMT_YUV420P;
        frame_->width = cfg_.width;
        frame_->height = cfg_.height;
        int err = av_frame_get_buffer(frame_, 0);
        if (err < 0) throw EncodeError("wmv2: cannot allocate a picture: " + av_err(err));
        const std::uint8_t* src = in.i420.data();
        for (int plane = 0; plane < 3; ++plane) {
            const int w = plane ? cfg_.width / 2 : cfg_.width;
            const int h = plane ? cfg_.height / 2 : cfg_.height;
            for (int row = 0; row < h; ++row) {
                std::copy_n(src, w, frame_->data[plane] + static_cast<std::ptrdiff_t>(row) * frame_->linesize[plane]);
                src += w;
            }
        }
        frame_->pts = next_index_++;
        frame_->pict_type = force_key_ ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        force_key_ = false;
        pending_pts_.push_back(in.pts);
        err = avcodec_send_frame(ctx_, frame_);
        if (err < 0) throw EncodeError("wmv2: avcodec_send_frame failed: " + av_err(err));
        receive(out);
    }

    void flush(std::vector<EncodedFrame>& out) override {
        if (flushed_) return;
        flushed_ = true;
        const int err = avcodec_send_frame(ctx_, nullptr);
        if (err < 0 && err != AVERROR_EOF) throw EncodeError("wmv2: flushing failed: " + av_err(err));
        receive(out);
    }

    void force_keyframe() override { force_key_ = true; }

private:
    void receive(std::vector<EncodedFrame>& out) {
        for (;;) {
            const int err = avcodec_receive_packet(ctx_, pkt_);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
            if (err < 0) throw EncodeError("wmv2: avcodec_receive_packet failed: " + av_err(err));
            if (pending_pts_.empty()) {
                av_packet_unref(pkt_);
                throw EncodeError("wmv2: encoder returned more packets than pictures");
            }
            EncodedFrame f;
            f.stream = cfg_.stream;
            f.kind = MediaKind::video;
            f.pts = pending_pts_.front();
            f.dts = f.pts;
            pending_pts_.pop_front();
            f.keyframe = (pkt_->flags & AV_PKT_FLAG_KEY) != 0;
            f.data.assign(pkt_->data, pkt_->data + pkt_->size);
            av_packet_unref(pkt_);
            if (!f.data.empty()) out.push_back(std::move(f));
        }
    }

    VideoEncoderConfig cfg_;
    VideoStreamFormat fmt_;
    std::unique_ptr<AVCodecContext, CtxFree> ctx_owner_;
    std::unique_ptr<AVFrame, FrameFree> frame_owner_;
    std::unique_ptr<AVPacket, PacketFree> pkt_owner_;
    AVCodecContext* ctx_ = nullptr;
    AVFrame* frame_ = nullptr;
    AVPacket* pkt_ = nullptr;
    std::size_t frame_bytes_ = 0;
    std::int64_t next_index_ = 0;
    std::deque<Micros> pending_pts_;
    bool force_key_ = false;
    bool flushed_ = false;
};

}  // namespace

std::unique_ptr<VideoBackend> make_wmv2_backend(const VideoEncoderConfig& config) {
    return std::make_unique<Wmv2Backend>(config);
}

}  // namespace asfcast::encode::detail
