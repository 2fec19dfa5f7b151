// WMA2 and MP3 audio encoders: formats, frame timing, and decoding back with libavcodec.
#include "asfcast/encode/encode.hpp"

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/channel_layout.h>
}

#include <cmath>
#include <numbers>
#include <string>

#include "encode_test_util.hpp"

using namespace asfcast;
using namespace asfcast::encode;

namespace {

constexpr double kFreq = 440.0;
constexpr double kAmp = 0.5;

// Value of the test sine (left channel) at capture time t (microseconds); right is -left/2.
double sine_at(Micros t) { return kAmp * std::sin(2 * std::numbers::pi * kFreq * static_cast<double>(t) / 1e6); }

// Capture-like blocks of `block` frames of a continuous sine, first sample at start_us.
std::vector<RawAudioBlock> make_sine(int rate, int channels, double seconds, Micros start_us, int block = 1024) {
    std::vector<RawAudioBlock> blocks;
    const long total = std::lround(seconds * rate);
    for (long first = 0; first < total; first += block) {
        RawAudioBlock b;
        b.sample_rate = rate;
        b.channels = channels;
        b.pts = start_us + first * 1000000L / rate;
        const long n = std::min<long>(block, total - first);
        for (long i = 0; i < n; ++i) {
            double t_us = static_cast<double>(start_us) + static_cast<double>(first + i) * 1e6 / rate;
            double v = kAmp * std::sin(2 * std::numbers::pi * kFreq * t_us / 1e6);
            b.samples.push_back(static_cast<std::int16_t>(std::lround(v * 32767)));
            if (channels == 2) b.samples.push_back(static_cast<std::int16_t>(std::lround(-v / 2 * 32767)));
        }
        blocks.push_back(std::move(b));
    }
    return blocks;
}

std::vector<EncodedFrame> encode_all(AudioEncoder& enc, const std::vector<RawAudioBlock>& blocks) {
    std::vector<EncodedFrame> out;
    for (const auto& b : blocks) enc.encode(b, out);
    enc.flush(out);
    return out;
}

struct DecodeResult {
    int packets_ok = 0;
    double rms = 0;          // of the left channel, middle of the stream
    double correlation = 0;  // against the sine at the times the packet pts say
    long samples = 0;
};

// Decodes every packet; decoded sample k of packet p is placed at time pts_p + k/rate and compared
// with the input sine at that time.
DecodeResult decode(AVCodecID id, const AudioStreamFormat& fmt, const std::vector<EncodedFrame>& frames,
                    Micros from_us, Micros to_us) {
    DecodeResult r;
    auto setup = [&](AVCodecContext& ctx) {
        ctx.sample_rate = static_cast<int>(fmt.sample_rate);
        av_channel_layout_default(&ctx.ch_layout, fmt.channels);
        ctx.block_align = fmt.block_align;
        ctx.bit_rate = fmt.bitrate;
        if (!fmt.codec_data.empty()) testutil::set_extradata(ctx, fmt.codec_data);
    };
    double sum_sq = 0, sum_xy = 0, sum_yy = 0;
    long n = 0;
    const EncodedFrame* packet = nullptr;
    long k = 0;  // sample index within the current packet's output
    const auto run = testutil::decode_with(id, frames, setup, [&](const EncodedFrame* f, const AVFrame& out) {
        if (!f) return;  // the final drain: no packet time to place it at
        if (f != packet) {
            packet = f;
            k = 0;
        }
        for (int i = 0; i < out.nb_samples; ++i, ++k) {
            double x = 0;
            if (out.format == AV_SAMPLE_FMT_FLTP)
                x = reinterpret_cast<const float*>(out.extended_data[0])[i];
            else if (out.format == AV_SAMPLE_FMT_S16P)
                x = reinterpret_cast<const std::int16_t*>(out.extended_data[0])[i] / 32768.0;
            else if (out.format == AV_SAMPLE_FMT_FLT)
                x = reinterpret_cast<const float*>(out.data[0])[i * out.ch_layout.nb_channels];
            else if (out.format == AV_SAMPLE_FMT_S16)
                x = reinterpret_cast<const std::int16_t*>(out.data[0])[i * out.ch_layout.nb_channels] / 32768.0;
            ++r.samples;
            Micros t = f->pts + k * 1000000L / static_cast<long>(fmt.sample_rate);
            if (t < from_us || t >= to_us) continue;
            double y = sine_at(t);
            sum_sq += x * x;
            sum_xy += x * y;
            sum_yy += y * y;
            ++n;
        }
    });
    r.packets_ok = run.packets_ok;
    if (n) {
        r.rms = std::sqrt(sum_sq / static_cast<double>(n));
        r.correlation = sum_xy / std::sqrt(sum_sq * sum_yy);
    }
    return r;
}

using testutil::expect_encode_error;

// Frame pts are evenly spaced by frame_size / rate.
void expect_even_spacing(const std::vector<EncodedFrame>& out, double frame_us) {
    for (std::size_t i = 1; i < out.size(); ++i)
        EXPECT_NEAR(static_cast<double>(out[i].pts - out[i - 1].pts), frame_us, 1.01) << i;
}

}  // namespace

