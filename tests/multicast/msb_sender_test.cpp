// MsbSender against MS-MSB: the MSB packet's fields (2.2.4), the error correction data and
// parity packets (2.2.2, 3.1.5.2, 3.1.5.3), the Beacon timer (2.2.3, 3.1.2, 3.1.3.2, 3.1.5.1), new
// streams (3.1.5.1), and losses rebuilt by the strict receiver written from the specification
// (msb_receiver.hpp, 3.2.5.3).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "../push/test_stream.hpp"
#include "asfcast/multicast/msb_sender.hpp"
#include "asfcast/multicast/nsc.hpp"
#include "msb_receiver.hpp"

namespace asfcast::multicast {
namespace {

using namespace std::chrono_literals;
using TimePoint = MsbSender::TimePoint;
const TimePoint t0 = TimePoint{} + 1000s;

struct Sent {
    DatagramKind kind;
    Bytes bytes;
    TimePoint at;
};

struct CollectingSink : DatagramSink {
    std::vector<Sent> sent;
    TimePoint now = t0;
    void send(const MsbDatagram& d) override {
        ASSERT_EQ(d.kind == DatagramKind::beacon, d.head.size() == 4);
        sent.push_back({d.kind, d.joined(), now});
    }
    std::size_t count(DatagramKind k) const {
        return static_cast<std::size_t>(std::count_if(sent.begin(), sent.end(), [&](const Sent& s) { return s.kind == k; }));
    }
};

std::uint32_t le32(const Bytes& b, std::size_t at) {
    return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (std::uint32_t{b[at + 3]} << 24);
}
std::uint16_t le16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8)); }

MsbSenderConfig config(int span) {
    MsbSenderConfig c;
    c.fec_span = span;
    c.fec_max_delay = 0ms;
    return c;
}

// The receiver's view of the .nsc file for these headers (what make_nsc would announce).
msbtest::ReceiverNsc receiver_nsc(const MsbSender& s, std::optional<std::uint32_t> default_ecc) {
    msbtest::ReceiverNsc n;
    n.group = "239.1.2.3";
    n.port = 1234;
    n.default_ecc = default_ecc;
    for (const auto& f : s.formats()) n.headers[f.format_id] = f.header->bytes;
    return n;
}

// What a receiver's buffer holds of a packet: its wire form padded back to the packet size, the
// error correction fields aside (they are the sender's, per MSB packet).
Bytes padded_body(ByteView asf, std::size_t packet_size) {
    Bytes b(asf.begin() + 3, asf.end());
    b.resize(packet_size - 3, 0);
    return b;
}

