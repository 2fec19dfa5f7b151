// ClientCursor: one pull client's streaming logic, fed a mount (ring of real muxed packets) and
// driven without sockets: where a late joiner starts, what a client behind the live edge gets,
// header changes, stream selection, the end, chunked framing.
#include "client_cursor.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <set>

#include "../asfmux/test_util.hpp"
#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/start_points.hpp"
#include "wmsp_framing.hpp"

namespace asfcast::pull {
namespace {

// A live broadcast into a mount, as the pull server's network thread keeps it: real packets
// (HeaderBuilder + Packetizer, 25 fps video with a key frame every `gop` frames on streams
// 1..videos, audio every 46 ms on the last stream), pushed into the ring with their start points.
class Broadcast {
public:
    Broadcast(int gop, int videos = 1, std::size_t ring = 4096, std::uint32_t title_bytes = 0)
        : gop_(gop), videos_(videos), mount(ring) {
        config_.packet_size = 1400;
        config_.preroll_ms = 1000;
        for (int v = 1; v <= videos; ++v) {
            VideoStreamFormat f = testutil::test_video();
            f.stream = v;
            streams_.video.push_back(f);
        }
        AudioStreamFormat a = testutil::test_audio();
        a.stream = videos + 1;
        a.avg_bytes_per_sec = 8000;
        a.block_align = 372;
        streams_.audio.push_back(a);
        new_header(title_bytes);
    }

    // Like PullServer::Impl::header_changed: a new header and its $H packets; the ring keeps the
    // old header's packets.
    void new_header(std::uint32_t title_bytes) {
        asfmux::Metadata m;
        m.title = std::string(title_bytes, 't');
        asfmux::HeaderBuilder b(config_, streams_, m, testutil::kFileId, 0);
        mount.header = std::make_shared<MuxedHeader>(b.build_live());
        mount.header_frames = header_packets(mount.header->bytes, 0);
        ++mount.header_version;
        packetizer_ = std::make_unique<asfmux::Packetizer>(config_, streams_);
    }

    // Adds the frames of the next `seconds` of media; returns the packets made.
    std::size_t advance(double seconds) {
        const Micros until = now_ + static_cast<Micros>(seconds * 1e6);
        std::vector<DataPacket> out;
        while (now_ < until) {
            const Micros next_video = frames_ * 40'000, next_audio = audio_frames_ * 46'000;
            if (next_video <= next_audio) {
                const bool key = frames_ % gop_ == 0;
                for (int v = 1; v <= videos_; ++v) {
                    EncodedFrame f{v, MediaKind::video, next_video, next_video, key,
                                   Bytes(key ? 3000 : 400, static_cast<std::uint8_t>(v))};
                    packetizer_->add(f, next_video, out);
                }
                ++frames_;
                now_ = next_video;
            } else {
                EncodedFrame f{videos_ + 1, MediaKind::audio, next_audio, next_audio, false, Bytes(372, 0xA0)};
                packetizer_->add(f, next_audio, out);
                ++audio_frames_;
                now_ = next_audio;
            }
        }
        packetizer_->flush(out);
        for (auto& p : out) {
            auto mp = std::make_shared<MountPacket>();
            mp->header_version = mount.header_version;
            const StartPoint sp = start_point_of(p, *mount.header);
            mp->packet = std::make_shared<const DataPacket>(std::move(p));
            mount.ring.push(std::move(mp), sp);
        }
        return out.size();
    }

    std::uint32_t newest_location() const { return (*mount.ring.at(mount.ring.next() - 1))->location_id(); }
    std::uint32_t packet_size() const { return config_.packet_size; }

private:
    int gop_, videos_;
    asfmux::MuxConfig config_;
    asfmux::StreamSet streams_;
    std::unique_ptr<asfmux::Packetizer> packetizer_;
    Micros now_ = 0;
    std::int64_t frames_ = 0, audio_frames_ = 0;

public:
    MountState mount;
};

struct Sent {
    std::uint32_t location_id;
    std::uint8_t afflags;
    Bytes payload;
};

// A client: takes steps from the cursor and records what it would have written.
struct Client {
    explicit Client(const Broadcast& b, CursorConfig c = {},
                    StreamSelection sel = StreamSelection::everything())
        : cursor(c, b.mount.header_version, sel) {}