TEST(AudioEncoder, Wma2FormatFramesAndDecode) {
    AudioEncoderConfig c;
    c.stream = 2;
    c.codec = AudioCodec::wma2;
    c.bitrate_kbps = 128;
    c.sample_rate = 44100;
    c.channels = 2;
    AudioEncoder enc(c);
    const AudioStreamFormat& f = enc.format();
    EXPECT_EQ(f.format_tag, 0x0161);
    EXPECT_EQ(f.channels, 2);
    EXPECT_EQ(f.sample_rate, 44100u);
    EXPECT_GT(f.block_align, 0);
    EXPECT_FALSE(f.codec_data.empty());
    EXPECT_TRUE(f.spread_error_correction);
    EXPECT_NEAR(f.bitrate, 128000.0, 8000.0);
    EXPECT_EQ(f.avg_bytes_per_sec, f.bitrate / 8);
    EXPECT_GT(f.avg_bytes_per_sec, 0u);

    const Micros start = 500000;
    auto out = encode_all(enc, make_sine(44100, 2, 2.0, start));
    const double frame_us = 2048 * 1e6 / 44100;  // WMA2 frame at 44.1 kHz
    // 2 s of audio plus the encoder's one-frame delay.
    EXPECT_NEAR(static_cast<double>(out.size()), 2e6 / frame_us + 1, 2.0);
    for (const auto& e : out) {
        EXPECT_EQ(e.stream, 2);
        EXPECT_EQ(e.kind, MediaKind::audio);
        EXPECT_FALSE(e.keyframe);
        EXPECT_EQ(e.pts, e.dts);
        EXPECT_EQ(e.data.size(), f.block_align);
    }
    expect_even_spacing(out, frame_us);
    // The first packet starts one encoder delay (one frame) before the first captured sample.
    EXPECT_NEAR(static_cast<double>(out.front().pts), static_cast<double>(start) - frame_us, 1.0);

    auto d = decode(AV_CODEC_ID_WMAV2, f, out, start + 200000, start + 1800000);
    EXPECT_EQ(d.packets_ok, static_cast<int>(out.size()));
    EXPECT_NEAR(d.rms, kAmp / std::sqrt(2.0), 0.05);
    EXPECT_GT(d.correlation, 0.95);  // decoded audio sits at the times the pts claim
}

TEST(AudioEncoder, Mp3FormatFramesAndDecode) {
    AudioEncoderConfig c;
    c.codec = AudioCodec::mp3;
    c.bitrate_kbps = 128;
    c.sample_rate = 44100;
    c.channels = 2;
    AudioEncoder enc(c);
    const AudioStreamFormat& f = enc.format();
    EXPECT_EQ(f.format_tag, 0x0055);
    EXPECT_FALSE(f.spread_error_correction);
    EXPECT_EQ(f.avg_bytes_per_sec, 16000u);
    EXPECT_EQ(f.block_align, 1);
    EXPECT_EQ(f.bitrate, 128000u);
    // MPEGLAYER3WAVEFORMAT: wID=1, fdwFlags=2, nBlockSize=417, nFramesPerBlock=1, nCodecDelay=1393.
    EXPECT_EQ(f.codec_data, (Bytes{1, 0, 2, 0, 0, 0, 0xa1, 0x01, 1, 0, 0x71, 0x05}));

    const Micros start = 1000000;
    auto out = encode_all(enc, make_sine(44100, 2, 2.0, start, 441));
    const double frame_us = 1152 * 1e6 / 44100;
    EXPECT_NEAR(static_cast<double>(out.size()), 2e6 / frame_us + 1, 2.5);
    for (const auto& e : out) {
        EXPECT_FALSE(e.keyframe);
        ASSERT_GE(e.data.size(), 4u);
        EXPECT_EQ(e.data[0], 0xff);  // one MPEG audio frame per payload
        EXPECT_EQ(e.data[1] & 0xe0, 0xe0);
    }
    expect_even_spacing(out, frame_us);
    EXPECT_LT(out.front().pts, start);

    auto d = decode(AV_CODEC_ID_MP3, f, out, start + 200000, start + 1800000);
    EXPECT_EQ(d.packets_ok, static_cast<int>(out.size()));
    EXPECT_NEAR(d.rms, kAmp / std::sqrt(2.0), 0.05);
    EXPECT_GT(d.correlation, 0.95);
}

