// libx264 video encoder: key frames, headers, timestamps, and a decode check with libavcodec/ffmpeg.
#include "asfcast/encode/encode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;
namespace fs = std::filesystem;

namespace {

constexpr Micros kFrameUs = 33333;

// Gradient background with a moving square.
RawVideoFrame make_frame(int w, int h, int i) {
    const int sx = (i * 4) % (w - 40), sy = (i * 2) % (h - 40);
    return testutil::synth_frame(
        w, h, i * kFrameUs,
        [&](int c, int r) {
            const bool in_square = c >= sx && c < sx + 40 && r >= sy && r < sy + 40;
            return in_square ? 235 : (c + r) / 3 + 16;
        },
        [](int c, int r) { return std::pair{64 + c / 2, 64 + r / 2}; });
}

VideoEncoderConfig small_config() {
    VideoEncoderConfig c;
    c.width = 320;
    c.height = 240;
    c.fps_num = 30;
    c.fps_den = 1;
    c.bitrate_kbps = 500;
    c.max_bitrate_kbps = 800;
    c.vbv_buffer_kbit = 400;
    c.keyframe_interval = 30;
    c.profile = "main";
    c.preset = "veryfast";
    return c;
}

std::vector<EncodedFrame> encode_frames(VideoEncoder& enc, int n, int force_key_at = -1) {
    return testutil::encode_frames(enc, n, [](int i) { return make_frame(320, 240, i); }, force_key_at);
}

// NAL unit types of an Annex B stream.
std::vector<int> nal_types(const Bytes& b) {
    std::vector<int> types;
    for (std::size_t i = 0; i + 3 < b.size(); ++i) {
        if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1) {
            types.push_back(b[i + 3] & 0x1f);
            i += 2;
        }
    }
    return types;
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Decodes access units with libavcodec's H.264 decoder; returns the number of pictures.
int decode_count(const std::vector<EncodedFrame>& frames) {
    int count = 0;
    bool failed = false;
    const auto run = testutil::decode_with(AV_CODEC_ID_H264, frames, nullptr, [&](const EncodedFrame*, const AVFrame& pic) {
        if (pic.width != 320 || pic.height != 240 || pic.decode_error_flags) failed = true;
        ++count;
    });
    if (!run.opened) return -1;
    return failed || run.send_errors ? -count - 1000 : count;
}

// Runs ffmpeg on the raw Annex B stream; returns stderr (empty on success), or a note on failure.
std::string ffmpeg_check(const std::vector<EncodedFrame>& frames, const std::string& name) {
    if (std::system("ffmpeg -version >/dev/null 2>&1") != 0) return {};
    fs::path dir = fs::temp_directory_path() / ("asfcast-encode-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    fs::path es = dir / (name + ".h264"), err = dir / "err.txt";
    {
        std::ofstream out(es, std::ios::binary);
        for (const auto& f : frames) out.write(reinterpret_cast<const char*>(f.data.data()), static_cast<std::streamsize>(f.data.size()));
    }
    std::string cmd = "ffmpeg -nostdin -v error -f h264 -i '" + es.string() + "' -f null - 2>'" + err.string() + "'";
    int rc = std::system(cmd.c_str());
    std::ifstream in(err);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove_all(dir);
    if (rc != 0) text += " (exit " + std::to_string(rc) + ")";
    return text;
}

using testutil::expect_encode_error;

}  // namespace

TEST(VideoEncoder, FormatDescribesTheStream) {
    VideoEncoder enc(small_config());
    const VideoStreamFormat& f = enc.format();
    EXPECT_EQ(f.stream, 1);
    EXPECT_EQ(f.width, 320);
    EXPECT_EQ(f.height, 240);
    EXPECT_EQ(f.fourcc, 0x34363248u);  // 'H' '2' '6' '4' little-endian
    EXPECT_EQ(f.bitrate, 500000u);
    EXPECT_EQ(f.max_bitrate, 800000u);
    EXPECT_EQ(f.buffer_ms, 500u);  // 400 kbit at 800 kbit/s
    EXPECT_DOUBLE_EQ(f.frame_rate, 30.0);
    EXPECT_EQ(f.codec_name, "H.264");
    EXPECT_EQ(f.codec_description, "x264 main 320x240 30 fps 500 kbit/s");
    // SPS then PPS, Annex B, no SEI.
    ASSERT_GE(f.codec_private.size(), 8u);
    EXPECT_EQ(f.codec_private[0], 0);
    EXPECT_EQ(f.codec_private[1], 0);
    EXPECT_EQ(f.codec_private[2], 0);
    EXPECT_EQ(f.codec_private[3], 1);
    EXPECT_EQ(f.codec_private[4], 0x67);
    EXPECT_EQ(f.codec_private[5], 77);  // profile_idc main
    EXPECT_EQ(nal_types(f.codec_private), (std::vector<int>{7, 8}));

    auto c = small_config();
    c.fourcc = "h264";
    c.max_bitrate_kbps = 0;
    c.fps_num = 30000;
    c.fps_den = 1001;
    VideoEncoder lower(c);
    EXPECT_EQ(lower.format().fourcc, 0x34363268u);
    EXPECT_EQ(lower.format().max_bitrate, 500000u);  // never below the average
    EXPECT_NEAR(lower.format().frame_rate, 29.97, 0.01);
}

TEST(VideoEncoder, KeyFramesTimestampsAndDecode) {
    VideoEncoder enc(small_config());
    auto out = encode_frames(enc, 60);
    ASSERT_EQ(out.size(), 60u);
    std::vector<std::size_t> keys;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& f = out[i];
        EXPECT_EQ(f.stream, 1);
        EXPECT_EQ(f.kind, MediaKind::video);
        EXPECT_EQ(f.pts, static_cast<Micros>(i) * kFrameUs) << i;  // no B-frames: output order = input
        EXPECT_EQ(f.dts, f.pts) << i;
        EXPECT_FALSE(f.data.empty());
        auto types = nal_types(f.data);
        if (f.keyframe) {
            keys.push_back(i);
            EXPECT_TRUE(contains(types, 7) && contains(types, 8) && contains(types, 5)) << i;
        } else {
            EXPECT_FALSE(contains(types, 5)) << i;
            EXPECT_FALSE(contains(types, 7)) << i;
        }
    }
    EXPECT_EQ(keys, (std::vector<std::size_t>{0, 30}));
    EXPECT_EQ(decode_count(out), 60);
    EXPECT_EQ(ffmpeg_check(out, "nob"), "");
}

