// Issue 11, point 6: what the header declares (File Properties Maximum Bitrate, Stream Bitrate
// Properties) covers what the Packetizer sends over any 1-second window of send time. Fed frames
// of the sizes and rates the encoders make (WMA2: one nBlockAlign block per 2048 samples; MP3:
// 144 x bitrate / rate bytes, one more with a padding slot, per 1152 samples), arriving in real
// time (`now` = decode time), for the audio-only settings of the built-in presets and for video
// with audio; the measure is the one tests/interop/bitrate_check makes on real encoder output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "asfcast/asfmux/asfmux.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::kFileId;

struct Measured {
    double total_bits = 0;
    std::map<int, double> stream_bits;
    std::size_t packets = 0;
};

// The highest rate over windows [t, t + 1000 ms) of send time: packets x size, and per stream what
// it sends: its payload bytes plus its share (by payload bytes) of the packet's parsing
// information (the padding is in the total only: the wire form drops it).
Measured measure(const std::vector<DataPacket>& packets, std::uint32_t packet_size) {
    struct P {
        std::uint32_t send;
        std::map<int, double> share;
    };
    std::vector<P> ps;
    for (const auto& d : packets) {
        const PacketInfo pi = parse_packet(d.bytes, packet_size);
        P p{pi.send_time_ms, {}};
        double total = 0;
        for (std::size_t i = 0; i < pi.payloads.size(); ++i) {
            const auto& pl = pi.payloads[i];
            const double header = i == 0 ? (pi.multiple_payloads ? 17.0 : 15.0)
                                         : double(pl.data_at) - (pi.payloads[i - 1].data_at + pi.payloads[i - 1].length);
            p.share[pl.stream] += header + pl.length;
            total += header + pl.length;
        }
        // The packet's parsing information shared out by payload bytes; its padding is no stream's.
        for (auto& [s, b] : p.share) b = b * (packet_size - pi.padding) / total;
        ps.push_back(std::move(p));
    }
    Measured m;
    m.packets = ps.size();
    for (std::size_t a = 0; a < ps.size(); ++a) {
        double sum = 0;
        std::map<int, double> per;
        for (std::size_t b = a; b < ps.size() && ps[b].send < ps[a].send + 1000; ++b) {
            sum += packet_size;
            for (const auto& [s, v] : ps[b].share) per[s] += v;
        }
        m.total_bits = std::max(m.total_bits, sum * 8);
        for (const auto& [s, v] : per) m.stream_bits[s] = std::max(m.stream_bits[s], v * 8);
    }
    return m;
}

struct Source {
    EncodedFrame frame;
    Micros period_us;
    int count;
};

// Feeds frames in decode order, each arriving at its decode time, polling the packet deadline.
std::vector<DataPacket> mux(const MuxConfig& c, const StreamSet& s, std::vector<std::function<EncodedFrame(int)>> makers,
                            std::vector<Micros> periods, Micros duration) {
    Packetizer pz(c, s);
    std::vector<DataPacket> out;
    std::vector<int> index(makers.size(), 0);
    for (;;) {
        std::size_t next = makers.size();
        Micros t = duration;
        for (std::size_t i = 0; i < makers.size(); ++i) {
            const Micros ti = index[i] * periods[i];
            if (ti < t) {
                t = ti;
                next = i;
            }
        }
        if (next == makers.size()) break;
        while (auto d = pz.next_deadline()) {
            if (*d > t) break;
            pz.poll(*d, out);
        }
        EncodedFrame f = makers[next](index[next]);
        f.pts = f.dts = t;
        pz.add(f, t, out);
        ++index[next];
    }
    pz.flush(out);
    return out;
}

void expect_truthful(const MuxConfig& c, const StreamSet& s, const std::vector<DataPacket>& packets, const char* what) {
    const HeaderBuilder b(c, s, {}, kFileId, 0);
    const HeaderInfo info = parse_header(b.build_live().bytes);
    const Measured m = measure(packets, c.packet_size);
    ASSERT_GT(m.packets, 50u) << what;
    EXPECT_LE(m.total_bits, info.max_bitrate) << what << ": Maximum Bitrate understates what is sent";
    std::uint64_t sum = 0;
    for (const auto& st : info.streams) {
        sum += st.bitrate;
        EXPECT_LE(m.stream_bits.count(st.number) ? m.stream_bits.at(st.number) : 0.0, st.bitrate) << what << ": stream " << st.number;
    }
    EXPECT_EQ(sum, info.max_bitrate) << what << ": the Maximum Bitrate is the sum of the streams' (ASF-notes §5)";
    // And not far above it: at most two packets a second more per stream than measured.
    EXPECT_LE(info.max_bitrate, m.total_bits * 1.25 + 2.0 * info.streams.size() * c.packet_size * 8) << what;
    std::printf("[ rates    ] %s: declared %u bit/s, measured max %.0f bit/s over 1 s\n", what, info.max_bitrate,
                m.total_bits);
}

