// playlist: a source of headers and packets for the one muxed stream (issue 11, point 5). A
// playlist is a list of entries, each the live encode (capture -> encode -> asfmux, the job's
// normal path) or a pre-encoded ASF/WMV file played out as it is, without re-encoding: a pre-roll,
// a "starting soon" loop, the live show, a closing file. The engine decides what goes on air; the
// outputs see only headers and packets in their feeds (a header change per entry that brings its
// own header), never the playlist.
//
// - Entries that play the live encode share its header; a file entry brings its own (made a live
//   header: Broadcast flag, no sizes). A header change is published only when the header's bytes
//   change (a repeated file, or two live entries in a row, do not change it).
// - Times: each entry (and each repetition of a file) is shifted by one delta, so that its first
//   packet's send time follows the last one on air and its presentation times start after the
//   last presentation end on air: send and presentation times keep increasing across entries.
//   Every packet gets the next packet number of the stream.
// - File packets are paced in real time by their send times (the engine is fed the time).
// - A bad entry (missing file, not ASF, variable packet sizes, a packet size larger than the
//   outputs carry, unreadable part-way) is refused with an error naming the entry, and the
//   broadcast goes on with the next entry.
// - At the end of the playlist the engine publishes the end of the stream, unless it loops.
//
// Plain classes: no threads, no clocks (time comes in as arguments). The job runs the engine on
// its mux thread (app/job.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/muxed.hpp"

namespace asfcast::playlist {

class PlaylistError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Random access to an entry file's bytes (a file, or memory in tests and fuzzing).
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual std::uint64_t size() const = 0;
    // Reads up to n bytes at `offset`; fewer only at the end. Throws PlaylistError on an I/O error.
    virtual std::size_t read_at(std::uint64_t offset, std::uint8_t* out, std::size_t n) = 0;
};
// Opens a file (O_RDONLY); throws PlaylistError naming it and the reason.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
std::unique_ptr<ByteSource> memory_source(Bytes bytes);

struct EntryFileLimits {
    std::uint32_t max_packet_size = 65535;  // the largest packet every enabled output carries
    std::uint32_t max_header_bytes = 1u << 20;
};

// A pre-encoded ASF file opened and checked for play-out (ASF-notes §4-§16): a Header Object
// with fixed packet sizes no larger than the limit, at least one stream, the Data Object after
// the header. next() reads the data packets in order, each checked and turned into both forms
// (file form as stored, wire form without padding: asfmux::to_wire_form).
class AsfEntryFile {
public:
    // Throws PlaylistError with the reason (not ASF, packet size, ...); `what` names the file.
    AsfEntryFile(std::unique_ptr<ByteSource> source, const std::string& what, const EntryFileLimits& limits);

    // The file's header as a live header (asfmux::header_with_totals without totals) and what
    // outputs need of it; version 0, no label.
    const MuxedHeader& header() const { return header_; }
    // The next data packet (send_time_ms, min_pts/max_pts, key frames and both forms filled; number
    // 0), or nullopt after the last one. The data ends at the packet count the file declares, else
    // at the end of the file or at an index object. Throws PlaylistError naming the packet when one
    // is unreadable or malformed.
    std::optional<DataPacket> next();
    // Starts over at the first packet (a repeated entry).
    void rewind() { next_packet_ = 0; }
    std::uint64_t packets_read() const { return next_packet_; }

private:
    std::unique_ptr<ByteSource> source_;
    std::string what_;
    MuxedHeader header_;
    std::uint64_t data_start_ = 0;
    std::optional<std::uint64_t> packet_count_;  // declared by the file, when it says
    std::uint64_t next_packet_ = 0;
    Bytes buffer_;
};

struct Entry {
    enum class Kind { live, file };
    Kind kind = Kind::live;
    std::string name;                 // for logs, errors and archive file names; defaults set by the preset
    std::string path;                 // file entries
    int repeat = 1;                   // file entries: times the file plays in a row (>= 1)
    std::optional<Micros> duration;   // live: how long it stays on air; none: until the live source ends
};

struct EngineConfig {
    std::vector<Entry> entries;
    bool loop = false;                // after the last entry, start over at the first
    EntryFileLimits limits;
    // Opens an entry file; default open_file_source. Tests and fuzzing pass their own.
    std::function<std::unique_ptr<ByteSource>(const std::string& path)> open;
};

// Where the engine publishes: the job's MuxedStreamBus (or a test's recorder).
struct Sink {
    std::function<void(HeaderPtr)> header;
    std::function<void(PacketPtr)> packet;
    std::function<void()> end;
};

