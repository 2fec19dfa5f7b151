// The playlist engine fed in-memory ASF files, a live encode made by our packetizer and a fake
// clock: entry order, header changes only where the header changes, send and presentation times
// increasing across entries, real-time pacing, and bad entries refused (or cut) with an error naming
// them while the broadcast goes on.
#include <gtest/gtest.h>

#include <map>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/playlist/playlist.hpp"

using namespace asfcast;
using playlist::Entry;

namespace {

struct Made {
    std::shared_ptr<asfmux::HeaderBuilder> builder;
    std::vector<DataPacket> packets;
};

// `seconds` of 10 fps video (a key frame each second) and 20 audio frames a second, from 0.
Made make_stream(std::uint32_t packet_size, int seconds, int width, const std::string& title) {
    asfmux::MuxConfig c;
    c.packet_size = packet_size;
    c.preroll_ms = 1000;
    asfmux::StreamSet s;
    VideoStreamFormat v;
    v.stream = 1;
    v.width = width;
    v.height = 240;
    v.fourcc = 0x33564D57;  // WMV3
    v.bitrate = 300000;
    s.video.push_back(v);
    AudioStreamFormat a;
    a.stream = 2;
    a.format_tag = 0x0161;
    a.channels = 2;
    a.sample_rate = 44100;
    a.avg_bytes_per_sec = 16000;
    a.block_align = 743;
    a.bitrate = 128000;
    s.audio.push_back(a);
    Made m;
    asfmux::Metadata md;
    md.title = title;
    m.builder = std::make_shared<asfmux::HeaderBuilder>(c, s, md, asfmux::random_guid(), asfmux::unix_to_filetime(0));
    asfmux::Packetizer p(c, s);
    for (int ms = 0; ms < seconds * 1000; ms += 50) {
        EncodedFrame f;
        f.stream = 2;
        f.kind = MediaKind::audio;
        f.pts = f.dts = Micros{ms} * 1000;
        f.data.assign(743, static_cast<std::uint8_t>(ms));
        p.add(f, f.pts, m.packets);
        if (ms % 100 == 0) {
            EncodedFrame vf;
            vf.stream = 1;
            vf.kind = MediaKind::video;
            vf.pts = vf.dts = Micros{ms} * 1000;
            vf.keyframe = ms % 1000 == 0;
            vf.data.assign(vf.keyframe ? 3000 : 900, static_cast<std::uint8_t>(ms / 100));
            p.add(vf, vf.pts, m.packets);
        }
    }
    p.flush(m.packets);
    return m;
}

// A finished file: the final header, the packets, nothing after them.
Bytes file_of(const Made& m, std::uint32_t packet_size) {
    asfmux::FileTotals t;
    t.data_packets = m.packets.size();
    t.file_size = 0;
    Bytes out = m.builder->build_final(t);
    for (const auto& p : m.packets) out.insert(out.end(), p.bytes.begin(), p.bytes.end());
    EXPECT_EQ(out.size(), m.builder->build_live().bytes.size() + m.packets.size() * packet_size);
    return out;
}

struct Recorder {
    std::vector<HeaderPtr> headers;
    std::vector<std::pair<HeaderPtr, PacketPtr>> packets;
    int ends = 0;
    playlist::Sink sink() {
        return {[this](HeaderPtr h) { headers.push_back(std::move(h)); },
                [this](PacketPtr p) {
                    ASSERT_FALSE(headers.empty());
                    packets.emplace_back(headers.back(), std::move(p));
                },
                [this] { ++ends; }};
    }
    // Packets per header label, in order of appearance.
    std::vector<std::pair<std::string, std::size_t>> runs() const {
        std::vector<std::pair<std::string, std::size_t>> r;
        for (const auto& [h, p] : packets) {
            if (r.empty() || r.back().first != h->label || packets.front().first.get() == nullptr) r.emplace_back(h->label, 0);
            ++r.back().second;
        }
        return r;
    }
};

struct Files {
    std::map<std::string, Bytes> files;
    std::function<std::unique_ptr<playlist::ByteSource>(const std::string&)> opener() {
        return [this](const std::string& path) {
            auto it = files.find(path);
            if (it == files.end()) throw playlist::PlaylistError("cannot open " + path + ": No such file or directory");
            return playlist::memory_source(it->second);
        };
    }
};

// Every property the outputs rely on, checked on what the engine published.
void check_stream(const Recorder& rec) {
    std::optional<std::uint32_t> last_send;
    std::map<int, std::int64_t> last_pts;  // per stream, presentation time (incl. preroll) minus preroll
    const MuxedHeader* last_header = nullptr;
    std::uint64_t number = 0;
    for (const auto& [h, p] : rec.packets) {
        const auto info = asfmux::parse_packet(p->bytes, h->packet_size);
        const auto wire = asfmux::parse_wire_packet(p->wire_form(), h->packet_size);
        ASSERT_EQ(info.send_time_ms, p->send_time_ms);
        ASSERT_EQ(wire.send_time_ms, p->send_time_ms);
        ASSERT_EQ(p->number, number++);
        ASSERT_EQ(p->bytes.size(), h->packet_size);
        if (last_send) {
            if (h.get() != last_header) {
                ASSERT_GT(p->send_time_ms, *last_send) << "send time at an entry change";
            } else {
                ASSERT_GE(p->send_time_ms, *last_send);
            }
        }
        if (h.get() != last_header) {
            // Presentation times of a new entry start after everything before it, for every stream.
            std::int64_t first = std::numeric_limits<std::int64_t>::max();
            for (const auto& pl : info.payloads) first = std::min<std::int64_t>(first, std::int64_t{pl.pts_ms} - h->preroll_ms);
            for (const auto& [s, t] : last_pts) ASSERT_GT(first, t) << "stream " << s;
        }
        ASSERT_EQ(info.payloads.size(), wire.payloads.size());
        for (std::size_t i = 0; i < info.payloads.size(); ++i) {
            ASSERT_EQ(info.payloads[i].pts_ms, wire.payloads[i].pts_ms);
            auto& lp = last_pts[info.payloads[i].stream];
            lp = std::max<std::int64_t>(lp, std::int64_t{info.payloads[i].pts_ms} - h->preroll_ms);
        }
        last_send = p->send_time_ms;
        last_header = h.get();
    }
}

constexpr Micros kStep = 10'000;  // the fake clock's tick

}  // namespace

