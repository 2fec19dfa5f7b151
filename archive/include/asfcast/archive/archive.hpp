// archive: writes the muxed stream to an .asf/.wmv file while broadcasting. The file is valid
// at every moment: while recording, its header carries the Broadcast flag, so readers take the
// data as running to the end of the file; whole packets are written with single write() calls.
// At the end, Simple Index Objects (one per video stream) are appended and the header is
// rewritten in place with the final sizes, counts and durations (Seekable flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/muxed.hpp"

namespace asfcast::archive {

class ArchiveError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ArchiveConfig {
    std::string path;
    // true: the muxer waits when the disk falls behind (file sources with --fast, nothing lost);
    // false: a full queue drops the archive (never the broadcast) and reports it.
    bool block_when_full = false;
    std::size_t queue_packets = 8192;
};

struct ArchiveStats {
    std::atomic<std::uint64_t> packets_written{0};
    std::atomic<std::uint64_t> bytes_written{0};
    std::atomic<bool> failed{false};
};

// Produces the final header for the totals (HeaderBuilder::build_final of the muxer's builder).
using HeaderFinalizer = std::function<Bytes(const asfmux::FileTotals&)>;

class ArchiveWriter : public MuxedStreamSink {
public:
    // Opens (creates or truncates) the file; throws ArchiveError naming the path on failure.
    ArchiveWriter(ArchiveConfig config, HeaderFinalizer finalizer);
    ~ArchiveWriter() override;

    void on_header(HeaderPtr header) override;
    void on_packet(PacketPtr packet) override;
    // Drains the queue, appends the indexes and patches the header; the file is complete when
    // this returns.
    void on_end() override;

    // Same as on_end when the broadcast did not end normally (errors): finalizes what was written.
    void close();

    const ArchiveStats& stats() const;
    std::string error() const;  // empty unless the archive failed (disk full, I/O error)

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::archive
