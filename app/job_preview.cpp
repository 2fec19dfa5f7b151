#include "job_preview.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

#include <algorithm>
#include <memory>

#include <spdlog/spdlog.h>

namespace asfcast::app {
namespace {

// One JPEG of an I420 picture at full JPEG range (the preview only needs to look right).
std::optional<std::string> encode_jpeg(const Bytes& i420, int width, int height) {
    const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) return std::nullopt;
    std::unique_ptr<AVCodecContext, void (*)(AVCodecContext*)> ctx(avcodec_alloc_context3(codec), [](AVCodecContext* c) {
        avcodec_free_context(&c);
    });
    if (!ctx) return std::nullopt;
    ctx->width = width;
    ctx->height = height;
    ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
    ctx->time_base = {1, 25};
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = FF_QP2LAMBDA * 6;
    if (avcodec_open2(ctx.get(), codec, nullptr) < 0) return std::nullopt;
    std::unique_ptr<AVFrame, void (*)(AVFrame*)> frame(av_frame_alloc(), [](AVFrame* f) { av_frame_free(&f); });
    std::unique_ptr<AVPacket, void (*)(AVPacket*)> packet(av_packet_alloc(), [](AVPacket* p) { av_packet_free(&p); });
    if (!frame || !packet) return std::nullopt;
    frame->format = AV_PIX_FMT_YUVJ420P;
    frame->width = width;
    frame->height = height;
    frame->quality = ctx->global_quality;
    frame->pts = 0;
    const int cw = (width + 1) / 2, ch = (height + 1) / 2;
    auto* base = const_cast<std::uint8_t*>(i420.data());
    frame->data[0] = base;
    frame->data[1] = base + static_cast<std::size_t>(width) * height;
    frame->data[2] = frame->data[1] + static_cast<std::size_t>(cw) * ch;
    frame->linesize[0] = width;
    frame->linesize[1] = cw;
    frame->linesize[2] = cw;
    if (avcodec_send_frame(ctx.get(), frame.get()) < 0) return std::nullopt;
    if (avcodec_receive_packet(ctx.get(), packet.get()) < 0) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(packet->data), static_cast<std::size_t>(packet->size));
}

}  // namespace

void PreviewGrabber::offer(const RawVideoFrame& f) {
    const Micros now = monotonic_us();
    if (now - last_kept_us_.load() < interval_us_) return;
    last_kept_us_ = now;
    if (f.width <= 0 || f.height <= 0) return;
    const std::size_t cw_in = static_cast<std::size_t>((f.width + 1) / 2), ch_in = static_cast<std::size_t>((f.height + 1) / 2);
    if (f.i420.size() < static_cast<std::size_t>(f.width) * f.height + 2 * cw_in * ch_in) return;
    // An integer step keeps the chroma planes aligned with luma; even sizes keep I420 simple.
    const int step = std::max(1, (f.width + max_width_ - 1) / max_width_);
    const int w = std::max(2, (f.width / step) & ~1), h = std::max(2, (f.height / step) & ~1);
    const int cw = w / 2, ch = h / 2;
    Bytes out(static_cast<std::size_t>(w) * h + 2 * static_cast<std::size_t>(cw) * ch);
    const std::uint8_t* y_in = f.i420.data();
    const std::uint8_t* u_in = y_in + static_cast<std::size_t>(f.width) * f.height;
    const std::uint8_t* v_in = u_in + cw_in * ch_in;
    std::uint8_t* y_out = out.data();
    std::uint8_t* u_out = y_out + static_cast<std::size_t>(w) * h;
    std::uint8_t* v_out = u_out + static_cast<std::size_t>(cw) * ch;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            y_out[y * w + x] = y_in[static_cast<std::size_t>(y) * step * f.width + static_cast<std::size_t>(x) * step];
    for (int y = 0; y < ch; ++y)
        for (int x = 0; x < cw; ++x) {
            const std::size_t at = std::min(static_cast<std::size_t>(y) * step, ch_in - 1) * cw_in +
                                   std::min(static_cast<std::size_t>(x) * step, cw_in - 1);
            u_out[y * cw + x] = u_in[at];
            v_out[y * cw + x] = v_in[at];
        }
    scale_us_ += static_cast<std::uint64_t>(monotonic_us() - now);
    ++pictures_;
    std::lock_guard lk(mutex_);
    picture_ = std::move(out);
    width_ = w;
    height_ = h;
    ++picture_number_;
}

std::optional<std::string> PreviewGrabber::jpeg() {
    Bytes picture;
    int width = 0, height = 0;
    std::uint64_t number = 0;
    {
        std::lock_guard lk(mutex_);
        if (picture_number_ == 0) return std::nullopt;
        if (encoded_number_ == picture_number_) return encoded_;
        // Encoded outside the lock: the capture thread never waits for the encoder.
        picture = picture_;
        width = width_;
        height = height_;
        number = picture_number_;
    }
    const Micros t0 = monotonic_us();
    auto j = encode_jpeg(picture, width, height);
    encode_us_ += static_cast<std::uint64_t>(monotonic_us() - t0);
    if (!j) {
        spdlog::warn("control: the preview picture could not be encoded to JPEG");
        return std::nullopt;
    }
    ++jpegs_;
    std::lock_guard lk(mutex_);
    encoded_ = *j;
    encoded_number_ = number;
    return j;
}

}  // namespace asfcast::app
