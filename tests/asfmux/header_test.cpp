// HeaderBuilder: object order, live vs final headers, round trip through parse_header.
#include <gtest/gtest.h>

#include <algorithm>

#include "objects.hpp"
#include "test_util.hpp"

namespace asfcast::asfmux {
namespace {

using testutil::H;
using testutil::kFileId;
using testutil::test_audio;
using testutil::test_video;

HeaderBuilder make_builder() {
    MuxConfig c;
    c.packet_size = 4096;
    c.preroll_ms = 2000;
    StreamSet s;
    s.audio.push_back(test_audio());  // stream 2, listed first: the header orders by number
    s.video.push_back(test_video());  // stream 1
    Metadata m;
    m.title = "Title";
    m.author = "Author";
    m.rating = "R";
    m.extended = {{"WM/EncodingSettings", "asfcast"}, {"Empty", ""}};
    return HeaderBuilder(c, s, m, kFileId, 0x01D9000000000000ULL);
}

TEST(Header, ObjectOrderAndHeaderObjectFields) {
    const MuxedHeader h = make_builder().build_live();
    const Bytes& b = h.bytes;
    ASSERT_GT(b.size(), 30u);
    // Header Object fixed part (ASF-notes §4): GUID, size, count 8 (2 streams + 6), 01 02.
    EXPECT_BYTES_EQ(Bytes(b.begin(), b.begin() + 16), H("30 26 B2 75 8E 66 CF 11 A6 D9 00 AA 00 62 CE 6C"));
    EXPECT_BYTES_EQ(Bytes(b.begin() + 24, b.begin() + 30), H("08 00 00 00 01 02"));

    const HeaderInfo info = parse_header(b);
    std::vector<std::string> names;
    for (const auto& o : info.objects) names.push_back(o.name + "@" + std::to_string(o.depth));
    const std::vector<std::string> expected = {
        "Header@0",          "File Properties@1",
        "Stream Properties@1", "Stream Properties@1",
        "Header Extension@1",  "Extended Stream Properties@2",
        "Extended Stream Properties@2", "Stream Bitrate Properties@1",
        "Codec List@1",        "Content Description@1",
        "Extended Content Description@1", "Data@0"};
    EXPECT_EQ(names, expected);
    EXPECT_EQ(info.header_size + 50, b.size());
    EXPECT_EQ(info.objects.back().offset, info.header_size);
    // Stream Properties in stream-number order.
    ASSERT_EQ(info.streams.size(), 2u);
    EXPECT_EQ(info.streams[0].number, 1);
    EXPECT_EQ(info.streams[1].number, 2);
}

TEST(Header, LiveFieldsAndMuxedHeader) {
    const MuxedHeader h = make_builder().build_live();
    EXPECT_EQ(h.packet_size, 4096u);
    EXPECT_EQ(h.preroll_ms, 2000u);
    EXPECT_EQ(h.video_streams, std::vector<int>{1});
    EXPECT_EQ(h.audio_streams, std::vector<int>{2});
    EXPECT_GE(h.max_bitrate, 500000u + 128000u);

    const HeaderInfo info = parse_header(h.bytes);
    EXPECT_EQ(info.file_id, kFileId);
    EXPECT_EQ(info.file_size, 0u);
    EXPECT_EQ(info.data_packets, 0u);
    EXPECT_EQ(info.play_duration_100ns, 0u);
    EXPECT_EQ(info.send_duration_100ns, 0u);
    EXPECT_EQ(info.preroll_ms, 2000u);
    EXPECT_EQ(info.flags, 1u);
    EXPECT_EQ(info.min_packet_size, 4096u);
    EXPECT_EQ(info.max_packet_size, 4096u);
    EXPECT_EQ(info.max_bitrate, h.max_bitrate);
    EXPECT_EQ(info.data_object_size, 50u);
    EXPECT_EQ(info.data_object_packets, 0u);
}

TEST(Header, RoundTripStreamsCodecsMetadata) {
    const HeaderInfo info = parse_header(make_builder().build_live().bytes);
    ASSERT_EQ(info.streams.size(), 2u);
    const StreamInfo& v = info.streams[0];
    EXPECT_EQ(v.kind, MediaKind::video);
    EXPECT_EQ(v.width, 320);
    EXPECT_EQ(v.height, 240);
    EXPECT_EQ(v.fourcc, "H264");
    EXPECT_EQ(v.codec_data, test_video().codec_private);
    // Stream Bitrate Properties: the media rate plus packetization overhead, whole 4096-byte
    // packets a second (StreamSet::stream_bitrates, in stream-number order).
    StreamSet set;
    set.audio.push_back(test_audio());
    set.video.push_back(test_video());
    MuxConfig c;
    c.packet_size = 4096;
    const auto rates = set.stream_bitrates(c);
    ASSERT_EQ(rates.size(), 2u);
    EXPECT_EQ(v.bitrate, rates[0]);
    EXPECT_GT(v.bitrate, 500000u);
    EXPECT_EQ(v.bitrate % (4096 * 8), 0u);
    EXPECT_EQ(info.max_bitrate, rates[0] + rates[1]);
    EXPECT_FALSE(v.spread_error_correction);
    EXPECT_TRUE(v.has_extended_properties);
    const StreamInfo& a = info.streams[1];
    EXPECT_EQ(a.kind, MediaKind::audio);
    EXPECT_EQ(a.format_tag, 0x0161);
    EXPECT_EQ(a.channels, 2);
    EXPECT_EQ(a.sample_rate, 44100u);
    EXPECT_EQ(a.avg_bytes_per_sec, 16000u);
    EXPECT_EQ(a.block_align, 1486);
    EXPECT_EQ(a.codec_data, test_audio().codec_data);
    EXPECT_EQ(a.bitrate, rates[1]);
    EXPECT_GT(a.bitrate, 128000u);
    EXPECT_TRUE(a.spread_error_correction);
    EXPECT_TRUE(a.has_extended_properties);
    EXPECT_EQ(info.codecs, (std::vector<std::string>{"H264", "WMA"}));
    EXPECT_EQ(info.metadata.title, "Title");
    EXPECT_EQ(info.metadata.author, "Author");
    EXPECT_EQ(info.metadata.copyright, "");
    EXPECT_EQ(info.metadata.rating, "R");
    const std::vector<std::pair<std::string, std::string>> ext = {{"WM/EncodingSettings", "asfcast"}, {"Empty", ""}};
    EXPECT_EQ(info.metadata.extended, ext);
}

TEST(Header, FinalIsSameLengthWithPatchedFields) {
    const HeaderBuilder b = make_builder();
    const Bytes live = b.build_live().bytes;
    FileTotals t;
    t.data_packets = 10;
    t.file_size = live.size() + 10 * 4096 + 62;
    t.play_duration = 5'000'000;  // 5 s
    t.send_duration = 4'900'000;
    const Bytes fin = b.build_final(t);
    ASSERT_EQ(fin.size(), live.size());

    const HeaderInfo info = parse_header(fin);
    EXPECT_EQ(info.file_size, t.file_size);
    EXPECT_EQ(info.data_packets, 10u);
    EXPECT_EQ(info.play_duration_100ns, 50'000'000u + 2000u * 10'000u);  // includes preroll
    EXPECT_EQ(info.send_duration_100ns, 49'000'000u);
    EXPECT_EQ(info.flags, 2u);
    EXPECT_EQ(info.data_object_size, 50u + 10u * 4096u);
    EXPECT_EQ(info.data_object_packets, 10u);

    // Only File Properties bytes 40..95 (size..flags) and the Data Object size/packets differ.
    const std::size_t fp = 30;  // File Properties follows the Header Object's fixed part
    const std::size_t data = static_cast<std::size_t>(info.header_size);
    for (std::size_t i = 0; i < live.size(); ++i) {
        const bool in_fp = i >= fp + 40 && i < fp + 92;
        const bool in_data = (i >= data + 16 && i < data + 24) || (i >= data + 40 && i < data + 48);
        if (!in_fp && !in_data) {
            EXPECT_EQ(live[i], fin[i]) << "byte " << i;
        }
    }
}

TEST(Header, TotalBitrate) {
    StreamSet s;
    MuxConfig c;
    c.packet_size = 8192;
    EXPECT_GT(s.total_bitrate(c), 0u);  // never 0
    s.video.push_back(test_video());
    s.audio.push_back(test_audio());
    const std::uint32_t r = s.total_bitrate(c);
    EXPECT_GE(r, 500000u + 128000u + 8u * 14u);
    EXPECT_EQ(r % (8192 * 8), 0u);  // whole packets per second
    // The streams' rates add up to it, each whole packets a second, each above its media rate.
    const auto per = s.stream_bitrates(c);
    ASSERT_EQ(per.size(), 2u);
    EXPECT_EQ(per[0] + per[1], r);
    EXPECT_GT(per[0], 500000u);
    EXPECT_GT(per[1], 128000u);
    EXPECT_EQ(per[1] % (8192 * 8), 0u);
    s.video[0].max_bitrate = 2'000'000;
    EXPECT_GE(s.total_bitrate(c), 2'128'000u);
}

TEST(Header, RejectsBadConfig) {
    MuxConfig c;
    c.packet_size = 16;
    StreamSet s;
    s.video.push_back(test_video());
    EXPECT_THROW(HeaderBuilder(c, s, {}, kFileId, 0), std::invalid_argument);
    c.packet_size = 70000;
    EXPECT_THROW(HeaderBuilder(c, s, {}, kFileId, 0), std::invalid_argument);
    c.packet_size = 8192;
    s.audio.push_back(test_audio());
    s.audio[0].stream = 1;
    EXPECT_THROW(HeaderBuilder(c, s, {}, kFileId, 0), std::invalid_argument);
}


// MBR: three video renditions and one audio stream. One Bitrate Mutual Exclusion Object (Mutex
// Bitrate) lists the video streams; none for the single audio stream; the object count covers it.
HeaderBuilder make_mbr_builder(int audio_streams) {
    MuxConfig c;
    c.packet_size = 8192;
    StreamSet s;
    const int sizes[3][2] = {{1920, 1080}, {1280, 720}, {640, 360}};
    const char* names[3] = {"1080p 4500k", "720p 2500k", "360p 800k"};
    for (int i = 0; i < 3; ++i) {
        VideoStreamFormat v = test_video();
        v.stream = i + 1;
        v.width = sizes[i][0];
        v.height = sizes[i][1];
        v.stream_name = names[i];
        s.video.push_back(v);
    }
    for (int i = 0; i < audio_streams; ++i) {
        AudioStreamFormat a = test_audio();
        a.stream = 4 + i;
        s.audio.push_back(a);
    }
    return HeaderBuilder(c, s, Metadata{}, kFileId, 0);
}

TEST(Header, MbrThreeVideoOneAudioHasOneBitrateExclusion) {
    const Bytes b = make_mbr_builder(1).build_live().bytes;
    const HeaderInfo info = parse_header(b);
    ASSERT_EQ(info.streams.size(), 4u);
    ASSERT_EQ(info.mutual_exclusions.size(), 1u);
    EXPECT_EQ(info.mutual_exclusions[0].type, "Mutex Bitrate");
    EXPECT_EQ(info.mutual_exclusions[0].streams, (std::vector<int>{1, 2, 3}));
    // Number of Header Objects: File Properties, 4 Stream Properties, Header Extension, Stream
    // Bitrate Properties, 1 exclusion, Codec List, Content Description, Extended Content Description.
    std::uint32_t children = 0;
    for (const auto& o : info.objects) children += o.depth == 1;
    EXPECT_EQ(children, 11u);
    EXPECT_EQ(info.header_object_count, 11u);
    EXPECT_EQ(info.streams[0].name, "1080p 4500k");
    EXPECT_EQ(info.streams[2].name, "360p 800k");
    EXPECT_EQ(info.streams[2].width, 640);
    EXPECT_EQ(info.streams[3].name, "");
    // Layout (ASF-notes §13): GUID, size 24+16+2+3*2 = 48, Mutex Bitrate GUID, count 3, 1 2 3.
    const Bytes expected = H("DC 29 E2 D6 DA 35 D1 11 90 34 00 A0 C9 03 49 BE 30 00 00 00 00 00 00 00"
                             "01 2A E2 D6 DA 35 D1 11 90 34 00 A0 C9 03 49 BE 03 00 01 00 02 00 03 00");
    const auto it = std::search(b.begin(), b.end(), expected.begin(), expected.end());
    EXPECT_NE(it, b.end()) << "Bitrate Mutual Exclusion Object bytes not found";
    // Final header: same length, same groups.
    FileTotals t;
    t.data_packets = 3;
    const Bytes fin = make_mbr_builder(1).build_final(t);
    EXPECT_EQ(fin.size(), b.size());
    EXPECT_EQ(parse_header(fin).mutual_exclusions.size(), 1u);
}

TEST(Header, MbrTwoAudioEncodingsGetTheirOwnExclusion) {
    const HeaderInfo info = parse_header(make_mbr_builder(2).build_live().bytes);
    ASSERT_EQ(info.mutual_exclusions.size(), 2u);
    EXPECT_EQ(info.mutual_exclusions[0].streams, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(info.mutual_exclusions[1].type, "Mutex Bitrate");
    EXPECT_EQ(info.mutual_exclusions[1].streams, (std::vector<int>{4, 5}));
    EXPECT_EQ(info.header_object_count, 13u);
}

TEST(Header, SingleRenditionWritesNoExclusion) {
    const HeaderInfo info = parse_header(make_builder().build_live().bytes);
    EXPECT_TRUE(info.mutual_exclusions.empty());
    EXPECT_EQ(info.header_object_count, 8u);
}

}  // namespace
}  // namespace asfcast::asfmux
