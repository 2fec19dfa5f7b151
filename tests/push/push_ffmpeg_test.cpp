// End to end with real media: an ASF file made by ffmpeg (WMV2 + WMA2) is pushed packet by
// packet through PushOutput to the strict receiver, which re-serves what it received as a file
// (header + packets padded back to the packet size); `ffmpeg -v error` must decode it cleanly.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/push/push_output.hpp"
#include "push_test_util.hpp"
#include "strict_receiver.hpp"

namespace asfcast::push {
namespace {

using namespace std::chrono_literals;

// Runs a shell command, returns its exit status and what it printed on stderr/stdout.
int run(const std::string& cmd, std::string& output) {
    output.clear();
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    return ::pclose(p);
}

Bytes read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), {});
}

// An ASF file made by another muxer as a playlist entry: its header (Header Object + 50 bytes of
// Data Object) and its packets, numbered from `first_number`, each with its wire form made once
// where it enters the stream (padding removed, single payloads in the multiple layout).
struct Entry {
    HeaderPtr header;
    std::vector<PacketPtr> packets;
};

Entry split_asf(const Bytes& file, std::uint64_t first_number = 0) {
    Entry e;
    ByteReader r(file);
    r.skip(16);
    const auto header_size = static_cast<std::size_t>(r.u64());
    auto header = std::make_shared<MuxedHeader>();
    header->bytes.assign(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(header_size + 50));
    const auto info = asfmux::parse_header(header->bytes);
    header->packet_size = info.max_packet_size;
    header->max_bitrate = info.max_bitrate;
    for (const auto& s : info.streams) (s.kind == MediaKind::video ? header->video_streams : header->audio_streams).push_back(s.number);
    for (std::size_t off = header_size + 50; off + header->packet_size <= file.size() && e.packets.size() < info.data_object_packets;
         off += header->packet_size) {
        auto p = std::make_shared<DataPacket>();
        p->bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(off),
                        file.begin() + static_cast<std::ptrdiff_t>(off + header->packet_size));
        const auto pi = asfmux::parse_packet(p->bytes, header->packet_size);
        p->number = first_number + e.packets.size();
        p->send_time_ms = pi.send_time_ms;
        p->padding = pi.padding;
        p->wire = asfmux::to_wire_form(p->bytes, header->packet_size);
        if (p->wire == p->bytes) p->wire.clear();
        // ffmpeg does not start packets at key frames: a packet holding the start of a video key
        // frame is where a receiver can start.
        for (const auto& pl : pi.payloads)
            if (pl.keyframe && pl.offset == 0 && pl.stream == header->video_streams.at(0)) p->starts_with_key_frame = true;
        e.packets.push_back(std::move(p));
    }
    e.header = std::move(header);
    return e;
}

// Writes a header and packets padded back to the packet size (ASF-notes 16.2) as a file.
void write_asf(const std::string& path, const Bytes& header, const std::vector<Bytes>& packets, std::uint32_t packet_size) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    for (const auto& p : packets) {
        Bytes padded = p;
        padded.resize(packet_size, 0);
        f.write(reinterpret_cast<const char*>(padded.data()), static_cast<std::streamsize>(padded.size()));
    }
}

