// A synthetic muxed stream for the push tests: a real live header (HeaderBuilder) and real data
// packets (Packetizer) from made-up H.264-sized video and audio frames.
#pragma once

#include <memory>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/muxed.hpp"
#include "../asfmux/test_util.hpp"

namespace asfcast::pushtest {

// The asfmux tests' streams at a lower rate (and without the video's stream name).
inline VideoStreamFormat video_format() {
    VideoStreamFormat v = testutil::test_video();
    v.bitrate = 300000;
    v.codec_description = "test";
    v.stream_name.clear();
    return v;
}

inline AudioStreamFormat audio_format() {
    AudioStreamFormat a = testutil::test_audio();
    a.avg_bytes_per_sec = 8000;
    a.block_align = 372;
    a.bitrate = 64000;
    return a;
}

// Generates packets frame by frame in decode order: 25 fps video with a key frame every
// `gop` frames, audio every 46 ms.
class TestStream {
public:
    // `start_us` shifts every time (a stream continuing after a header change).
    explicit TestStream(std::uint32_t packet_size = 1400, int gop = 10, std::uint32_t title_bytes = 0,
                        Micros start_us = 0)
        : config_(make_config(packet_size)),
          streams_(make_streams()),
          builder_(config_, streams_, make_metadata(title_bytes), asfmux::Guid{1, 2, 3}, 0),
          packetizer_(config_, streams_),
          gop_(gop),
          start_us_(start_us) {}

    HeaderPtr header(std::uint32_t version = 0) const {
        auto h = std::make_shared<MuxedHeader>(builder_.build_live());
        h->version = version;
        return h;
    }

    // The next `n` packets (at least; frames are added until n packets are complete).
    std::vector<PacketPtr> packets(std::size_t n) {
        std::vector<PacketPtr> out;
        while (ready_.size() < n) step();
        for (std::size_t i = 0; i < n; ++i) out.push_back(std::make_shared<DataPacket>(std::move(ready_[i])));
        ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(n));
        return out;
    }

    std::uint32_t packet_size() const { return config_.packet_size; }

private:
    static asfmux::MuxConfig make_config(std::uint32_t packet_size) {
        asfmux::MuxConfig c;
        c.packet_size = packet_size;
        c.preroll_ms = 1000;
        c.max_packet_delay_ms = 100;
        c.key_frame_starts_packet = true;
        return c;
    }
    static asfmux::StreamSet make_streams() {
        asfmux::StreamSet s;
        s.video.push_back(video_format());
        s.audio.push_back(audio_format());
        return s;
    }
    static asfmux::Metadata make_metadata(std::uint32_t title_bytes) {
        asfmux::Metadata m;
        m.title = std::string(title_bytes, 't');
        return m;
    }

    void step() {
        // Whichever of the next video/audio frame comes first in decode time.
        const Micros vt = start_us_ + static_cast<Micros>(video_n_) * 40'000;
        const Micros at = start_us_ + static_cast<Micros>(audio_n_) * 46'000;
        EncodedFrame f;
        if (vt <= at) {
            f.stream = 1;
            f.kind = MediaKind::video;
            f.pts = f.dts = vt;
            f.keyframe = video_n_ % gop_ == 0;
            f.data.assign(f.keyframe ? 4000 : 900, static_cast<std::uint8_t>(video_n_));
            ++video_n_;
        } else {
            f.stream = 2;
            f.kind = MediaKind::audio;
            f.pts = f.dts = at;
            f.keyframe = true;
            f.data.assign(372, static_cast<std::uint8_t>(0xA0 + audio_n_ % 16));
            ++audio_n_;
        }
        packetizer_.add(f, f.dts, ready_);
        packetizer_.poll(f.dts, ready_);
    }

    asfmux::MuxConfig config_;
    asfmux::StreamSet streams_;
    asfmux::HeaderBuilder builder_;
    asfmux::Packetizer packetizer_;
    int gop_;
    Micros start_us_ = 0;
    std::uint64_t video_n_ = 0, audio_n_ = 0;
    std::vector<DataPacket> ready_;
};

}  // namespace asfcast::pushtest
