#include "asfcast/archive/archive.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/failpoints.hpp"
#include "asfcast/core/thread_name.hpp"

namespace asfcast::archive {

struct ArchiveWriter::Impl {
    ArchiveConfig config;
    HeaderFinalizer finalizer;
    int fd = -1;
    std::shared_ptr<OutputFeed> feed;
    std::thread thread;
    std::atomic<bool> stopping{false};
    ArchiveStats stats;
    mutable std::mutex error_mutex;
    std::string error;
    std::mutex done_m;
    std::condition_variable done_cv;

    // Writer-thread state.
    HeaderPtr header;
    asfmux::Guid file_id{};
    std::vector<asfmux::SimpleIndexBuilder> indexes;
    std::uint64_t data_end = 0;  // file offset after the last packet
    std::uint64_t packets = 0;
    std::uint32_t last_send_ms = 0;
    Micros max_pts = 0;
    bool ended = false;

    Impl(ArchiveConfig c, HeaderFinalizer f)
        : config(std::move(c)),
          finalizer(std::move(f)),
          feed(std::make_shared<OutputFeed>(OutputFeed::Config{
              "archive " + config.path, config.queue_packets,
              config.block_when_full ? OutputFeed::Overflow::wait : OutputFeed::Overflow::resume_at_start})) {}

    void fail(const std::string& what) {
        {
            std::lock_guard lk(error_mutex);
            if (!error.empty()) return;
            error = what;
        }
        stats.failed = true;
        feed->close();  // nothing more is queued for a file that cannot take it
        spdlog::error("archive {}: {}; the broadcast goes on without it", config.path, what);
    }
    bool failed() const { return stats.failed.load(); }

    // Writes all of `data` at `offset`, retrying short writes; false (and failed) on error.
    bool write_at(std::uint64_t offset, ByteView data) {
        std::size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                fail(fmt::format("write failed at byte {}: {} (check free space and permissions)", offset + done,
                                 std::strerror(errno)));
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    void start_file(const HeaderPtr& h) {
        header = h;
        try {
            file_id = asfmux::parse_header(h->bytes).file_id;
        } catch (const std::exception& e) {
            fail(fmt::format("cannot read the muxer's header: {}", e.what()));
            return;
        }
        for (int s : h->video_streams) indexes.emplace_back(s, h->preroll_ms);
        if (write_at(0, h->bytes)) data_end = h->bytes.size();
    }

    bool same_header(const HeaderPtr& h) const { return h == header || (h && header && h->bytes == header->bytes); }

    void write_packet(const OutputFeed::Entry& e) {
        if (!header) start_file(e.header);
        if (failed()) return;
        if (!same_header(e.header)) {
            fail("the stream's header changed mid-recording; an ASF file holds one header, so the archive "
                 "ends at the change");
            return;
        }
        const DataPacket& p = *e.packet;
        if (p.bytes.size() != header->packet_size) {
            fail(fmt::format("packet {} is {} bytes, header says {}", p.number, p.bytes.size(), header->packet_size));
            return;
        }
        // One pwrite per whole packet (file form, padding included): a kill at any moment leaves
        // whole packets behind.
        failpoint("archive.write");
        if (!write_at(data_end, p.bytes)) {
            // A full disk took part of the packet: cut the file back to the last whole packet, so
            // that it reads to its end (a broadcast-flagged file, like one left by kill -9).
            if (::ftruncate(fd, static_cast<off_t>(data_end)) != 0)
                spdlog::warn("archive {}: cannot cut the partial packet off: {}", config.path, std::strerror(errno));
            return;
        }
        data_end += p.bytes.size();
        last_send_ms = std::max(last_send_ms, p.send_time_ms);
        max_pts = std::max(max_pts, p.max_pts);
        for (auto& ix : indexes) ix.add_packet(p, packets);
        ++packets;
        stats.packets_written = packets;
        stats.bytes_written = data_end;
    }

    void finalize() {
        if (!header || fd < 0 || failed()) return;
        std::uint64_t end = data_end;
        for (auto& ix : indexes) {
            Bytes obj = ix.build(file_id);
            if (!write_at(end, obj)) return;
            end += obj.size();
        }
        asfmux::FileTotals totals;
        totals.file_size = end;
        totals.data_packets = packets;
        totals.play_duration = max_pts;
        totals.send_duration = static_cast<Micros>(last_send_ms) * 1000;
        Bytes final_header = finalizer(totals);
        if (final_header.size() != header->bytes.size()) {
            fail(fmt::format("final header is {} bytes, live header was {}", final_header.size(), header->bytes.size()));
            return;
        }
        if (::fsync(fd) != 0) spdlog::warn("archive {}: fsync: {}", config.path, std::strerror(errno));
        if (!write_at(0, final_header)) return;
        if (::ftruncate(fd, static_cast<off_t>(end)) != 0)
            spdlog::warn("archive {}: ftruncate: {}", config.path, std::strerror(errno));
        ::fsync(fd);
        spdlog::info("archive {}: {} packets, {:.1f} s, {} bytes, {} index object(s){}", config.path, packets,
                     static_cast<double>(max_pts) / 1e6, end, indexes.size(),
                     stats.packets_skipped ? fmt::format(", {} packets skipped while the disk was behind",
                                                         stats.packets_skipped.load())
                                           : "");
    }

    void run() {
        set_thread_name("asfcast-archive");
        OutputFeed::Batch batch;
        try {
            while (!stopping && !failed()) {
                if (!feed->take(batch)) {
                    feed->wait(std::chrono::milliseconds(200));
                    continue;
                }
                stats.packets_skipped = batch.discarded;
                if (!header && batch.header && batch.entries.empty() && batch.ended) start_file(batch.header);
                for (const auto& e : batch.entries) {
                    write_packet(e);
                    if (failed()) break;
                }
                if (batch.ended) {
                    ended = true;
                    break;
                }
            }
            if (ended) finalize();
            else if (fd >= 0 && !failed()) ::fsync(fd);  // stopped early: a broadcast-flagged file, readable
        } catch (const std::exception& e) {
            fail(fmt::format("unexpected error: {}", e.what()));
        }
        feed->close();
        std::lock_guard lk(done_m);
        stats.finished = true;
        done_cv.notify_all();
    }
};

ArchiveWriter::ArchiveWriter(ArchiveConfig config, HeaderFinalizer finalizer)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(finalizer))) {
    impl_->fd = ::open(impl_->config.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (impl_->fd < 0)
        throw ArchiveError(fmt::format("cannot create archive file '{}': {}", impl_->config.path, std::strerror(errno)));
    impl_->thread = std::thread([this] { impl_->run(); });
}

ArchiveWriter::~ArchiveWriter() { close(); }

std::shared_ptr<OutputFeed> ArchiveWriter::feed() const { return impl_->feed; }

bool ArchiveWriter::wait_finished(std::chrono::milliseconds timeout) {
    std::unique_lock lk(impl_->done_m);
    return impl_->done_cv.wait_for(lk, timeout, [&] { return impl_->stats.finished.load(); });
}

void ArchiveWriter::close() {
    if (!impl_) return;
    impl_->stopping = true;
    impl_->feed->close();
    if (impl_->thread.joinable()) impl_->thread.join();
    if (impl_->fd >= 0) ::close(impl_->fd);
    impl_->fd = -1;
}

const ArchiveStats& ArchiveWriter::stats() const { return impl_->stats; }

std::string ArchiveWriter::error() const {
    std::lock_guard lk(impl_->error_mutex);
    return impl_->error;
}

}  // namespace asfcast::archive