TEST(MsbSender, MsbPacketFieldsFollowTheSpecTables) {
    pushtest::TestStream ts(1400);
    const HeaderPtr h = ts.header();
    const auto packets = ts.packets(25);
    std::vector<Bytes> before;
    for (const auto& p : packets) before.push_back(p->bytes);

    MsbSender s(config(10), t0);
    CollectingSink sink;
    EXPECT_TRUE(s.on_header(h, t0, sink));
    for (const auto& p : packets) s.on_packet(*p, t0, sink);
    s.on_end(t0, sink);

    // 10 data, parity, 10 data, parity, 5 data, parity (the last packet ends the last cycle, 3.1.5.3).
    ASSERT_EQ(sink.sent.size(), 28u);
    const std::uint16_t format_id = format_id_for(h->bytes);
    ASSERT_EQ(s.formats().size(), 1u);
    EXPECT_EQ(s.formats()[0].format_id, format_id);
    std::size_t data = 0;
    int cycle = 0, number = 0;
    Bytes parity;
    std::size_t longest = 0;
    for (std::size_t i = 0; i < sink.sent.size(); ++i) {
        const Bytes& d = sink.sent[i].bytes;
        SCOPED_TRACE("datagram " + std::to_string(i));
        // 2.2.4: dwPacketID, wStreamID, wPacketSize = the whole MSB packet.
        ASSERT_GT(d.size(), 11u);
        EXPECT_EQ(le16(d, 6), d.size());
        const std::uint16_t sid = le16(d, 4);
        EXPECT_EQ(sid & 0x7FF, format_id) << "low 11 bits: the Format ID";
        EXPECT_EQ(sid & 0x7800, 0) << "bits 11-14 unused, zero";
        EXPECT_EQ(sid & 0x8000, 0) << "the first stream: toggle bit clear";
        if (sink.sent[i].kind == DatagramKind::data) {
            const auto& p = packets[data];
            const ByteView wire = p->wire_form();
            EXPECT_EQ(le32(d, 0), data) << "dwPacketID from 0, +1 per data packet";
            ++number;
            // ASF-notes 16.1 + 2.2.2: EC present with 2 data bytes, Opaque clear; Type 1, Number, Cycle.
            EXPECT_EQ(d[8], 0x82);
            EXPECT_EQ(d[9], 1 | (number << 4));
            EXPECT_EQ(d[10], cycle);
            // The rest is the muxer's wire form after its own 3 EC bytes, as it is.
            ASSERT_EQ(d.size(), 8 + wire.size());
            EXPECT_TRUE(std::equal(wire.begin() + 3, wire.end(), d.begin() + 11));
            // The shared packet was not touched.
            EXPECT_EQ(p->bytes, before[data]);
            if (parity.size() < wire.size() - 3) parity.resize(wire.size() - 3, 0);
            for (std::size_t k = 3; k < wire.size(); ++k) parity[k - 3] ^= wire[k];
            longest = std::max(longest, wire.size() - 3);
            ++data;
        } else {
            ASSERT_EQ(sink.sent[i].kind, DatagramKind::parity);
            EXPECT_EQ(le32(d, 0), data - 1) << "a parity packet repeats the previous dwPacketID";
            EXPECT_EQ(d[8], 0x92) << "EC present, Opaque Data Present, 2 data bytes";
            EXPECT_EQ(d[9], 2 | ((number + 1) << 4)) << "Type 2, Number span + 1";
            EXPECT_EQ(d[10], cycle);
            EXPECT_EQ(d.size(), 11 + longest) << "as large as the longest packet of the span";
            EXPECT_TRUE(std::equal(parity.begin(), parity.end(), d.begin() + 11)) << "the XOR of the span";
            ++cycle;
            number = 0;
            parity.clear();
            longest = 0;
        }
    }
    EXPECT_EQ(data, 25u);
    EXPECT_EQ(s.stats().parity_packets, 3u);
    EXPECT_EQ(s.stats().data_packets, 25u);
    EXPECT_EQ(s.stats().beacons, 0u);
    EXPECT_FALSE(s.deadline()) << "nothing follows the end";
}

TEST(MsbSender, WithoutErrorCorrectionTypeNumberCycleAreZeroAndNoParity) {
    pushtest::TestStream ts(1400);
    MsbSender s(config(0), t0);
    CollectingSink sink;
    s.on_header(ts.header(), t0, sink);
    for (const auto& p : ts.packets(23)) s.on_packet(*p, t0, sink);
    s.on_end(t0, sink);
    ASSERT_EQ(sink.sent.size(), 23u);
    for (std::size_t i = 0; i < sink.sent.size(); ++i) {
        const Bytes& d = sink.sent[i].bytes;
        EXPECT_EQ(le32(d, 0), i);
        EXPECT_EQ(d[8], 0x82);
        EXPECT_EQ(d[9], 0) << "2.2.2: Type and Number 0 without error correction";
        EXPECT_EQ(d[10], 0) << "Cycle 0";
    }
}

TEST(MsbSender, PacketsOfDifferentSizesAreZeroExtendedInTheParity) {
    pushtest::TestStream ts(1400);
    auto h = ts.header();
    // Wire forms of very different sizes: full packets and nearly empty ones.
    std::vector<DataPacket> packets;
    for (const auto& p : ts.packets(6)) packets.push_back(*p);
    MsbSender s(config(6), t0);
    CollectingSink sink;
    s.on_header(h, t0, sink);
    for (const auto& p : packets) s.on_packet(p, t0, sink);
    ASSERT_EQ(sink.sent.size(), 7u);
    std::size_t longest = 0, shortest = SIZE_MAX;
    for (const auto& p : packets) {
        longest = std::max(longest, p.wire_form().size());
        shortest = std::min(shortest, p.wire_form().size());
    }
    EXPECT_LT(shortest, longest);
    EXPECT_EQ(sink.sent.back().bytes.size(), 8 + longest);
    // Rebuild each packet from the other five and the parity: the lost packet comes back, zero-extended.
    for (std::size_t lost = 0; lost < packets.size(); ++lost) {
        Bytes x(sink.sent.back().bytes.begin() + 11, sink.sent.back().bytes.end());
        for (std::size_t i = 0; i < packets.size(); ++i) {
            if (i == lost) continue;
            const Bytes& d = sink.sent[i].bytes;
            for (std::size_t k = 11; k < d.size(); ++k) x[k - 11] ^= d[k];
        }
        const ByteView wire = packets[lost].wire_form();
        Bytes expect(wire.begin() + 3, wire.end());
        expect.resize(x.size(), 0);
        EXPECT_EQ(x, expect) << "packet " << lost;
    }
}

