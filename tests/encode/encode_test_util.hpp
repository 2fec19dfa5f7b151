// What the encode test suites share: synthetic I420 frames, the encode loop, the EncodeError check and
// the libavcodec decode-back loop (each suite judges the decoded pictures or samples itself).
#pragma once

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "asfcast/encode/encode.hpp"

namespace asfcast::encode::testutil {

// A w x h I420 frame at pts: luma(c, r) gives each Y sample, chroma(c, r) the {U, V} pair of each
// half-size chroma sample.
template <class Luma, class Chroma>
RawVideoFrame synth_frame(int w, int h, Micros pts, Luma luma, Chroma chroma) {
    RawVideoFrame f;
    f.width = w;
    f.height = h;
    f.pts = pts;
    f.i420.resize(static_cast<std::size_t>(w * h * 3 / 2));
    std::uint8_t* y = f.i420.data();
    std::uint8_t* u = y + w * h;
    std::uint8_t* v = u + w * h / 4;
    for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c) y[r * w + c] = static_cast<std::uint8_t>(luma(c, r));
    for (int r = 0; r < h / 2; ++r)
        for (int c = 0; c < w / 2; ++c) {
            const auto [cu, cv] = chroma(c, r);
            u[r * w / 2 + c] = static_cast<std::uint8_t>(cu);
            v[r * w / 2 + c] = static_cast<std::uint8_t>(cv);
        }
    return f;
}

// Encodes frames make(0) .. make(n - 1), forcing a key frame before frame force_key_at, then flushes.
template <class Make>
std::vector<EncodedFrame> encode_frames(VideoEncoder& enc, int n, Make make, int force_key_at = -1) {
    std::vector<EncodedFrame> out;
    for (int i = 0; i < n; ++i) {
        if (i == force_key_at) enc.force_keyframe();
        enc.encode(make(i), out);
    }
    enc.flush(out);
    return out;
}

// f() must throw EncodeError whose message contains every needle.
template <typename F>
void expect_encode_error(F&& f, const std::vector<std::string>& needles) {
    try {
        f();
        ADD_FAILURE() << "expected EncodeError";
    } catch (const EncodeError& e) {
        for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
}

// Gives ctx a copy of b as extradata (the way a demuxer passes the codec data of ASF stream properties).
inline void set_extradata(AVCodecContext& ctx, const Bytes& b) {
    ctx.extradata = static_cast<std::uint8_t*>(av_mallocz(b.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    std::copy(b.begin(), b.end(), ctx.extradata);
    ctx.extradata_size = static_cast<int>(b.size());
}

struct DecodeRun {
    bool opened = false;  // the decoder exists and opened
    int packets_ok = 0;   // packets the decoder accepted
    int send_errors = 0;  // packets it refused
};

// Decodes frames (data, pts, dts, key flag) with libavcodec's decoder for id, after setup(ctx) has set
// what the stream format tells a demuxer. on_output(packet, frame) sees every decoded picture or
// audio frame, with the packet sent just before it (nullptr for what the final drain returns).
inline DecodeRun decode_with(AVCodecID id, const std::vector<EncodedFrame>& frames,
                             const std::function<void(AVCodecContext&)>& setup,
                             const std::function<void(const EncodedFrame*, const AVFrame&)>& on_output) {
    DecodeRun run;
    const AVCodec* codec = avcodec_find_decoder(id);
    if (!codec) return run;
    AVCodecContext* ctx = avcodec_alloc_context3(codec);
    if (setup) setup(*ctx);
    if (avcodec_open2(ctx, codec, nullptr) < 0) {
        avcodec_free_context(&ctx);
        return run;
    }
    run.opened = true;
    AVPacket* pkt = av_packet_alloc();
    AVFrame* out = av_frame_alloc();
    auto receive = [&](const EncodedFrame* from) {
        while (avcodec_receive_frame(ctx, out) == 0) {
            on_output(from, *out);
            av_frame_unref(out);
        }
    };
    for (const auto& f : frames) {
        av_new_packet(pkt, static_cast<int>(f.data.size()));
        std::copy(f.data.begin(), f.data.end(), pkt->data);
        pkt->pts = f.pts;
        pkt->dts = f.dts;
        if (f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
        const int err = avcodec_send_packet(ctx, pkt);
        av_packet_unref(pkt);
        if (err < 0) {
            ++run.send_errors;
            continue;
        }
        ++run.packets_ok;
        receive(&f);
    }
    avcodec_send_packet(ctx, nullptr);
    receive(nullptr);
    av_frame_free(&out);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return run;
}

}  // namespace asfcast::encode::testutil
