#include "asfcast/archive/archive.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cctype>
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

namespace {

// A header's label as a file name part: letters, digits, '.', '-' and '_' kept, the rest '_'.
std::string file_safe(const std::string& label) {
    std::string out;
    for (char c : label.substr(0, 64))
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
    if (out.empty() || out == "." || out == "..") out = "stream";
    return out;
}

}  // namespace

std::string check_entry_pattern(const std::string& pattern) {
    bool has_n = false;
    for (std::size_t at = pattern.find('{'); at != std::string::npos; at = pattern.find('{', at + 1)) {
        if (pattern.compare(at, 3, "{n}") == 0) has_n = true;
        else if (pattern.compare(at, 7, "{entry}") != 0)
            return "unknown placeholder at byte " + std::to_string(at) + " (only {n} and {entry})";
    }
    if (pattern.find('}') != std::string::npos && pattern.find('{') == std::string::npos) return "a '}' without '{'";
    if (!has_n) return "it must contain {n} (the file's number), so that every file has its own name";
    return {};
}

std::string archive_file_name(const ArchiveConfig& config, std::uint64_t n, const std::string& label) {
    if (config.entry_pattern.empty()) {
        if (n <= 1) return config.path;
        const std::size_t slash = config.path.rfind('/');
        std::size_t dot = config.path.rfind('.');
        if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1)
            dot = config.path.size();
        return config.path.substr(0, dot) + "-" + std::to_string(n) + config.path.substr(dot);
    }
    std::string out;
    const std::string& p = config.entry_pattern;
    for (std::size_t i = 0; i < p.size();) {
        if (p.compare(i, 3, "{n}") == 0) {
            out += std::to_string(n);
            i += 3;
        } else if (p.compare(i, 7, "{entry}") == 0) {
            out += file_safe(label);
            i += 7;
        } else {
            out += p[i++];
        }
    }
    return out;
}

struct ArchiveWriter::Impl {
    ArchiveConfig config;
    HeaderFinalizer finalizer;
    HeaderPtr finalized_header;  // the header `finalizer` is for; null: every header
    int fd = -1;
    std::string path;            // the file being written
    std::shared_ptr<OutputFeed> feed;
    std::thread thread;
    std::atomic<bool> stopping{false};
    ArchiveStats stats;
    mutable std::mutex error_mutex;
    std::string error;
    std::vector<std::string> files;  // guarded by error_mutex
    std::mutex done_m;
    std::condition_variable done_cv;

    // Writer-thread state, per file.
    HeaderPtr header;
    std::uint64_t file_number = 0;  // 1 for the first file
    asfmux::Guid file_id{};
    std::vector<asfmux::SimpleIndexBuilder> indexes;
    std::uint64_t data_end = 0;  // file offset after the last packet
    std::uint64_t packets = 0;
    std::uint32_t first_send_ms = 0, last_send_ms = 0;
    Micros max_pts = 0;
    bool ended = false;

