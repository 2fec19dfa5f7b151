// MS-WMSP 2.2.3 framing: the bytes we write, and FramedStreamReader reading them back.
#include <gtest/gtest.h>

#include <stdexcept>

#include "asfcast/pullserver/framing_reader.hpp"
#include "wmsp_framing.hpp"

namespace asfcast::pull {
namespace {

Bytes pattern(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    return b;
}

template <std::size_t N>
Bytes to_bytes(const std::array<std::uint8_t, N>& a) {
    return Bytes(a.begin(), a.end());
}

std::vector<FramedPacket> read_all(FramedStreamReader& r) {
    std::vector<FramedPacket> out;
    while (auto p = r.next()) out.push_back(*p);
    return out;
}

TEST(Framing, DataPacketPrefix) {
    // 2.2.3.1.1 + 2.2.3.1.2: 0x24 'D', PacketLength, LocationId, Incarnation, AFFlags, PacketSize.
    EXPECT_EQ(to_bytes(data_packet_prefix(0x01020304, 5, 7, 100)),
              (Bytes{0x24, 0x44, 0x6C, 0x00, 0x04, 0x03, 0x02, 0x01, 0x05, 0x07, 0x6C, 0x00}));
    const auto max = data_packet_prefix(0, 0, 0, 65527);
    EXPECT_EQ(max[2] | max[3] << 8, 65535);
    EXPECT_EQ(max[10] | max[11] << 8, 65535);
    EXPECT_THROW(data_packet_prefix(0, 0, 0, 65528), std::length_error);
    EXPECT_THROW(data_packet_prefix(0, 0, 0, 65535), std::length_error);
}

TEST(Framing, EndOfStreamAndStreamChange) {
    EXPECT_EQ(to_bytes(end_of_stream_packet(0)), (Bytes{0x24, 0x45, 0x04, 0x00, 0, 0, 0, 0}));
    EXPECT_EQ(to_bytes(end_of_stream_packet(1)), (Bytes{0x24, 0x45, 0x04, 0x00, 1, 0, 0, 0}));
    EXPECT_EQ(to_bytes(stream_change_packet(0x400D14BE)), (Bytes{0x24, 0x43, 0x04, 0x00, 0xBE, 0x14, 0x0D, 0x40}));
}

TEST(Framing, SingleHeaderPacket) {
    const Bytes header = pattern(5000);
    const Bytes out = header_packets(header, 3);
    ASSERT_EQ(out.size(), 12u + header.size());
    const std::uint32_t len = 8 + 5000;
    EXPECT_EQ(Bytes(out.begin(), out.begin() + 12),
              (Bytes{0x24, 0x48, static_cast<std::uint8_t>(len), static_cast<std::uint8_t>(len >> 8), 0, 0, 0, 0, 3,
                     0x0C, static_cast<std::uint8_t>(len), static_cast<std::uint8_t>(len >> 8)}));
    EXPECT_EQ(Bytes(out.begin() + 12, out.end()), header);
}

TEST(Framing, LargeHeaderIsSplit) {
    // The spec's example: a 100,000-byte header goes out as a 65,535-byte and a 34,481-byte MMS packet.
    const Bytes header = pattern(100000);
    const Bytes out = header_packets(header, 0);
    FramedStreamReader r;
    r.feed(out);
    const auto pk = read_all(r);
    ASSERT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(pk.size(), 2u);
    EXPECT_EQ(pk[0].type, 'H');
    EXPECT_EQ(pk[0].location_id, 0u);
    EXPECT_EQ(pk[0].afflags, 0x04);
    EXPECT_EQ(pk[0].payload.size() + 8, 65535u);
    EXPECT_EQ(pk[1].location_id, 1u);
    EXPECT_EQ(pk[1].afflags, 0x08);
    EXPECT_EQ(pk[1].payload.size() + 8, 34481u);
    Bytes joined(pk[0].payload.begin(), pk[0].payload.end());
    joined.insert(joined.end(), pk[1].payload.begin(), pk[1].payload.end());
    EXPECT_EQ(joined, header);
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(Framing, ThreePieceHeaderHasAMiddle) {
    const Bytes header = pattern(140000);
    FramedStreamReader r;
    r.feed(header_packets(header, 9));
    const auto pk = read_all(r);
    ASSERT_EQ(pk.size(), 3u);
    EXPECT_EQ(pk[0].afflags, 0x04);
    EXPECT_EQ(pk[1].afflags, 0x00);
    EXPECT_EQ(pk[2].afflags, 0x08);
    EXPECT_EQ(pk[2].location_id, 2u);
    EXPECT_EQ(pk[2].incarnation, 9);
}

TEST(Framing, ExactlyOneFullPiece) {
    FramedStreamReader r;
    r.feed(header_packets(pattern(65527), 0));
    const auto pk = read_all(r);
    ASSERT_EQ(pk.size(), 1u);
    EXPECT_EQ(pk[0].afflags, 0x0C);
    EXPECT_EQ(header_packets({}, 0).size(), 12u);  // an empty header still frames as one $H
}

TEST(FramedStreamReader, StreamFedByteByByte) {
    Bytes stream = header_packets(pattern(300), 0);
    const Bytes asf = pattern(1000);
    for (std::uint32_t i = 0; i < 3; ++i) {
        const auto d = data_packet_prefix(i + 10, 0, static_cast<std::uint8_t>(i), 1000);
        stream.insert(stream.end(), d.begin(), d.end());
        stream.insert(stream.end(), asf.begin(), asf.end());
    }
    const auto e = end_of_stream_packet(0);
    stream.insert(stream.end(), e.begin(), e.end());

    FramedStreamReader r;
    std::vector<char> types;
    for (std::uint8_t b : stream) {
        r.feed(ByteView(&b, 1));
        while (auto p = r.next()) {
            types.push_back(p->type);
            if (p->type == 'D') {
                EXPECT_EQ(p->location_id, 10u + p->afflags);
                EXPECT_EQ(Bytes(p->payload.begin(), p->payload.end()), asf);
            }
            if (p->type == 'E') {
                EXPECT_EQ(p->reason, 0u);
            }
        }
    }
    EXPECT_EQ(std::string(types.begin(), types.end()), "HDDDE");
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.offset(), stream.size());
}

TEST(FramedStreamReader, OtherPacketTypes) {
    const Bytes stream = {0x24, 'T', 0, 0,                          // $T: no body
                          0x24, 'P', 6, 0, 3, 0, 0, 0, 0xAA, 0xBB,  // $P: reason 3, two bytes
                          0x24, 'C', 4, 0, 0, 0, 0, 0,              // $C
                          0x24, 'M', 9, 0, 0, 0, 0, 0, 0, 0x0C, 9, 0, 'x'};
    FramedStreamReader r;
    r.feed(stream);
    const auto pk = read_all(r);
    ASSERT_FALSE(r.failed()) << r.error();
    ASSERT_EQ(pk.size(), 4u);
    EXPECT_EQ(pk[1].reason, 3u);
    EXPECT_EQ(pk[1].payload.size(), 2u);
    EXPECT_EQ(pk[2].type, 'C');
    EXPECT_EQ(pk[3].type, 'M');
    EXPECT_EQ(pk[3].payload.size(), 1u);
}

TEST(FramedStreamReader, RejectsBadFraming) {
    struct Case {
        Bytes bytes;
        const char* message;
    };
    const Case cases[] = {
        {{0xA4, 'D', 8, 0, 0, 0, 0, 0, 0, 0, 8, 0}, "0xA4 is not the framing marker 0x24"},  // B bit set
        {{0x25, 'D', 8, 0}, "0x25 is not the framing marker 0x24"},
        {{0x24, 'Z', 0, 0}, "unknown packet type 0x5A"},
        {{0x24, 'D', 9, 0, 0, 0, 0, 0, 0, 0, 8, 0, 1}, "$D PacketLength 9 differs from PacketSize 8"},
        {{0x24, 'H', 7, 0}, "$H PacketLength 7 is shorter than the 8-byte MMS header"},
        {{0x24, 'E', 8, 0}, "$E PacketLength 8 (must be 4)"},
        {{0x24, 'T', 1, 0}, "$T PacketLength 1 (must be 0)"},
        {{0x24, 'P', 2, 0}, "$P PacketLength 2 has no room for the Reason"},
    };
    for (const auto& c : cases) {
        FramedStreamReader r;
        r.feed(c.bytes);
        EXPECT_EQ(r.next(), std::nullopt);
        EXPECT_EQ(r.error(), std::string("byte 0: ") + c.message);
    }
    // The position of the bad packet is reported, and the error sticks.
    FramedStreamReader r;
    const auto e = end_of_stream_packet(0);
    r.feed(to_bytes(e));
    r.feed(Bytes{0x00, 0x00, 0x00, 0x00});
    ASSERT_TRUE(r.next().has_value());
    EXPECT_FALSE(r.next().has_value());
    EXPECT_EQ(r.error(), "byte 8: 0x00 is not the framing marker 0x24");
    r.feed(to_bytes(e));
    EXPECT_FALSE(r.next().has_value());
}

TEST(FramedStreamReader, IncompleteIsNotAnError) {
    FramedStreamReader r;
    const auto d = data_packet_prefix(0, 0, 0, 50);
    r.feed(to_bytes(d));
    EXPECT_FALSE(r.next().has_value());
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.buffered(), 12u);
    r.feed(Bytes(50, 1));
    const auto p = r.next();
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->payload.size(), 50u);
}

}  // namespace
}  // namespace asfcast::pull
