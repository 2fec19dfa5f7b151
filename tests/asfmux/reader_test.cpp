// Reader: parse_packet variants, the wire form (to_wire_form, parse_wire_packet), and malformed input.
#include <gtest/gtest.h>

#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::cat;
using testutil::fill;
using testutil::H;
using testutil::kFileId;
using testutil::test_audio;
using testutil::test_video;
using testutil::zeros;

Bytes valid_header() {
    MuxConfig c;
    c.packet_size = 256;
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    Metadata m;
    m.title = "t";
    m.extended = {{"k", "v"}};
    return HeaderBuilder(c, s, m, kFileId, 1).build_live().bytes;
}

std::vector<DataPacket> some_packets() {
    MuxConfig c;
    c.packet_size = 64;
    c.preroll_ms = 1000;
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    Packetizer p(c, s);
    std::vector<DataPacket> out;
    EncodedFrame v{1, MediaKind::video, 0, 0, true, Bytes(5, 0xAA)};
    EncodedFrame a{2, MediaKind::audio, 10'000, 10'000, false, Bytes(4, 0xBB)};
    p.add(v, 0, out);
    p.add(a, 0, out);
    p.flush(out);                                  // packet 0: two payloads
    p.add(EncodedFrame{1, MediaKind::video, 40'000, 40'000, false, Bytes(10, 0xCC)}, 0, out);
    p.flush(out);                                  // packet 1: single payload
    return out;
}

TEST(ParsePacket, NoErrorCorrectionByteFieldsExplicitLength) {
    const Bytes pkt = H(
        "2A"            // Length Type Flags: packet length BYTE, sequence BYTE, padding BYTE
        "5D"            // Property Flags
        "21"            // Packet Length 33
        "07"            // Sequence
        "03"            // Padding Length 3
        "64 00 00 00"   // Send Time 100
        "05 00"         // Duration 5
        "03 07 00 00 00 00 08"     // stream 3, object 7, offset 0, repl 8
        "04 00 00 00 C8 00 00 00"  // object size 4, pres time 200
        "01 02 03 04"   // data
        "00 00 00");    // padding
    const PacketInfo pi = parse_packet(pkt, 9999);  // explicit length wins
    EXPECT_FALSE(pi.error_correction);
    EXPECT_FALSE(pi.multiple_payloads);
    EXPECT_EQ(pi.packet_length, 33u);
    EXPECT_EQ(pi.padding, 3u);
    EXPECT_EQ(pi.send_time_ms, 100u);
    EXPECT_EQ(pi.duration_ms, 5u);
    ASSERT_EQ(pi.payloads.size(), 1u);
    EXPECT_EQ(pi.payloads[0].stream, 3);
    EXPECT_FALSE(pi.payloads[0].keyframe);
    EXPECT_EQ(pi.payloads[0].object_number, 7u);
    EXPECT_EQ(pi.payloads[0].object_size, 4u);
    EXPECT_EQ(pi.payloads[0].pts_ms, 200u);
    EXPECT_EQ(pi.payloads[0].length, 4u);

    // Wire form (MS-WMSP 2.2.3.3): the single payload moves into the multiple-payloads layout (a
    // WORD payload length), the Padding Length field and the padding go, the explicit Packet
    // Length says 32 = 33 - 1 (field) - 3 (padding) + 3 (payload flags and length).
    const Bytes wire = to_wire_form(pkt, 9999);
    EXPECT_BYTES_EQ(wire, cat({H("23 5D 20 07"  // multiple payloads, packet length BYTE, sequence BYTE
                                 "64 00 00 00 05 00"
                                 "81"           // Payload Flags: 1 payload, WORD length
                                 "03 07 00 00 00 00 08 04 00 00 00 C8 00 00 00"
                                 "04 00"        // payload length 4
                                 "01 02 03 04")}));
    const PacketInfo w = parse_wire_packet(wire, 9999);
    EXPECT_EQ(w.padding, 0u);
    ASSERT_EQ(w.payloads.size(), 1u);
    EXPECT_EQ(w.payloads[0].length, 4u);
    EXPECT_EQ(w.payloads[0].pts_ms, 200u);
}

TEST(ParsePacket, CompressedPayload) {
    const Bytes pkt = H(
        "82 00 00"      // EC
        "11"            // multiple payloads, padding WORD
        "5D"
        "00 00"         // Padding Length 0
        "00 00 00 00 00 00"  // Send Time, Duration
        "81"            // Payload Flags: 1 payload, WORD lengths
        "02 05"         // stream 2, object 5
        "64 00 00 00"   // presentation time 100 (in the offset field)
        "01"            // Replicated Data Length 1: compressed
        "14"            // presentation time delta 20
        "07 00"         // payload length 7
        "03 AA BB CC"   // sub-payload 1
        "02 DD EE");    // sub-payload 2
    const PacketInfo pi = parse_packet(pkt, 31);
    ASSERT_EQ(pi.payloads.size(), 2u);
    EXPECT_TRUE(pi.payloads[0].compressed);
    EXPECT_EQ(pi.payloads[0].pts_ms, 100u);
    EXPECT_EQ(pi.payloads[0].length, 3u);
    EXPECT_EQ(pi.payloads[0].object_number, 5u);
    EXPECT_EQ(pi.payloads[1].pts_ms, 120u);
    EXPECT_EQ(pi.payloads[1].length, 2u);
    EXPECT_EQ(pi.payloads[1].object_number, 6u);
    // A sub-payload running past the payload is an error.
    Bytes bad = pkt;
    bad[28] = 0x09;
    EXPECT_THROW(parse_packet(bad, 31), ParseError);
}

