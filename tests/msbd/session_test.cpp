// MsbdSession: the MS-MSBD server role for one client, fed messages, the time and a stream of real
// muxed packets (HeaderBuilder + Packetizer), without sockets. What it writes is decoded with the
// message decoders and checked against MS-MSBD 3.1.5 and the 4.1 sequence.
#include "msbd_session.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "../asfmux/test_util.hpp"
#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/start_points.hpp"

namespace asfcast::msbd {
namespace {

constexpr Micros kSecond = 1'000'000;

// A live broadcast into a StreamState, as the server's network thread keeps it: 25 fps video
// with a key frame every `gop` frames (stream 1), audio every 46 ms (stream 2).
class Broadcast {
public:
    explicit Broadcast(int gop, std::size_t ring = 4096, std::uint32_t packet_size = 1400)
        : gop_(gop), stream(ring) {
        config_.packet_size = packet_size;
        config_.preroll_ms = 1000;
        streams_.video.push_back(testutil::test_video());
        AudioStreamFormat a = testutil::test_audio();
        a.stream = 2;
        a.avg_bytes_per_sec = 8000;
        a.block_align = 372;
        streams_.audio.push_back(a);
    }

    void new_header() {
        asfmux::HeaderBuilder b(config_, streams_, {}, testutil::kFileId, 0);
        stream.set_header(std::make_shared<MuxedHeader>(b.build_live()));
        packetizer_ = std::make_unique<asfmux::Packetizer>(config_, streams_);
    }

    // The frames of the next `seconds` of media into the ring; returns the packets made.
    std::size_t advance(double seconds) {
        const Micros until = media_ + static_cast<Micros>(seconds * 1e6);
        std::vector<DataPacket> out;
        while (media_ < until) {
            const Micros next_video = frames_ * 40'000, next_audio = audio_frames_ * 46'000;
            if (next_video <= next_audio) {
                const bool key = frames_ % gop_ == 0;
                packetizer_->add(EncodedFrame{1, MediaKind::video, next_video, next_video, key, Bytes(key ? 3000 : 400, 1)},
                                 next_video, out);
                ++frames_;
                media_ = next_video;
            } else {
                packetizer_->add(EncodedFrame{2, MediaKind::audio, next_audio, next_audio, false, Bytes(372, 0xA0)},
                                 next_audio, out);
                ++audio_frames_;
                media_ = next_audio;
            }
        }
        packetizer_->flush(out);
        for (auto& p : out) {
            const StartPoint sp = start_point_of(p, *stream.header);
            stream.ring.push(std::make_shared<const DataPacket>(std::move(p)), sp);
        }
        return out.size();
    }

private:
    int gop_;
    asfmux::MuxConfig config_;
    asfmux::StreamSet streams_;
    std::unique_ptr<asfmux::Packetizer> packetizer_;
    Micros media_ = 0;
    std::int64_t frames_ = 0, audio_frames_ = 0;

public:
    StreamState stream;
};

MsbdMessage msg(MessageId id) {
    MsbdMessage m;
    m.version = kVersion;
    m.id = id;
    return m;
}

MsbdMessage connect_msg(std::uint32_t flags, std::string_view channel = "NetShow") {
    const Bytes wire = connect_request(flags, channel);
    MsbdMessage m = msg(MessageId::req_connect);
    m.body.assign(wire.begin() + kHeaderSize, wire.end());
    return m;
}

struct Packet {
    std::uint32_t id;
    std::uint16_t stream_id;
    Bytes payload;
};

// A client of the session: takes its steps and decodes what it would have received.
struct Client {
    explicit Client(SessionConfig c = {}, Micros now = 0) : session(c, now) {}

