// Arbitrary server replies into the push client's MS-WMHTTP state machine (WmhttpSession),
// interleaved with the other events a connection sees: closes, resets, timer expiries, new
// packets, header changes and the end of the stream. The harness plays the transport the way
// PushOutput's adapter does.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/push/wmhttp_session.hpp"

namespace {

using namespace asfcast;
using namespace std::chrono_literals;

struct Stream {
    HeaderPtr header, header2;
    std::vector<PacketPtr> packets;
};

const Stream& stream() {
    static const Stream s = [] {
        asfmux::MuxConfig mc;
        mc.packet_size = 600;
        mc.preroll_ms = 500;
        asfmux::StreamSet set;
        VideoStreamFormat v;
        v.stream = 1;
        v.width = 64;
        v.height = 48;
        v.fourcc = 'H' | '2' << 8 | '6' << 16 | '4' << 24;
        v.bitrate = 100000;
        v.frame_rate = 25;
        v.codec_name = "H264";
        set.video.push_back(v);
        AudioStreamFormat a;
        a.stream = 2;
        a.avg_bytes_per_sec = 4000;
        a.block_align = 200;
        a.bitrate = 32000;
        a.codec_name = "WMA";
        set.audio.push_back(a);
        asfmux::Metadata md;
        asfmux::HeaderBuilder hb(mc, set, md, asfmux::Guid{7}, 0);
        Stream out;
        out.header = std::make_shared<MuxedHeader>(hb.build_live());
        md.title = "changed";
        asfmux::HeaderBuilder hb2(mc, set, md, asfmux::Guid{7}, 0);
        auto h2 = std::make_shared<MuxedHeader>(hb2.build_live());
        h2->version = 1;
        out.header2 = h2;
        asfmux::Packetizer pk(mc, set);
        std::vector<DataPacket> ps;
        for (int i = 0; i < 40; ++i) {
            EncodedFrame f;
            f.stream = i % 3 == 2 ? 2 : 1;
            f.kind = f.stream == 1 ? MediaKind::video : MediaKind::audio;
            f.pts = f.dts = i * 20'000;
            f.keyframe = i % 9 == 0;
            f.data.assign(f.stream == 1 ? 700 : 150, static_cast<std::uint8_t>(i));
            pk.add(f, f.dts, ps);
        }
        pk.flush(ps);
        for (auto& p : ps) out.packets.push_back(std::make_shared<DataPacket>(std::move(p)));
        return out;
    }();
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);  // the session logs every failure it reports
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const Stream& st = stream();
    const std::uint8_t mode = data[0];
    ++data;
    --size;

    push::SessionConfig cfg;
    cfg.url = *push::parse_push_url("127.0.0.1:8080/live");
    if (mode & 1) {
        cfg.user = "user";
        cfg.password = "pass";
    }
    if (mode & 2) cfg.template_path = "/tmpl";
    cfg.auto_remove = mode & 4;
    cfg.tuning.post_budget = (mode & 8) ? 1 : 2147483647u;  // 1: the smallest budget allowed
    cfg.tuning.queue_bytes = (mode & 16) ? 4000 : 1 << 20;
    cfg.tuning.backoff_jitter = 0;
    cfg.seed = 1;
    push::WmhttpSession s(cfg);

    auto now = SteadyClock::time_point{} + 100h;
    bool conn = false, in_flight = false;
    std::size_t next_packet = 0;
    auto sync = [&] {
        for (int guard = 0; guard < 64; ++guard) {
            if (s.take_close()) conn = false;
            if (s.take_connect()) {
                conn = false;
                in_flight = true;
            }
            if (!conn) return;
            (void)s.take_shutdown();
            if (s.wants_start() && !st.packets.empty()) {
                // What PushOutput offers: recent packets from a start point.
                std::vector<push::PushPacketPtr> from;
                for (const auto& p : st.packets)
                    from.push_back(std::make_shared<const push::PushPacket>(push::PushPacket{p, st.header}));
                s.start_from(std::move(from), now);
            }
            Bytes out = s.take_output(now);
            if (out.empty()) return;
            s.on_write_progress(now);
            s.on_write_done(now);
        }
    };
    auto feed_packets = [&](std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            const auto& p = st.packets[next_packet++ % st.packets.size()];
            s.on_packet(std::make_shared<const push::PushPacket>(push::PushPacket{p, st.header}), now);
        }
    };

    s.on_header(st.header, now);
    sync();
    feed_packets(3);

    std::size_t i = 0;
    while (i < size) {
        const std::uint8_t op = data[i++];
        switch (op % 12) {
            case 0: case 1: case 2: case 3: case 4: {  // server bytes
                const std::size_t n = std::min<std::size_t>(size - i, 1 + op / 12 * 4);
                if (conn) s.on_data(ByteView(data + i, n), now);
                i += n;
                break;
            }
            case 5:
                if (in_flight) {
                    in_flight = false;
                    conn = true;
                    s.on_connected(now);
                }
                break;
            case 6:
                if (in_flight) {
                    in_flight = false;
                    s.on_connect_failed("refused", now);
                }
                break;
            case 7:
                if (conn) {
                    conn = false;
                    s.on_peer_closed(now);
                }
                break;
            case 8:
                if (conn) {
                    conn = false;
                    s.on_transport_error("reset", now);
                }
                break;
            case 9:
                now += std::chrono::milliseconds(50 * (1 + op / 12));
                if (auto d = s.deadline(); d && *d <= now) s.on_timer(now);
                break;
            case 10:
                feed_packets(1 + op / 12 % 8);
                break;
            case 11:
                if (op / 12 == 0) s.on_end(now);
                else s.on_header((op / 12) % 2 ? st.header2 : st.header, now);
                break;
        }
        sync();
        (void)s.status(now);
        (void)s.deadline();
    }
    s.stop(now);
    return 0;
}
