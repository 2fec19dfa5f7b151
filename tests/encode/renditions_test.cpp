// MBR fan-out: each rendition's encoder gets frames of its size and rate, IDRs fall on the same
// capture times in every rendition, one scaler per distinct scaled size. The encoded streams are
// decoded with libavcodec to check sizes and counts.
#include "asfcast/encode/renditions.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>

#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;

namespace {

constexpr Micros kFrameUs = 33333;

// Moving bars over a gradient: enough detail for the scaler and encoder to do real work.
RawVideoFrame make_frame(int w, int h, int i, Micros pts) {
    return testutil::synth_frame(
        w, h, pts, [&](int c, int r) { return ((c + i * 6) / 16 % 2) ? 200 : (r + c) / 4 + 16; },
        [](int, int) { return std::pair{128, 128}; });
}

VideoRendition rendition(int stream, int w, int h, int fps, int kbps, const char* name) {
    VideoRendition r;
    r.encoder.stream = stream;
    r.encoder.width = w;
    r.encoder.height = h;
    r.encoder.fps_num = fps;
    r.encoder.fps_den = 1;
    r.encoder.bitrate_kbps = kbps;
    r.encoder.max_bitrate_kbps = kbps;
    r.encoder.vbv_buffer_kbit = kbps;
    r.encoder.preset = "ultrafast";
    r.name = name;
    return r;
}

struct Decoded {
    int pictures = 0;
    std::set<std::pair<int, int>> sizes;
    bool failed = false;
};

Decoded decode(const std::vector<EncodedFrame>& frames) {
    Decoded d;
    const auto run = testutil::decode_with(AV_CODEC_ID_H264, frames, nullptr, [&](const EncodedFrame*, const AVFrame& pic) {
        ++d.pictures;
        d.sizes.insert({pic.width, pic.height});
        if (pic.decode_error_flags) d.failed = true;
    });
    if (!run.opened || run.send_errors) d.failed = true;
    return d;
}

struct FanOut {
    std::map<int, std::vector<EncodedFrame>> by_stream;
    std::vector<std::uint64_t> fed;
    std::size_t scalers = 0;
};

FanOut run(VideoRenditionsConfig cfg, int frames, Micros jitter_us = 0) {
    VideoRenditions fan(std::move(cfg));
    FanOut r;
    std::vector<EncodedFrame> out;
    for (int i = 0; i < frames; ++i) {
        // Deterministic jitter pattern of capture timestamps: +j, -j, 0, ...
        const Micros j = (i % 3 == 0) ? 0 : (i % 3 == 1 ? jitter_us : -jitter_us);
        fan.encode(make_frame(640, 360, i, i * kFrameUs + j), out);
    }
    fan.flush(out);
    for (auto& f : out) r.by_stream[f.stream].push_back(std::move(f));
    r.fed = fan.frames_fed();
    r.scalers = fan.scaler_count();
    return r;
}

VideoRenditionsConfig three_sizes_three_rates() {
    VideoRenditionsConfig c;
    c.capture_width = 640;
    c.capture_height = 360;
    c.capture_fps_num = 30;
    c.keyframe_interval_s = 1.0;
    c.renditions = {rendition(1, 640, 360, 30, 800, "360p 800k"), rendition(2, 320, 180, 15, 300, "180p 300k"),
                    rendition(3, 160, 90, 10, 100, "90p 100k")};
    return c;
}

std::set<Micros> key_pts(const std::vector<EncodedFrame>& frames) {
    std::set<Micros> s;
    for (const auto& f : frames)
        if (f.keyframe) s.insert(f.pts);
    return s;
}

TEST(VideoRenditions, SizesRatesAndAlignedKeyFrames) {
    const FanOut r = run(three_sizes_three_rates(), 90);
    // 90 capture frames at 30 fps: 15 fps keeps every other, 10 fps every third.
    EXPECT_EQ(r.fed, (std::vector<std::uint64_t>{90, 45, 30}));
    EXPECT_EQ(r.scalers, 2u);  // the 640x360 rendition takes the capture frames as they are
    const int sizes[3][2] = {{640, 360}, {320, 180}, {160, 90}};
    for (int s = 1; s <= 3; ++s) {
        ASSERT_TRUE(r.by_stream.count(s)) << "stream " << s;
        const auto& frames = r.by_stream.at(s);
        EXPECT_EQ(frames.size(), r.fed[s - 1]) << "stream " << s;
        const Decoded d = decode(frames);
        EXPECT_FALSE(d.failed) << "stream " << s;
        EXPECT_EQ(d.pictures, static_cast<int>(r.fed[s - 1])) << "stream " << s;
        EXPECT_EQ(d.sizes, (std::set<std::pair<int, int>>{{sizes[s - 1][0], sizes[s - 1][1]}})) << "stream " << s;
    }
    // Decimation keeps the frames on the lower rate's grid of capture times.
    std::set<Micros> pts15, pts10;
    for (const auto& f : r.by_stream.at(2)) pts15.insert(f.pts);
    for (const auto& f : r.by_stream.at(3)) pts10.insert(f.pts);
    for (int i = 0; i < 90; ++i) {
        EXPECT_EQ(pts15.count(i * kFrameUs), i % 2 == 0 ? 1u : 0u) << "frame " << i;
        EXPECT_EQ(pts10.count(i * kFrameUs), i % 3 == 0 ? 1u : 0u) << "frame " << i;
    }
    // Key frames: every rendition at 0 s, 1 s and 2 s of capture time, and nowhere else.
    const std::set<Micros> expected = {0, 30 * kFrameUs, 60 * kFrameUs};
    for (int s = 1; s <= 3; ++s) EXPECT_EQ(key_pts(r.by_stream.at(s)), expected) << "stream " << s;
}

TEST(VideoRenditions, DecimationSurvivesTimestampJitter) {
    // +-6 ms of capture jitter (under half a frame period) changes nothing.
    const FanOut r = run(three_sizes_three_rates(), 90, 6000);
    EXPECT_EQ(r.fed, (std::vector<std::uint64_t>{90, 45, 30}));
    const auto k1 = key_pts(r.by_stream.at(1));
    EXPECT_EQ(k1.size(), 3u);
    EXPECT_EQ(key_pts(r.by_stream.at(2)), k1);
    EXPECT_EQ(key_pts(r.by_stream.at(3)), k1);
}

TEST(VideoRenditions, RenditionsOfOneSizeShareOneScaler) {
    VideoRenditionsConfig c = three_sizes_three_rates();
    c.renditions[2] = rendition(3, 320, 180, 30, 500, "180p 500k");
    c.parallel = false;
    const FanOut r = run(c, 30);
    EXPECT_EQ(r.scalers, 1u);
    EXPECT_EQ(r.fed, (std::vector<std::uint64_t>{30, 15, 30}));
    EXPECT_EQ(decode(r.by_stream.at(3)).sizes, (std::set<std::pair<int, int>>{{320, 180}}));
    EXPECT_EQ(key_pts(r.by_stream.at(2)), key_pts(r.by_stream.at(3)));
}

TEST(VideoRenditions, FormatsCarryNamesAndStreamNumbers) {
    VideoRenditions fan(three_sizes_three_rates());
    const auto f = fan.formats();
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[1].stream, 2);
    EXPECT_EQ(f[1].width, 320);
    EXPECT_EQ(f[1].stream_name, "180p 300k");
    EXPECT_DOUBLE_EQ(f[2].frame_rate, 10.0);
}

