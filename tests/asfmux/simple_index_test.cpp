// SimpleIndexBuilder (ASF-notes §17).
#include <gtest/gtest.h>

#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::cat;
using testutil::H;
using testutil::kFileId;
using testutil::test_audio;
using testutil::test_video;

EncodedFrame frame(int stream, Micros pts, std::size_t n, bool key) {
    EncodedFrame f;
    f.stream = stream;
    f.kind = stream == 2 ? MediaKind::audio : MediaKind::video;
    f.pts = f.dts = pts;
    f.keyframe = key;
    f.data.assign(n, 0x11);
    return f;
}

TEST(SimpleIndex, EntriesPointAtLatestKeyFrame) {
    MuxConfig c;
    c.packet_size = 64;
    c.preroll_ms = 1000;
    StreamSet s;
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    Packetizer p(c, s);
    std::vector<DataPacket> out;
    p.add(frame(1, 0, 100, true), 0, out);          // K0: packets 0, 1, 2 (36 + 36 + 28 bytes)
    p.add(frame(1, 500'000, 10, false), 0, out);    // packet 3
    p.add(frame(1, 2'500'000, 10, true), 0, out);   // K1: closes packet 3, starts packet 4
    p.flush(out);
    p.add(frame(2, 4'200'000, 4, false), 0, out);   // packet 5: extends the time to 5.2 s incl. preroll
    p.flush(out);
    ASSERT_EQ(out.size(), 6u);

    SimpleIndexBuilder ix(1, c.preroll_ms);
    for (const auto& pk : out) ix.add_packet(pk);
    // Times incl. preroll: K0 at 1.0 s, K1 at 3.5 s; last time 5.2 s -> entries for 0..5 s.
    EXPECT_EQ(ix.entries(), 6u);
    const Bytes expected = H(
        "90 08 00 33 B1 E5 CF 11 89 F4 00 A0 C9 03 49 CB"  // Object ID: Simple Index
        "5C 00 00 00 00 00 00 00"                          // Object Size 92 = 56 + 6 * 6
        "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"  // File ID
        "80 96 98 00 00 00 00 00"                          // Interval 10,000,000 x 100 ns
        "03 00 00 00"                                      // Maximum Packet Count 3
        "06 00 00 00"                                      // Index Entries Count
        "00 00 00 00 03 00"                                // 0 s: before K0 -> K0 (packet 0, 3 packets)
        "00 00 00 00 03 00"                                // 1 s: K0
        "00 00 00 00 03 00"                                // 2 s: K0
        "00 00 00 00 03 00"                                // 3 s: K1 (3.5 s) not yet -> K0
        "04 00 00 00 01 00"                                // 4 s: K1 (packet 4, 1 packet)
        "04 00 00 00 01 00");                              // 5 s: K1
    EXPECT_BYTES_EQ(ix.build(kFileId), expected);
}

TEST(SimpleIndex, NoKeyFramesNoEntries) {
    SimpleIndexBuilder ix(1, 3000);
    EXPECT_EQ(ix.entries(), 0u);
    const Bytes b = ix.build(kFileId);
    EXPECT_EQ(b.size(), 56u);
    EXPECT_BYTES_EQ(Bytes(b.begin() + 48, b.end()), H("00 00 00 00 00 00 00 00"));
}

TEST(SimpleIndex, OtherStreamIgnoredAndCustomInterval) {
    MuxConfig c;
    c.packet_size = 256;
    c.preroll_ms = 0;
    StreamSet s;
    s.video.push_back(test_video());
    VideoStreamFormat v2 = test_video();
    v2.stream = 3;
    s.video.push_back(v2);
    Packetizer p(c, s);
    std::vector<DataPacket> out;
    p.add(frame(3, 0, 10, true), 0, out);         // packet 0: stream 3 key
    p.add(frame(1, 0, 10, true), 0, out);         // packet 1: stream 1 key
    p.add(frame(1, 200'000, 10, true), 0, out);   // packet 2
    p.flush(out);
    SimpleIndexBuilder ix(1, 0, 100'000);  // 100 ms
    for (const auto& pk : out) ix.add_packet(pk);
    const Bytes b = ix.build(kFileId);
    // Last time 200 ms + 40 ms frame -> entries at 0, 100, 200 ms.
    ASSERT_EQ(ix.entries(), 3u);
    EXPECT_BYTES_EQ(Bytes(b.begin() + 40, b.end()),
                    H("40 42 0F 00 00 00 00 00"  // interval 1,000,000 x 100 ns
                      "01 00 00 00 03 00 00 00"  // max packet count 1, 3 entries
                      "01 00 00 00 01 00"        // 0 ms -> packet 1
                      "01 00 00 00 01 00"        // 100 ms -> packet 1
                      "02 00 00 00 01 00"));     // 200 ms -> packet 2
}

}  // namespace
}  // namespace asfcast::asfmux
