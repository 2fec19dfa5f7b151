// filter_packet_streams: stream selection on finished packets, for our own Packetizer's packets
// and for hand-written layouts the Packetizer does not produce.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::H;
using testutil::test_audio;
using testutil::test_video;

std::array<bool, 128> keep(std::initializer_list<int> streams) {
    std::array<bool, 128> k{};
    for (int s : streams) k[static_cast<std::size_t>(s)] = true;
    return k;
}

EncodedFrame frame(int stream, Micros pts, std::size_t n, bool key, std::uint8_t fill) {
    EncodedFrame f;
    f.stream = stream;
    f.kind = stream == 1 ? MediaKind::video : MediaKind::audio;
    f.pts = f.dts = pts;
    f.keyframe = key;
    f.data.assign(n, fill);
    return f;
}

// Video (stream 1) and audio (stream 2) interleaved into 256-byte packets.
std::vector<DataPacket> mixed_packets() {
    MuxConfig c;
    c.packet_size = 256;
    c.preroll_ms = 1000;
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    Packetizer p(c, s);
    std::vector<DataPacket> out;
    for (int i = 0; i < 8; ++i) {
        p.add(frame(1, i * 40'000, i == 0 ? 600 : 30 + 10 * static_cast<std::size_t>(i), i % 4 == 0, 0x10), 0, out);
        p.add(frame(2, i * 40'000 + 5'000, 20, false, 0x20), 0, out);
    }
    p.flush(out);
    return out;
}

// The (stream, length, pts) of each payload, for comparisons.
std::vector<std::array<std::uint32_t, 3>> payloads(const PacketInfo& pi) {
    std::vector<std::array<std::uint32_t, 3>> v;
    for (const auto& p : pi.payloads) v.push_back({static_cast<std::uint32_t>(p.stream), p.length, p.pts_ms});
    return v;
}

TEST(FilterPacketStreams, OurPackets) {
    const auto packets = mixed_packets();
    ASSERT_GE(packets.size(), 4u);
    bool saw_single = false, saw_multiple = false, saw_dropped = false;
    for (const auto& pk : packets) {
        const PacketInfo in = parse_packet(pk.bytes, 256);
        (in.multiple_payloads ? saw_multiple : saw_single) = true;

        // Everything kept: exactly the muxer's wire form of the packet.
        const auto all = filter_packet_streams(pk.bytes, 256, keep({1, 2}));
        ASSERT_TRUE(all.has_value());
        EXPECT_EQ(*all, Bytes(pk.wire_form().begin(), pk.wire_form().end()));
        // The wire form as input gives the same.
        EXPECT_EQ(filter_packet_streams(pk.wire_form(), 256, keep({1})), filter_packet_streams(pk.bytes, 256, keep({1})));

        for (int stream : {1, 2}) {
            const auto out = filter_packet_streams(pk.bytes, 256, keep({stream}));
            std::vector<std::array<std::uint32_t, 3>> expected;
            for (const auto& p : payloads(in))
                if (static_cast<int>(p[0]) == stream) expected.push_back(p);
            if (expected.empty()) {
                EXPECT_FALSE(out.has_value());
                saw_dropped = true;
                continue;
            }
            ASSERT_TRUE(out.has_value());
            const PacketInfo got = parse_wire_packet(*out, 256);
            EXPECT_EQ(got.padding, 0u);  // MS-WMSP 2.2.3.3: no Padding Data in a $D
            EXPECT_EQ((*out)[3] & 0x78, 0);  // no Padding Length, no Packet Length field
            EXPECT_EQ(got.packet_length, out->size());
            EXPECT_EQ(got.send_time_ms, in.send_time_ms);
            EXPECT_EQ(got.duration_ms, in.duration_ms);
            EXPECT_EQ(payloads(got), expected);
            // A client that pads the $D back to the packet size with zeros reads the same payloads.
            Bytes padded = *out;
            padded.resize(256, 0);
            EXPECT_EQ(payloads(parse_packet(padded, 256)), expected);
            // Media bytes survive: every byte after the payload headers is the stream's fill.
            std::size_t data_bytes = 0;
            for (std::uint8_t b : *out) data_bytes += b == (stream == 1 ? 0x10 : 0x20);
            std::size_t want = 0;
            for (const auto& p : expected) want += p[1];
            EXPECT_GE(data_bytes, want);
        }
    }
    EXPECT_TRUE(saw_single);
    EXPECT_TRUE(saw_multiple);
    EXPECT_TRUE(saw_dropped);
}

TEST(FilterPacketStreams, NothingKept) {
    for (const auto& pk : mixed_packets()) EXPECT_FALSE(filter_packet_streams(pk.bytes, 256, keep({})).has_value());
    // Streams outside the packet do not help.
    for (const auto& pk : mixed_packets()) EXPECT_FALSE(filter_packet_streams(pk.bytes, 256, keep({3, 127})).has_value());
}

// Explicit WORD Packet Length, a compressed payload, and padding: layouts other muxers write.
const Bytes kForeign = H(
    "82 00 00"              // EC
    "51"                    // Length Type Flags: packet length WORD, padding WORD, multiple payloads
    "5D"                    // Property Flags
    "39 00"                 // Packet Length 57
    "04 00"                 // Padding Length 4
    "10 00 00 00 05 00"     // Send Time 16, Duration 5
    "82"                    // 2 payloads, WORD lengths
    "02 05 64 00 00 00 01"  // stream 2, object 5, pts 100, replicated length 1: compressed
    "14 07 00"              // delta 20, payload length 7
    "03 AA BB CC 02 DD EE"  // two sub-payloads
    "81 00 00 00 00 00 08"  // stream 1 key frame, object 0, offset 0, replicated 8
    "03 00 00 00 20 00 00 00 03 00"  // object size 3, pts 32, length 3
    "11 22 33"
    "00 00 00 00");         // padding

TEST(FilterPacketStreams, ExplicitLengthAndCompressedPayload) {
    ASSERT_EQ(kForeign.size(), 57u);
    ASSERT_EQ(parse_packet(kForeign, 0).payloads.size(), 3u);

    const auto video = filter_packet_streams(kForeign, 0, keep({1}));
    ASSERT_TRUE(video.has_value());
    // Wire form: no Packet Length, no Padding Length, no padding (MS-WMSP 2.2.3.3).
    EXPECT_BYTES_EQ(*video, H("82 00 00 01 5D"
                              "10 00 00 00 05 00"
                              "81"     // 1 payload, WORD lengths
                              "81 00 00 00 00 00 08 03 00 00 00 20 00 00 00 03 00 11 22 33"));
    const PacketInfo v = parse_wire_packet(*video, 57);
    ASSERT_EQ(v.payloads.size(), 1u);
    EXPECT_TRUE(v.payloads[0].keyframe);

    const auto audio = filter_packet_streams(kForeign, 0, keep({2}));
    ASSERT_TRUE(audio.has_value());
    ASSERT_EQ(audio->size(), 29u);
    const PacketInfo a = parse_wire_packet(*audio, 57);
    ASSERT_EQ(a.payloads.size(), 2u);  // the compressed payload's two objects
    EXPECT_EQ(a.payloads[1].pts_ms, 120u);
    EXPECT_EQ(a.packet_length, 29u);
}

TEST(FilterPacketStreams, PacketWithoutPaddingOrLengthField) {
    // No Packet Length and no Padding Length field: the packet fills the fixed size exactly.
    const Bytes full = H("82 00 00 01 5D 10 00 00 00 05 00 82"
                         "01 00 00 00 00 00 08 04 00 00 00 20 00 00 00 04 00 AA AA AA AA"
                         "02 00 00 00 00 00 08 02 00 00 00 30 00 00 00 02 00 BB BB");
    ASSERT_EQ(full.size(), 52u);
    const auto audio = filter_packet_streams(full, 52, keep({2}));
    ASSERT_TRUE(audio.has_value());
    // Shortened: the payload keeps its length, the packet ends where the bytes end.
    EXPECT_BYTES_EQ(*audio, H("82 00 00 01 5D 10 00 00 00 05 00 81"
                              "02 00 00 00 00 00 08 02 00 00 00 30 00 00 00 02 00 BB BB"));
    const PacketInfo a = parse_wire_packet(*audio, 52);
    ASSERT_EQ(a.payloads.size(), 1u);
    EXPECT_EQ(a.payloads[0].stream, 2);
    EXPECT_EQ(a.send_time_ms, 16u);
    EXPECT_EQ(a.duration_ms, 5u);
    EXPECT_EQ(*filter_packet_streams(full, 52, keep({1, 2})), full);  // nothing to remove
}

TEST(FilterPacketStreams, MalformedPacketThrows) {
    EXPECT_THROW(filter_packet_streams(H("82 00"), 64, keep({1})), ParseError);
    Bytes bad = kForeign;
    bad[7] = 0x40;  // Padding Length larger than the packet
    EXPECT_THROW(filter_packet_streams(bad, 0, keep({1})), ParseError);
}

}  // namespace
}  // namespace asfcast::asfmux
