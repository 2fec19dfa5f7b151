// AudioPassthrough (audio.codec copy, issue 15 point 3) fed a "camera's" AAC (libavcodec's AAC
// encoder, its frames as a network source hands them on with the AudioSpecificConfig beside them).
// What must hold: frames go out byte for byte with their times; the filler's PCM becomes AAC
// frames stamped on from the last source frame with no gap; the source's return closes the
// silence before its time; a frame not after the last one is dropped; a different config is a new
// format on exactly its first frame; libavcodec decodes the whole result; the header's
// WAVEFORMATEX is 0x00FF + the AudioSpecificConfig.
#include "asfcast/encode/passthrough.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/bytes.hpp"
#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;

namespace {

constexpr int kRate = 48000;
constexpr Micros kFrame = 1024 * 1'000'000 / kRate;  // 21333 us

RawAudioBlock tone(Micros pts, std::size_t frames, int rate = kRate, int channels = 2) {
    RawAudioBlock b;
    b.pts = pts;
    b.sample_rate = rate;
    b.channels = channels;
    b.samples.resize(frames * static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < frames; ++i)
        for (int c = 0; c < channels; ++c)
            b.samples[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
                static_cast<std::int16_t>(8000 * std::sin(0.05 * static_cast<double>(i)));
    return b;
}

RawAudioBlock silence(Micros pts, std::size_t frames, int rate = kRate) {
    RawAudioBlock b = tone(pts, frames, rate);
    std::fill(b.samples.begin(), b.samples.end(), 0);
    return b;
}

// n AAC frames of a camera at `rate` (stereo), times from `start`, each with the encoder's config.
std::vector<EncodedFrame> camera(int rate, Micros start, int n) {
    AudioEncoder enc({0, AudioCodec::aac, 128, rate, 2});
    auto config = std::make_shared<const Bytes>(enc.format().codec_data);
    std::vector<EncodedFrame> out;
    enc.encode(tone(0, static_cast<std::size_t>(n + 2) * 1024, rate), out);
    enc.flush(out);
    out.resize(std::min<std::size_t>(out.size(), static_cast<std::size_t>(n)));
    const Micros frame = 1024 * 1'000'000 / rate;
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].pts = out[i].dts = start + static_cast<Micros>(i) * frame;
        out[i].stream = 0;
        out[i].duration = frame;
        out[i].codec_config = config;
    }
    return out;
}

AudioPassthroughConfig config() {
    AudioPassthroughConfig c;
    c.stream = 2;
    c.sample_rate = kRate;
    c.channels = 2;
    c.bitrate_kbps = 128;
    return c;
}

TEST(AacConfig, ParsesLcAndSbr) {
    const Bytes lc48 = {0x11, 0x90};  // AOT 2, index 3 (48000), 2 channels
    AacConfig c = parse_audio_specific_config(lc48);
    EXPECT_EQ(c.object_type, 2);
    EXPECT_EQ(c.sample_rate, 48000);
    EXPECT_EQ(c.channels, 2);
    EXPECT_EQ(c.output_rate, 48000);
    const Bytes mono441 = {0x12, 0x08};  // AOT 2, index 4 (44100), 1 channel
    c = parse_audio_specific_config(mono441);
    EXPECT_EQ(c.sample_rate, 44100);
    EXPECT_EQ(c.channels, 1);
    // HE-AAC, explicit: AOT 5, core index 6 (24000), 2 channels, extension index 3 (48000), AOT 2.
    // 00101 0110 0010 0011 00010 -> 0x2B 0x11 0x88
    const Bytes he = {0x2B, 0x11, 0x88};
    c = parse_audio_specific_config(he);
    EXPECT_EQ(c.object_type, 2);
    EXPECT_EQ(c.sample_rate, 24000);
    EXPECT_EQ(c.output_rate, 48000);
    EXPECT_THROW(parse_audio_specific_config(Bytes{0x11}), EncodeError);        // too short
    EXPECT_THROW(parse_audio_specific_config(Bytes{0x16, 0x80}), EncodeError);  // index 13: reserved
    EXPECT_THROW(parse_audio_specific_config(Bytes{0x11, 0x80}), EncodeError);  // channel config 0
}

// The stream format and its WAVEFORMATEX bytes in the ASF header: wFormatTag 0x00FF, channels, rate
// from the config, nAvgBytesPerSec from the declared rate, nBlockAlign 768 per channel,
// wBitsPerSample 16, cbSize = the config's length, then the config (see audio_passthrough.cpp).
TEST(AacStreamFormat, WaveFormatExBytes) {
    AudioStreamFormat base;
    base.stream = 2;
    base.bitrate = 128000;
    const Bytes asc = {0x11, 0x90};
    const AudioStreamFormat f = aac_stream_format(base, asc);
    EXPECT_EQ(f.format_tag, 0x00FF);
    EXPECT_EQ(f.sample_rate, 48000u);
    EXPECT_EQ(f.channels, 2);
    EXPECT_FALSE(f.spread_error_correction);
    EXPECT_EQ(f.codec_data, asc);

    asfmux::MuxConfig mc;
    asfmux::StreamSet s;
    s.audio.push_back(f);
    const Bytes header = asfmux::HeaderBuilder(mc, s, {}, asfmux::random_guid(), 0).build_live().bytes;
    const Bytes expected = {0xFF, 0x00,  0x02, 0x00,  0x80, 0xBB, 0x00, 0x00,  0x80, 0x3E, 0x00, 0x00,
                            0x00, 0x06,  0x10, 0x00,  0x02, 0x00,  0x11, 0x90};
    EXPECT_NE(std::search(header.begin(), header.end(), expected.begin(), expected.end()), header.end());

    EXPECT_THROW(aac_stream_format(base, Bytes{0x11, 0xB0}), EncodeError);  // 6 channels: not carried
}

