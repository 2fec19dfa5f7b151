// Script command streams, the Script Command / Marker / Padding Objects and the packager hook
// (issue 13). Expected bytes are written from ASF-notes §6, §8, §12, §14, §16 field by field.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

#include "asfcast/asfmux/packager.hpp"
#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::cat;
using testutil::H;
using testutil::kFileId;
using testutil::test_audio;
using testutil::test_video;
using testutil::zeros;

Bytes write(const std::function<void(ByteWriter&)>& f) {
    Bytes out;
    ByteWriter w(out);
    f(w);
    return out;
}

// "AB" as NUL-terminated UTF-16LE.
Bytes u16z(std::string_view ascii) {
    Bytes out;
    for (char c : ascii) {
        out.push_back(static_cast<std::uint8_t>(c));
        out.push_back(0);
    }
    out.push_back(0);
    out.push_back(0);
    return out;
}

TEST(ScriptCommand, PayloadIsTwoNulTerminatedUtf16Strings) {
    const Bytes b = encode_script_command("URL", "http://x/");
    EXPECT_BYTES_EQ(b, cat({u16z("URL"), u16z("http://x/")}));
    auto back = decode_script_command(b);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->first, "URL");
    EXPECT_EQ(back->second, "http://x/");
    // Empty parameter (a CAPTION that clears): the second string is only its NUL.
    EXPECT_BYTES_EQ(encode_script_command("CAPTION", ""), cat({u16z("CAPTION"), H("00 00")}));
    ASSERT_TRUE(decode_script_command(encode_script_command("CAPTION", "")));
    // Not two strings exactly.
    EXPECT_FALSE(decode_script_command(u16z("ONLY")));
    EXPECT_FALSE(decode_script_command(cat({u16z("A"), u16z("B"), u16z("C")})));
    EXPECT_FALSE(decode_script_command(H("41 00 00")));
}

TEST(ScriptCommand, CommandStreamProperties) {
    CommandStreamFormat c;
    c.stream = 3;
    // ASF-notes §6: Stream Type Command Media, no error correction, time offset 0, type-specific
    // data 16 bytes (the WMSCRIPTTYPE_TwoStrings GUID), EC data 0, flags = stream 3, reserved.
    const Bytes expected = cat({H("91 07 DC B7 B7 A9 CF 11 8E E6 00 C0 0C 20 53 65"), H("5E 00 00 00 00 00 00 00"),
                                H("C0 CF DA 59 E6 59 D0 11 A3 AC 00 A0 C9 03 48 F6"),
                                H("00 57 FB 20 55 5B CF 11 A8 FD 00 80 5F 5C 44 2B"), zeros(8), H("10 00 00 00"),
                                H("00 00 00 00"), H("03 00"), H("00 00 00 00"),
                                H("70 8A F3 82 9F C2 D1 11 97 AD 00 A0 C9 5E A8 50")});
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_stream_properties(w, c); }), expected);
}

TEST(ScriptCommand, ScriptCommandObjectLayout) {
    // §12: Reserved GUID, Commands Count, Command Types Count, types (length in characters with
    // the NUL, name), commands (Presentation Time ms with the preroll, Type Index, length, name).
    const std::vector<ScriptCommand> cmds = {{1'500'000, "CAPTION", "Hi"}, {2'000'000, "URL", "u"},
                                             {2'500'000, "CAPTION", ""}};
    const Bytes body = cat({H("E3 CB 1A 4B 0B 10 D0 11 A3 9B 00 A0 C9 03 48 F6"), H("03 00"), H("02 00"),
                            H("08 00"), u16z("CAPTION"), H("04 00"), u16z("URL"),
                            H("DC 05 00 00"), H("00 00"), H("03 00"), u16z("Hi"),   // 1500 ms + 0 preroll
                            H("D0 07 00 00"), H("01 00"), H("02 00"), u16z("u"),
                            H("C4 09 00 00"), H("00 00"), H("01 00"), H("00 00")});
    Bytes size = H("00 00 00 00 00 00 00 00");
    const std::uint64_t total = 24 + body.size();
    for (int i = 0; i < 8; ++i) size[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(total >> (8 * i));
    const Bytes expected = cat({H("30 1A FB 1E 62 0B D0 11 A3 9B 00 A0 C9 03 48 F6"), size, body});
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_script_command_object(w, cmds, 0); }), expected);
    EXPECT_EQ(detail::script_command_object_size(cmds), expected.size());
}

