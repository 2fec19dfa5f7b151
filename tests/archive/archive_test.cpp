// ArchiveWriter on its own: a finished file reads back with final sizes and an index; a full
// disk is reported without throwing into the broadcast; an unwritable path is a clear error.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "asfcast/archive/archive.hpp"
#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/failpoints.hpp"

using namespace asfcast;

namespace {

struct Fixture {
    asfmux::MuxConfig config;
    asfmux::StreamSet streams;
    std::shared_ptr<asfmux::HeaderBuilder> builder;
    Fixture() {
        config.packet_size = 1024;
        VideoStreamFormat v;
        v.stream = 1;
        v.width = 320;
        v.height = 240;
        v.fourcc = 0x34363248;
        v.bitrate = 500000;
        streams.video.push_back(v);
        builder = std::make_shared<asfmux::HeaderBuilder>(config, streams, asfmux::Metadata{}, asfmux::random_guid(),
                                                          asfmux::unix_to_filetime(0));
    }
    archive::HeaderFinalizer finalizer() {
        auto b = builder;
        return [b](const asfmux::FileTotals& t) { return b->build_final(t); };
    }
    // Three seconds of 30 fps video, a key frame each second.
    std::vector<DataPacket> packets() {
        asfmux::Packetizer p(config, streams);
        std::vector<DataPacket> out;
        for (int i = 0; i < 90; ++i) {
            EncodedFrame f;
            f.stream = 1;
            f.kind = MediaKind::video;
            f.pts = f.dts = static_cast<Micros>(i) * 33'333;
            f.keyframe = i % 30 == 0;
            f.data.assign(f.keyframe ? 3000 : 600, static_cast<std::uint8_t>(i));
            p.add(f, 0, out);
        }
        p.flush(out);
        return out;
    }
};

}  // namespace

TEST(ArchiveWriter, FinishedFileHasFinalHeaderAndIndex) {
    Fixture fx;
    auto path = std::filesystem::temp_directory_path() / ("archive_test_" + std::to_string(getpid()) + ".asf");
    auto pkts = fx.packets();
    {
        archive::ArchiveWriter w({path.string(), true, 64}, fx.finalizer());
        auto feed = w.feed();
        feed->publish_header(std::make_shared<MuxedHeader>(fx.builder->build_live()));
        for (auto& p : pkts) feed->publish_packet(std::make_shared<DataPacket>(p));
        feed->publish_end();  // returns at once: the writer finishes on its own thread
        EXPECT_TRUE(w.wait_finished(std::chrono::seconds(10)));
        EXPECT_EQ(w.error(), "");
        EXPECT_EQ(w.stats().packets_written.load(), pkts.size());
    }
    std::ifstream in(path, std::ios::binary);
    Bytes file((std::istreambuf_iterator<char>(in)), {});
    auto info = asfmux::parse_header(file);
    EXPECT_EQ(info.flags & 1u, 0u);  // broadcast cleared
    EXPECT_EQ(info.flags & 2u, 2u);  // seekable
    EXPECT_EQ(info.data_packets, pkts.size());
    EXPECT_EQ(info.file_size, file.size());
    const std::size_t index_at = info.header_size + 50 + pkts.size() * 1024;
    ASSERT_GT(file.size(), index_at + 56);
    EXPECT_EQ(file[index_at], 0x90);  // Simple Index Object GUID starts 90 08 00 33 (ASF-notes §3)
    EXPECT_EQ(file[index_at + 3], 0x33);
    std::filesystem::remove(path);
}

TEST(ArchiveWriter, FullDiskIsReportedNotThrown) {
    Fixture fx;
    archive::ArchiveWriter w({"/dev/full", true, 64}, fx.finalizer());
    auto feed = w.feed();
    feed->publish_header(std::make_shared<MuxedHeader>(fx.builder->build_live()));
    // The writer fails and closes its feed: even the waiting (offline) feed never blocks for good.
    for (auto& p : fx.packets()) EXPECT_NO_THROW(feed->publish_packet(std::make_shared<DataPacket>(p)));
    feed->publish_end();
    EXPECT_TRUE(w.wait_finished(std::chrono::seconds(10)));
    EXPECT_TRUE(w.stats().failed.load());
    EXPECT_TRUE(feed->closed());
    EXPECT_NE(w.error().find("free space"), std::string::npos) << w.error();
}

