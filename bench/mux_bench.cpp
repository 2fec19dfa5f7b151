// Packetizes the same in-memory H.264 + WMA2 frames with asfcast's muxer and with libavformat's
// ASF muxer (through its API into a null sink), and prints both throughputs and their ratio.
//
//   mux_bench [--seconds N] [--rounds R] [--packet-size BYTES]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/encode/encode.hpp"

using namespace asfcast;
using Clock = std::chrono::steady_clock;

namespace {

struct Input {
    VideoStreamFormat video;
    AudioStreamFormat audio;
    std::vector<EncodedFrame> frames;  // in decode-time order
    std::size_t media_bytes = 0;
};

// Encodes `seconds` of a noisy moving picture (720p30, 2 Mbit/s) and a tone to memory.
Input make_input(int seconds) {
    Input in;
    encode::VideoEncoderConfig vc;
    vc.preset = "ultrafast";
    encode::VideoEncoder venc(vc);
    encode::AudioEncoderConfig ac;
    encode::AudioEncoder aenc(ac);
    in.video = venc.format();
    in.audio = aenc.format();

    std::mt19937 rng(42);
    std::vector<EncodedFrame> video, audio;
    const int frames = seconds * 30;
    for (int i = 0; i < frames; ++i) {
        RawVideoFrame f;
        f.width = vc.width;
        f.height = vc.height;
        f.pts = static_cast<Micros>(i) * 1'000'000 / 30;
        f.i420.resize(static_cast<std::size_t>(f.width * f.height * 3 / 2));
        for (int y = 0; y < f.height; ++y)
            for (int x = 0; x < f.width; ++x)
                f.i420[static_cast<std::size_t>(y * f.width + x)] =
                    static_cast<std::uint8_t>(((x + i * 4) ^ y) + (rng() & 15));
        std::fill(f.i420.begin() + f.width * f.height, f.i420.end(), 128);
        venc.encode(f, video);
    }
    venc.flush(video);
    for (int i = 0; i < seconds * 10; ++i) {
        RawAudioBlock b;
        b.sample_rate = ac.sample_rate;
        b.channels = ac.channels;
        b.pts = static_cast<Micros>(i) * 100'000;
        const int n = ac.sample_rate / 10;
        for (int k = 0; k < n; ++k) {
            auto s = static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * 440 * (i * n + k) / ac.sample_rate));
            b.samples.push_back(s);
            b.samples.push_back(s);
        }
        aenc.encode(b, audio);
    }
    aenc.flush(audio);
    std::merge(video.begin(), video.end(), audio.begin(), audio.end(), std::back_inserter(in.frames),
               [](const EncodedFrame& a, const EncodedFrame& b) { return a.dts < b.dts; });
    for (auto& f : in.frames) in.media_bytes += f.data.size();
    return in;
}

double run_asfcast(const Input& in, int rounds, std::uint32_t packet_size, std::size_t& out_bytes) {
    asfmux::MuxConfig mc;
    mc.packet_size = packet_size;
    asfmux::StreamSet streams;
    streams.video.push_back(in.video);
    streams.audio.push_back(in.audio);
    std::vector<DataPacket> out;
    out.reserve(4096);
    auto t0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
        asfmux::Packetizer p(mc, streams);
        out_bytes = 0;
        for (auto& f : in.frames) {
            p.add(f, 0, out);
            for (auto& pk : out) out_bytes += pk.bytes.size();
            out.clear();
        }
        p.flush(out);
        for (auto& pk : out) out_bytes += pk.bytes.size();
        out.clear();
    }
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int null_write(void* opaque, std::uint8_t*, int size) {
    *static_cast<std::size_t*>(opaque) += static_cast<std::size_t>(size);
    return size;
}