TEST(PlaylistEngine, FileLiveFileInOrderWithTimesIncreasingAcrossEntries) {
    const Made promo = make_stream(2048, 3, 320, "promo");
    const Made closing = make_stream(4096, 2, 640, "closing");
    const Made live = make_stream(2048, 30, 480, "live");
    Files files;
    files.files["promo.wmv"] = file_of(promo, 2048);
    files.files["closing.wmv"] = file_of(closing, 4096);
    playlist::EngineConfig cfg;
    cfg.entries = {{Entry::Kind::file, "promo", "promo.wmv", 2, {}},
                   {Entry::Kind::live, "show", "", 1, Micros{4'000'000}},
                   {Entry::Kind::file, "closing", "closing.wmv", 1, {}}};
    cfg.open = files.opener();
    Recorder rec;
    playlist::PlaylistEngine engine(cfg, rec.sink());
    auto live_header = std::make_shared<MuxedHeader>(live.builder->build_live());
    engine.live_header(live_header);
    // The live encode runs from t = 0 (its packets leave the muxer at their send times, 300 ms late).
    std::size_t next_live = 0;
    Micros t = 0;
    Micros promo_done = 0;
    for (int tick = 0; tick < 3000 && !engine.finished(); ++tick, t += kStep) {
        while (next_live < live.packets.size() && Micros{live.packets[next_live].send_time_ms} * 1000 + 300'000 <= t)
            engine.live_packet(std::make_shared<DataPacket>(live.packets[next_live++]), t);
        engine.poll(t);
        if (!promo_done && engine.on_air().find("show") != std::string::npos) promo_done = t;
        if (const auto d = engine.next_deadline()) {
            ASSERT_GE(*d, t - kStep);
        }
    }
    ASSERT_TRUE(engine.finished());
    EXPECT_EQ(rec.ends, 1);
    ASSERT_EQ(rec.headers.size(), 3u);  // promo (repeated: one header), the live show, closing
    EXPECT_EQ(rec.headers[0]->label, "promo");
    EXPECT_EQ(rec.headers[1]->label, "show");
    EXPECT_EQ(rec.headers[2]->label, "closing");
    for (std::uint32_t v = 0; v < 3; ++v) EXPECT_EQ(rec.headers[v]->version, v);
    EXPECT_EQ(rec.headers[1]->bytes, live_header->bytes);
    // A file's header goes out as a live one: Broadcast flag, no sizes.
    const auto ph = asfmux::parse_header(rec.headers[0]->bytes);
    EXPECT_EQ(ph.flags & 3u, 1u);
    EXPECT_EQ(ph.data_packets, 0u);
    EXPECT_EQ(ph.metadata.title, "promo");
    const auto runs = rec.runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[0], (std::pair<std::string, std::size_t>{"promo", 2 * promo.packets.size()}));
    EXPECT_EQ(runs[1].first, "show");
    EXPECT_EQ(runs[2], (std::pair<std::string, std::size_t>{"closing", closing.packets.size()}));
    // The live entry starts on a key frame and lasts its 4 s.
    const auto& first_live = rec.packets[runs[0].second].second;
    EXPECT_TRUE(first_live->starts_with_key_frame);
    const auto& last_live = rec.packets[runs[0].second + runs[1].second - 1].second;
    EXPECT_NEAR(static_cast<double>(last_live->send_time_ms) - first_live->send_time_ms, 4000, 300);
    // Real-time pacing: two plays of a 3 s file take 6 s of the clock.
    EXPECT_NEAR(static_cast<double>(promo_done), 6'000'000, 200'000);
    check_stream(rec);
    EXPECT_EQ(engine.stats().entries_started, 3u);
    EXPECT_EQ(engine.stats().entries_refused, 0u);
    EXPECT_GT(engine.stats().live_packets_dropped, 0u);  // made while the promo was on air
}

// The operator (control API) puts another entry on air: the entry on air ends where it is, the
// chosen one starts at once with its header, times keep increasing, and the playlist goes on
// after it. An index out of range changes nothing.
TEST(PlaylistEngine, SwitchToPutsTheChosenEntryOnAirAndGoesOnFromThere) {
    const Made loop = make_stream(2048, 10, 320, "loop");
    const Made closing = make_stream(4096, 2, 640, "closing");
    const Made extra = make_stream(2048, 2, 320, "extra");
    Files files;
    files.files["loop.wmv"] = file_of(loop, 2048);
    files.files["closing.wmv"] = file_of(closing, 4096);
    files.files["extra.wmv"] = file_of(extra, 2048);
    playlist::EngineConfig cfg;
    cfg.entries = {{Entry::Kind::file, "loop", "loop.wmv", 100, {}},
                   {Entry::Kind::file, "closing", "closing.wmv", 1, {}},
                   {Entry::Kind::file, "extra", "extra.wmv", 1, {}}};
    cfg.open = files.opener();
    Recorder rec;
    playlist::PlaylistEngine engine(cfg, rec.sink());
    Micros t = 0;
    for (int tick = 0; tick < 200; ++tick, t += kStep) engine.poll(t);  // 2 s of the 10 s loop
    EXPECT_NE(engine.on_air().find("loop"), std::string::npos);
    EXPECT_FALSE(engine.switch_to(3, t)) << "out of range";
    EXPECT_NE(engine.on_air().find("loop"), std::string::npos);
    const std::size_t before = rec.packets.size();
    ASSERT_GT(before, 0u);
    ASSERT_TRUE(engine.switch_to(1, t));
    EXPECT_NE(engine.on_air().find("closing"), std::string::npos);
    for (int tick = 0; tick < 3000 && !engine.finished(); ++tick, t += kStep) engine.poll(t);
    ASSERT_TRUE(engine.finished());
    const auto runs = rec.runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[0].first, "loop");
    EXPECT_LT(runs[0].second, loop.packets.size()) << "the loop was cut where it was";
    EXPECT_EQ(runs[1], (std::pair<std::string, std::size_t>{"closing", closing.packets.size()}));
    EXPECT_EQ(runs[2], (std::pair<std::string, std::size_t>{"extra", extra.packets.size()}));
    ASSERT_EQ(rec.headers.size(), 3u);
    check_stream(rec);
    EXPECT_FALSE(engine.switch_to(0, t)) << "the playlist has finished";
}