TEST(ArchiveWriter, AnErrorInTheWriterThreadEndsTheArchiveOnly) {
    // An exception on the writer thread (a bug): the archive reports it and closes its feed, so
    // the mux thread publishes into nothing instead of waiting; the file keeps what was written.
    Fixture fx;
    auto path = std::filesystem::temp_directory_path() / ("archive_fault_" + std::to_string(getpid()) + ".asf");
    set_failpoints("archive.write=10");
    {
        archive::ArchiveWriter w({path.string(), true, 4}, fx.finalizer());
        auto feed = w.feed();
        feed->publish_header(std::make_shared<MuxedHeader>(fx.builder->build_live()));
        for (auto& p : fx.packets()) feed->publish_packet(std::make_shared<DataPacket>(p));
        feed->publish_end();
        EXPECT_TRUE(w.wait_finished(std::chrono::seconds(10)));
        EXPECT_TRUE(w.stats().failed.load());
        EXPECT_NE(w.error().find("failpoint archive.write"), std::string::npos) << w.error();
        EXPECT_EQ(w.stats().packets_written.load(), 9u);
        EXPECT_TRUE(feed->closed());
    }
    set_failpoints("");
    EXPECT_EQ(std::filesystem::file_size(path), asfmux::parse_header(fx.builder->build_live().bytes).header_size + 50 + 9 * 1024);
    std::filesystem::remove(path);
}

TEST(ArchiveWriter, UnwritablePathNamesIt) {
    Fixture fx;
    try {
        archive::ArchiveWriter w({"/nonexistent-dir/x.wmv", false, 64}, fx.finalizer());
        FAIL() << "expected ArchiveError";
    } catch (const archive::ArchiveError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.wmv"), std::string::npos);
    }
}

namespace {

Bytes read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), {});
}

// A finalized file of ours: Seekable, not Broadcast, sizes and counts as on disk, an index per video stream.
void expect_final(const std::filesystem::path& p, std::uint64_t packets, std::uint32_t packet_size) {
    SCOPED_TRACE(p.string());
    const Bytes file = read_all(p);
    const auto info = asfmux::parse_header(file);
    EXPECT_EQ(info.flags & 3u, 2u);
    EXPECT_EQ(info.data_packets, packets);
    EXPECT_EQ(info.data_object_packets, packets);
    EXPECT_EQ(info.data_object_size, 50 + packets * packet_size);
    EXPECT_EQ(info.file_size, file.size());
    const std::size_t index_at = info.header_size + 50 + packets * packet_size;
    ASSERT_GT(file.size(), index_at + 56);
    EXPECT_EQ(file[index_at], 0x90);  // Simple Index Object (ASF-notes §17)
    for (std::uint64_t i = 0; i < packets; ++i)
        EXPECT_NO_THROW(asfmux::parse_packet(ByteView(file).subspan(info.header_size + 50 + i * packet_size, packet_size),
                                             packet_size));
}

}  // namespace