double run_libavformat(const Input& in, int rounds, std::uint32_t packet_size, std::size_t& out_bytes) {
    auto t0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
        out_bytes = 0;
        AVFormatContext* oc = nullptr;
        avformat_alloc_output_context2(&oc, nullptr, "asf", nullptr);
        const int io_size = 65536;
        auto* io_buf = static_cast<unsigned char*>(av_malloc(io_size));
        oc->pb = avio_alloc_context(io_buf, io_size, 1, &out_bytes, nullptr, null_write, nullptr);
        oc->flags |= AVFMT_FLAG_CUSTOM_IO;
        av_opt_set_int(oc->priv_data, "packet_size", packet_size, 0);

        AVStream* vs = avformat_new_stream(oc, nullptr);
        vs->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
        vs->codecpar->codec_id = AV_CODEC_ID_H264;
        vs->codecpar->width = in.video.width;
        vs->codecpar->height = in.video.height;
        vs->codecpar->bit_rate = in.video.bitrate;
        vs->codecpar->extradata = static_cast<std::uint8_t*>(av_mallocz(in.video.codec_private.size() + AV_INPUT_BUFFER_PADDING_SIZE));
        std::memcpy(vs->codecpar->extradata, in.video.codec_private.data(), in.video.codec_private.size());
        vs->codecpar->extradata_size = static_cast<int>(in.video.codec_private.size());
        vs->time_base = {1, 1000};
        AVStream* as = avformat_new_stream(oc, nullptr);
        as->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
        as->codecpar->codec_id = AV_CODEC_ID_WMAV2;
        as->codecpar->sample_rate = static_cast<int>(in.audio.sample_rate);
        av_channel_layout_default(&as->codecpar->ch_layout, in.audio.channels);
        as->codecpar->block_align = in.audio.block_align;
        as->codecpar->bit_rate = in.audio.bitrate;
        as->codecpar->extradata = static_cast<std::uint8_t*>(av_mallocz(in.audio.codec_data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
        std::memcpy(as->codecpar->extradata, in.audio.codec_data.data(), in.audio.codec_data.size());
        as->codecpar->extradata_size = static_cast<int>(in.audio.codec_data.size());
        as->time_base = {1, 1000};
        if (avformat_write_header(oc, nullptr) < 0) {
            std::fprintf(stderr, "libavformat: avformat_write_header failed\n");
            std::exit(1);
        }
        AVPacket* pkt = av_packet_alloc();
        for (auto& f : in.frames) {
            // The packet references our buffer; the ASF muxer copies what it needs.
            pkt->data = const_cast<std::uint8_t*>(f.data.data());
            pkt->size = static_cast<int>(f.data.size());
            const bool video = f.kind == MediaKind::video;
            pkt->stream_index = video ? 0 : 1;
            AVRational tb = video ? vs->time_base : as->time_base;
            pkt->pts = av_rescale_q(f.pts, {1, 1000000}, tb);
            pkt->dts = av_rescale_q(f.dts, {1, 1000000}, tb);
            pkt->flags = f.keyframe ? AV_PKT_FLAG_KEY : 0;
            if (av_write_frame(oc, pkt) < 0) {
                std::fprintf(stderr, "libavformat: av_write_frame failed\n");
                std::exit(1);
            }
        }
        av_packet_free(&pkt);
        av_write_trailer(oc);
        avio_flush(oc->pb);
        av_freep(&oc->pb->buffer);
        avio_context_free(&oc->pb);
        avformat_free_context(oc);
    }
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 10, rounds = 200;
    std::uint32_t packet_size = 8192;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
        else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
        else if (a == "--packet-size") packet_size = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    }
    av_log_set_level(AV_LOG_ERROR);
    std::printf("encoding %d s of 720p30 H.264 + WMA2 into memory...\n", seconds);
    Input in = make_input(seconds);
    std::printf("input: %zu frames, %.2f MB of media, packet size %u, %d rounds each\n", in.frames.size(),
                in.media_bytes / 1e6, packet_size, rounds);

    std::size_t ours_bytes = 0, lav_bytes = 0;
    run_asfcast(in, 3, packet_size, ours_bytes);  // warm-up
    run_libavformat(in, 3, packet_size, lav_bytes);
    // Alternating trials, so that load from elsewhere on the machine hits both sides alike; the
    // ratio is taken of the median times.
    const int trials = 5;
    const int per_trial = std::max(1, rounds / trials);
    std::vector<double> ours_t, lav_t;
    for (int t = 0; t < trials; ++t) {
        ours_t.push_back(run_asfcast(in, per_trial, packet_size, ours_bytes));
        lav_t.push_back(run_libavformat(in, per_trial, packet_size, lav_bytes));
        std::printf("trial %d: ratio %.2fx\n", t + 1, lav_t.back() / ours_t.back());
    }
    std::sort(ours_t.begin(), ours_t.end());
    std::sort(lav_t.begin(), lav_t.end());
    const double ours = ours_t[trials / 2], lav = lav_t[trials / 2];

    const double mb = static_cast<double>(in.media_bytes) * per_trial / 1e6;
    const double fr = static_cast<double>(in.frames.size()) * per_trial;
    std::printf("%-22s %10.1f MB/s media %12.0f frames/s  (%zu bytes out per round)\n", "asfcast Packetizer",
                mb / ours, fr / ours, ours_bytes);
    std::printf("%-22s %10.1f MB/s media %12.0f frames/s  (%zu bytes out per round)\n", "libavformat asf muxer",
                mb / lav, fr / lav, lav_bytes);
    std::printf("ratio asfcast/libavformat (medians of %d alternating trials): %.2fx (target >= 3x)\n", trials,
                lav / ours);
    return 0;
}