// Sends `n` packets of a stream through the sender and the strict receiver, dropping the
// datagrams `drop` says; returns the receiver.
struct LossRun {
    std::unique_ptr<msbtest::MsbReceiver> rx;
    std::vector<PacketPtr> packets;
    std::vector<msbtest::ReceivedPacket> received;
    std::size_t dropped_data = 0, dropped_parity = 0;
    std::uint32_t packet_size = 0;
};

template <typename Drop>
LossRun run_through_receiver(int span, std::size_t n, Drop drop, std::uint32_t packet_size = 1400) {
    pushtest::TestStream ts(packet_size);
    LossRun r;
    r.packet_size = packet_size;
    MsbSenderConfig c = config(span);
    MsbSender s(c, t0);
    CollectingSink sink;
    s.on_header(ts.header(), t0, sink);
    r.packets = ts.packets(n);
    for (const auto& p : r.packets) s.on_packet(*p, t0, sink);
    s.on_end(t0, sink);
    r.rx = std::make_unique<msbtest::MsbReceiver>(receiver_nsc(s, span ? std::optional<std::uint32_t>(span) : std::nullopt),
                                                  packet_size);
    for (std::size_t i = 0; i < sink.sent.size(); ++i) {
        const Bytes& d = sink.sent[i].bytes;
        if (drop(i, d)) {
            ++(sink.sent[i].kind == DatagramKind::parity ? r.dropped_parity : r.dropped_data);
            continue;
        }
        r.rx->on_datagram(d.data(), d.size(), 0.001 * static_cast<double>(i));
    }
    r.rx->finish();
    r.received = r.rx->take_packets();
    return r;
}

void expect_packets_match(const LossRun& r) {
    // Every packet the receiver hands out is the sent packet (as padded back by a player).
    for (const auto& p : r.received) {
        ASSERT_LT(p.packet_id, r.packets.size());
        const ByteView wire = r.packets[p.packet_id]->wire_form();
        EXPECT_EQ(padded_body(p.asf, r.packet_size), padded_body(wire, r.packet_size))
            << "packet " << p.packet_id << (p.rebuilt ? " (rebuilt)" : "");
    }
}

TEST(MsbSender, OneLossPerCycleIsRebuiltByTheReceiver) {
    // Cycle k loses its data packet at place k % 10 (first, middle, last of the span); one cycle
    // loses its parity packet instead (nothing to rebuild, nothing lost).
    const LossRun r = run_through_receiver(10, 200, [](std::size_t i, const Bytes&) {
        const std::size_t cycle = i / 11, place = i % 11;
        if (cycle == 7) return place == 10;  // the parity packet
        return place == cycle % 10;
    });
    for (const auto& v : r.rx->violations()) ADD_FAILURE() << v;
    const auto& c = r.rx->counts();
    EXPECT_EQ(r.dropped_data, 19u);
    EXPECT_EQ(r.dropped_parity, 1u);
    EXPECT_EQ(c.recovered, r.dropped_data);
    EXPECT_EQ(c.lost, 0u);
    ASSERT_EQ(r.received.size(), 200u);
    for (std::size_t i = 0; i < r.received.size(); ++i) EXPECT_EQ(r.received[i].packet_id, i);
    expect_packets_match(r);
    std::printf("[   INFO   ] 200 packets, %zu data + %zu parity datagrams dropped, %llu recovered, %llu lost\n",
                r.dropped_data, r.dropped_parity, static_cast<unsigned long long>(c.recovered),
                static_cast<unsigned long long>(c.lost));
}