TEST(PlaylistEngine, BadEntriesAreRefusedByNameAndTheBroadcastGoesOn) {
    const Made good = make_stream(2048, 2, 320, "good");
    const Made big = make_stream(16384, 1, 320, "big");
    Files files;
    files.files["good.wmv"] = file_of(good, 2048);
    files.files["big.wmv"] = file_of(big, 16384);
    files.files["text.wmv"] = Bytes(5000, 'x');
    const Made other = make_stream(2048, 2, 400, "cut");
    Bytes cut = file_of(other, 2048);
    const std::size_t header = other.builder->build_live().bytes.size();
    std::fill(cut.begin() + static_cast<std::ptrdiff_t>(header + 5 * 2048), cut.begin() + static_cast<std::ptrdiff_t>(header + 6 * 2048), 0xFF);
    files.files["cut.wmv"] = cut;
    playlist::EngineConfig cfg;
    cfg.entries = {{Entry::Kind::file, "missing", "nowhere.wmv", 1, {}}, {Entry::Kind::file, "text", "text.wmv", 1, {}},
                   {Entry::Kind::file, "big", "big.wmv", 1, {}},         {Entry::Kind::file, "cut", "cut.wmv", 1, {}},
                   {Entry::Kind::file, "good", "good.wmv", 1, {}}};
    cfg.open = files.opener();
    cfg.limits.max_packet_size = 8192;  // a push target is enabled
    Recorder rec;
    playlist::PlaylistEngine engine(cfg, rec.sink());
    Micros t = 0;
    for (int tick = 0; tick < 2000 && !engine.finished(); ++tick, t += kStep) engine.poll(t);
    ASSERT_TRUE(engine.finished());
    EXPECT_EQ(rec.ends, 1);
    const auto& errors = engine.stats().errors;
    ASSERT_EQ(errors.size(), 4u);
    EXPECT_NE(errors[0].find("entry 1 'missing' (nowhere.wmv)"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("No such file"), std::string::npos) << errors[0];
    EXPECT_NE(errors[1].find("entry 2 'text'"), std::string::npos) << errors[1];
    EXPECT_NE(errors[1].find("not an ASF file"), std::string::npos) << errors[1];
    EXPECT_NE(errors[2].find("entry 3 'big'"), std::string::npos) << errors[2];
    EXPECT_NE(errors[2].find("packet size 16384 bytes is larger than an enabled output carries (8192"), std::string::npos)
        << errors[2];
    EXPECT_NE(errors[3].find("entry 4 'cut'"), std::string::npos) << errors[3];
    EXPECT_NE(errors[3].find("packet 5"), std::string::npos) << errors[3];
    EXPECT_EQ(engine.stats().entries_refused, 3u);  // before going on air
    EXPECT_EQ(engine.stats().entries_cut, 1u);      // unreadable part-way
    const auto runs = rec.runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0], (std::pair<std::string, std::size_t>{"cut", 5}));
    EXPECT_EQ(runs[1], (std::pair<std::string, std::size_t>{"good", good.packets.size()}));
    check_stream(rec);
}

