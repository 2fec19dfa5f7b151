// MS-MSBD messages: the bytes each builder writes, checked field by field against the layouts of
// MS-MSBD 2.2 (hand-written hex, not derived from the builders), the decoders' length checks (5.1),
// and MsbdMessageReader cutting a byte stream into messages under its bound, failing at the first
// bad MSBMSGBASE field.
#include "msbd_message.hpp"

#include <gtest/gtest.h>

#include "../asfmux/test_util.hpp"

namespace asfcast::msbd {
namespace {

using testutil::cat;
using testutil::H;

// MSBMSGBASE (2.2.1): "MSB ", version 0x0106, wMessageId, cbMessage, hr.
Bytes base(std::uint16_t id, std::uint32_t size, std::uint32_t hr = 0) {
    Bytes b = H("4D 53 42 20 06 01");
    ByteWriter w(b);
    w.u16(id);
    w.u32(size);
    w.u32(hr);
    return b;
}

MsbdMessage read_one(const Bytes& wire) {
    MsbdMessageReader r;
    r.feed(wire);
    MsbdMessage m;
    EXPECT_EQ(r.next(m), MsbdMessageReader::Status::message) << r.error();
    EXPECT_EQ(r.buffered(), 0u);
    return m;
}

TEST(MsbdBuild, HeaderOnlyMessages) {
    EXPECT_BYTES_EQ(header_only_message(MessageId::req_ping), H("4D534220 0601 0100 10000000 00000000"));
    EXPECT_BYTES_EQ(header_only_message(MessageId::res_ping), H("4D534220 0601 0200 10000000 00000000"));
    EXPECT_BYTES_EQ(header_only_message(MessageId::req_streaminfo), H("4D534220 0601 0300 10000000 00000000"));
    EXPECT_BYTES_EQ(header_only_message(MessageId::ind_eos), H("4D534220 0601 0900 10000000 00000000"));
}

TEST(MsbdBuild, ConnectResponseIs36BytesWithAZeroAddress) {
    // 2.2.8: dwFlags 0, sin_family 0, sin_port 0, sin_addr 0, sin_zero 8 x 0.
    EXPECT_BYTES_EQ(connect_response(hresult::ok),
                    cat({base(0x0008, 36), H("00000000 0000 0000 00000000 0000000000000000")}));
    EXPECT_BYTES_EQ(connect_response(hresult::multicast_not_offered),
                    cat({base(0x0008, 36, 0xC00D001A), testutil::zeros(20)}));
}

TEST(MsbdBuild, ConnectRequestCarriesTheChannelInUtf16WithoutNul) {
    // 2.2.7: "NetShow" = 7 UTF-16LE characters, 14 bytes, no terminating NUL.
    EXPECT_BYTES_EQ(connect_request(kConnectOverTcp),
                    cat({base(0x0007, 34), H("01000000 4E00 6500 7400 5300 6800 6F00 7700")}));
}

TEST(MsbdBuild, StreamInfoLayout) {
    StreamInfo s;
    s.stream_id = 0x0005;
    s.packet_size = 1400;
    s.bit_rate = 1'096'000;
    s.duration_ms = kUnknownDuration;
    s.title = H("AA");
    s.header = H("01 02 03");
    // 2.2.6: wStreamId, cbPacketSize, cTotalPackets, dwBitRate, msDuration, cbTitle, cbDescription,
    // cbLink, cbHeader, then title, description, link, header.
    EXPECT_BYTES_EQ(stream_info_message(MessageId::ind_streaminfo, s),
                    cat({base(0x0005, 48 + 4), H("0500 7805 00000000 40B91000 FFFFFFFF 01000000 00000000 00000000 "
                                                 "03000000 AA 010203")}));
    const Bytes res = stream_info_message(MessageId::res_streaminfo, s);
    EXPECT_EQ(res[6], 0x04);  // 2.2.5: same structure, wMessageId 0x0004
    // 3.1.5.3: the empty STREAMINFO: hr 0xC00D0033, every field 0, no bBinaryData.
    EXPECT_BYTES_EQ(empty_stream_info(), cat({base(0x0005, 48, 0xC00D0033), testutil::zeros(32)}));
}

TEST(MsbdBuild, StreamInfoRefusesValuesOutsideTheSpecRanges) {
    StreamInfo s;
    s.stream_id = 0x0800;  // 2.2.6: 0x0000..0x07FF or 0x8000..0x87FF
    EXPECT_THROW(stream_info_message(MessageId::ind_streaminfo, s), std::invalid_argument);
    s.stream_id = 0x8001;
    EXPECT_NO_THROW(stream_info_message(MessageId::ind_streaminfo, s));
    s.stream_id = 1;
    s.packet_size = 0xFFF8;  // cbPacketSize at most 0xFFF7
    EXPECT_THROW(stream_info_message(MessageId::ind_streaminfo, s), std::invalid_argument);
    s.packet_size = 8192;
    s.header = Bytes(0xFFD0, 0);  // cbHeader at most 0xFFCF
    EXPECT_THROW(stream_info_message(MessageId::ind_streaminfo, s), std::invalid_argument);
    s.header = Bytes(0xFFCF, 0);
    s.title = Bytes(0x100, 0);  // bBinaryData at most 65,487 bytes
    EXPECT_THROW(stream_info_message(MessageId::ind_streaminfo, s), std::invalid_argument);
    s.title = Bytes(65487 - 0xFFCF, 0);
    const Bytes biggest = stream_info_message(MessageId::ind_streaminfo, s);
    EXPECT_EQ(biggest.size(), 0xFFFFu);  // cbMessage reaches 0xFFFF exactly
    EXPECT_EQ(parse_stream_info(read_one(biggest)).header.size(), 0xFFCFu);
}

TEST(MsbdBuild, PacketPrefix) {
    // 2.2.10: header (cbMessage = 24 + payload), dwPacketId, wStreamId, wPacketSize = payload + 8.
    const auto p = packet_message_prefix(0x01020304, 0x0007, 1400);
    EXPECT_BYTES_EQ(Bytes(p.begin(), p.end()), cat({base(0x000A, 24 + 1400), H("04030201 0700 8005")}));
    EXPECT_NO_THROW(packet_message_prefix(0, 1, 0xFFE7));
    EXPECT_THROW(packet_message_prefix(0, 1, 0xFFE8), std::invalid_argument);  // wPacketSize above 0xFFEF
}

TEST(MsbdDecode, RoundTrips) {
    const ConnectRequest c = parse_connect_request(read_one(connect_request(kConnectMulticast, "Kanal ü")));
    EXPECT_EQ(c.flags, kConnectMulticast);
    EXPECT_TRUE(c.channel_is_unicode());
    EXPECT_EQ(c.channel_text(), "Kanal ü");

    StreamInfo s;
    s.stream_id = 3;
    s.packet_size = 8192;
    s.total_packets = 0;
    s.bit_rate = 2'128'000;
    s.duration_ms = kUnknownDuration;
    s.description = H("0102");
    s.link = H("03");
    s.header = Bytes(5000, 0x5A);
    const StreamInfo back = parse_stream_info(read_one(stream_info_message(MessageId::res_streaminfo, s)));
    EXPECT_EQ(back.stream_id, 3);
    EXPECT_EQ(back.packet_size, 8192);
    EXPECT_EQ(back.bit_rate, 2'128'000u);
    EXPECT_EQ(back.duration_ms, kUnknownDuration);
    EXPECT_EQ(back.description, s.description);
    EXPECT_EQ(back.link, s.link);
    EXPECT_EQ(back.header, s.header);

    const ConnectResponse r = parse_connect_response(read_one(connect_response(0)));
    EXPECT_EQ(r.flags, 0u);
    EXPECT_EQ(r.sin_family, 0);

    Bytes packet(1400, 0x11);
    const auto prefix = packet_message_prefix(9, 2, packet.size());
    Bytes wire(prefix.size() + packet.size());
    std::copy(prefix.begin(), prefix.end(), wire.begin());
    std::copy(packet.begin(), packet.end(), wire.begin() + static_cast<std::ptrdiff_t>(prefix.size()));
    const MsbdMessage m = read_one(wire);
    const PacketMessage pm = parse_packet_message(m);
    EXPECT_EQ(pm.packet_id, 9u);
    EXPECT_EQ(pm.stream_id, 2);
    EXPECT_EQ(Bytes(pm.payload.begin(), pm.payload.end()), packet);
}

TEST(MsbdDecode, LengthsPastTheEndAreRefused) {
    // 5.1: cbTitle + cbDescription + cbLink + cbHeader must match bBinaryData.
    Bytes si = cat({base(0x0005, 48 + 2), H("0100 0004 00000000 00000000 FFFFFFFF 00000000 00000000 00000000 "
                                            "03000000 AAAA")});
    EXPECT_THROW(parse_stream_info(read_one(si)), ParseError);
    si = cat({base(0x0005, 48), H("0100 0004 00000000 00000000 FFFFFFFF FFFFFFFF FFFFFFFF 02000000 00000000")});
    EXPECT_THROW(parse_stream_info(read_one(si)), ParseError);  // sizes that overflow 32 bits when added
    EXPECT_THROW(parse_stream_info(read_one(cat({base(0x0005, 20), H("01000000")}))), ParseError);  // short
    // IND_PACKET whose wPacketSize disagrees with cbMessage.
    EXPECT_THROW(parse_packet_message(read_one(cat({base(0x000A, 24 + 4), H("00000000 0100 0D00 01020304")}))),
                 ParseError);
    EXPECT_THROW(parse_packet_message(read_one(cat({base(0x000A, 20), H("00000000")}))), ParseError);
    EXPECT_THROW(parse_connect_request(read_one(cat({base(0x0007, 18), H("0100")}))), ParseError);
    EXPECT_THROW(parse_connect_response(read_one(cat({base(0x0008, 20), H("00000000")}))), ParseError);
    EXPECT_THROW(expect_header_only(read_one(cat({base(0x0002, 17), H("00")}))), ParseError);
    // An odd szChannel decodes (the session refuses it with E_INVALIDARG).
    const ConnectRequest odd = parse_connect_request(read_one(cat({base(0x0007, 23), H("01000000 4E 00 65")})));
    EXPECT_FALSE(odd.channel_is_unicode());
}

TEST(MsbdReader, CutsMessagesFedByteByByteAndAllAtOnce) {
    Bytes stream = cat({connect_request(1), header_only_message(MessageId::req_streaminfo),
                        header_only_message(MessageId::res_ping), connect_request(1, std::string(300, 'x'))});
    const std::vector<MessageId> want = {MessageId::req_connect, MessageId::req_streaminfo, MessageId::res_ping,
                                         MessageId::req_connect};
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{16}, stream.size()}) {
        MsbdMessageReader r;
        std::vector<MessageId> got;
        for (std::size_t at = 0; at < stream.size(); at += piece) {
            r.feed(ByteView(stream).subspan(at, std::min(piece, stream.size() - at)));
            MsbdMessage m;
            for (;;) {
                const auto status = r.next(m);
                ASSERT_NE(status, MsbdMessageReader::Status::malformed) << r.error();
                if (status == MsbdMessageReader::Status::need_more) break;
                EXPECT_EQ(m.version, kVersion);
                got.push_back(m.id);
            }
            EXPECT_LT(r.buffered(), kMaxMessageSize);
        }
        EXPECT_EQ(got, want) << "pieces of " << piece;
        EXPECT_EQ(r.messages(), 4u);
        EXPECT_EQ(r.buffered(), 0u);
    }
}