TEST(ParsePacket, OtherFieldWidths) {
    const Bytes pkt = H(
        "71"            // multiple payloads, padding WORD, packet length DWORD
        "79"            // Property Flags: repl BYTE, offset WORD, object number DWORD, stream BYTE
        "38 00 00 00"   // Packet Length 56
        "02 00"         // Padding Length 2
        "0A 00 00 00 00 00"  // Send Time 10, Duration 0
        "42"            // Payload Flags: 2 payloads, BYTE lengths
        "81 01 00 00 00 00 00 08 05 00 00 00 10 00 00 00 03 AA BB CC"  // key, obj 1, offset 0
        "01 01 00 00 00 03 00 08 05 00 00 00 10 00 00 00 02 DD EE"     // obj 1, offset 3
        "00 00");       // padding
    const PacketInfo pi = parse_packet(pkt, 56);
    EXPECT_EQ(pi.packet_length, 56u);
    ASSERT_EQ(pi.payloads.size(), 2u);
    EXPECT_TRUE(pi.payloads[0].keyframe);
    EXPECT_TRUE(pi.payloads[1].keyframe == false);
    EXPECT_EQ(pi.payloads[1].offset, 3u);
    EXPECT_EQ(pi.payloads[1].length, 2u);
    EXPECT_EQ(pi.payloads[1].object_size, 5u);
    EXPECT_EQ(pi.payloads[1].pts_ms, 16u);
    // Wire form: Padding Length field (2) and padding (2) gone, Packet Length 52, padding type 0.
    const Bytes wire = to_wire_form(pkt, 56);
    ASSERT_EQ(wire.size(), 52u);
    EXPECT_BYTES_EQ(Bytes(wire.begin(), wire.begin() + 12), H("61 79 34 00 00 00 0A 00 00 00 00 00"));
    EXPECT_EQ(parse_wire_packet(wire, 56).payloads.size(), 2u);
}

TEST(WireForm, OurPacketsAreMadeInBothForms) {
    const auto packets = some_packets();
    ASSERT_EQ(packets.size(), 2u);
    for (const auto& pk : packets) {
        ASSERT_GT(pk.padding, 0u);
        const ByteView w = pk.wire_form();
        // Padding Length field (WORD) and padding gone; no Packet Length field; multiple payloads.
        ASSERT_EQ(w.size(), 64u - pk.padding - 2);
        EXPECT_EQ(w[3], 0x01);
        EXPECT_EQ(Bytes(w.begin(), w.end()), to_wire_form(pk.bytes, 64));  // what a reader makes of it
        const PacketInfo a = parse_packet(pk.bytes, 64);
        const PacketInfo b = parse_wire_packet(w, 64);
        EXPECT_EQ(b.padding, 0u);
        EXPECT_EQ(b.packet_length, w.size());
        ASSERT_EQ(a.payloads.size(), b.payloads.size());
        for (std::size_t i = 0; i < a.payloads.size(); ++i) {
            EXPECT_EQ(a.payloads[i].length, b.payloads[i].length);
            EXPECT_EQ(a.payloads[i].pts_ms, b.payloads[i].pts_ms);
        }
        // A client that pads the $D back to the packet size with zeros (ffmpeg's mmsh, VLC,
        // libmms) reads the same payloads: each has its own length, the zeros follow the last.
        Bytes padded(w.begin(), w.end());
        padded.resize(64, 0);
        const PacketInfo c = parse_packet(padded, 64);
        ASSERT_EQ(c.payloads.size(), a.payloads.size());
        for (std::size_t i = 0; i < a.payloads.size(); ++i) EXPECT_EQ(a.payloads[i].length, c.payloads[i].length);
    }
}

TEST(WireForm, WirePacketsLongerThanThePacketSizeAreRefused) {
    const auto packets = some_packets();
    Bytes longer(packets[0].wire_form().begin(), packets[0].wire_form().end());
    longer.resize(65, 0);
    EXPECT_THROW(parse_wire_packet(longer, 64), ParseError);
}

TEST(ParseHeaderMalformed, EveryTruncationThrows) {
    const Bytes h = valid_header();
    (void)parse_header(h);
    for (std::size_t n = 0; n < h.size(); ++n)
        EXPECT_THROW(parse_header(ByteView(h.data(), n)), ParseError) << "prefix " << n;
}