    // Takes steps until the session waits or closes (at most `max_packets` more IND_PACKETs).
    SessionStep::Kind read(const StreamState& s, Micros now, std::size_t max_packets = SIZE_MAX) {
        const std::size_t stop = max_packets == SIZE_MAX ? SIZE_MAX : packets.size() + max_packets;
        for (int guard = 0; guard < 100'000; ++guard) {
            if (packets.size() >= stop) return SessionStep::Kind::send;
            session.next(s, step, now);
            if (step.skipped) {
                ++skips;
                skipped_at = packets.size();
            }
            if (step.kind != SessionStep::Kind::send) {
                last_close = step.close_kind;
                return step.kind;
            }
            reader.feed(step.control);
            MsbdMessage m;
            while (reader.next(m) == MsbdMessageReader::Status::message) control.push_back(m);
            EXPECT_FALSE(reader.failed()) << reader.error();
            for (std::size_t i = 0; i < step.data_count; ++i) {
                const auto& d = step.data[i];
                Bytes wire(d.prefix.begin(), d.prefix.end());
                wire.insert(wire.end(), d.payload.begin(), d.payload.end());
                reader.feed(wire);
                EXPECT_EQ(reader.next(m), MsbdMessageReader::Status::message) << reader.error();
                const PacketMessage p = parse_packet_message(m);
                packets.push_back({p.packet_id, p.stream_id, Bytes(p.payload.begin(), p.payload.end())});
            }
            if (step.close_after) {
                last_close = step.close_kind;
                return SessionStep::Kind::close;
            }
        }
        ADD_FAILURE() << "the session never waits";
        return SessionStep::Kind::wait;
    }

    std::vector<MessageId> control_ids() const {
        std::vector<MessageId> ids;
        for (const auto& m : control) ids.push_back(m.id);
        return ids;
    }

    MsbdSession session;
    SessionStep step;
    MsbdMessageReader reader;
    std::vector<MsbdMessage> control;
    std::vector<Packet> packets;
    std::size_t skips = 0;
    std::size_t skipped_at = 0;  // index of the first packet after the last skip
    SessionStep::CloseKind last_close = SessionStep::CloseKind::normal;
};

bool starts_with_key_frame(const Bytes& file_form, std::uint32_t packet_size) {
    const auto pi = asfmux::parse_packet(file_form, packet_size);
    for (const auto& p : pi.payloads)
        if (p.stream == 1) return p.keyframe && p.offset == 0;
    return false;
}

// dwPacketId counts from 0 without gaps (2.2.10), every packet carries the stream's wStreamId.
void expect_consecutive(const std::vector<Packet>& packets, std::uint16_t stream_id) {
    for (std::size_t i = 0; i < packets.size(); ++i) {
        ASSERT_EQ(packets[i].id, i) << "IND_PACKET " << i;
        ASSERT_EQ(packets[i].stream_id, stream_id) << "IND_PACKET " << i;
    }
}

TEST(MsbdSession, GeneralSequenceOfSection41) {
    Broadcast b(50);
    b.new_header();
    b.advance(5.0);
    Client c;
    EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::wait);
    EXPECT_TRUE(c.control.empty());  // 3.1.3: nothing before REQ_CONNECT
    EXPECT_TRUE(c.packets.empty());

    c.session.on_message(connect_msg(kConnectOverTcp), kSecond);
    EXPECT_EQ(c.read(b.stream, kSecond), SessionStep::Kind::wait);
    // 3.1.5.1: RES_CONNECT (hr 0) followed by IND_STREAMINFO.
    ASSERT_EQ(c.control_ids(), (std::vector{MessageId::res_connect, MessageId::ind_streaminfo}));
    EXPECT_EQ(c.control[0].hr, hresult::ok);
    const ConnectResponse rc = parse_connect_response(c.control[0]);
    EXPECT_EQ(rc.flags, 0u);
    EXPECT_EQ(rc.sin_family, 0);
    const StreamInfo si = parse_stream_info(c.control[1]);
    const MuxedHeader& h = *b.stream.header;
    EXPECT_EQ(si.header, h.bytes);  // Header Object + 50 bytes of the Data Object
    EXPECT_EQ(si.packet_size, h.packet_size);
    EXPECT_EQ(si.bit_rate, h.max_bitrate);  // File Properties Maximum Bitrate
    EXPECT_GT(si.bit_rate, 0u);
    EXPECT_EQ(si.duration_ms, kUnknownDuration);  // live: not known
    EXPECT_EQ(si.total_packets, 0u);
    EXPECT_EQ(si.stream_id, b.stream.stream_id);
    EXPECT_EQ(c.session.channel(), "NetShow");
    // 2.2.10: one whole ASF packet per IND_PACKET, in its file form (padding kept), from a key frame.
    ASSERT_FALSE(c.packets.empty());
    EXPECT_TRUE(starts_with_key_frame(c.packets.front().payload, h.packet_size));
    expect_consecutive(c.packets, si.stream_id);
    for (const auto& p : c.packets) ASSERT_EQ(p.payload.size(), h.packet_size);
    const std::size_t padded = static_cast<std::size_t>(std::count_if(c.packets.begin(), c.packets.end(), [&](const Packet& p) {
        return asfmux::parse_packet(p.payload, h.packet_size).padding > 0;
    }));
    EXPECT_GT(padded, 0u);  // some packets carry padding, and it is sent