TEST(VideoEncoder, BFramesReorderPtsWithMonotonicDts) {
    auto c = small_config();
    c.bframes = 2;
    c.profile = "high";
    VideoEncoder enc(c);
    auto out = encode_frames(enc, 60);
    ASSERT_EQ(out.size(), 60u);
    EXPECT_TRUE(out[0].keyframe);
    bool reordered = false;
    std::set<Micros> pts;
    for (std::size_t i = 0; i < out.size(); ++i) {
        pts.insert(out[i].pts);
        EXPECT_LE(out[i].dts, out[i].pts) << i;
        if (i) {
            EXPECT_GT(out[i].dts, out[i - 1].dts) << i;
            if (out[i].pts < out[i - 1].pts) reordered = true;
        }
    }
    EXPECT_TRUE(reordered);
    ASSERT_EQ(pts.size(), 60u);
    EXPECT_EQ(*pts.begin(), 0);
    EXPECT_EQ(*pts.rbegin(), 59 * kFrameUs);
    EXPECT_EQ(decode_count(out), 60);
    EXPECT_EQ(ffmpeg_check(out, "b2"), "");
}

TEST(VideoEncoder, ForcedKeyFrame) {
    VideoEncoder enc(small_config());
    auto out = encode_frames(enc, 20, 10);
    ASSERT_EQ(out.size(), 20u);
    EXPECT_TRUE(out[0].keyframe);
    EXPECT_TRUE(out[10].keyframe);
    EXPECT_EQ(out[10].pts, 10 * kFrameUs);
    auto types = nal_types(out[10].data);
    EXPECT_TRUE(contains(types, 7) && contains(types, 5));
    EXPECT_EQ(std::count_if(out.begin(), out.end(), [](const EncodedFrame& f) { return f.keyframe; }), 2);
}

TEST(VideoEncoder, BaselineProfileAndZeroLatencyTune) {
    auto c = small_config();
    c.profile = "baseline";
    c.tune = "zerolatency";
    c.preset = "ultrafast";
    VideoEncoder enc(c);
    EXPECT_EQ(enc.format().codec_private[5], 66);  // profile_idc baseline
    std::vector<EncodedFrame> out;
    enc.encode(make_frame(320, 240, 0), out);
    ASSERT_EQ(out.size(), 1u);  // zero latency: the frame comes straight out
    EXPECT_TRUE(out[0].keyframe);
}

TEST(VideoEncoder, InvalidSettingsAreErrors) {
    auto c = small_config();
    c.preset = "warp";
    expect_encode_error([&] { VideoEncoder e(c); }, {"warp", "veryfast", "ultrafast"});
    c = small_config();
    c.profile = "extended";
    expect_encode_error([&] { VideoEncoder e(c); }, {"extended", "baseline", "main", "high"});
    c = small_config();
    c.tune = "cinema";
    expect_encode_error([&] { VideoEncoder e(c); }, {"cinema", "zerolatency"});
    c = small_config();
    c.profile = "high10";
    expect_encode_error([&] { VideoEncoder e(c); }, {"high10", "baseline, main, high"});
    c = small_config();
    c.tune = "zerolatency,fastdecode";
    EXPECT_NO_THROW(VideoEncoder e(c));
    c = small_config();
    c.fourcc = "H26";
    expect_encode_error([&] { VideoEncoder e(c); }, {"H26"});
    c = small_config();
    c.width = 321;
    expect_encode_error([&] { VideoEncoder e(c); }, {"321"});

    VideoEncoder enc(small_config());
    std::vector<EncodedFrame> out;
    auto wrong = make_frame(320, 240, 0);
    wrong.width = 640;
    expect_encode_error([&] { enc.encode(wrong, out); }, {"640", "320x240"});
    auto short_frame = make_frame(320, 240, 0);
    short_frame.i420.resize(100);
    expect_encode_error([&] { enc.encode(short_frame, out); }, {"100"});
}