TEST(ParseHeaderMalformed, AbsurdSizes) {
    const Bytes good = valid_header();
    const HeaderInfo info = parse_header(good);
    auto find = [&](const std::string& name) {
        for (const auto& o : info.objects)
            if (o.name == name) return static_cast<std::size_t>(o.offset);
        ADD_FAILURE() << name;
        return std::size_t{0};
    };
    auto patched = [&](std::size_t at, std::initializer_list<std::uint8_t> v) {
        Bytes b = good;
        std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
        return b;
    };
    const std::initializer_list<std::uint8_t> huge = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    const std::initializer_list<std::uint8_t> zero = {0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_THROW(parse_header(patched(16, huge)), ParseError);           // Header Object size
    EXPECT_THROW(parse_header(patched(16, zero)), ParseError);
    EXPECT_THROW(parse_header(patched(0, {0x31})), ParseError);          // not a Header Object
    EXPECT_THROW(parse_header(patched(30 + 16, zero)), ParseError);      // File Properties size 0
    EXPECT_THROW(parse_header(patched(30 + 16, huge)), ParseError);
    const std::size_t cl = find("Codec List");
    EXPECT_THROW(parse_header(patched(cl + 40, {0xFF, 0xFF, 0xFF, 0xFF})), ParseError);  // entry count
    const std::size_t he = find("Header Extension");
    EXPECT_THROW(parse_header(patched(he + 42, {0xFF, 0xFF, 0xFF, 0xFF})), ParseError);  // data size
    const std::size_t sp = find("Stream Properties");
    EXPECT_THROW(parse_header(patched(sp + 64, {0xFF, 0xFF, 0xFF, 0x7F})), ParseError);  // X
    EXPECT_THROW(parse_header(patched(sp + 78 + 9, {0xFF, 0xFF})), ParseError);           // Format Data Size
    const std::size_t data = static_cast<std::size_t>(info.header_size);
    EXPECT_THROW(parse_header(patched(data, {0x35})), ParseError);       // Data Object GUID
    try {
        parse_header(patched(cl + 40, {0xFF, 0xFF, 0xFF, 0xFF}));
    } catch (const ParseError& e) {
        EXPECT_NE(std::string(e.what()).find("Codec List"), std::string::npos) << e.what();
    }
}

TEST(ParsePacketMalformed, TruncatedAndAbsurd) {
    const auto packets = some_packets();
    const Bytes& p = packets[0].bytes;
    for (std::size_t n = 0; n < p.size(); ++n)
        EXPECT_THROW(parse_packet(ByteView(p.data(), n), 64), ParseError) << "prefix " << n;
    auto patched = [&](std::size_t at, std::initializer_list<std::uint8_t> v) {
        Bytes b = p;
        std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
        return b;
    };
    EXPECT_THROW(parse_packet(patched(5, {0xFF, 0xFF}), 64), ParseError);  // padding > packet
    EXPECT_THROW(parse_packet(patched(5, {0x33, 0x00}), 64), ParseError);  // padding eats the payloads
    EXPECT_THROW(parse_packet(patched(0, {0xA2}), 64), ParseError);        // EC length type 1
    EXPECT_THROW(parse_packet(patched(13, {0xBF}), 64), ParseError);       // 63 payloads
    EXPECT_THROW(parse_packet(patched(13, {0x02}), 64), ParseError);       // payload length type 0
    EXPECT_THROW(parse_packet(patched(20, {0x03}), 64), ParseError);       // replicated length 3
    EXPECT_THROW(parse_packet(patched(29, {0xFF, 0xFF}), 64), ParseError); // payload length
    EXPECT_THROW(parse_packet(patched(3, {0x70}), 64), ParseError);        // packet length DWORD, huge
    EXPECT_THROW(to_wire_form(patched(5, {0xFF, 0xFF}), 64), ParseError);
    EXPECT_THROW(parse_packet(p, 65), ParseError);  // fixed size larger than the bytes
}

// Every single-byte change to a valid header or packet parses or throws ParseError, nothing else.
TEST(ReaderMalformed, ByteMutations) {
    const Bytes h = valid_header();
    for (std::size_t i = 0; i < h.size(); ++i) {
        for (std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0x7F}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
            Bytes b = h;
            b[i] = v;
            try {
                (void)parse_header(b);
            } catch (const ParseError&) {
            }
        }
    }
    for (const auto& pk : some_packets()) {
        for (std::size_t i = 0; i < pk.bytes.size(); ++i) {
            for (int v = 0; v < 256; v += 15) {
                Bytes b = pk.bytes;
                b[i] = static_cast<std::uint8_t>(v);
                for (std::uint32_t size : {0u, 32u, 64u, 100000u}) {
                    try {
                        (void)parse_packet(b, size);
                    } catch (const ParseError&) {
                    }
                    try {
                        (void)to_wire_form(b, size);
                    } catch (const ParseError&) {
                    }
                    try {
                        (void)parse_wire_packet(b, size);
                    } catch (const ParseError&) {
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace asfcast::asfmux