TEST(PushFfmpeg, ReceivedStreamDecodes) {
    std::string out;
    if (run("command -v ffmpeg", out) != 0) GTEST_SKIP() << "ffmpeg not installed";
    char dir_tpl[] = "/tmp/asfcast-push-XXXXXX";
    const char* dir = ::mkdtemp(dir_tpl);
    ASSERT_NE(dir, nullptr);
    const std::string src = std::string(dir) + "/source.asf", dst = std::string(dir) + "/received.asf";
    ASSERT_EQ(run("timeout 60 ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i "
                  "sine=frequency=440:sample_rate=44100 -t 4 -c:v wmv2 -b:v 300k -g 25 -c:a wmav2 -b:a 64k "
                  "-packet_size 3200 -f asf " + src, out), 0) << out;

    // Split the file into the ASF header (Header Object + 50 bytes of Data Object) and packets.
    const Bytes file = read_file(src);
    ASSERT_GT(file.size(), 100u);
    ByteReader r(file);
    r.skip(16);
    const auto header_size = static_cast<std::size_t>(r.u64());
    auto header = std::make_shared<MuxedHeader>();
    header->bytes.assign(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(header_size + 50));
    const auto info = asfmux::parse_header(header->bytes);
    header->packet_size = info.max_packet_size;
    header->max_bitrate = info.max_bitrate;
    for (const auto& s : info.streams) (s.kind == MediaKind::video ? header->video_streams : header->audio_streams).push_back(s.number);
    std::vector<PacketPtr> packets;
    for (std::size_t off = header_size + 50; off + header->packet_size <= file.size() && packets.size() < info.data_object_packets;
         off += header->packet_size) {
        auto p = std::make_shared<DataPacket>();
        p->bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(off),
                        file.begin() + static_cast<std::ptrdiff_t>(off + header->packet_size));
        const auto pi = asfmux::parse_packet(p->bytes, header->packet_size);
        p->number = packets.size();
        p->send_time_ms = pi.send_time_ms;
        p->padding = pi.padding;
        // Packets from another muxer get their wire form once, where they enter the stream (as a
        // playlist entry would): padding removed, single payloads in the multiple layout.
        p->wire = asfmux::to_wire_form(p->bytes, header->packet_size);
        if (p->wire == p->bytes) p->wire.clear();
        // ffmpeg does not start packets at key frames: a packet holding the start of a video key
        // frame is where a receiver can start.
        for (const auto& pl : pi.payloads)
            if (pl.keyframe && pl.offset == 0 && pl.stream == header->video_streams.at(0)) p->starts_with_key_frame = true;
        packets.push_back(std::move(p));
    }
    ASSERT_GT(packets.size(), 10u);

    pushtest::StrictReceiver rx;
    PushConfig cfg;
    cfg.targets.push_back({rx.url(), "", "", "", false});
    {
        PushOutput push(cfg);
        push.feed()->publish_header(header);
        for (const auto& p : packets) push.feed()->publish_packet(p);
        pushtest::end_stream(push);
    }
    ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 5000ms));
    for (const auto& v : rx.violations()) ADD_FAILURE() << "receiver: " << v;
    const auto v = rx.view();
    ASSERT_EQ(v.packets.size(), packets.size());

    // Re-serve: the header and every packet padded back to the fixed size (ASF-notes 16.2).
    {
        std::ofstream f(dst, std::ios::binary);
        f.write(reinterpret_cast<const char*>(v.header.data()), static_cast<std::streamsize>(v.header.size()));
        for (const auto& p : v.packets) {
            Bytes padded = p;
            padded.resize(header->packet_size, 0);
            f.write(reinterpret_cast<const char*>(padded.data()), static_cast<std::streamsize>(padded.size()));
        }
    }
    const int rc = run("timeout 60 ffmpeg -v error -i " + dst + " -f null -", out);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(out, "") << "ffmpeg reported errors decoding what the receiver got";
    std::string probe;
    run("timeout 30 ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 " + dst, probe);
    EXPECT_EQ(probe, "100\n");  // 4 s at 25 fps
    std::string ignored;
    run("rm -rf " + std::string(dir), ignored);
}