// Issue 11, point 4: a header change (a playlist entry with its own header) finalizes the file so
// far and starts the next, named by the entry pattern; the live encode's header is finalized by its
// builder, another header by asfmux::header_with_totals.
TEST(ArchiveWriter, HeaderChangeFinalizesTheFileAndStartsTheNext) {
    Fixture live;
    Fixture other;
    other.config.packet_size = 2048;
    other.builder = std::make_shared<asfmux::HeaderBuilder>(other.config, other.streams, asfmux::Metadata{"Promo"},
                                                            asfmux::random_guid(), asfmux::unix_to_filetime(0));
    const auto dir = std::filesystem::temp_directory_path() / ("archive_entries_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    auto live_header = std::make_shared<MuxedHeader>(live.builder->build_live());
    live_header->label = "live";
    auto promo = std::make_shared<MuxedHeader>(other.builder->build_live());
    promo->label = "promo clip/1";  // not a safe file name: '/' and ' ' become '_'
    promo->version = 1;
    auto live_again = std::make_shared<MuxedHeader>(*live_header);
    live_again->version = 2;
    const auto live_packets = live.packets();
    const auto promo_packets = other.packets();
    {
        archive::ArchiveConfig ac{(dir / "unused.asf").string(), true, 64, (dir / "show-{n}-{entry}.asf").string()};
        archive::ArchiveWriter w(ac, live.finalizer(), live_header);
        auto feed = w.feed();
        std::uint64_t number = 0;
        const auto send = [&](const HeaderPtr& h, const std::vector<DataPacket>& pkts) {
            feed->publish_header(h);
            for (const auto& p : pkts) {
                auto c = std::make_shared<DataPacket>(p);
                c->number = number++;
                feed->publish_packet(c);
            }
        };
        send(live_header, live_packets);
        send(promo, promo_packets);
        send(live_again, live_packets);
        feed->publish_end();
        ASSERT_TRUE(w.wait_finished(std::chrono::seconds(10)));
        EXPECT_EQ(w.error(), "");
        EXPECT_EQ(w.stats().files_finalized.load(), 3u);
        EXPECT_EQ(w.files(), (std::vector<std::string>{(dir / "show-1-live.asf").string(),
                                                        (dir / "show-2-promo_clip_1.asf").string(),
                                                        (dir / "show-3-live.asf").string()}));
    }
    expect_final(dir / "show-1-live.asf", live_packets.size(), 1024);
    expect_final(dir / "show-2-promo_clip_1.asf", promo_packets.size(), 2048);
    expect_final(dir / "show-3-live.asf", live_packets.size(), 1024);
    EXPECT_FALSE(std::filesystem::exists(dir / "unused.asf"));
    // The live files' headers are the builder's final header; the other one keeps its title.
    const Bytes first = read_all(dir / "show-1-live.asf");
    const auto info = asfmux::parse_header(first);
    asfmux::FileTotals t;
    t.file_size = first.size();
    t.data_packets = live_packets.size();
    t.play_duration = info.play_duration_100ns / 10 - 3'000'000;
    t.send_duration = static_cast<Micros>(info.send_duration_100ns / 10);
    EXPECT_EQ(Bytes(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(info.header_size + 50)), live.builder->build_final(t));
    EXPECT_EQ(asfmux::parse_header(read_all(dir / "show-2-promo_clip_1.asf")).metadata.title, "Promo");
    std::filesystem::remove_all(dir);
}

TEST(ArchiveWriter, WithoutAPatternLaterFilesGetANumberBeforeTheExtension) {
    archive::ArchiveConfig ac{"/srv/rec/show.wmv"};
    EXPECT_EQ(archive::archive_file_name(ac, 1, "x"), "/srv/rec/show.wmv");
    EXPECT_EQ(archive::archive_file_name(ac, 2, "x"), "/srv/rec/show-2.wmv");
    ac.path = "/srv/rec.d/show";
    EXPECT_EQ(archive::archive_file_name(ac, 3, ""), "/srv/rec.d/show-3");
    ac.entry_pattern = "e{n}.asf";
    EXPECT_EQ(archive::archive_file_name(ac, 1, ""), "e1.asf");
    EXPECT_EQ(archive::check_entry_pattern("a-{n}-{entry}.asf"), "");
    EXPECT_NE(archive::check_entry_pattern("a-{entry}.asf").find("{n}"), std::string::npos);
    EXPECT_NE(archive::check_entry_pattern("a-{n}-{date}.asf").find("unknown placeholder"), std::string::npos);
}