    Impl(ArchiveConfig c, HeaderFinalizer f, HeaderPtr fh)
        : config(std::move(c)),
          finalizer(std::move(f)),
          finalized_header(std::move(fh)),
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
        spdlog::error("archive {}: {}; the broadcast goes on without it", path, what);
    }
    bool failed() const { return stats.failed.load(); }

    // Opens (creates or truncates) file `n`; throws ArchiveError naming it.
    void open_file(std::uint64_t n, const std::string& label) {
        const std::string name = archive_file_name(config, n, label);
        const int f = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f < 0) throw ArchiveError(fmt::format("cannot create archive file '{}': {}", name, std::strerror(errno)));
        if (fd >= 0) ::close(fd);
        fd = f;
        path = name;
        file_number = n;
        std::lock_guard lk(error_mutex);
        files.push_back(name);
    }

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
        const bool restart = data_end > 0;  // a file that held only a header: started over
        header = h;
        indexes.clear();
        data_end = 0;
        packets = 0;
        first_send_ms = last_send_ms = 0;
        max_pts = 0;
        try {
            file_id = asfmux::parse_header(h->bytes).file_id;
        } catch (const std::exception& e) {
            fail(fmt::format("cannot read the stream's header: {}", e.what()));
            return;
        }
        for (int s : h->video_streams) indexes.emplace_back(s, h->preroll_ms);
        // A pattern with {entry}: the file is named by its header's label, known only now.
        if (const std::string want = archive_file_name(config, file_number, h->label); want != path) {
            if (::rename(path.c_str(), want.c_str()) != 0) {
                fail(fmt::format("cannot rename {} to {}: {}", path, want, std::strerror(errno)));
                return;
            }
            path = want;
            std::lock_guard lk(error_mutex);
            files.back() = want;
        }
        if (restart && ::ftruncate(fd, 0) != 0) {
            fail(fmt::format("cannot truncate: {}", std::strerror(errno)));
            return;
        }
        if (!write_at(0, h->bytes)) return;
        data_end = h->bytes.size();
        stats.bytes_written = stats.bytes_written + h->bytes.size();
    }

    bool same_header(const HeaderPtr& h) const { return h == header || (h && header && h->bytes == header->bytes); }

    // A header change: the file so far is finalized (when it holds packets) and the next file
    // starts with the new header; a file without packets is started over with it.
    void change_header(const HeaderPtr& h) {
        if (packets > 0) {
            finalize();
            if (failed()) return;
            try {
                open_file(file_number + 1, h->label);
            } catch (const ArchiveError& e) {
                fail(e.what());
                return;
            }
            spdlog::info("archive: the header changed ({}); continuing in {}", h->label.empty() ? "new header" : h->label, path);
        }
        start_file(h);
    }

    void write_packet(const OutputFeed::Entry& e) {
        if (!header) start_file(e.header);
        if (failed()) return;
        if (!same_header(e.header)) change_header(e.header);
        if (failed()) return;
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
                spdlog::warn("archive {}: cannot cut the partial packet off: {}", path, std::strerror(errno));
            return;
        }
        data_end += p.bytes.size();
        if (packets == 0) first_send_ms = p.send_time_ms;
        last_send_ms = std::max(last_send_ms, p.send_time_ms);
        max_pts = std::max(max_pts, p.max_pts);
        for (auto& ix : indexes) ix.add_packet(p, packets);
        ++packets;
        stats.packets_written = stats.packets_written + 1;
        stats.bytes_written = stats.bytes_written + p.bytes.size();
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
        totals.send_duration = static_cast<Micros>(last_send_ms - first_send_ms) * 1000;
        Bytes final_header;
        if (!finalized_header || header->bytes == finalized_header->bytes) {
            final_header = finalizer(totals);
        } else {
            try {
                final_header = asfmux::header_with_totals(header->bytes, &totals);
            } catch (const std::exception& e) {
                fail(fmt::format("cannot finalize the header: {}", e.what()));
                return;
            }
        }
        if (final_header.size() != header->bytes.size()) {
            fail(fmt::format("final header is {} bytes, live header was {}", final_header.size(), header->bytes.size()));
            return;
        }
        if (::fsync(fd) != 0) spdlog::warn("archive {}: fsync: {}", path, std::strerror(errno));
        if (!write_at(0, final_header)) return;
        if (::ftruncate(fd, static_cast<off_t>(end)) != 0)
            spdlog::warn("archive {}: ftruncate: {}", path, std::strerror(errno));
        ::fsync(fd);
        ++stats.files_finalized;
        spdlog::info("archive {}: {} packets, {:.1f} s, {} bytes, {} index object(s){}", path, packets,
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

ArchiveWriter::ArchiveWriter(ArchiveConfig config, HeaderFinalizer finalizer, HeaderPtr finalized_header)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(finalizer), std::move(finalized_header))) {
    if (!impl_->config.entry_pattern.empty())
        if (const std::string why = check_entry_pattern(impl_->config.entry_pattern); !why.empty())
            throw ArchiveError(fmt::format("archive entry pattern '{}': {}", impl_->config.entry_pattern, why));
    // The first file's label is not known before its header: a pattern with {entry} names it by
    // the first header's label when that header arrives (the file is renamed then).
    impl_->open_file(1, "");
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

std::vector<std::string> ArchiveWriter::files() const {
    std::lock_guard lk(impl_->error_mutex);
    return impl_->files;
}

std::string ArchiveWriter::error() const {
    std::lock_guard lk(impl_->error_mutex);
    return impl_->error;
}

}  // namespace asfcast::archive