// A header change (a new playlist entry) pushed through PushOutput to the strict receiver, which
// accepts only $E (Reason 1) then $C carrying the new header then $D (MS-WMHTTP 2.2.2.2, 3.2.5.5,
// 3.2.5.6). Two ffmpeg-made entries of different picture sizes; each entry the receiver got is
// re-served as a file and decodes cleanly with every frame.
TEST(PushFfmpeg, EachEntryOfAHeaderChangeDecodes) {
    std::string out;
    if (run("command -v ffmpeg", out) != 0) GTEST_SKIP() << "ffmpeg not installed";
    char dir_tpl[] = "/tmp/asfcast-push-XXXXXX";
    const char* dir = ::mkdtemp(dir_tpl);
    ASSERT_NE(dir, nullptr);
    const std::string d = dir;
    // The second entry's times continue after the first's 4 s (send times never go back).
    ASSERT_EQ(run("timeout 60 ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i "
                  "sine=frequency=440:sample_rate=44100 -t 4 -c:v wmv2 -b:v 300k -g 25 -c:a wmav2 -b:a 64k "
                  "-packet_size 3200 -f asf " + d + "/one.asf", out), 0) << out;
    ASSERT_EQ(run("timeout 60 ffmpeg -v error -y -f lavfi -i testsrc2=size=176x144:rate=25 -f lavfi -i "
                  "sine=frequency=880:sample_rate=44100 -t 2 -c:v wmv2 -b:v 200k -g 25 -c:a wmav2 -b:a 64k "
                  "-packet_size 3200 -output_ts_offset 4.5 -f asf " + d + "/two.asf", out), 0) << out;
    const Entry one = split_asf(read_file(d + "/one.asf"));
    const Entry two = split_asf(read_file(d + "/two.asf"), one.packets.size());
    ASSERT_GT(one.packets.size(), 10u);
    ASSERT_GT(two.packets.size(), 5u);
    ASSERT_NE(one.header->bytes, two.header->bytes);
    ASSERT_GE(two.packets.front()->send_time_ms, one.packets.back()->send_time_ms);

    pushtest::StrictReceiver rx;
    PushConfig cfg;
    cfg.targets.push_back({rx.url(), "", "", "", false});
    {
        PushOutput push(cfg);
        push.feed()->publish_header(one.header);
        for (const auto& p : one.packets) push.feed()->publish_packet(p);
        push.feed()->publish_header(two.header);
        for (const auto& p : two.packets) push.feed()->publish_packet(p);
        pushtest::end_stream(push);
        ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 5000ms));
        const auto st = push.status();
        ASSERT_EQ(st.size(), 1u);
        EXPECT_EQ(st[0].header_changes, 1u);
        EXPECT_EQ(st[0].packets_sent, one.packets.size() + two.packets.size());
    }
    for (const auto& v : rx.violations()) ADD_FAILURE() << "receiver: " << v;
    const auto v = rx.view();
    EXPECT_EQ(v.sessions_started, 1);
    EXPECT_EQ(v.header_changes, 1);
    EXPECT_EQ(v.entries_ended, 1);
    ASSERT_EQ(v.entries.size(), 2u);
    EXPECT_TRUE(v.entries[0].ended);
    EXPECT_EQ(v.entries[0].header, one.header->bytes);
    EXPECT_EQ(v.entries[1].header, two.header->bytes);
    ASSERT_EQ(v.entries[0].packets.size(), one.packets.size());
    ASSERT_EQ(v.entries[1].packets.size(), two.packets.size());

    const struct {
        const char* name;
        std::size_t entry;
        const char* frames;
    } files[] = {{"/got-one.asf", 0, "100\n"}, {"/got-two.asf", 1, "50\n"}};  // 4 s and 2 s at 25 fps
    for (const auto& f : files) {
        SCOPED_TRACE(f.name);
        const auto& e = v.entries[f.entry];
        write_asf(d + f.name, e.header, e.packets, asfmux::parse_header(e.header).max_packet_size);
        EXPECT_EQ(run("timeout 60 ffmpeg -v error -i " + d + f.name + " -f null -", out), 0);
        EXPECT_EQ(out, "") << "ffmpeg reported errors decoding an entry the receiver got";
        std::string probe;
        run("timeout 30 ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 " +
                d + f.name,
            probe);
        EXPECT_EQ(probe, f.frames);
    }
    std::string ignored;
    run("rm -rf " + d, ignored);
}

}  // namespace
}  // namespace asfcast::push