    // Writes what the cursor gives, at most `max_packets` $D packets; the last step's kind.
    CursorStep::Kind read(const MountState& m, std::size_t max_packets = 1'000'000) {
        for (std::size_t guard = 0; guard < 100'000; ++guard) {
            if (sent.size() >= limit(max_packets)) return CursorStep::Kind::send;
            cursor.next(m, step);
            skips += step.skipped;
            if (!step.control.empty()) {
                control.push_back(step.control);
                control_at.push_back(sent.size());
            }
            for (std::size_t i = 0; i < step.data_count; ++i) {
                const auto& d = step.data[i];
                // MS-WMSP 2.2.3.1: "$D", PacketLength, LocationId, Incarnation, AFFlags, PacketSize.
                const std::size_t at = d.prefix_size - 12;
                EXPECT_EQ(d.prefix[at], 0x24);
                EXPECT_EQ(d.prefix[at + 1], 'D');
                const std::uint32_t loc = d.prefix[at + 4] | d.prefix[at + 5] << 8 | d.prefix[at + 6] << 16 |
                                          static_cast<std::uint32_t>(d.prefix[at + 7]) << 24;
                sent.push_back({loc, d.prefix[at + 9], Bytes(d.payload.begin(), d.payload.end())});
            }
            if (step.kind != CursorStep::Kind::send) return step.kind;
        }
        ADD_FAILURE() << "cursor never waits";
        return CursorStep::Kind::wait;
    }
    std::size_t limit(std::size_t more) { return more == 1'000'000 ? SIZE_MAX : base + more; }
    void read_some(const MountState& m, std::size_t n) {
        base = sent.size();
        read(m, n);
    }

