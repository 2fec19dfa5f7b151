// VideoPassthrough (video.codec copy, issue 15 point 2) fed a "camera": libx264's access units
// as a network source hands them on (sometimes without the parameter sets in the IDR, as RTP
// depayloaders deliver them). What must hold: units go out byte for byte; nothing before the first
// IDR; key frames from the NAL types; SPS+PPS put in front of an IDR that lacks them; a new
// picture size is a new format on exactly its first IDR; the slate is encoded at the stream's size
// and the source resumes only at its next IDR; libavcodec decodes the whole result.
#include "asfcast/encode/passthrough.hpp"

#include <gtest/gtest.h>

#include "asfcast/core/h264.hpp"
#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;

namespace {

constexpr Micros kPeriod = 33'333;

VideoEncoderConfig camera_config(int w, int h) {
    VideoEncoderConfig c;
    c.width = w;
    c.height = h;
    c.keyframe_interval = 10;
    c.preset = "ultrafast";
    c.bitrate_kbps = 500;
    c.max_bitrate_kbps = 500;
    c.vbv_buffer_kbit = 500;
    return c;
}

RawVideoFrame moving(int w, int h, int i) {
    return testutil::synth_frame(w, h, i * kPeriod, [i](int c, int r) { return (c + r + 3 * i) & 0xff; },
                                 [](int, int) { return std::pair{128, 128}; });
}

// n access units of a w x h camera starting at frame `first`; strip_parameter_sets: the IDRs
// come without SPS/PPS (the depayloader moved them to the format description).
std::vector<EncodedFrame> camera(int w, int h, int first, int n, bool strip_parameter_sets) {
    VideoEncoder enc(camera_config(w, h));
    std::vector<EncodedFrame> out;
    for (int i = first; i < first + n; ++i) enc.encode(moving(w, h, i), out);
    enc.flush(out);
    for (auto& f : out) {
        f.stream = 0;
        if (!strip_parameter_sets) continue;
        Bytes kept;
        for (ByteView nal : h264::split_annexb(f.data)) {
            const auto t = h264::nal_type(nal);
            if (t == h264::kNalSps || t == h264::kNalPps) continue;
            kept.insert(kept.end(), {0, 0, 0, 1});
            kept.insert(kept.end(), nal.begin(), nal.end());
        }
        f.data = std::move(kept);
    }
    return out;
}

PassthroughConfig config(int w, int h) {
    PassthroughConfig c;
    c.slate = camera_config(w, h);
    c.slate.stream = 1;
    c.stream_name = "camera";
    return c;
}

std::vector<std::uint8_t> nal_types(const Bytes& au) {
    std::vector<std::uint8_t> t;
    for (ByteView nal : h264::split_annexb(au)) t.push_back(h264::nal_type(nal));
    return t;
}

// Decodes the units with libavcodec's H.264 decoder (extradata = the first format's codec data);
// returns the sizes of the decoded pictures in order.
std::vector<std::pair<int, int>> decode(const Bytes& extradata, const std::vector<EncodedFrame>& units) {
    const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext* ctx = avcodec_alloc_context3(codec);
    testutil::set_extradata(*ctx, extradata);
    EXPECT_EQ(avcodec_open2(ctx, codec, nullptr), 0);
    AVPacket* pkt = av_packet_alloc();
    AVFrame* frame = av_frame_alloc();
    std::vector<std::pair<int, int>> sizes;
    auto drain = [&] {
        while (avcodec_receive_frame(ctx, frame) == 0) {
            EXPECT_FALSE(frame->decode_error_flags) << "frame " << sizes.size();
            sizes.emplace_back(frame->width, frame->height);
        }
    };
    for (const auto& u : units) {
        av_new_packet(pkt, static_cast<int>(u.data.size()));
        std::copy(u.data.begin(), u.data.end(), pkt->data);
        EXPECT_EQ(avcodec_send_packet(ctx, pkt), 0);
        av_packet_unref(pkt);
        drain();
    }
    avcodec_send_packet(ctx, nullptr);
    drain();
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return sizes;
}

TEST(VideoPassthrough, UnitsGoOutAsTheyCameFromTheFirstIdr) {
    VideoPassthrough copy(config(320, 240));
    EXPECT_EQ(copy.format().width, 320);
    EXPECT_EQ(copy.format().stream_name, "camera");
    // A camera joined mid-GOP: frames 5..34 (IDRs at 10, 20, 30).
    auto all = camera(320, 240, 0, 35, false);
    std::vector<EncodedFrame> in(all.begin() + 5, all.end()), out;
    for (const auto& u : in) copy.add(u, out);
    ASSERT_EQ(out.size(), 25u);  // 5 units before the IDR at frame 10 dropped
    EXPECT_EQ(copy.stats().waiting_for_idr, 5u);
    EXPECT_EQ(copy.stats().idr_units, 3u);
    EXPECT_EQ(copy.stats().parameter_sets_added, 0u);
    EXPECT_EQ(copy.stats().format_changes, 0u);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& src = in[i + 5];
        EXPECT_EQ(out[i].data, src.data) << "unit " << i << " changed";
        EXPECT_EQ(out[i].pts, src.pts);
        EXPECT_EQ(out[i].dts, src.dts);
        EXPECT_EQ(out[i].stream, 1);
        EXPECT_EQ(out[i].keyframe, i % 10 == 0) << i;
        EXPECT_FALSE(out[i].new_format);
    }
    EXPECT_EQ(decode(copy.format().codec_private, out).size(), 25u);
}