TEST(MsbSender, TwoLossesInOneCycleCannotBeRebuilt) {
    const LossRun r = run_through_receiver(10, 30, [](std::size_t i, const Bytes&) { return i == 12 || i == 15; });
    for (const auto& v : r.rx->violations()) ADD_FAILURE() << v;
    EXPECT_EQ(r.rx->counts().recovered, 0u);
    EXPECT_EQ(r.rx->counts().lost, 2u);
    EXPECT_EQ(r.received.size(), 28u);
    expect_packets_match(r);
}

TEST(MsbSender, EverySpanFrom1To15IsReadByTheStrictReceiver) {
    for (int span = 1; span <= 15; ++span) {
        SCOPED_TRACE("span " + std::to_string(span));
        // Drop the second datagram of every cycle (span 1: the data packet itself).
        const LossRun r = run_through_receiver(span, 64, [span](std::size_t i, const Bytes&) {
            return i % static_cast<std::size_t>(span + 1) == (span > 1 ? 1u : 0u);
        });
        for (const auto& v : r.rx->violations()) ADD_FAILURE() << v;
        EXPECT_EQ(r.rx->counts().lost, 0u);
        EXPECT_EQ(r.rx->counts().recovered, r.dropped_data);
        EXPECT_EQ(r.received.size(), 64u);
        expect_packets_match(r);
    }
}

TEST(MsbSender, Span15NumbersEveryPacket1) {
    pushtest::TestStream ts(1400);
    MsbSender s(config(15), t0);
    CollectingSink sink;
    s.on_header(ts.header(), t0, sink);
    for (const auto& p : ts.packets(15)) s.on_packet(*p, t0, sink);
    ASSERT_EQ(sink.sent.size(), 16u);
    // Number is 4 bits: the parity packet of a span of 15 would be 16. 2.2.2 allows 1 everywhere.
    for (const auto& d : sink.sent) EXPECT_EQ(d.bytes[9] >> 4, 1);
    EXPECT_EQ(sink.sent.back().bytes[9] & 0x0F, 2);
}

TEST(MsbSender, IndependentRandomLossOneIn20) {
    // Each datagram lost with probability 1/20 (seeded): a cycle of 11 datagrams loses two about
    // one time in ten, and those cannot be rebuilt. Counted, not hidden.
    std::mt19937 rng(20240423);
    const LossRun r = run_through_receiver(10, 3000, [&](std::size_t, const Bytes&) {
        return std::uniform_int_distribution<int>(0, 19)(rng) == 0;
    });
    for (const auto& v : r.rx->violations()) ADD_FAILURE() << v;
    const auto& c = r.rx->counts();
    EXPECT_GT(c.recovered, 0u);
    EXPECT_EQ(c.recovered + c.lost, r.dropped_data) << "every dropped data packet is either rebuilt or counted lost";
    EXPECT_EQ(r.received.size(), 3000u - c.lost);
    expect_packets_match(r);
    std::printf("[   INFO   ] 3000 packets, independent 1/20 loss: %zu data + %zu parity dropped, %llu recovered, %llu lost "
                "(two or more in one cycle)\n",
                r.dropped_data, r.dropped_parity, static_cast<unsigned long long>(c.recovered),
                static_cast<unsigned long long>(c.lost));
}