    ClientCursor cursor;
    CursorStep step;
    std::vector<Sent> sent;
    std::vector<Bytes> control;
    std::vector<std::size_t> control_at;  // how many $D had been sent when each control frame came
    std::size_t skips = 0, base = 0;
};

// LocationIds strictly increase and the $D sequence (AFFlags) counts without gaps.
void expect_forward_only(const std::vector<Sent>& sent) {
    for (std::size_t i = 1; i < sent.size(); ++i) {
        ASSERT_GT(sent[i].location_id, sent[i - 1].location_id) << "at $D " << i;
        ASSERT_EQ(sent[i].afflags, static_cast<std::uint8_t>(sent[i - 1].afflags + 1)) << "at $D " << i;
    }
}

bool starts_with_key_frame(const Bytes& wire, std::uint32_t packet_size, int stream = 1) {
    const auto pi = asfmux::parse_wire_packet(wire, packet_size);
    for (const auto& p : pi.payloads)
        if (p.stream == stream) return p.keyframe && p.offset == 0;
    return false;
}

TEST(ClientCursor, LateJoinerStartsAtTheNewestKeyFrameAndGetsEveryPacketOnce) {
    Broadcast b(50);  // a key frame every 2 s
    b.advance(5.0);
    Client c(b);
    EXPECT_EQ(c.read(b.mount), CursorStep::Kind::wait);
    ASSERT_FALSE(c.sent.empty());
    EXPECT_TRUE(starts_with_key_frame(c.sent.front().payload, b.packet_size()));
    EXPECT_EQ(c.sent.front().afflags, 0);
    EXPECT_EQ(c.sent.back().location_id, b.newest_location());
    // The wire form: the muxer's bytes, no padding, no Padding Length field (MS-WMSP 2.2.3.3).
    for (const auto& s : c.sent) {
        EXPECT_EQ(s.payload[3] & 0x78, 0);
        EXPECT_EQ(asfmux::parse_wire_packet(s.payload, b.packet_size()).padding, 0u);
    }
    for (int i = 0; i < 20; ++i) {
        b.advance(0.1);
        c.read(b.mount);
    }
    expect_forward_only(c.sent);
    EXPECT_EQ(c.sent.back().location_id, b.newest_location());
    EXPECT_EQ(c.cursor.lag_skips(), 0u);
    EXPECT_TRUE(c.cursor.at_live_edge());
}

TEST(ClientCursor, KeyFramesTenSecondsApartDoNotMakeAHealthyClientLag) {
    // Key frames 10 s apart, max_lag_ms 4000: a client joining 9 s after the last key frame
    // starts 9 s behind the live edge; it catches up and is never skipped back, repeated or
    // disconnected (with either policy).
    for (bool disconnect : {false, true}) {
        Broadcast b(250);
        b.advance(19.0);  // key frames at 0 and 10 s
        CursorConfig cc;
        cc.max_lag_ms = 4000;
        cc.disconnect_on_lag = disconnect;
        Client c(b, cc);
        // The first batches: the client is 9 s behind, no newer start point: not lagging.
        c.read_some(b.mount, 8);
        EXPECT_FALSE(c.cursor.lagging(b.mount));
        EXPECT_TRUE(starts_with_key_frame(c.sent.front().payload, b.packet_size()));
        // Then it reads faster than the stream, which goes on in real time across the next key frames.
        for (int i = 0; i < 300; ++i) {
            b.advance(0.1);
            EXPECT_NE(c.read(b.mount), CursorStep::Kind::disconnect);
        }
        expect_forward_only(c.sent);
        EXPECT_EQ(c.skips, 0u);
        EXPECT_EQ(c.sent.back().location_id, b.newest_location());
    }
}

TEST(ClientCursor, ClientSlowerThanTheStreamSkipsForwardToKeyFrames) {
    Broadcast b(50);
    b.advance(2.1);
    CursorConfig cc;
    cc.max_lag_ms = 4000;
    Client c(b, cc);
    c.read(b.mount);
    // The client writes one batch (at most 8 packets) a second: slower than the stream.
    for (int i = 0; i < 400; ++i) {
        b.advance(0.1);
        if (i % 10) continue;
        c.read_some(b.mount, 1);
        if (c.step.skipped) {
            // After a skip, the next packet sent starts with a key frame.
            ASSERT_FALSE(c.sent.empty());
            const Sent& first = c.sent[c.base];
            EXPECT_TRUE(starts_with_key_frame(first.payload, b.packet_size()));
        }
    }
    expect_forward_only(c.sent);
    EXPECT_GT(c.cursor.lag_skips(), 3u);
    // Lag stays bounded: never much more than max_lag + one GOP behind.
    EXPECT_LT(b.newest_location() - c.sent.back().location_id, 2000u);

    // With the disconnect policy, the same client is let go.
    Broadcast b2(50);
    b2.advance(2.1);
    cc.disconnect_on_lag = true;
    Client d(b2, cc);
    d.read(b2.mount);
    CursorStep::Kind last = CursorStep::Kind::wait;
    for (int i = 0; i < 400 && last != CursorStep::Kind::disconnect; ++i) {
        b2.advance(0.1);
        if (i % 10) continue;
        d.base = d.sent.size();
        last = d.read(b2.mount, 1);
    }
    EXPECT_EQ(last, CursorStep::Kind::disconnect);
    EXPECT_EQ(d.step.reason, "fell behind the live stream");
}

TEST(ClientCursor, ClientThatFellOutOfTheRingResumesForward) {
    Broadcast b(25, 1, 64);  // a small ring
    b.advance(1.0);
    Client c(b);
    c.read_some(b.mount, 2);
    const auto before = c.sent.back().location_id;
    b.advance(6.0);  // far more than 64 packets
    EXPECT_TRUE(c.cursor.lagging(b.mount));
    c.read(b.mount);
    expect_forward_only(c.sent);
    EXPECT_GT(c.sent.back().location_id, before);
    EXPECT_EQ(c.cursor.lag_skips(), 1u);
    // The first packet after the jump starts with a key frame.
    for (std::size_t i = 1; i < c.sent.size(); ++i)
        if (c.sent[i].location_id != c.sent[i - 1].location_id + 1) {
            EXPECT_TRUE(starts_with_key_frame(c.sent[i].payload, b.packet_size()));
        }
}

TEST(ClientCursor, HeaderChangeSendsStreamChangeThenTheNewHeader) {
    Broadcast b(25);
    b.advance(2.0);
    Client c(b);
    c.read(b.mount);
    const std::size_t before = c.sent.size();
    b.new_header(40);  // a longer title: another header
    b.advance(2.0);
    c.read(b.mount);
    ASSERT_EQ(c.control.size(), 1u);
    const auto change = stream_change_packet(0);
    const Bytes& ctl = c.control[0];
    ASSERT_GE(ctl.size(), change.size() + b.mount.header_frames.size());
    // MS-WMSP 3.2.4.2: $C, then the new header's $H packets, before any packet of the new header.
    EXPECT_EQ(Bytes(ctl.begin(), ctl.begin() + 8), Bytes(change.begin(), change.end()));
    EXPECT_EQ(Bytes(ctl.begin() + 8, ctl.end()), b.mount.header_frames);
    ASSERT_GT(c.sent.size(), before);
    EXPECT_TRUE(starts_with_key_frame(c.sent[before].payload, b.packet_size()));
    // AFFlags keep counting across the change.
    EXPECT_EQ(c.sent[before].afflags, static_cast<std::uint8_t>(c.sent[before - 1].afflags + 1));
}

// MS-WMSP 3.2.4.2: the $C marks where the new entry begins, so a client first gets the packets of
// the old header it has not been sent yet; none is lost, none of the new header comes before.
TEST(ClientCursor, PacketsOfTheOldHeaderNotYetSentGoBeforeTheStreamChange) {
    Broadcast b(25);
    b.advance(2.0);
    Client c(b);
    c.read(b.mount);
    b.advance(1.0);
    c.read_some(b.mount, 3);
    const std::size_t before = c.sent.size();
    const std::uint64_t unsent = b.mount.ring.next() - c.cursor.position();
    ASSERT_GT(unsent, 2u) << "the test wants old packets left to send";
    b.new_header(40);
    EXPECT_TRUE(c.cursor.draining(b.mount));
    b.advance(2.0);
    c.read(b.mount);
    EXPECT_FALSE(c.cursor.draining(b.mount));
    ASSERT_EQ(c.control.size(), 1u);
    EXPECT_EQ(c.control_at[0], before + unsent) << "every old packet, then $C";
    ASSERT_GT(c.sent.size(), c.control_at[0]);
    EXPECT_TRUE(starts_with_key_frame(c.sent[c.control_at[0]].payload, b.packet_size()))
        << "the new entry starts at a key frame of the new header";
    // The $D sequence counts on without a gap across the change.
    for (std::size_t i = before; i < c.sent.size(); ++i)
        EXPECT_EQ(c.sent[i].afflags, static_cast<std::uint8_t>(c.sent[i - 1].afflags + 1)) << "at $D " << i;
}

// A client that joins after the change but before the new header's first key frame waits for it:
// it never starts on a start point of the old header.
TEST(ClientCursor, AClientAfterAChangeStartsOnlyAtAStartPointOfTheNewHeader) {
    Broadcast b(25);
    b.advance(2.0);
    b.new_header(40);
    Client c(b);
    c.read(b.mount);
    EXPECT_TRUE(c.sent.empty()) << "nothing of the old header";
    b.advance(1.0);
    c.read(b.mount);
    ASSERT_FALSE(c.sent.empty());
    EXPECT_TRUE(starts_with_key_frame(c.sent[0].payload, b.packet_size()));
}

// A selection: stream number -> thinning level; the others off.
StreamSelection pick(std::initializer_list<std::pair<int, Thinning>> levels) {
    StreamSelection s;
    for (const auto& [stream, level] : levels) s.thinning[static_cast<std::size_t>(stream)] = level;
    return s;
}

TEST(ClientCursor, SelectionCutsStreamsAndANewVideoStreamStartsOnAKeyFrame) {
    Broadcast b(25, 2);  // MBR: video streams 1 and 2, audio 3
    b.advance(3.0);
    Client c(b, {}, pick({{1, Thinning::all}, {3, Thinning::all}}));
    c.read(b.mount);
    ASSERT_FALSE(c.sent.empty());
    for (const auto& s : c.sent)
        for (const auto& p : asfmux::parse_wire_packet(s.payload, b.packet_size()).payloads) EXPECT_NE(p.stream, 2);
    EXPECT_TRUE(starts_with_key_frame(c.sent.front().payload, b.packet_size(), 1));
    // Stream 2 on and stream 1 off, not as its replacement: nothing of stream 2 until its next
    // key frame, and stream 1 stops at once.
    b.advance(0.5);  // now mid-GOP
    c.cursor.select(pick({{2, Thinning::all}, {3, Thinning::all}}), b.mount);
    const std::size_t from = c.sent.size();
    b.advance(2.0);
    c.read(b.mount);
    bool seen2 = false;
    for (std::size_t i = from; i < c.sent.size(); ++i)
        for (const auto& p : asfmux::parse_wire_packet(c.sent[i].payload, b.packet_size()).payloads) {
            EXPECT_NE(p.stream, 1);
            if (p.stream == 2 && !seen2) {
                EXPECT_TRUE(p.keyframe);
                EXPECT_EQ(p.offset, 0u);
                seen2 = true;
            }
        }
    EXPECT_TRUE(seen2);
    expect_forward_only(c.sent);
}

TEST(ClientCursor, EndOfBroadcastAfterTheLastPacket) {
    Broadcast b(25);
    b.advance(1.0);
    Client c(b);
    b.mount.ended = true;
    EXPECT_EQ(c.read(b.mount), CursorStep::Kind::finish);
    EXPECT_EQ(c.sent.back().location_id, b.newest_location());
    const auto e = end_of_stream_packet(0);  // MS-WMSP 2.2.3.4: reason 0
    EXPECT_EQ(c.step.control, Bytes(e.begin(), e.end()));
}

TEST(ClientCursor, ChunkedFraming) {
    Broadcast b(25);
    b.advance(1.0);
    CursorConfig cc;
    cc.chunked = true;
    Client c(b, cc);
    c.cursor.next(b.mount, c.step);
    ASSERT_GT(c.step.data_count, 0u);
    const auto& d = c.step.data[0];
    const std::string line(reinterpret_cast<const char*>(d.prefix.data()), d.prefix_size - 12);
    EXPECT_EQ(line, fmt::format("{:x}\r\n", d.payload.size() + 12));
    EXPECT_TRUE(d.chunk_end);
    c.read(b.mount);
    b.mount.ended = true;
    EXPECT_EQ(c.read(b.mount), CursorStep::Kind::finish);
    const std::string tail(c.step.control.end() - 5, c.step.control.end());
    EXPECT_EQ(tail, "0\r\n\r\n");  // the last chunk
}

// What the client got of each stream, packet by packet (the payloads of its $D in order).
struct Seen {
    std::size_t packet;  // index into Client::sent
    asfmux::PayloadInfo payload;
};
std::vector<Seen> payloads_of(const Client& c, std::uint32_t packet_size, int stream, std::size_t from = 0) {
    std::vector<Seen> out;
    for (std::size_t i = from; i < c.sent.size(); ++i)
        for (const auto& p : asfmux::parse_wire_packet(c.sent[i].payload, packet_size).payloads)
            if (p.stream == stream) out.push_back({i, p});
    return out;
}

// MS-WMSP 3.2.5.7: a rendition replaced by another (SelectStream "1:2:0") goes on until the new
// one's first key-frame payload has been sent, in that very packet at the latest; the new one
// starts on that payload, within one key-frame interval; the audio goes on untouched.
TEST(ClientCursor, SwitchingRenditionsHappensAtTheNewRenditionsKeyFrame) {
    Broadcast b(25, 2);  // key frames every second (25 frames at 25 fps) in streams 1 and 2, audio 3
    b.advance(3.0);
    Client c(b, {}, pick({{1, Thinning::all}, {3, Thinning::all}}));
    c.read(b.mount);
    b.advance(0.3);  // mid-GOP
    c.read(b.mount);
    const std::size_t from = c.sent.size();
    const std::size_t audio_before = payloads_of(c, b.packet_size(), 3).size();
    StreamSelection to2 = pick({{2, Thinning::all}, {3, Thinning::all}});
    to2.replaces[2] = 1;
    c.cursor.select(to2, b.mount);
    EXPECT_TRUE(c.cursor.switching());
    b.advance(3.0);
    c.read(b.mount);
    EXPECT_FALSE(c.cursor.switching());
    expect_forward_only(c.sent);

    const auto new_stream = payloads_of(c, b.packet_size(), 2, from);
    const auto old_stream = payloads_of(c, b.packet_size(), 1, from);
    ASSERT_FALSE(new_stream.empty());
    const std::size_t switch_packet = new_stream.front().packet;
    EXPECT_TRUE(new_stream.front().payload.keyframe);
    EXPECT_EQ(new_stream.front().payload.offset, 0u);
    // The old rendition went on until then (0.7 s of frames), and not a packet further.
    ASSERT_FALSE(old_stream.empty());
    EXPECT_GT(old_stream.size(), 10u);
    EXPECT_LE(old_stream.back().packet, switch_packet);
    // The new rendition's first frame is the first key frame after the request: 0.7 s later
    // (presentation times include the 1000 ms preroll).
    EXPECT_EQ(new_stream.front().payload.pts_ms, 1000u + 4000u);
    // Every frame of stream 2 from then on: media object numbers without a gap, 4.0 s to 6.3 s.
    std::set<std::uint32_t> objects;
    for (const auto& s : new_stream) objects.insert(s.payload.object_number);
    EXPECT_EQ(objects.size(), *objects.rbegin() - *objects.begin() + 1);
    EXPECT_GE(objects.size(), 57u);
    // The audio kept going: every audio object after the switch too.
    EXPECT_GT(payloads_of(c, b.packet_size(), 3).size(), audio_before + 50);
}

// MS-WMSP 2.2.1.4.27 thinning level 1: only key-frame media objects of the stream, whole.
TEST(ClientCursor, ThinningLevelOneSendsOnlyKeyFramePayloads) {
    Broadcast b(25, 1);  // video 1, audio 2
    b.advance(1.5);
    Client c(b, {}, pick({{1, Thinning::key_frames}, {2, Thinning::all}}));
    c.read(b.mount);
    for (int i = 0; i < 40; ++i) {
        b.advance(0.1);
        c.read(b.mount);
    }
    const auto video = payloads_of(c, b.packet_size(), 1);
    ASSERT_FALSE(video.empty());
    std::map<std::uint32_t, std::uint32_t> bytes_per_object;
    for (const auto& s : video) {
        EXPECT_TRUE(s.payload.keyframe) << "object " << s.payload.object_number;
        bytes_per_object[s.payload.object_number] += s.payload.length;
    }
    // One key frame a second from the start point on, each whole (3000 bytes): 5.5 s of media.
    std::set<std::uint32_t> key_times;
    for (const auto& s : video) key_times.insert(s.payload.pts_ms);
    EXPECT_EQ(bytes_per_object.size(), key_times.size());
    EXPECT_EQ(key_times.size(), (*key_times.rbegin() - *key_times.begin()) / 1000 + 1);
    EXPECT_GE(key_times.size(), 5u);
    for (const auto& [object, bytes] : bytes_per_object) EXPECT_EQ(bytes, 3000u) << "object " << object;
    EXPECT_GT(payloads_of(c, b.packet_size(), 2).size(), 80u);  // the audio is whole

    // Back to level 0: key frames only until the next one, then every frame.
    const std::size_t from = c.sent.size();
    c.cursor.select(pick({{1, Thinning::all}, {2, Thinning::all}}), b.mount);
    b.advance(2.0);
    c.read(b.mount);
    const auto after = payloads_of(c, b.packet_size(), 1, from);
    ASSERT_FALSE(after.empty());
    EXPECT_TRUE(after.front().payload.keyframe);
    EXPECT_EQ(after.front().payload.offset, 0u);
    std::size_t delta_frames = 0;
    for (const auto& s : after) delta_frames += !s.payload.keyframe;
    EXPECT_GE(delta_frames, 24u);  // the 24 frames after the key frame at 6 s
}

// Thinning level 2 ("off") stops a stream at once; the others go on.
TEST(ClientCursor, LevelTwoStopsAStream) {
    Broadcast b(25, 2);  // video 1, 2; audio 3
    b.advance(2.0);
    Client c(b, {}, StreamSelection::everything());
    c.read(b.mount);
    const std::size_t from = c.sent.size();
    // "ffff:1:2": stream 1 off; 2 and 3 as they were.
    c.cursor.select(pick({{2, Thinning::all}, {3, Thinning::all}}), b.mount);
    b.advance(2.0);
    c.read(b.mount);
    EXPECT_TRUE(payloads_of(c, b.packet_size(), 1, from).empty());
    EXPECT_GT(payloads_of(c, b.packet_size(), 2, from).size(), 50u);
    EXPECT_GT(payloads_of(c, b.packet_size(), 3, from).size(), 40u);
    // The audio off too: only stream 2 is left.
    const std::size_t from2 = c.sent.size();
    c.cursor.select(pick({{2, Thinning::all}}), b.mount);
    b.advance(1.0);
    c.read(b.mount);
    EXPECT_TRUE(payloads_of(c, b.packet_size(), 3, from2).empty());
    EXPECT_GT(payloads_of(c, b.packet_size(), 2, from2).size(), 25u);
    // The audio back on: from the next media object.
    const std::size_t from3 = c.sent.size();
    c.cursor.select(pick({{2, Thinning::all}, {3, Thinning::all}}), b.mount);
    b.advance(1.0);
    c.read(b.mount);
    const auto audio = payloads_of(c, b.packet_size(), 3, from3);
    ASSERT_GT(audio.size(), 15u);
    EXPECT_EQ(audio.front().payload.offset, 0u);
    expect_forward_only(c.sent);
}

// Clients with the same selection share each filtered packet: made once, not per client.
TEST(ClientCursor, FilteredPacketsAreSharedBetweenClients) {
    Broadcast b(25, 2);
    b.advance(2.0);
    Client one(b, {}, pick({{2, Thinning::all}, {3, Thinning::all}}));
    Client two(b, {}, pick({{2, Thinning::all}, {3, Thinning::all}}));
    one.cursor.next(b.mount, one.step);
    two.cursor.next(b.mount, two.step);
    ASSERT_GT(one.step.data_count, 0u);
    ASSERT_EQ(one.step.data_count, two.step.data_count);
    for (std::size_t i = 0; i < one.step.data_count; ++i)
        EXPECT_EQ(one.step.data[i].payload.data(), two.step.data[i].payload.data());
}

// MS-WMSP 3.2.4.2: after a header change, a client without predstrm gets $C and the new $H, then
// no $D until its SelectStream picks the new entry's streams (3.2.5.7); with predstrm its
// selection goes on at once.
TEST(ClientCursor, WithoutPredstrmTheClientWaitsForSelectStreamAfterAHeaderChange) {
    for (bool predictive : {true, false}) {
        Broadcast b(25);  // video 1, audio 2
        b.advance(2.0);
        CursorConfig cc;
        cc.predictive_selection = predictive;
        Client c(b, cc, pick({{1, Thinning::all}, {2, Thinning::all}}));
        c.read(b.mount);
        const std::size_t before = c.sent.size();
        b.new_header(40);
        b.advance(2.0);
        c.read(b.mount);
        ASSERT_EQ(c.control.size(), 1u);  // $C + $H
        if (predictive) {
            EXPECT_GT(c.sent.size(), before);
            continue;
        }
        EXPECT_EQ(c.sent.size(), before) << "no $D before the SelectStream";
        EXPECT_TRUE(c.cursor.waiting_for_selection());
        c.cursor.select(pick({{1, Thinning::all}}), b.mount);  // the video only
        EXPECT_FALSE(c.cursor.waiting_for_selection());
        c.read(b.mount);
        ASSERT_GT(c.sent.size(), before);
        EXPECT_TRUE(starts_with_key_frame(c.sent[before].payload, b.packet_size()));
        EXPECT_TRUE(payloads_of(c, b.packet_size(), 2, before).empty());
    }
}

}  // namespace
}  // namespace asfcast::pull