TEST(VideoRenditions, RejectsWrongFramesAndRates) {
    VideoRenditionsConfig c = three_sizes_three_rates();
    c.renditions[1].encoder.fps_num = 60;
    EXPECT_THROW(VideoRenditions{c}, EncodeError);
    VideoRenditions fan(three_sizes_three_rates());
    std::vector<EncodedFrame> out;
    EXPECT_THROW(fan.encode(make_frame(320, 180, 0, 0), out), EncodeError);
}

TEST(AudioRenditions, SameAudioThroughTwoEncoders) {
    AudioRenditionsConfig c;
    for (int kbps : {128, 64}) {
        AudioEncoderConfig a;
        a.stream = kbps == 128 ? 4 : 5;
        a.bitrate_kbps = kbps;
        c.encoders.push_back(a);
    }
    c.names = {"WMA2 128k", "WMA2 64k"};
    AudioRenditions ar(c);
    const auto f = ar.formats();
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].stream_name, "WMA2 128k");
    EXPECT_GT(f[0].avg_bytes_per_sec, f[1].avg_bytes_per_sec);
    std::vector<EncodedFrame> out;
    RawAudioBlock b;
    b.sample_rate = 44100;
    b.channels = 2;
    b.samples.resize(44100 * 2);  // one second
    for (std::size_t i = 0; i < b.samples.size(); ++i) b.samples[i] = static_cast<std::int16_t>((i * 37) % 2000 - 1000);
    ar.encode(b, out);
    ar.flush(out);
    std::map<int, std::size_t> bytes;
    for (const auto& e : out) bytes[e.stream] += e.data.size();
    ASSERT_EQ(bytes.size(), 2u);
    // About 1 s at each rate (WMA2 frames are fixed-size: block_align).
    EXPECT_NEAR(static_cast<double>(bytes[4]), 16000.0, 6000.0);
    EXPECT_NEAR(static_cast<double>(bytes[5]), 8000.0, 4000.0);
}

}  // namespace