TEST(AudioPassthrough, SourceFramesPassWithTheirTimes) {
    AudioPassthrough p(config());
    EXPECT_EQ(p.format().format_tag, 0x00FF);
    EXPECT_EQ(p.format().sample_rate, 48000u);
    const auto src = camera(kRate, 1'000'000, 20);
    std::vector<EncodedFrame> out;
    for (const auto& f : src) p.add(f, out);
    ASSERT_EQ(out.size(), src.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].data, src[i].data);
        EXPECT_EQ(out[i].pts, src[i].pts);
        EXPECT_EQ(out[i].stream, 2);
        EXPECT_EQ(out[i].kind, MediaKind::audio);
        EXPECT_FALSE(out[i].new_audio_format);  // the preset's 48 kHz stereo LC: no change
    }
    // Not after the last one: dropped.
    p.add(src[5], out);
    EXPECT_EQ(out.size(), src.size());
    EXPECT_EQ(p.stats().late, 1u);
}

TEST(AudioPassthrough, SilenceFillsTheGapAndDecodes) {
    AudioPassthrough p(config());
    const auto first = camera(kRate, 0, 10);
    std::vector<EncodedFrame> out;
    for (const auto& f : first) p.add(f, out);
    // The source is lost for 0.512 s: the filler's silence, in 8 ms blocks, from where it stopped
    // (LiveSource pads it to whole AAC frames, here 24, before the source's next frame).
    const Micros lost_at = 10 * kFrame;
    for (int i = 0; i < 64; ++i) p.add(silence(lost_at + i * 8'000, 384), out);
    EXPECT_GT(p.stats().silence_frames, 15u);
    // The source is back: the silence is closed before its first frame.
    const Micros back_at = lost_at + 512'000;
    const auto second = camera(kRate, back_at, 10);
    for (const auto& f : second) p.add(f, out);
    p.flush(out);
    EXPECT_EQ(p.stats().silence_frames, 24u);  // exactly the 0.512 s, no frame past the source's
    ASSERT_EQ(out.size(), 44u);
    // Times go up one frame at a time (no gap larger than a frame and a bit, nothing out of order).
    for (std::size_t i = 1; i < out.size(); ++i) {
        EXPECT_GT(out[i].pts, out[i - 1].pts) << i;
        EXPECT_LE(out[i].pts - out[i - 1].pts, kFrame + 1) << i;
    }
    EXPECT_EQ(out.back().data, second.back().data);
    EXPECT_EQ(p.stats().frames_out, 20u);
    // libavcodec decodes it all with the header's config, every frame 1024 samples at 48 kHz stereo.
    int decoded = 0;
    const Bytes cfg = p.format().codec_data;
    const auto run = testutil::decode_with(
        AV_CODEC_ID_AAC, out, [&](AVCodecContext& ctx) { testutil::set_extradata(ctx, cfg); },
        [&](const EncodedFrame*, const AVFrame& fr) {
            ++decoded;
            EXPECT_EQ(fr.sample_rate, kRate);
            EXPECT_EQ(fr.ch_layout.nb_channels, 2);
            EXPECT_EQ(fr.nb_samples, 1024);
        });
    EXPECT_TRUE(run.opened);
    EXPECT_EQ(run.send_errors, 0);
    EXPECT_EQ(decoded, static_cast<int>(out.size()));
}

TEST(AudioPassthrough, NewConfigIsANewFormatOnItsFirstFrame) {
    AudioPassthrough p(config());
    std::vector<EncodedFrame> out;
    for (const auto& f : camera(kRate, 0, 5)) p.add(f, out);
    const auto other = camera(44100, 200'000, 5);
    for (const auto& f : other) p.add(f, out);
    ASSERT_EQ(out.size(), 10u);
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(static_cast<bool>(out[i].new_audio_format), i == 5) << i;
    EXPECT_EQ(out[5].new_audio_format->sample_rate, 44100u);
    EXPECT_EQ(out[5].new_audio_format->codec_data, *other[0].codec_config);
    EXPECT_EQ(p.format().sample_rate, 44100u);
    EXPECT_EQ(p.stats().format_changes, 1u);
    // The silence follows the new format: 44.1 kHz frames.
    p.add(silence(200'000 + 5 * 23'219, 4410 * 2), out);
    p.flush(out);
    EXPECT_GT(p.stats().silence_frames, 0u);
    int decoded = 0;
    std::vector<EncodedFrame> after(out.begin() + 5, out.end());
    testutil::decode_with(
        AV_CODEC_ID_AAC, after, [&](AVCodecContext& ctx) { testutil::set_extradata(ctx, p.format().codec_data); },
        [&](const EncodedFrame*, const AVFrame& fr) {
            ++decoded;
            EXPECT_EQ(fr.sample_rate, 44100);
        });
    EXPECT_EQ(decoded, static_cast<int>(after.size()));
}

TEST(AudioPassthrough, UnreadableConfigIsDropped) {
    AudioPassthrough p(config());
    auto src = camera(kRate, 0, 3);
    for (auto& f : src) f.codec_config = std::make_shared<const Bytes>(Bytes{0x11});
    std::vector<EncodedFrame> out;
    for (const auto& f : src) p.add(f, out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.stats().bad_config, 3u);
}

}  // namespace