TEST(AudioEncoder, MonoAnd48k) {
    AudioEncoderConfig c;
    c.codec = AudioCodec::wma2;
    c.bitrate_kbps = 64;
    c.sample_rate = 48000;
    c.channels = 1;
    AudioEncoder enc(c);
    EXPECT_EQ(enc.format().channels, 1);
    auto out = encode_all(enc, make_sine(48000, 1, 1.0, 0));
    ASSERT_FALSE(out.empty());
    auto d = decode(AV_CODEC_ID_WMAV2, enc.format(), out, 200000, 800000);
    EXPECT_GT(d.correlation, 0.9);

    c.codec = AudioCodec::mp3;
    AudioEncoder mp3(c);
    EXPECT_EQ(mp3.format().codec_data[6] | mp3.format().codec_data[7] << 8, 144 * 64000 / 48000);
    auto out2 = encode_all(mp3, make_sine(48000, 1, 1.0, 0));
    auto d2 = decode(AV_CODEC_ID_MP3, mp3.format(), out2, 200000, 800000);
    EXPECT_GT(d2.correlation, 0.9);
}

TEST(AudioEncoder, ResynchronizesOnGapsAndDropsOverlaps) {
    AudioEncoderConfig c;
    c.codec = AudioCodec::wma2;
    AudioEncoder enc(c);
    std::vector<EncodedFrame> out;
    auto first = make_sine(44100, 2, 1.0, 0);
    for (const auto& b : first) enc.encode(b, out);
    const std::size_t before = out.size();
    // Half a second of capture lost: the next block resumes at 1.5 s.
    auto second = make_sine(44100, 2, 1.0, 1500000);
    for (const auto& b : second) enc.encode(b, out);
    // Jitter under 100 ms is ignored; the timeline continues by sample count.
    enc.flush(out);
    ASSERT_GT(out.size(), before + 10);
    for (std::size_t i = 1; i < out.size(); ++i) EXPECT_GT(out[i].pts, out[i - 1].pts);
    bool jumped = false;
    for (std::size_t i = 1; i < out.size(); ++i)
        if (out[i].pts - out[i - 1].pts > 400000) jumped = true;
    EXPECT_TRUE(jumped);
    auto d = decode(AV_CODEC_ID_WMAV2, enc.format(), out, 1700000, 2300000);
    EXPECT_GT(d.correlation, 0.9);  // after the gap, audio is at the right time again

    // A block claiming an earlier time than already encoded loses the overlapping samples.
    AudioEncoder enc2(c);
    std::vector<EncodedFrame> out2;
    for (const auto& b : make_sine(44100, 2, 1.0, 0)) enc2.encode(b, out2);
    for (const auto& b : make_sine(44100, 2, 1.0, 700000)) enc2.encode(b, out2);  // 300 ms overlap
    enc2.flush(out2);
    for (std::size_t i = 1; i < out2.size(); ++i) EXPECT_GT(out2[i].pts, out2[i - 1].pts);
    const double total_s = static_cast<double>(out2.back().pts - out2.front().pts) / 1e6;
    EXPECT_GT(total_s, 1.65);  // 1.7 s of capture (without dropping it would be 2 s)
    EXPECT_LT(total_s, 1.7 + 3 * 2048 / 44100.0);
    auto d2 = decode(AV_CODEC_ID_WMAV2, enc2.format(), out2, 1100000, 1600000);
    EXPECT_GT(d2.correlation, 0.9);
}

TEST(AudioEncoder, InvalidSettingsAreErrors) {
    AudioEncoderConfig c;
    c.channels = 6;
    expect_encode_error([&] { AudioEncoder e(c); }, {"6"});
    c = AudioEncoderConfig{};
    c.codec = AudioCodec::mp3;
    c.sample_rate = 96000;
    expect_encode_error([&] { AudioEncoder e(c); }, {"96000"});
    c = AudioEncoderConfig{};
    c.sample_rate = 96000;
    expect_encode_error([&] { AudioEncoder e(c); }, {"96000"});

    AudioEncoder enc(AudioEncoderConfig{});
    std::vector<EncodedFrame> out;
    auto b = make_sine(48000, 2, 0.1, 0);
    expect_encode_error([&] { enc.encode(b[0], out); }, {"48000", "44100"});
    EXPECT_EQ(to_string(AudioCodec::wma2), "wma2");
    EXPECT_EQ(to_string(AudioCodec::mp3), "mp3");
}