TEST(ScriptCommand, MarkerObjectLayout) {
    // §12: Reserved GUID, Markers Count D, Reserved W, Name Length W (0); entries: Offset Q,
    // Presentation Time Q (100 ns, with the preroll), Entry Length W, Send Time D, Flags D,
    // Description Length D (characters with the NUL), Description.
    const std::vector<Marker> markers = {{3'000'000, "Q&A", 7, 2990}};
    const Bytes body = cat({H("20 DB FE 4C F6 75 CF 11 9C 0F 00 A0 C9 03 49 CB"), H("01 00 00 00"), H("00 00"),
                            H("00 00"), H("00 1C 00 00 00 00 00 00"),  // 7 × 1024
                            H("80 F0 FA 02 00 00 00 00"),                // (3000 + 2000) ms = 50,000,000 × 100 ns
                            H("14 00"), H("AE 0B 00 00"), H("00 00 00 00"), H("04 00 00 00"), u16z("Q&A")});
    const std::uint64_t total = 24 + body.size();
    Bytes size(8);
    for (int i = 0; i < 8; ++i) size[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(total >> (8 * i));
    const Bytes expected = cat({H("01 CD 87 F4 51 A9 CF 11 8E E6 00 C0 0C 20 53 65"), size, body});
    EXPECT_BYTES_EQ(write([&](ByteWriter& w) { detail::write_marker_object(w, markers, 2000, 1024); }), expected);
    EXPECT_EQ(detail::marker_object_size(markers), expected.size());
}

StreamSet streams_with_commands() {
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    CommandStreamFormat c;
    c.stream = 3;
    c.stream_name = "Captions";
    s.commands.push_back(c);
    return s;
}

HeaderBuilder builder(HeaderAdditions a) {
    MuxConfig c;
    c.packet_size = 2048;
    c.preroll_ms = 1000;
    return HeaderBuilder(c, streams_with_commands(), Metadata{}, kFileId, 0, std::move(a));
}

TEST(ScriptCommand, ReservedRoomKeepsTheFinalHeaderTheSameLength) {
    HeaderAdditions a;
    a.reserve_bytes = 600;
    const HeaderBuilder b = builder(a);
    const MuxedHeader live = b.build_live();
    EXPECT_EQ(live.command_streams, std::vector<int>{3});
    const HeaderInfo li = parse_header(live.bytes);
    ASSERT_EQ(li.streams.size(), 3u);
    EXPECT_EQ(li.streams[2].kind, MediaKind::command);
    EXPECT_EQ(li.objects[li.objects.size() - 2].name, "Padding");
    EXPECT_EQ(li.objects[li.objects.size() - 2].size, 600u);
    EXPECT_EQ(li.codecs.size(), 2u);  // a command stream has no codec

    ScriptListing l;
    l.commands = {{2'000'000, "CAPTION", "two"}, {1'000'000, "CAPTION", "one"}, {3'000'000, "URL", "http://a/"}};
    l.markers = {{1'500'000, "Keynote", 3, 1400}};
    FinalHeaderReport r;
    const Bytes fin = b.build_final(FileTotals{100000, 40, 5'000'000, 4'000'000}, l, &r);
    ASSERT_EQ(fin.size(), live.bytes.size());
    EXPECT_EQ(r.commands_listed, 3u);
    EXPECT_EQ(r.markers_listed, 1u);
    const HeaderInfo fi = parse_header(fin);
    ASSERT_EQ(fi.script_commands.size(), 3u);
    EXPECT_EQ(fi.script_commands[0].time_ms, 2000u);  // sorted by time, with the 1000 ms preroll
    EXPECT_EQ(fi.script_commands[0].name, "one");
    EXPECT_EQ(fi.script_commands[2].type, "URL");
    EXPECT_EQ(fi.script_command_types, (std::vector<std::string>{"CAPTION", "URL"}));
    ASSERT_EQ(fi.markers.size(), 1u);
    EXPECT_EQ(fi.markers[0].description, "Keynote");
    EXPECT_EQ(fi.markers[0].time_100ns, 25'000'000u);
    EXPECT_EQ(fi.markers[0].offset, 3u * 2048);
    std::uint32_t children = 0;
    for (const auto& o : fi.objects) children += o.depth == 1;
    EXPECT_EQ(children, fi.header_object_count);
}

TEST(ScriptCommand, WhatDoesNotFitIsLeftOutAndCounted) {
    HeaderAdditions a;
    a.reserve_bytes = 200;
    const HeaderBuilder b = builder(a);
    const std::size_t live = b.build_live().bytes.size();
    ScriptListing l;
    for (int i = 0; i < 50; ++i) l.commands.push_back({i * 100'000, "CAPTION", "caption number " + std::to_string(i)});
    l.markers = {{0, "Start", 0, 0}};
    FinalHeaderReport r;
    const Bytes fin = b.build_final(FileTotals{}, l, &r);
    EXPECT_EQ(fin.size(), live);
    EXPECT_EQ(r.markers_listed, 1u);
    EXPECT_GT(r.commands_dropped, 40u);
    EXPECT_EQ(r.commands_listed + r.commands_dropped, 50u);
    const HeaderInfo fi = parse_header(fin);
    EXPECT_EQ(fi.script_commands.size(), r.commands_listed);
    // Without a reservation nothing is listed.
    FinalHeaderReport none;
    const HeaderBuilder nb = builder({});
    EXPECT_EQ(nb.build_final(FileTotals{}, l, &none).size(), nb.build_live().bytes.size());
    EXPECT_EQ(none.commands_dropped, 50u);
    EXPECT_THROW(builder(HeaderAdditions{std::nullopt, 10}), std::invalid_argument);
}

// ---- the packager hook ----

const Guid kSampleId = *parse_guid("6698B84E-0AFA-4330-AEB2-1C0A98D7A44D");

ProtectionHeader test_protection(const StreamSet& s) {
    ProtectionHeader p;
    // A Protection System Identifier Object: GUID, size 50, System ID (PlayReady), Version 1,
    // Data Size 2, Data.
    Bytes obj = H("79 F0 04 9A 40 98 86 42 AB 92 E6 5B E0 88 5F 95  32 00 00 00 00 00 00 00"
                  "10 70 63 F4 C3 03 CD 42 B9 32 B4 8A DF 3A 6A 54  01 00 00 00  02 00 00 00  AA BB");
    p.header_objects.push_back(obj);
    for (const auto& r : detail::ordered_streams(s)) p.streams.push_back({r.number, true, {{kSampleId, 8, {}}}, {}});
    return p;
}

// XORs every byte with 0x5A and writes an 8-byte counter: enough to see every object went through it.
class XorPackager : public Packager {
public:
    std::string name() const override { return "xor"; }
    ProtectionHeader header(const StreamSet& s) override { return test_protection(s); }
    void protect(EncodedFrame& f, Bytes& ext) override {
        if (fail_at && calls + 1 == fail_at) throw PackagerError("refused");
        ++calls;
        for (auto& b : f.data) b ^= 0x5A;
        for (int i = 0; i < ext_size; ++i) ext.push_back(static_cast<std::uint8_t>(calls >> (8 * (i % 8))));
    }
    int calls = 0;
    int fail_at = 0;
    int ext_size = 8;
};

TEST(Packager, HeaderCarriesObjectsFlagsAndExtensionSystems) {
    const StreamSet s = streams_with_commands();
    HeaderAdditions a;
    a.protection = test_protection(s);
    const MuxedHeader h = builder(a).build_live();
    EXPECT_TRUE(h.protected_content);
    const HeaderInfo info = parse_header(h.bytes);
    for (const auto& st : info.streams) {
        EXPECT_TRUE(st.encrypted) << st.number;
        ASSERT_EQ(st.payload_extensions.size(), 1u);
        EXPECT_EQ(st.payload_extensions[0].id, kSampleId);
        EXPECT_EQ(st.payload_extensions[0].data_size, 8);
        EXPECT_EQ(st.extension_bytes(), 8u);
    }
    ASSERT_EQ(info.protection_systems.size(), 1u);
    EXPECT_EQ(info.protection_systems[0].system_id, *parse_guid("F4637010-03C3-42CD-B932-B48ADF3A6A54"));
    EXPECT_EQ(info.protection_systems[0].version, 1u);
    EXPECT_BYTES_EQ(info.protection_systems[0].data, H("AA BB"));
    // Stream Properties Flags: bit 15 set over the stream number (§6).
    const auto& sp = info.objects[2];
    ASSERT_EQ(sp.name, "Stream Properties");
    EXPECT_EQ(h.bytes[sp.offset + 72], 0x01);
    EXPECT_EQ(h.bytes[sp.offset + 73], 0x80);
}

TEST(Packager, RejectsWhatThePacketizerCannotCarry) {
    const StreamSet s = streams_with_commands();
    HeaderAdditions a;
    a.protection = test_protection(s);
    a.protection->streams[0].extensions[0].data_size = 0xFFFF;  // variable size
    EXPECT_THROW(builder(a), std::invalid_argument);
    a.protection = test_protection(s);
    a.protection->streams.push_back({9, true, {}, {}});  // no such stream
    EXPECT_THROW(builder(a), std::invalid_argument);
    a.protection = test_protection(s);
    a.protection->header_objects[0].pop_back();  // size field no longer matches
    EXPECT_THROW(builder(a), std::invalid_argument);
}

TEST(Packager, EveryPayloadGoesThroughItWithItsExtensionData) {
    const StreamSet s = streams_with_commands();
    auto packager = std::make_shared<XorPackager>();
    const ProtectionHeader ph = packager->header(s);
    MuxConfig c;
    c.packet_size = 2048;
    Packetizer p(c, s, packager, ph);
    EXPECT_TRUE(p.protected_content());
    EXPECT_EQ(p.max_unsplit_bytes(2), 2048u - 14 - 17 - 8);
    std::vector<DataPacket> out;
    p.add(EncodedFrame{1, MediaKind::video, 0, 0, true, Bytes(5000, 0x11)}, 0, out);
    p.add(EncodedFrame{2, MediaKind::audio, 0, 0, false, Bytes(300, 0x22)}, 0, out);
    p.add(EncodedFrame{3, MediaKind::command, 0, 0, false, encode_script_command("CAPTION", "x")}, 0, out);
    p.flush(out);
    EXPECT_EQ(packager->calls, 3);
    std::size_t video_bytes = 0;
    for (const auto& pk : out) {
        ASSERT_EQ(pk.bytes.size(), 2048u);
        const PacketInfo info = parse_packet(pk.bytes, 2048);
        for (const auto& pl : info.payloads) {
            ASSERT_EQ(pl.extension.size(), 8u);
            const ByteView data(pk.bytes.data() + pl.data_at, pl.length);
            if (pl.stream == 1) {
                EXPECT_EQ(pl.extension[0], 1);
                for (auto b : data) ASSERT_EQ(b, 0x11 ^ 0x5A);
                video_bytes += pl.length;
            } else if (pl.stream == 2) {
                EXPECT_EQ(pl.extension[0], 2);
                for (auto b : data) ASSERT_EQ(b, 0x22 ^ 0x5A);
            } else {
                EXPECT_EQ(pl.extension[0], 3);
            }
        }
        // The wire form keeps the same payloads.
        const PacketInfo wire = parse_wire_packet(pk.wire_form(), 2048);
        EXPECT_EQ(wire.payloads.size(), info.payloads.size());
    }
    EXPECT_EQ(video_bytes, 5000u);
}

TEST(Packager, AFailureWritesNothingOfThatObject) {
    const StreamSet s = streams_with_commands();
    auto packager = std::make_shared<XorPackager>();
    MuxConfig c;
    c.packet_size = 2048;
    Packetizer p(c, s, packager, packager->header(s));
    std::vector<DataPacket> out;
    p.add(EncodedFrame{2, MediaKind::audio, 0, 0, false, Bytes(300, 0x22)}, 0, out);
    packager->fail_at = 2;
    EXPECT_THROW(p.add(EncodedFrame{1, MediaKind::video, 1000, 1000, true, Bytes(5000, 0x11)}, 0, out), PackagerError);
    p.flush(out);
    ASSERT_EQ(out.size(), 1u);
    const PacketInfo info = parse_packet(out[0].bytes, 2048);
    ASSERT_EQ(info.payloads.size(), 1u);
    EXPECT_EQ(info.payloads[0].stream, 2);
    // A wrong amount of extension data is the packager's error too.
    packager->fail_at = 0;
    packager->ext_size = 4;
    EXPECT_THROW(p.add(EncodedFrame{2, MediaKind::audio, 0, 0, false, Bytes(10, 1)}, 0, out), PackagerError);
}

}  // namespace
}  // namespace asfcast::asfmux