TEST(MsbSender, BeaconTimer) {
    MsbSenderConfig c = config(10);
    c.beacon_interval = 2s;
    MsbSender s(c, t0);
    CollectingSink sink;
    // 3.1.3.2: nothing to send yet: a Beacon when the timer expires, every interval, never sooner.
    ASSERT_TRUE(s.deadline());
    EXPECT_EQ(*s.deadline(), t0 + 2s);
    s.on_timer(t0 + 1999ms, sink);
    EXPECT_TRUE(sink.sent.empty());
    s.on_timer(t0 + 2s, sink);
    ASSERT_EQ(sink.sent.size(), 1u);
    EXPECT_EQ(sink.sent[0].kind, DatagramKind::beacon);
    EXPECT_EQ(sink.sent[0].bytes, (Bytes{'M', 'S', 'B', ' '})) << "2.2.3: \"MSB \" = 0x2042534D";
    EXPECT_EQ(le32(sink.sent[0].bytes, 0), 0x2042534Du);
    s.on_timer(t0 + 2s + 500ms, sink);
    EXPECT_EQ(sink.sent.size(), 1u) << "not more often than the interval";
    EXPECT_EQ(*s.deadline(), t0 + 4s);
    s.on_timer(t0 + 4s, sink);
    EXPECT_EQ(sink.count(DatagramKind::beacon), 2u);

    // 3.1.5.1: packets flowing stop the timer: none while a packet goes out every 100 ms.
    pushtest::TestStream ts(1400);
    s.on_header(ts.header(), t0 + 4s, sink);
    auto packets = ts.packets(60);
    TimePoint t = t0 + 4s;
    for (int i = 0; i < 50; ++i) {
        t += 100ms;
        s.on_timer(t, sink);
        s.on_packet(*packets[static_cast<std::size_t>(i)], t, sink);
    }
    EXPECT_EQ(sink.count(DatagramKind::beacon), 2u);
    // A stall: nothing to send for longer than the interval: Beacons again.
    s.on_timer(t + 1999ms, sink);
    EXPECT_EQ(sink.count(DatagramKind::beacon), 2u);
    s.on_timer(t + 2s, sink);
    EXPECT_EQ(sink.count(DatagramKind::beacon), 3u);
    s.on_packet(*packets[50], t + 3s, sink);
    s.on_timer(t + 4s + 500ms, sink);
    EXPECT_EQ(sink.count(DatagramKind::beacon), 3u) << "the timer restarted with the packet";
    // After the end: no Beacon (this broadcast does not come back, 3.1.5.3).
    s.on_end(t + 5s, sink);
    const auto n = sink.sent.size();
    s.on_timer(t + 60s, sink);
    EXPECT_EQ(sink.sent.size(), n);
    EXPECT_FALSE(s.deadline());
}

TEST(MsbSender, BeaconIntervalAndSpanAreBoundedByTheSpec) {
    MsbSenderConfig c;
    c.beacon_interval = 999ms;
    EXPECT_THROW(MsbSender(c, t0), MsbError);
    c.beacon_interval = 10001ms;
    EXPECT_THROW(MsbSender(c, t0), MsbError);
    c.beacon_interval = 10s;
    EXPECT_NO_THROW(MsbSender(c, t0));
    c.beacon_interval = 1s;
    EXPECT_NO_THROW(MsbSender(c, t0));
    c.fec_span = 16;
    EXPECT_THROW(MsbSender(c, t0), MsbError);
    c.fec_span = -1;
    EXPECT_THROW(MsbSender(c, t0), MsbError);
    try {
        c.fec_span = 16;
        MsbSender s(c, t0);
    } catch (const MsbError& e) {
        EXPECT_NE(std::string(e.what()).find("1..15"), std::string::npos) << e.what();
    }
}

TEST(MsbSender, SlowCycleIsClosedAfterTheMaximumDelay) {
    MsbSenderConfig c = config(10);
    c.fec_max_delay = 500ms;
    MsbSender s(c, t0);
    CollectingSink sink;
    pushtest::TestStream ts(1400);
    s.on_header(ts.header(), t0, sink);
    auto packets = ts.packets(4);
    s.on_packet(*packets[0], t0, sink);
    s.on_packet(*packets[1], t0 + 200ms, sink);
    ASSERT_TRUE(s.deadline());
    EXPECT_EQ(*s.deadline(), t0 + 500ms);
    s.on_timer(t0 + 499ms, sink);
    EXPECT_EQ(sink.count(DatagramKind::parity), 0u);
    s.on_timer(t0 + 500ms, sink);
    ASSERT_EQ(sink.count(DatagramKind::parity), 1u);
    EXPECT_EQ(sink.sent.back().bytes[9], 2 | (3 << 4)) << "a span of 2: Number 3";
    // The next cycle has the next Cycle number and its own count.
    s.on_packet(*packets[2], t0 + 600ms, sink);
    EXPECT_EQ(sink.sent.back().bytes[10], 1);
    EXPECT_EQ(sink.sent.back().bytes[9], 1 | (1 << 4));
}

