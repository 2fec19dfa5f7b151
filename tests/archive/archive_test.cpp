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