MsbdMessageReader::Status feed_all(MsbdMessageReader& r, const Bytes& b) {
    r.feed(b);
    MsbdMessage m;
    MsbdMessageReader::Status s;
    for (int i = 0; i < 100 && (s = r.next(m)) == MsbdMessageReader::Status::message; ++i) {
    }
    return s;
}

TEST(MsbdReader, FailsAtTheFirstBadHeaderField) {
    {
        // A wrong signature is seen at its first byte: nothing more is waited for.
        MsbdMessageReader r;
        EXPECT_EQ(feed_all(r, H("47")), MsbdMessageReader::Status::malformed);  // "G" of "GET /"
        EXPECT_NE(r.error().find("dwSignature 47"), std::string::npos) << r.error();
        EXPECT_EQ(feed_all(r, connect_request(1)), MsbdMessageReader::Status::malformed);  // stays failed
    }
    {
        MsbdMessageReader r;
        EXPECT_EQ(feed_all(r, H("4D 53 42")), MsbdMessageReader::Status::need_more);
        EXPECT_EQ(feed_all(r, H("21")), MsbdMessageReader::Status::malformed);
    }
    {
        MsbdMessageReader r;  // 0x0006 is not a message id (2.2.1)
        EXPECT_EQ(feed_all(r, H("4D534220 0601 0600")), MsbdMessageReader::Status::malformed);
        EXPECT_NE(r.error().find("wMessageId 0x0006"), std::string::npos) << r.error();
    }
    {
        MsbdMessageReader r;  // 0x000B neither
        EXPECT_EQ(feed_all(r, base(0x000B, 16)), MsbdMessageReader::Status::malformed);
    }
    {
        MsbdMessageReader r;  // cbMessage below the header's own 16 bytes
        EXPECT_EQ(feed_all(r, H("4D534220 0601 0200 0F000000")), MsbdMessageReader::Status::malformed);
        EXPECT_NE(r.error().find("cbMessage 15"), std::string::npos) << r.error();
    }
    {
        MsbdMessageReader r;  // cbMessage above 0xFFFF: refused before any of the body arrives
        EXPECT_EQ(feed_all(r, H("4D534220 0601 0700 00000100")), MsbdMessageReader::Status::malformed);
        EXPECT_NE(r.error().find("cbMessage 65536"), std::string::npos) << r.error();
    }
    {
        MsbdMessageReader r(256);  // a bound of its own
        EXPECT_EQ(feed_all(r, connect_request(1, std::string(200, 'x'))), MsbdMessageReader::Status::malformed);
        EXPECT_NE(r.error().find("above 256 bytes"), std::string::npos) << r.error();
        EXPECT_EQ(r.buffered(), 0u);
    }
    {
        // A version other than 0x0106 is read as it is (1.7: no negotiation, no MUST on the value).
        MsbdMessageReader r;
        Bytes b = header_only_message(MessageId::res_ping);
        b[4] = 0x07;
        r.feed(b);
        MsbdMessage m;
        EXPECT_EQ(r.next(m), MsbdMessageReader::Status::message);
        EXPECT_EQ(m.version, 0x0107);
    }
}

TEST(MsbdReader, NamesEveryMessage) {
    EXPECT_EQ(message_name(MessageId::ind_packet), "MSB_MSG_IND_PACKET");
    EXPECT_EQ(message_name(0x0006), "unknown message 0x0006");
    int known = 0;
    for (int id = 0; id < 0x10000; ++id) known += is_message_id(static_cast<std::uint16_t>(id));
    EXPECT_EQ(known, 9);
}

}  // namespace
}  // namespace asfcast::msbd