    // More packets, then the end: IND_EOS and the empty IND_STREAMINFO (3.1.5.3).
    b.advance(1.0);
    c.control.clear();
    c.read(b.stream, 2 * kSecond);
    EXPECT_TRUE(c.control.empty());
    b.stream.ended = true;
    EXPECT_EQ(c.read(b.stream, 3 * kSecond), SessionStep::Kind::wait);
    ASSERT_EQ(c.control_ids(), (std::vector{MessageId::ind_eos, MessageId::ind_streaminfo}));
    EXPECT_EQ(c.control[1].hr, hresult::no_more_streams);
    const StreamInfo empty = parse_stream_info(c.control[1]);
    EXPECT_EQ(empty.header.size() + empty.title.size() + empty.description.size() + empty.link.size(), 0u);
    EXPECT_EQ(empty.stream_id, 0);
    EXPECT_EQ(empty.bit_rate, 0u);
    EXPECT_EQ(c.session.phase(), MsbdSession::Phase::ended);
    expect_consecutive(c.packets, si.stream_id);
    EXPECT_EQ(c.packets.size(), c.session.packets_sent());
    // 4.1: the client closes; one that does not is closed after the linger time.
    EXPECT_FALSE(c.session.on_time(3 * kSecond + 2'900'000));
    EXPECT_TRUE(c.session.on_time(3 * kSecond + 3'000'000));
    EXPECT_EQ(c.read(b.stream, 6 * kSecond), SessionStep::Kind::close);
    EXPECT_EQ(c.last_close, SessionStep::CloseKind::normal);
}

TEST(MsbdSession, ConnectWaitsForTheHeaderSoStreamInfoFollowsAtOnce) {
    Broadcast b(25);
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::wait);
    EXPECT_TRUE(c.control.empty());
    EXPECT_EQ(c.session.phase(), MsbdSession::Phase::accepted);
    b.new_header();
    b.advance(1.0);
    c.read(b.stream, kSecond);
    ASSERT_EQ(c.control_ids(), (std::vector{MessageId::res_connect, MessageId::ind_streaminfo}));
    EXPECT_FALSE(c.packets.empty());
}

TEST(MsbdSession, RefusesMulticastAndMalformedConnectRequests) {
    Broadcast b(25);
    b.new_header();
    b.advance(1.0);
    struct Case {
        MsbdMessage request;
        std::uint32_t hr;
    };
    MsbdMessage odd = connect_msg(kConnectOverTcp);
    odd.body.push_back(0x41);  // szChannel of 15 bytes
    for (const Case& k : {Case{connect_msg(kConnectMulticast), hresult::multicast_not_offered},
                          Case{connect_msg(0x0004), hresult::invalid_argument},
                          Case{connect_msg(0), hresult::invalid_argument}, Case{odd, hresult::invalid_argument}}) {
        Client c;
        c.session.on_message(k.request, 0);
        // 3.1.5.1: RES_CONNECT with a failure hr, then the connection closes; no stream.
        EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::close);
        EXPECT_EQ(c.last_close, SessionStep::CloseKind::refused);
        ASSERT_EQ(c.control_ids(), std::vector{MessageId::res_connect});
        EXPECT_EQ(c.control[0].hr, k.hr);
        EXPECT_TRUE(hresult::failed(c.control[0].hr));
        EXPECT_TRUE(c.packets.empty());
        EXPECT_NE(c.session.close_reason().find("refused"), std::string::npos);
    }
    // Any channel name is served (szChannel SHOULD be "NetShow").
    Client other;
    other.session.on_message(connect_msg(kConnectOverTcp, "Studio B"), 0);
    other.read(b.stream, 0);
    ASSERT_FALSE(other.control.empty());
    EXPECT_EQ(other.control[0].hr, hresult::ok);
    EXPECT_EQ(other.session.channel(), "Studio B");
}