struct EngineStats {
    std::uint64_t entries_started = 0;
    std::uint64_t entries_refused = 0;     // refused before going on air
    std::uint64_t entries_cut = 0;         // unreadable part-way: ended early
    std::uint64_t packets = 0;             // published
    std::uint64_t live_packets_dropped = 0;  // live packets made while a file was on air (or before a key frame)
    std::vector<std::string> errors;       // every refusal, as logged
};

class PlaylistEngine {
public:
    PlaylistEngine(EngineConfig config, Sink sink);

    // The live encode's header (before its first packet; the job has it at start), and any later
    // header change of it (published at once while a live entry is on air).
    void live_header(HeaderPtr header);  // again later: a header change of the live encode
    // A packet of the live encode, on air when a live entry is (from its first start point on).
    void live_packet(const PacketPtr& packet, Micros now);
    // The live encode ended (its source ended, or the job stops it): a live entry on air ends now,
    // and live entries after it are skipped.
    void live_ended(Micros now);
    // Publishes file packets that are due and moves to the next entry when one ends.
    void poll(Micros now);
    // When poll() must next run (a file packet is due, a live entry's duration ends); nullopt when
    // nothing is timed.
    std::optional<Micros> next_deadline() const;
    // Ends the playlist now (the job stops): the end of the stream is published.
    void stop();
    // The operator puts entry `index` (0-based) on air now: the entry on air ends where it is and
    // the playlist goes on from `index` (a refused entry gives way to the next, as always). False
    // when `index` is out of range or the playlist has finished.
    bool switch_to(std::size_t index, Micros now);
    // A reload's new entries (issue 14, point 5): the entry on air plays on with its settings; when
    // it ends (or at the next switch_to, whose index is then one of `entries`), the playlist goes
    // on with `entries`, after the entry of the same name if there is one, else from the first.
    // Refused (false) when `entries` is empty or the playlist has finished.
    bool replace_entries(std::vector<Entry> entries, bool loop);
    std::size_t entry_count() const { return config_.entries.size(); }
    bool finished() const { return finished_; }
    // True while the entry on air is a live entry (the live encode's packets are used).
    bool live_on_air() const;
    const EngineStats& stats() const { return stats_; }
    // "entry 2 'promo' (promo.wmv)", the entry on air, or "" when none.
    std::string on_air() const;

private:
    void start_next(Micros now);
    void adopt_pending_entries();
    bool start_entry(std::size_t index, Micros now);
    void end_entry(Micros now);
    void refuse(const std::string& why);
    void finish();
    void publish_header_if_changed(const MuxedHeader& h, const std::string& label);
    // Re-times (when delta is not 0) and numbers a packet, then publishes it.
    void publish(const DataPacket& packet, bool copy_needed, const PacketPtr& original);
    std::int64_t delta_for(std::uint32_t first_send_ms, Micros first_min_pts, std::uint32_t preroll_ms) const;
    std::string describe(std::size_t index) const;

    EngineConfig config_;
    Sink sink_;
    EngineStats stats_;
    HeaderPtr live_header_;
    bool live_ended_ = false;
    bool finished_ = false;
    bool started_ = false;

    // A reload's entries, waiting for the entry on air to end.
    std::optional<std::vector<Entry>> pending_entries_;
    bool pending_loop_ = false;

    // On air.
    std::optional<std::size_t> current_;  // index into config_.entries
    std::size_t next_index_ = 0;
    bool current_is_live_ = false;
    bool live_waiting_start_ = false;     // a live entry waits for a start point (key frame)
    Micros entry_started_us_ = 0;
    std::unique_ptr<AsfEntryFile> file_;
    int repetitions_left_ = 0;
    std::optional<DataPacket> pending_;   // the next file packet, not yet due
    Micros segment_clock_us_ = 0;         // when the segment's first packet went on air
    std::uint32_t segment_first_send_ms_ = 0;
    std::int64_t delta_ms_ = 0;           // added to the segment's send and presentation times
    std::uint64_t pass_start_packets_ = 0;  // stats_.packets when the playlist (re)started at entry 0

    // The stream on air.
    HeaderPtr on_air_header_;
    std::uint32_t next_version_ = 0;
    std::uint64_t next_number_ = 0;
    std::optional<std::uint32_t> last_send_ms_;
    Micros last_pts_end_us_ = -1;         // latest presentation end on air (no preroll)
};

}  // namespace asfcast::playlist