TEST(VideoPassthrough, ParameterSetsGoInFrontOfAnIdrWithoutThem) {
    VideoPassthrough copy(config(320, 240));
    // The first unit is the camera's parameter sets alone (as a depayloader's first buffer may be),
    // then units whose IDRs have none.
    auto with = camera(320, 240, 0, 20, false);
    auto without = camera(320, 240, 0, 20, true);
    EncodedFrame sets;
    for (ByteView nal : h264::split_annexb(with[0].data)) {
        const auto t = h264::nal_type(nal);
        if (t != h264::kNalSps && t != h264::kNalPps) continue;
        sets.data.insert(sets.data.end(), {0, 0, 0, 1});
        sets.data.insert(sets.data.end(), nal.begin(), nal.end());
    }
    std::vector<EncodedFrame> out;
    copy.add(sets, out);
    EXPECT_TRUE(out.empty());
    for (const auto& u : without) copy.add(u, out);
    ASSERT_EQ(out.size(), 20u);
    EXPECT_EQ(copy.stats().parameter_sets_added, 2u);
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i % 10 == 0) {
            const auto t = nal_types(out[i].data);
            ASSERT_GE(t.size(), 3u);
            EXPECT_EQ(t[0], h264::kNalSps);
            EXPECT_EQ(t[1], h264::kNalPps);
            // The slices are the camera's, unchanged, after the parameter sets.
            const auto ours = h264::split_annexb(out[i].data);
            const auto theirs = h264::split_annexb(without[i].data);
            ASSERT_EQ(ours.size(), theirs.size() + 2);
            for (std::size_t k = 0; k < theirs.size(); ++k)
                EXPECT_TRUE(std::ranges::equal(ours[k + 2], theirs[k])) << "unit " << i << " NAL " << k;
        } else {
            EXPECT_EQ(out[i].data, without[i].data);
        }
    }
    // A decoder that never saw the header's codec data starts at the second IDR.
    std::vector<EncodedFrame> late(out.begin() + 10, out.end());
    EXPECT_EQ(decode({}, late).size(), 10u);
}

