// libFuzzer target for playlist entry files (playlist/playlist.hpp): the code that opens and checks
// a pre-encoded ASF file and reads its packets, and the engine playing it. The first input byte
// chooses the file: odd, the rest of the input is the whole file; even, a real file of ours (header
// and packets by HeaderBuilder and Packetizer) with bytes overwritten where the input says (pairs of
// a 2-byte offset and a byte), cut or extended. Properties checked:
//  - opening and reading throw PlaylistError only (never crash, never another exception);
//  - every packet read has the header's packet size, and its wire form parses;
//  - re-timing a packet read (both forms) succeeds or throws ParseError, and the result parses;
//  - the engine given the file as an entry (twice, then the file again as a repeat) ends within a
//    bounded number of polls, publishes the end once, and send times never go back.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/playlist/playlist.hpp"

namespace {

using namespace asfcast;

Bytes make_base_file() {
    asfmux::MuxConfig c;
    c.packet_size = 1024;
    c.preroll_ms = 1000;
    asfmux::StreamSet s;
    VideoStreamFormat v;
    v.stream = 1;
    v.width = 64;
    v.height = 48;
    v.fourcc = 0x34363248;  // "H264"
    v.bitrate = 200000;
    s.video.push_back(v);
    AudioStreamFormat a;
    a.stream = 2;
    a.format_tag = 0x0161;
    a.channels = 1;
    a.sample_rate = 22050;
    a.avg_bytes_per_sec = 4000;
    a.block_align = 200;
    a.bitrate = 32000;
    s.audio.push_back(a);
    asfmux::HeaderBuilder b(c, s, {}, asfmux::random_guid(), 0);
    asfmux::Packetizer p(c, s);
    std::vector<DataPacket> packets;
    for (int ms = 0; ms < 1500; ms += 50) {
        EncodedFrame f;
        f.stream = 2;
        f.kind = MediaKind::audio;
        f.pts = f.dts = Micros{ms} * 1000;
        f.data.assign(200, static_cast<std::uint8_t>(ms));
        p.add(f, f.pts, packets);
        if (ms % 100 == 0) {
            EncodedFrame vf;
            vf.stream = 1;
            vf.kind = MediaKind::video;
            vf.pts = vf.dts = Micros{ms} * 1000;
            vf.keyframe = ms % 500 == 0;
            vf.data.assign(vf.keyframe ? 1500 : 300, static_cast<std::uint8_t>(ms));
            p.add(vf, vf.pts, packets);
        }
    }
    p.flush(packets);
    asfmux::FileTotals t;
    t.data_packets = packets.size();
    Bytes out = b.build_final(t);
    for (const auto& pk : packets) out.insert(out.end(), pk.bytes.begin(), pk.bytes.end());
    return out;
}

Bytes file_from(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return {};
    if (data[0] & 1) return Bytes(data + 1, data + size);
    static const Bytes base = make_base_file();
    Bytes f = base;
    std::size_t i = 1;
    if (i < size) {
        // 0..127: cut that many 64-byte blocks off the end; 128..255: append that many zeros.
        const std::uint8_t how = data[i++];
        if (how < 128) f.resize(f.size() - std::min<std::size_t>(f.size(), std::size_t{how} * 64));
        else f.resize(f.size() + (how - 128u), 0);
    }
    for (; i + 2 < size; i += 3) {
        if (f.empty()) break;
        const std::size_t at = (std::size_t{data[i]} | (std::size_t{data[i + 1]} << 8)) % f.size();
        f[at] = data[i + 2];
    }
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);  // refusals are logged: not the point here
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace asfcast;
    const Bytes file = file_from(data, size);
    playlist::EntryFileLimits limits;
    limits.max_packet_size = 8192;
    try {
        playlist::AsfEntryFile entry(playlist::memory_source(file), "fuzz", limits);
        const std::uint32_t ps = entry.header().packet_size;
        (void)asfmux::parse_header(entry.header().bytes);  // the live form parses
        const std::int64_t delta = size > 1 ? static_cast<std::int64_t>(data[size - 1]) * 37 - 4000 : 5;
        for (int n = 0; n < 10000; ++n) {
            auto p = entry.next();
            if (!p) break;
            if (p->bytes.size() != ps) std::abort();
            (void)asfmux::parse_wire_packet(p->wire_form(), ps);
            Bytes b = p->bytes;
            try {
                asfmux::retime_packet(b, ps, false, delta);
                if (asfmux::parse_packet(b, ps).send_time_ms != static_cast<std::uint32_t>(p->send_time_ms + delta)) std::abort();
                if (!p->wire.empty()) {
                    Bytes w = p->wire;
                    asfmux::retime_packet(w, ps, true, delta);
                    (void)asfmux::parse_wire_packet(w, ps);
                }
            } catch (const ParseError&) {
            }
        }
    } catch (const playlist::PlaylistError&) {
    }

    // The engine: the file as two entries (the second repeated), paced by a fake clock.
    playlist::EngineConfig cfg;
    cfg.entries = {{playlist::Entry::Kind::file, "a", "f", 1, {}}, {playlist::Entry::Kind::file, "b", "f", 2, {}}};
    cfg.limits = limits;
    cfg.open = [&file](const std::string&) { return playlist::memory_source(file); };
    int ends = 0;
    std::optional<std::uint32_t> last_send;
    bool have_header = false;
    playlist::PlaylistEngine engine(cfg, {[&](HeaderPtr) { have_header = true; },
                                          [&](PacketPtr p) {
                                              if (!have_header) std::abort();
                                              if (last_send && p->send_time_ms < *last_send) std::abort();
                                              last_send = p->send_time_ms;
                                          },
                                          [&] { ++ends; }});
    Micros t = 0;
    for (int tick = 0; tick < 2000 && !engine.finished(); ++tick) {
        engine.poll(t);
        const auto d = engine.next_deadline();
        t = d && *d > t ? *d : t + 10'000;
    }
    engine.stop();
    if (ends != 1) std::abort();
    return 0;
}