TEST(MsbdSession, MessagesOutOfSequenceCloseWithoutAnAnswer) {
    Broadcast b(25);
    b.new_header();
    b.advance(1.0);
    for (MessageId first : {MessageId::res_ping, MessageId::req_streaminfo, MessageId::req_ping}) {
        Client c;
        c.session.on_message(msg(first), 0);  // before REQ_CONNECT (3.1.3)
        EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::close);
        EXPECT_EQ(c.last_close, SessionStep::CloseKind::protocol_error);
        EXPECT_TRUE(c.control.empty());
    }
    for (MessageId server_only : {MessageId::res_connect, MessageId::ind_packet, MessageId::ind_eos,
                                  MessageId::ind_streaminfo, MessageId::res_streaminfo}) {
        Client c;
        c.session.on_message(connect_msg(kConnectOverTcp), 0);
        c.read(b.stream, 0);
        const std::size_t before = c.packets.size();
        c.session.on_message(msg(server_only), 0);
        EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::close);
        EXPECT_EQ(c.last_close, SessionStep::CloseKind::protocol_error);
        EXPECT_EQ(c.packets.size(), before);
        EXPECT_NE(c.session.close_reason().find("only a server sends"), std::string::npos);
    }
    Client twice;
    twice.session.on_message(connect_msg(kConnectOverTcp), 0);
    twice.session.on_message(connect_msg(kConnectOverTcp), 0);
    EXPECT_EQ(twice.read(b.stream, 0), SessionStep::Kind::close);
    EXPECT_NE(twice.session.close_reason().find("second MSB_MSG_REQ_CONNECT"), std::string::npos);

    Client trailing;  // a header-only message with a body
    trailing.session.on_message(connect_msg(kConnectOverTcp), 0);
    MsbdMessage bad = msg(MessageId::res_ping);
    bad.body = {0};
    trailing.session.on_message(bad, 0);
    EXPECT_EQ(trailing.read(b.stream, 0), SessionStep::Kind::close);
    EXPECT_EQ(trailing.last_close, SessionStep::CloseKind::protocol_error);
}

TEST(MsbdSession, NoConnectRequestInTimeCloses) {
    SessionConfig cfg;
    cfg.connect_timeout_ms = 2000;
    Client c(cfg, 0);
    EXPECT_FALSE(c.session.on_time(1'999'000));
    EXPECT_TRUE(c.session.on_time(2'000'000));
    Broadcast b(25);
    EXPECT_EQ(c.read(b.stream, 2'000'000), SessionStep::Kind::close);
    EXPECT_EQ(c.last_close, SessionStep::CloseKind::connect_timeout);
}

TEST(MsbdSession, StreamInfoRequestIsAnsweredWithTheCurrentStream) {
    Broadcast b(25);
    b.new_header();
    b.advance(2.0);
    Client c;
    // An old client sends REQ_STREAMINFO right after REQ_CONNECT (2.2.4).
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    c.session.on_message(msg(MessageId::req_streaminfo), 0);
    c.read(b.stream, 0);
    ASSERT_EQ(c.control_ids(), (std::vector{MessageId::res_connect, MessageId::ind_streaminfo, MessageId::res_streaminfo}));
    // 2.2.5: identical to IND_STREAMINFO but for wMessageId.
    EXPECT_EQ(c.control[2].body, c.control[1].body);
    // After the end: there is no current stream; the empty RES_STREAMINFO.
    b.stream.ended = true;
    c.read(b.stream, 0);
    c.control.clear();
    c.session.on_message(msg(MessageId::req_streaminfo), 0);
    c.read(b.stream, 0);
    ASSERT_EQ(c.control_ids(), std::vector{MessageId::res_streaminfo});
    EXPECT_EQ(c.control[0].hr, hresult::no_more_streams);
    // A client that sends requests faster than it reads the answers is closed.
    Client flood;
    flood.session.on_message(connect_msg(kConnectOverTcp), 0);
    for (int i = 0; i <= MsbdSession::kMaxOwedAnswers; ++i) flood.session.on_message(msg(MessageId::req_streaminfo), 0);
    EXPECT_EQ(flood.read(b.stream, 0), SessionStep::Kind::close);
}