TEST(VideoPassthrough, ANewPictureSizeIsANewFormatOnItsFirstIdr) {
    VideoPassthrough copy(config(320, 240));
    const Bytes initial = copy.format().codec_private;
    auto first = camera(320, 240, 0, 20, false);
    auto second = camera(480, 270, 20, 20, false);
    std::vector<EncodedFrame> out;
    for (const auto& u : first) copy.add(u, out);
    for (const auto& u : second) copy.add(u, out);
    ASSERT_EQ(out.size(), 40u);
    EXPECT_EQ(copy.stats().format_changes, 1u);
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].new_format != nullptr, i == 20) << i;
    const VideoStreamFormat& f = *out[20].new_format;
    EXPECT_EQ(f.width, 480);
    EXPECT_EQ(f.height, 270);
    EXPECT_EQ(f.stream, 1);
    EXPECT_EQ(f.stream_name, "camera");
    EXPECT_EQ(copy.format().width, 480);
    // The codec data is the new SPS and PPS, as the camera sent them.
    const auto cp = h264::split_annexb(f.codec_private);
    ASSERT_EQ(cp.size(), 2u);
    EXPECT_EQ(h264::parse_sps(cp[0]).width, 480);
    const auto sizes = decode(initial, out);
    ASSERT_EQ(sizes.size(), 40u);
    EXPECT_EQ(sizes.front(), (std::pair{320, 240}));
    EXPECT_EQ(sizes.back(), (std::pair{480, 270}));
}

TEST(VideoPassthrough, TheSlateIsEncodedAtTheStreamSizeAndTheSourceResumesAtAnIdr) {
    VideoPassthrough copy(config(640, 360));  // the preset's size; the camera's is 320x240
    auto cam = camera(320, 240, 0, 40, false);
    std::vector<EncodedFrame> out;
    for (int i = 0; i < 15; ++i) copy.add(cam[static_cast<std::size_t>(i)], out);  // IDR 0, 10
    const std::size_t before_slate = out.size();
    // The camera is lost: slate pictures at the preset's size, on the grid after frame 14.
    for (int i = 15; i < 25; ++i) copy.add(moving(640, 360, i), out);
    EXPECT_EQ(copy.stats().slate_frames, 10u);
    ASSERT_EQ(out.size(), before_slate + 10);
    EXPECT_TRUE(out[before_slate].keyframe) << "the slate starts with an IDR";
    for (std::size_t i = before_slate; i < out.size(); ++i) {
        EXPECT_EQ(out[i].stream, 1);
        EXPECT_FALSE(out[i].new_format) << "the slate at the stream's size needs no header change";
    }
    // The camera is back mid-GOP (frames 25..39): the slate stays on screen at its times until
    // its IDR at frame 30, from which it goes on.
    for (int i = 25; i < 40; ++i) copy.add(cam[static_cast<std::size_t>(i)], out);
    ASSERT_EQ(out.size(), before_slate + 10 + 5 + 10);
    EXPECT_EQ(copy.stats().slate_frames, 15u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(out[before_slate + 10 + static_cast<std::size_t>(i)].pts, cam[25 + static_cast<std::size_t>(i)].pts);
    EXPECT_EQ(out[before_slate + 15].data, cam[30].data);
    const auto sizes = decode(copy.format().codec_private, out);
    ASSERT_EQ(sizes.size(), out.size());
    for (const auto& s : sizes) EXPECT_EQ(s, (std::pair{320, 240}));
}

TEST(VideoPassthrough, UnreadableUnitsAreDroppedAndCounted) {
    VideoPassthrough copy(config(320, 240));
    auto cam = camera(320, 240, 0, 25, false);
    std::vector<EncodedFrame> out;
    EncodedFrame junk;
    junk.data = {0, 0, 1, 0x80, 1, 2, 3};  // forbidden_zero_bit set
    copy.add(junk, out);
    EncodedFrame bad_sps;
    bad_sps.data = {0, 0, 1, 0x67, 0x64};  // an SPS cut after profile_idc
    copy.add(bad_sps, out);
    for (int i = 0; i < 12; ++i) copy.add(cam[static_cast<std::size_t>(i)], out);
    EXPECT_EQ(copy.stats().malformed, 2u);
    EXPECT_EQ(out.size(), 12u);
    // Units were lost on the way (a full queue): the source goes on at its next IDR (frame 20).
    copy.resync();
    for (int i = 12; i < 25; ++i) copy.add(cam[static_cast<std::size_t>(i)], out);
    ASSERT_EQ(out.size(), 12u + 5u);
    EXPECT_EQ(out[12].data, cam[20].data);
}

}  // namespace