TEST(PlaylistEngine, ALoopOfRefusedEntriesEndsInsteadOfSpinning) {
    playlist::EngineConfig cfg;
    cfg.entries = {{Entry::Kind::file, "a", "a.wmv", 1, {}}, {Entry::Kind::file, "b", "b.wmv", 1, {}}};
    cfg.loop = true;
    Files files;
    cfg.open = files.opener();
    Recorder rec;
    playlist::PlaylistEngine engine(cfg, rec.sink());
    engine.poll(0);
    EXPECT_TRUE(engine.finished());
    EXPECT_EQ(rec.ends, 1);
    EXPECT_TRUE(rec.packets.empty());
    EXPECT_EQ(engine.stats().entries_refused, 3u);  // a, b, then the pass that put nothing on air
}

TEST(PlaylistEngine, LoopStartsOverAndTheLiveSourceEndingSkipsLiveEntries) {
    const Made clip = make_stream(2048, 1, 320, "clip");
    const Made live = make_stream(2048, 5, 480, "live");
    Files files;
    files.files["clip.wmv"] = file_of(clip, 2048);
    playlist::EngineConfig cfg;
    cfg.entries = {{Entry::Kind::file, "clip", "clip.wmv", 1, {}}, {Entry::Kind::live, "show", "", 1, {}}};
    cfg.loop = true;
    cfg.open = files.opener();
    Recorder rec;
    playlist::PlaylistEngine engine(cfg, rec.sink());
    engine.live_header(std::make_shared<MuxedHeader>(live.builder->build_live()));
    Micros t = 0;
    std::size_t next_live = 0;
    for (int tick = 0; tick < 1000 && !engine.finished(); ++tick, t += kStep) {
        engine.poll(t);
        // The live source runs 5 s, then ends: the looping playlist plays the clip on, once per pass.
        while (next_live < live.packets.size() && Micros{live.packets[next_live].send_time_ms} * 1000 <= t)
            engine.live_packet(std::make_shared<DataPacket>(live.packets[next_live++]), t);
        if (next_live == live.packets.size() && t == 5'500'000) engine.live_ended(t);
        if (t >= 9'000'000) engine.stop();
    }
    ASSERT_TRUE(engine.finished());
    EXPECT_EQ(rec.ends, 1);
    const auto runs = rec.runs();
    ASSERT_EQ(runs.size(), 3u);
    EXPECT_EQ(runs[0].first, "clip");
    EXPECT_EQ(runs[1].first, "show");
    // After the live source ended, the clip follows itself (one header: no header change).
    EXPECT_EQ(runs[2].first, "clip");
    EXPECT_GE(runs[2].second, 2 * clip.packets.size());
    check_stream(rec);
}
