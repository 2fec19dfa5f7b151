// The H.264 reader (core/h264.hpp) against libx264's own output (issue 15, video.codec: copy): the
// SPS of every configuration we encode gives back its size, profile and frame rate, and the
// access-unit inspection finds exactly the key frames the encoder flagged, each with SPS and PPS.
#include "asfcast/core/h264.hpp"

#include <gtest/gtest.h>

#include "asfcast/encode/encode.hpp"
#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;

namespace {

struct Case {
    int width, height, fps_num, fps_den;
    const char* profile;
    int profile_idc;
};

TEST(H264ReaderOnX264, SpsOfEveryConfiguration) {
    for (const Case c : {Case{320, 240, 30, 1, "baseline", 66}, Case{640, 360, 30, 1, "main", 77},
                         Case{1920, 1080, 25, 1, "high", 100}, Case{1280, 720, 30000, 1001, "high", 100},
                         Case{854, 480, 60, 1, "main", 77}}) {
        VideoEncoderConfig config;
        config.width = c.width;
        config.height = c.height;
        config.fps_num = c.fps_num;
        config.fps_den = c.fps_den;
        config.profile = c.profile;
        config.preset = "veryfast";  // ultrafast turns CABAC off, and x264 then writes baseline
        VideoEncoder enc(config);
        const auto units = h264::split_annexb(enc.format().codec_private);
        ASSERT_EQ(units.size(), 2u);
        const h264::Sps sps = h264::parse_sps(units[0]);
        EXPECT_EQ(sps.width, c.width) << c.profile << " " << c.width << "x" << c.height;
        EXPECT_EQ(sps.height, c.height) << c.width << "x" << c.height;
        EXPECT_EQ(sps.profile_idc, c.profile_idc);
        EXPECT_EQ(sps.fps_num * static_cast<std::uint32_t>(c.fps_den), sps.fps_den * static_cast<std::uint32_t>(c.fps_num))
            << "frame rate " << sps.fps_num << "/" << sps.fps_den << " for " << c.fps_num << "/" << c.fps_den;
        EXPECT_EQ(h264::nal_type(units[1]), h264::kNalPps);
    }
}

TEST(H264ReaderOnX264, KeyFramesFoundFromTheNalTypes) {
    VideoEncoderConfig config;
    config.width = 320;
    config.height = 240;
    config.keyframe_interval = 10;
    config.preset = "ultrafast";
    config.tune = "zerolatency";
    VideoEncoder enc(config);
    std::vector<EncodedFrame> out;
    for (int i = 0; i < 40; ++i) {
        enc.encode(testutil::synth_frame(320, 240, i * 33'333, [i](int c, int r) { return (c + r + i * 3) & 0xff; },
                                         [](int, int) { return std::pair{128, 128}; }),
                   out);
    }
    enc.flush(out);
    ASSERT_GE(out.size(), 40u);
    int keys = 0;
    for (const auto& f : out) {
        const h264::AccessUnitInfo info = h264::inspect_access_unit(f.data);
        EXPECT_EQ(info.idr, f.keyframe);
        EXPECT_TRUE(info.slices);
        if (info.idr) {
            ++keys;
            EXPECT_TRUE(info.has_sps && info.has_pps) << "SPS/PPS before every IDR (late joiners)";
            ASSERT_TRUE(info.sps);
            EXPECT_EQ(info.sps->width, 320);
        }
    }
    EXPECT_EQ(keys, 4);
}

}  // namespace
