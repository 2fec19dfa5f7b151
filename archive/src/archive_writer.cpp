#include "asfcast/archive/archive.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/bounded_queue.hpp"

namespace asfcast::archive {
namespace {

// One queued event for the writer thread: a header, a packet, or the end.
struct Item {
    HeaderPtr header;
    PacketPtr packet;
    bool end = false;
};

}  // namespace

struct ArchiveWriter::Impl {
    ArchiveConfig config;
    HeaderFinalizer finalizer;
    int fd = -1;
    BoundedQueue<Item> queue;
    std::thread thread;
    ArchiveStats stats;
    mutable std::mutex error_mutex;
    std::string error;
    std::once_flag end_once;

    // Writer-thread state.
    HeaderPtr header;
    asfmux::Guid file_id{};
    std::vector<asfmux::SimpleIndexBuilder> indexes;
    std::uint64_t data_end = 0;  // file offset after the last packet
    std::uint64_t packets = 0;
    std::uint32_t last_send_ms = 0;
    Micros max_pts = 0;
    bool finalized = false;

    Impl(ArchiveConfig c, HeaderFinalizer f)
        : config(std::move(c)), finalizer(std::move(f)), queue(config.queue_packets) {}

    void fail(const std::string& what) {
        {
            std::lock_guard lk(error_mutex);
            if (!error.empty()) return;
            error = what;
        }
        stats.failed = true;
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

    void handle(const HeaderPtr& h) {
        if (failed()) return;
        if (header) {
            if (header->bytes != h->bytes)
                fail("the stream's header changed mid-recording; an ASF file holds one header, so the archive "
                     "ends at the change");
            return;
        }
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

    void handle(const PacketPtr& p) {
        if (failed() || !header) return;
        if (p->bytes.size() != header->packet_size) {
            fail(fmt::format("packet {} is {} bytes, header says {}", p->number, p->bytes.size(), header->packet_size));
            return;
        }
        // One pwrite per whole packet: a kill at any moment leaves whole packets behind.
        if (!write_at(data_end, p->bytes)) return;
        data_end += p->bytes.size();
        ++packets;
        last_send_ms = std::max(last_send_ms, p->send_time_ms);
        max_pts = std::max(max_pts, p->max_pts);
        for (auto& ix : indexes) ix.add_packet(*p);
        stats.packets_written = packets;
        stats.bytes_written = data_end;
    }

    void finalize() {
        if (finalized) return;
        finalized = true;
        if (!header || fd < 0) return;
        if (failed()) {
            // Keep what was written (it is a valid broadcast-flagged file up to its last packet).
            ::fsync(fd);
            return;
        }
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
        spdlog::info("archive {}: {} packets, {:.1f} s, {} bytes, {} index object(s)", config.path, packets,
                     static_cast<double>(max_pts) / 1e6, end, indexes.size());
    }

    void run() {
        for (;;) {
            auto item = queue.pop();
            if (!item) break;
            if (item->end) break;
            if (item->header) handle(item->header);
            if (item->packet) handle(item->packet);
        }
        finalize();
    }

    void enqueue(Item item) {
        if (failed()) return;
        if (config.block_when_full) {
            queue.push(std::move(item));
        } else if (!queue.try_push(std::move(item))) {
            fail(fmt::format("the disk fell {} packets behind the broadcast", config.queue_packets));
        }
    }

    void end() {
        std::call_once(end_once, [this] {
            queue.push(Item{nullptr, nullptr, true});
            queue.close();
            if (thread.joinable()) thread.join();
            if (fd >= 0) ::close(fd);
            fd = -1;
        });
    }
};

ArchiveWriter::ArchiveWriter(ArchiveConfig config, HeaderFinalizer finalizer)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(finalizer))) {
    impl_->fd = ::open(impl_->config.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (impl_->fd < 0)
        throw ArchiveError(fmt::format("cannot create archive file '{}': {}", impl_->config.path, std::strerror(errno)));
    impl_->thread = std::thread([this] { impl_->run(); });
}

ArchiveWriter::~ArchiveWriter() { impl_->end(); }

void ArchiveWriter::on_header(HeaderPtr header) { impl_->enqueue(Item{std::move(header), nullptr, false}); }
void ArchiveWriter::on_packet(PacketPtr packet) { impl_->enqueue(Item{nullptr, std::move(packet), false}); }
void ArchiveWriter::on_end() { impl_->end(); }
void ArchiveWriter::close() { impl_->end(); }
const ArchiveStats& ArchiveWriter::stats() const { return impl_->stats; }

std::string ArchiveWriter::error() const {
    std::lock_guard lk(impl_->error_mutex);
    return impl_->error;
}

}  // namespace asfcast::archive
