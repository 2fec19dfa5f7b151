// libFuzzer target for everything the MSBD server reads from a client: arbitrary bytes, fed in
// chunks into MsbdMessageReader (under a bound the input chooses), every message decoded with each
// decoder (REQ_CONNECT, STREAMINFO, RES_CONNECT, IND_PACKET, header-only), and the messages driving
// an MsbdSession while the stream grows, is trimmed, changes header and ends and the time runs (connect, ping
// and linger timers). Nothing may crash, hang, overread or grow without bound, only ParseError may
// leave a decoder, and every byte the session writes must itself read back as well-formed MS-MSBD
// messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/start_points.hpp"
#include "msbd_message.hpp"
#include "msbd_session.hpp"

namespace {

using namespace asfcast;
using namespace asfcast::msbd;

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
        Stream out;
        out.header = std::make_shared<MuxedHeader>(asfmux::HeaderBuilder(mc, set, md, asfmux::Guid{7}, 0).build_live());
        md.title = "changed";
        out.header2 = std::make_shared<MuxedHeader>(asfmux::HeaderBuilder(mc, set, md, asfmux::Guid{7}, 0).build_live());
        asfmux::Packetizer pk(mc, set);
        std::vector<DataPacket> ps;
        for (int i = 0; i < 60; ++i) {
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

// Every decoder on every message: only ParseError may come out.
void decode_all(const MsbdMessage& m) {
    try {
        (void)parse_connect_request(m).channel_text();
    } catch (const ParseError&) {
    }
    try {
        (void)parse_stream_info(m);
    } catch (const ParseError&) {
    }
    try {
        (void)parse_connect_response(m);
    } catch (const ParseError&) {
    }
    try {
        (void)parse_packet_message(m);
    } catch (const ParseError&) {
    }
    try {
        expect_header_only(m);
    } catch (const ParseError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const Stream& st = stream();
    const std::uint8_t mode = data[0];
    std::uint32_t chunker = data[1] | 1u;  // chunk sizes from the input, so inputs minimise
    data += 2;
    size -= 2;

    MsbdMessageReader reader(mode & 1 ? 64 : kMaxMessageSize);
    SessionConfig cfg;
    cfg.connect_timeout_ms = 1000;
    cfg.ping_interval_ms = mode & 2 ? 200 : 0;
    cfg.ping_timeout_ms = 300;
    cfg.end_linger_ms = 500;
    cfg.max_lag_ms = 100;
    cfg.disconnect_on_lag = mode & 4;
    Micros now = 1'000'000;
    MsbdSession session(cfg, now);
    StreamState state(mode & 8 ? 4 : 64);
    std::size_t next_packet = 0;
    auto add_packets = [&](std::size_t n) {
        for (std::size_t k = 0; k < n && state.header; ++k) {
            const PacketPtr& p = st.packets[next_packet++ % st.packets.size()];
            state.ring.push(p, start_point_of(*p, *state.header));
        }
    };
    if (!(mode & 16)) {
        state.set_header(st.header);
        add_packets(10);
    }

    // What the session writes must read back as MS-MSBD messages.
    MsbdMessageReader check;
    SessionStep step;
    auto drive = [&] {
        for (int guard = 0; guard < 64; ++guard) {
            session.next(state, step, now);
            if (step.kind != SessionStep::Kind::send) return;
            check.feed(step.control);
            MsbdMessage m;
            for (int k = 0; k < 64 && check.next(m) == MsbdMessageReader::Status::message; ++k) (void)m;
            for (std::size_t i = 0; i < step.data_count; ++i) {
                check.feed(ByteView(step.data[i].prefix.data(), step.data[i].prefix.size()));
                check.feed(step.data[i].payload);
                if (check.next(m) != MsbdMessageReader::Status::message) std::abort();
                (void)parse_packet_message(m);
            }
            if (check.failed() || check.buffered() != 0) std::abort();
            if (step.close_after) return;
        }
    };

    std::size_t i = 0;
    MsbdMessage m;
    for (int rounds = 0; i < size && rounds < 4096; ++rounds) {
        chunker = chunker * 1103515245u + 12345u;
        const std::size_t n = std::min<std::size_t>(size - i, 1 + (chunker >> 16) % 97);
        reader.feed(ByteView(data + i, n));
        i += n;
        for (int k = 0; k < 4096; ++k) {
            const auto status = reader.next(m);
            if (status == MsbdMessageReader::Status::need_more) break;
            if (status == MsbdMessageReader::Status::malformed) {
                if (reader.error().empty()) std::abort();
                return 0;  // the server closes the connection here
            }
            if (m.body.size() + kHeaderSize > (mode & 1 ? 64u : kMaxMessageSize)) std::abort();
            decode_all(m);
            session.on_message(m, now);
        }
        if (reader.buffered() > kMaxMessageSize) std::abort();
        // The server's side moves on between reads.
        switch ((chunker >> 8) % 8) {
            case 0: case 1: add_packets(1 + (chunker >> 12) % 6); break;
            case 2: now += 150'000; break;
            case 3: now += 1'000; break;
            case 4:
                if ((chunker >> 20) % 16 == 0) state.set_header((chunker >> 24) % 2 ? st.header2 : st.header);
                break;
            case 5:
                if ((chunker >> 20) % 32 == 0) state.ended = true;
                break;
            case 6: state.trim(static_cast<std::uint32_t>((chunker >> 16) % 400)); break;
            default: break;
        }
        session.on_time(now);
        drive();
        if (session.phase() == MsbdSession::Phase::closed) return 0;
    }
    return 0;
}