AudioStreamFormat wma2(std::uint32_t bitrate, int stream = 1) {
    AudioStreamFormat a = testutil::test_audio();
    a.stream = stream;
    a.bitrate = bitrate;
    a.avg_bytes_per_sec = bitrate / 8;
    a.block_align = static_cast<std::uint16_t>(std::uint64_t{bitrate} * 2048 / (8 * 44100));  // as ffmpeg's wmav2
    return a;
}

// The audio-only presets: WMA2 frames of nBlockAlign bytes every 2048 samples.
TEST(Bitrate, AudioOnlyWma2PresetsAreTruthful) {
    for (const auto& [kbps, psize, delay] : {std::tuple{128, 2048u, 200u}, {64, 1024u, 200u}, {128, 8192u, 100u},
                                            {64, 2048u, 20u}, {32, 1024u, 200u}}) {
        MuxConfig c;
        c.packet_size = psize;
        c.max_packet_delay_ms = delay;
        StreamSet s;
        s.audio.push_back(wma2(static_cast<std::uint32_t>(kbps) * 1000));
        const std::size_t block = s.audio[0].block_align;
        const auto packets = mux(c, s, {[&](int) { return EncodedFrame{1, MediaKind::audio, 0, 0, false, Bytes(block, 0x11)}; }},
                                 {static_cast<Micros>(2048 * 1e6 / 44100)}, 20'000'000);
        const std::string what = "WMA2 " + std::to_string(kbps) + "k in " + std::to_string(psize) + "-byte packets";
        expect_truthful(c, s, packets, what.c_str());
    }
}

// radio-mp3: MP3 128 kbit/s 44.1 kHz, 417 or 418 bytes a frame (the padding slot) every 1152 samples.
TEST(Bitrate, Mp3IsTruthful) {
    MuxConfig c;
    c.packet_size = 2048;
    c.max_packet_delay_ms = 200;
    StreamSet s;
    AudioStreamFormat a = wma2(128000);
    a.format_tag = 0x0055;
    a.block_align = 1;
    s.audio.push_back(a);
    double acc = 0;
    const auto packets = mux(c, s,
                             {[&](int) {
                                 acc += 144.0 * 128000 / 44100;
                                 const std::size_t n = static_cast<std::size_t>(std::floor(acc));
                                 acc -= static_cast<double>(n);
                                 return EncodedFrame{1, MediaKind::audio, 0, 0, false, Bytes(n, 0x22)};
                             }},
                             {static_cast<Micros>(1152 * 1e6 / 44100)}, 20'000'000);
    expect_truthful(c, s, packets, "MP3 128k in 2048-byte packets");
}

// Video as a VBV lets it come (x264 starts with its buffer 90% full, so the first key frame may
// hold 0.9 of the buffer on top of the rate; then a key frame of a third of a second's bytes every
// 2 s, the others sharing the rest) with WMA2: the default preset's and low-latency's packet sizes
// and deadlines. The declared rate covers the worst second, and is not far above it.
TEST(Bitrate, VideoWithAudioIsTruthful) {
    for (const auto& [psize, delay, kbps] : {std::tuple{8192u, 100u, 2000}, {1450u, 20u, 1500}, {5000u, 100u, 700}}) {
        MuxConfig c;
        c.packet_size = psize;
        c.max_packet_delay_ms = delay;
        StreamSet s;
        VideoStreamFormat v = testutil::test_video();
        v.bitrate = v.max_bitrate = static_cast<std::uint32_t>(kbps) * 1000;
        v.buffer_ms = 1000;
        v.frame_rate = 30;
        s.video.push_back(v);
        s.audio.push_back(wma2(128000, 2));
        const double second = kbps * 1000 / 8.0;
        const std::size_t key = static_cast<std::size_t>(second / 3), other = static_cast<std::size_t>((second - key) / 29);
        const std::size_t block = s.audio[0].block_align;
        const auto packets =
            mux(c, s,
                {[&](int i) {
                     const std::size_t burst = i == 0 ? static_cast<std::size_t>(0.9 * second * v.buffer_ms / 1000) : 0;
                     return EncodedFrame{1, MediaKind::video, 0, 0, i % 60 == 0,
                                         Bytes((i % 60 == 0 ? key : other) + burst, 0x33)};
                 },
                 [&](int) { return EncodedFrame{2, MediaKind::audio, 0, 0, false, Bytes(block, 0x44)}; }},
                {33'333, static_cast<Micros>(2048 * 1e6 / 44100)}, 20'000'000);
        const std::string what = "video " + std::to_string(kbps) + "k + WMA2 in " + std::to_string(psize) + "-byte packets";
        expect_truthful(c, s, packets, what.c_str());
    }
}

}  // namespace
}  // namespace asfcast::asfmux