TEST(MsbdSession, PingsOnTheTimerAndClosesWhenUnanswered) {
    SessionConfig cfg;
    cfg.connect_timeout_ms = 60'000;
    cfg.ping_interval_ms = 10'000;
    cfg.ping_timeout_ms = 5'000;
    Broadcast b(25);
    b.new_header();
    b.advance(1.0);
    Client c(cfg, 0);
    // 3.1.3: the ping timer does not run before the connection is accepted.
    EXPECT_FALSE(c.session.on_time(20 * kSecond));
    c.session.on_message(connect_msg(kConnectOverTcp), 20 * kSecond);
    c.read(b.stream, 20 * kSecond);  // RES_CONNECT at 20 s starts the timer
    c.control.clear();
    EXPECT_FALSE(c.session.on_time(29 * kSecond));
    EXPECT_TRUE(c.session.on_time(30 * kSecond));
    c.read(b.stream, 30 * kSecond);
    ASSERT_EQ(c.control_ids(), std::vector{MessageId::req_ping});
    EXPECT_EQ(c.session.pings_sent(), 1u);
    // Answered: the next one an interval after the answer.
    c.session.on_message(msg(MessageId::res_ping), 31 * kSecond);
    EXPECT_EQ(c.session.pings_answered(), 1u);
    EXPECT_FALSE(c.session.on_time(40 * kSecond));
    EXPECT_TRUE(c.session.on_time(41 * kSecond));
    c.control.clear();
    c.read(b.stream, 41 * kSecond);
    ASSERT_EQ(c.control_ids(), std::vector{MessageId::req_ping});
    // 3.1.6: not answered within the timeout: the session ends.
    EXPECT_FALSE(c.session.on_time(45 * kSecond));
    EXPECT_TRUE(c.session.on_time(46 * kSecond));
    EXPECT_EQ(c.read(b.stream, 46 * kSecond), SessionStep::Kind::close);
    EXPECT_EQ(c.last_close, SessionStep::CloseKind::ping_timeout);
    // A client's own REQ_PING is answered.
    Client p;
    p.session.on_message(connect_msg(kConnectOverTcp), 0);
    p.read(b.stream, 0);
    p.control.clear();
    p.session.on_message(msg(MessageId::req_ping), 0);
    p.read(b.stream, 0);
    EXPECT_EQ(p.control_ids(), std::vector{MessageId::res_ping});
}

TEST(MsbdSession, LateJoinerStartsAtTheNewestKeyFrame) {
    Broadcast b(50);  // key frames every 2 s
    b.new_header();
    b.advance(7.0);
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    c.read(b.stream, 0);
    ASSERT_FALSE(c.packets.empty());
    EXPECT_TRUE(starts_with_key_frame(c.packets.front().payload, 1400));
    const auto start = b.stream.ring.newest_start_for(video_streams_taken(*b.stream.header));
    ASSERT_TRUE(start);
    EXPECT_EQ(c.packets.size(), b.stream.ring.next() - *start);  // from the newest start to the live edge
    EXPECT_EQ(c.packets.back().payload, (*b.stream.ring.at(b.stream.ring.next() - 1))->bytes);
}

TEST(MsbdSession, ASlowClientSkipsForwardOrIsDisconnected) {
    for (bool disconnect : {false, true}) {
        SessionConfig cfg;
        cfg.max_lag_ms = 3000;
        cfg.disconnect_on_lag = disconnect;
        Broadcast b(25);  // key frames every second
        b.new_header();
        b.advance(1.0);
        Client c(cfg);
        c.session.on_message(connect_msg(kConnectOverTcp), 0);
        c.read(b.stream, 0, 4);  // then reads nothing while 6 s go by
        b.advance(6.0);
        EXPECT_TRUE(c.session.lagging(b.stream));
        const auto kind = c.read(b.stream, kSecond);
        if (disconnect) {
            EXPECT_EQ(kind, SessionStep::Kind::close);
            EXPECT_EQ(c.last_close, SessionStep::CloseKind::lagged);
            continue;
        }
        EXPECT_EQ(c.skips, 1u);
        EXPECT_EQ(c.session.lag_skips(), 1u);
        // Forward to the newest key frame; dwPacketId stays consecutive (2.2.10).
        expect_consecutive(c.packets, b.stream.stream_id);
        ASSERT_LT(c.skipped_at, c.packets.size());
        EXPECT_GT(c.skipped_at, 0u);
        EXPECT_TRUE(starts_with_key_frame(c.packets[c.skipped_at].payload, 1400));
        const auto newest = b.stream.ring.newest_start_for(video_streams_taken(*b.stream.header));
        ASSERT_TRUE(newest);
        EXPECT_EQ(c.packets[c.skipped_at].payload, (*b.stream.ring.at(*newest))->bytes);
        EXPECT_EQ(c.packets.back().payload, (*b.stream.ring.at(b.stream.ring.next() - 1))->bytes);
        EXPECT_FALSE(c.session.lagging(b.stream));
    }
}