TEST(MsbSender, NewStreamClosesTheCycleAndChangesWStreamId) {
    pushtest::TestStream a(1400), b(1400, 10, 40);  // b: another header (a title)
    MsbSender s(config(10), t0);
    CollectingSink sink;
    const HeaderPtr ha = a.header(0);
    ASSERT_TRUE(s.on_header(ha, t0, sink));
    EXPECT_FALSE(s.on_header(ha, t0, sink)) << "the same header again changes nothing";
    for (const auto& p : a.packets(4)) s.on_packet(*p, t0, sink);
    const std::uint16_t first = s.stream_id();
    EXPECT_EQ(first & 0x8000, 0);

    // The same header bytes, a new stream (a playlist entry): same Format ID, bit 15 flipped.
    const HeaderPtr ha2 = a.header(1);
    ASSERT_EQ(ha2->bytes, ha->bytes);
    ASSERT_TRUE(s.on_header(ha2, t0, sink));
    // 3.1.5.3: the open cycle was closed by its parity packet, under the old wStreamID.
    ASSERT_EQ(sink.sent.size(), 5u);
    EXPECT_EQ(sink.sent[4].kind, DatagramKind::parity);
    EXPECT_EQ(le16(sink.sent[4].bytes, 4), first);
    EXPECT_EQ(sink.sent[4].bytes[9], 2 | (5 << 4));
    EXPECT_EQ(s.stream_id(), first ^ 0x8000) << "3.1.5.1: a different wStreamID for the new stream";
    EXPECT_EQ(s.formats().size(), 1u) << "identical headers are listed once";

    // Another header: another Format ID, the toggle flips again; the .nsc lists both.
    const HeaderPtr hb = b.header(2);
    ASSERT_NE(hb->bytes, ha->bytes);
    ASSERT_TRUE(s.on_header(hb, t0, sink));
    EXPECT_EQ(sink.sent.size(), 5u) << "no open cycle, no parity packet";
    ASSERT_EQ(s.formats().size(), 2u);
    EXPECT_NE(s.formats()[0].format_id, s.formats()[1].format_id);
    EXPECT_EQ(s.stream_id(), s.formats()[1].format_id) << "bit 15 back to 0";
    for (const auto& p : b.packets(3)) s.on_packet(*p, t0, sink);
    EXPECT_EQ(le32(sink.sent.back().bytes, 0), 6u) << "dwPacketID goes on across streams";
    EXPECT_EQ(sink.sent.back().bytes[10], 1) << "Cycle goes on too";
}

TEST(MsbSender, ErrorsAreClear) {
    pushtest::TestStream ts(1400);
    MsbSender s(config(10), t0);
    CollectingSink sink;
    auto packets = ts.packets(1);
    try {
        s.on_packet(*packets[0], t0, sink);
        ADD_FAILURE() << "a packet before the header";
    } catch (const MsbError& e) {
        EXPECT_NE(std::string(e.what()).find("before any ASF header"), std::string::npos) << e.what();
    }
    auto big = std::make_shared<MuxedHeader>(*ts.header());
    big->packet_size = 65500;
    EXPECT_THROW(s.on_header(big, t0, sink), MsbError);
    s.on_header(ts.header(), t0, sink);
    DataPacket too_long = *packets[0];
    too_long.wire.clear();
    too_long.bytes.resize(2000);
    EXPECT_THROW(s.on_packet(too_long, t0, sink), MsbError);
    DataPacket odd_ec = *packets[0];
    odd_ec.wire.clear();
    odd_ec.bytes[0] = 0xA2;  // Error Correction Length Type 1
    EXPECT_THROW(s.on_packet(odd_ec, t0, sink), MsbError);
    EXPECT_TRUE(sink.sent.empty());
}

TEST(MsbSender, PacketWithoutErrorCorrectionFieldGetsOne) {
    // A packet of another muxer without the EC field: the sender's head adds it in front.
    pushtest::TestStream ts(1400);
    MsbSender s(config(10), t0);
    CollectingSink sink;
    s.on_header(ts.header(), t0, sink);
    DataPacket p = *ts.packets(1)[0];
    Bytes wire(p.wire_form().begin() + 3, p.wire_form().end());  // without 82 00 00
    ASSERT_EQ(wire[0] & 0x80, 0);
    p.bytes = wire;
    p.wire.clear();
    s.on_packet(p, t0, sink);
    const Bytes& d = sink.sent[0].bytes;
    EXPECT_EQ(d.size(), 11 + wire.size());
    EXPECT_EQ(d[8], 0x82);
    EXPECT_TRUE(std::equal(wire.begin(), wire.end(), d.begin() + 11));
}

}  // namespace
}  // namespace asfcast::multicast
