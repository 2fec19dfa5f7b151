// archive: writes the muxed stream to an .asf/.wmv file while broadcasting. The file is valid
// at every moment: while recording, its header carries the Broadcast flag, so readers take the
// data as running to the end of the file; whole packets are written with single write() calls.
// At the end, Simple Index Objects (one per video stream) are appended and the header is
// rewritten in place with the final sizes, counts and durations (Seekable flag).
//
// An ASF file holds one header. When the stream's header changes (a playlist entry that brings its
// own header), the current file is finalized as at the end and the next packets go to a new file,
// named by ArchiveConfig::entry_pattern: every file is complete and indexed on its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/muxed.hpp"
#include "asfcast/core/output_feed.hpp"

namespace asfcast::archive {

class ArchiveError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ArchiveConfig {
    std::string path;
    // true: the muxer waits when the disk falls behind (file sources with --fast: no real time to
    // keep, nothing lost); false: a disk that falls `queue_packets` behind loses packets, and the
    // file resumes at a key frame (counted and logged), never holding up the broadcast.
    bool block_when_full = false;
    std::size_t queue_packets = 4096;
    // Names the file of each header after a header change (presets: outputs.archive.entry_pattern).
    // `{n}` is the file's number (1 for the first), `{entry}` the header's label (MuxedHeader::label,
    // made safe for a file name; "stream" when empty). Empty: the first file is `path`, the next
    // ones `path` with "-2", "-3", ... before its extension. When set, every file (the first too)
    // is named by it; it must contain `{n}` (check_entry_pattern).
    std::string entry_pattern;
};

// The path of file `n` (1-based) for a header labelled `label` (see ArchiveConfig::entry_pattern).
std::string archive_file_name(const ArchiveConfig& config, std::uint64_t n, const std::string& label);
// Empty when `pattern` is a valid entry_pattern, else why not: it must contain `{n}` and no other
// `{...}` than `{n}` and `{entry}`.
std::string check_entry_pattern(const std::string& pattern);

struct ArchiveStats {
    std::atomic<std::uint64_t> packets_written{0};
    std::atomic<std::uint64_t> bytes_written{0};
    std::atomic<std::uint64_t> packets_skipped{0};  // lost to a disk that fell behind
    std::atomic<bool> failed{false};
    std::atomic<bool> finished{false};  // finalized (or failed and closed)
    std::atomic<std::uint64_t> files_finalized{0};  // files closed complete (one per header)
};

// Produces the final header for the totals (HeaderBuilder::build_final of the muxer's builder).
using HeaderFinalizer = std::function<Bytes(const asfmux::FileTotals&)>;
// The final header of any file: asfmux::header_with_totals (for headers no HeaderBuilder of ours
// wrote, e.g. a playlist's pre-encoded file).

// Writes on its own thread ("asfcast-archive"), fed through an OutputFeed.
class ArchiveWriter {
public:
    // Opens (creates or truncates) the file and starts the writer thread; throws ArchiveError
    // naming the path on failure.
    // `finalizer` makes the final header of files whose header has the bytes of `finalized_header`
    // (the live encode's); other headers get asfmux::header_with_totals. Without
    // `finalized_header`, `finalizer` serves every header.
    ArchiveWriter(ArchiveConfig config, HeaderFinalizer finalizer, HeaderPtr finalized_header = nullptr);
    ~ArchiveWriter();  // close()
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;

    // What the mux thread publishes to (MuxedStreamBus::attach).
    std::shared_ptr<OutputFeed> feed() const;
    // Waits until the end of the stream is written and the file finalized (indexes, final
    // header), at most `timeout`; true when it is. Never called on the mux thread.
    bool wait_finished(std::chrono::milliseconds timeout);
    // Stops now: finalizes what was written (an ended stream) or leaves the broadcast-flagged
    // file as it is (readable to its last packet), and joins the thread. Idempotent.
    void close();

    const ArchiveStats& stats() const;
    std::string error() const;  // empty unless the archive failed (disk full, I/O error)
    std::vector<std::string> files() const;  // the files written so far, in order

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace asfcast::archive