TEST(MsbdSession, ANewHeaderEndsTheStreamAndStartsTheNextWithANewStreamId) {
    Broadcast b(25);
    b.new_header();
    b.advance(1.0);
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    c.read(b.stream, 0);
    const std::uint16_t first_id = b.stream.stream_id;
    const std::size_t first_packets = c.packets.size();
    c.control.clear();
    b.new_header();  // a playlist entry change (4.2)
    b.advance(1.0);
    c.read(b.stream, kSecond);
    // 3.1.5.3: IND_EOS, then the IND_STREAMINFO of the next stream, with its own wStreamId (2.2.6).
    ASSERT_EQ(c.control_ids(), (std::vector{MessageId::ind_eos, MessageId::ind_streaminfo}));
    const StreamInfo next = parse_stream_info(c.control[1]);
    EXPECT_NE(next.stream_id, first_id);
    EXPECT_EQ(next.header, b.stream.header->bytes);
    ASSERT_GT(c.packets.size(), first_packets);
    EXPECT_TRUE(starts_with_key_frame(c.packets[first_packets].payload, 1400));
    for (std::size_t i = 0; i < c.packets.size(); ++i) {
        EXPECT_EQ(c.packets[i].id, i);  // counts on across streams
        EXPECT_EQ(c.packets[i].stream_id, i < first_packets ? first_id : next.stream_id);
    }
}

TEST(MsbdSession, AHeaderMsbdCannotCarryIsRefused) {
    // 2.2.10: an ASF packet of 0xFFE8 bytes does not fit in IND_PACKET.
    Broadcast b(25, 64, 0xFFE8);
    b.new_header();
    EXPECT_NE(b.stream.unservable.find("MS-MSBD 2.2.10"), std::string::npos) << b.stream.unservable;
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    EXPECT_EQ(c.read(b.stream, 0), SessionStep::Kind::close);
    ASSERT_EQ(c.control_ids(), std::vector{MessageId::res_connect});
    EXPECT_EQ(c.control[0].hr, hresult::fail);
}

TEST(MsbdSession, AClientConnectingAfterTheEndGetsWhatIsLeftThenTheEnd) {
    Broadcast b(25);
    b.new_header();
    b.advance(2.0);
    b.stream.ended = true;
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    c.read(b.stream, 0);
    const auto ids = c.control_ids();
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(ids[0], MessageId::res_connect);
    EXPECT_EQ(ids[1], MessageId::ind_streaminfo);
    EXPECT_EQ(ids[2], MessageId::ind_eos);
    EXPECT_EQ(ids[3], MessageId::ind_streaminfo);
    EXPECT_FALSE(c.packets.empty());
    // No header at all before the end: refused.
    Broadcast none(25);
    none.stream.ended = true;
    Client d;
    d.session.on_message(connect_msg(kConnectOverTcp), 0);
    EXPECT_EQ(d.read(none.stream, 0), SessionStep::Kind::close);
    EXPECT_EQ(d.control[0].hr, hresult::fail);
}

TEST(MsbdSession, TheRingKeepsTheLagWindowAndTheNewestStartPoint) {
    Broadcast b(250);  // key frames 10 s apart
    b.new_header();
    b.advance(57.0);   // far more than the 6 s kept; the newest key frame is 7 s old
    const std::size_t before = b.stream.ring.size();
    b.stream.trim(6000);
    const auto& ring = b.stream.ring;
    const std::uint32_t newest = (*ring.at(ring.next() - 1))->send_time_ms;
    const std::uint32_t oldest = (*ring.at(ring.oldest()))->send_time_ms;
    const auto start = ring.newest_start_for(video_streams_taken(*b.stream.header));
    ASSERT_TRUE(start);
    // The newest start point (up to 10 s back) is kept even beyond the 6 s.
    EXPECT_LE(ring.oldest(), *start);
    EXPECT_LT(ring.size(), before);
    EXPECT_GT(newest - oldest, 6000u);
    EXPECT_LE(newest - oldest, 10'000u + 100);
    std::printf("ring: %zu packets before, %zu after (%u ms of the stream)\n", before, ring.size(), newest - oldest);
    // A client connecting now still starts at the key frame.
    Client c;
    c.session.on_message(connect_msg(kConnectOverTcp), 0);
    c.read(b.stream, 0);
    ASSERT_FALSE(c.packets.empty());
    EXPECT_TRUE(starts_with_key_frame(c.packets.front().payload, 1400));
}

}  // namespace
}  // namespace asfcast::msbd
