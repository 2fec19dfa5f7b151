// The one hand-off between the mux thread and an output (archive, pull, push, and the outputs to
// come). Each output owns one feed: a bounded ring the mux thread writes into without ever
// waiting, and the output reads on its own thread or event loop.
//
// - Bounded: `capacity` packets. When the output falls that far behind, the oldest packets are
//   overwritten; the output then resumes where a consumer may start (start_points.hpp: the newest
//   group of key frames covering the video streams it takes), and every packet it lost is counted
//   in `discarded`. Overflow::wait is only for jobs with no real time to keep (a file encoded with
//   --fast): there the mux thread waits for the output instead of losing packets.
// - Never blocking the mux thread: publishing takes a short lock, wakes the output (an event-loop
//   output gets at most one wake-up pending at a time, so posting to its loop is bounded) and
//   returns; the end of the stream is a flag, not a wait for the output.
// - In order, with headers: every packet carries the header it was made with; a header change is
//   seen by the output before the first packet of the new header (and without one).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/start_points.hpp"
#include "asfcast/core/thread_annotations.hpp"

namespace asfcast {

class OutputFeed {
public:
    enum class Overflow {
        resume_at_start,  // live: overwrite the oldest, resume at a start point, count the loss
        wait,             // offline (--fast file jobs): the mux thread waits, nothing is lost
    };
    struct Config {
        std::string name = "output";  // in log lines ("archive", "pull /", "push")
        std::size_t capacity = 1024;  // packets
        Overflow overflow = Overflow::resume_at_start;
        // Keep taken packets in the ring until they are overwritten, for recent_from_start().
        // Otherwise a packet leaves the feed when it is taken (less memory held).
        bool keep_taken = false;
    };
    struct Entry {
        HeaderPtr header;  // the header the packet was made with
        PacketPtr packet;
    };
    struct Batch {
        std::vector<Entry> entries;   // in order
        HeaderPtr header;             // the newest header published (may have no packet yet)
        bool ended = false;           // the stream ended and every packet has been taken
        std::uint64_t discarded = 0;  // packets this output lost to overflow, in all
    };

    explicit OutputFeed(Config config);
    OutputFeed(const OutputFeed&) = delete;
    OutputFeed& operator=(const OutputFeed&) = delete;

    // ---- The mux thread ----
    void publish_header(HeaderPtr header) EXCLUDES(m_);
    void publish_packet(PacketPtr packet) EXCLUDES(m_);
    void publish_end() EXCLUDES(m_);

    // ---- The output ----
    // Moves what arrived since the last call (at most max_entries packets) into `out` (cleared
    // first). False when there is nothing new: no packet, no new header, no end not yet reported.
    bool take(Batch& out, std::size_t max_entries = std::numeric_limits<std::size_t>::max()) EXCLUDES(m_);
    // Waits until take() has something, the feed is closed, or the timeout passes.
    void wait(std::chrono::milliseconds timeout) EXCLUDES(m_);
    // An event-loop output: `wake` is called on the mux thread when the feed has something new and
    // no wake-up is pending since the last take(). Set before the first publish.
    void set_wake(std::function<void()> wake) EXCLUDES(m_);
    // The video streams the output takes, for resuming after an overflow; default: all of the
    // current header's.
    void set_taken_streams(std::optional<StreamMask> streams) EXCLUDES(m_);
    // The output stopped for good (it failed, or it is shutting down): publishing to it does
    // nothing from now on, a waiting publisher and waiting output return.
    void close() EXCLUDES(m_);

    // Entries still held from the newest start point for `want` up to the last one taken (a push
    // target resuming after a reconnect starts there). Empty when there is none.
    std::vector<Entry> recent_from_start(const StreamMask& want) const EXCLUDES(m_);

    const std::string& name() const { return config_.name; }
    bool closed() const EXCLUDES(m_);
    std::uint64_t discarded() const EXCLUDES(m_);
    std::uint64_t published() const EXCLUDES(m_);  // packets published so far
    std::size_t backlog() const EXCLUDES(m_);      // packets published and not taken yet

private:
    // Call with the lock held; true when wake_ is to be called after unlocking.
    bool notify_locked() REQUIRES(m_);
    void skip_lost_locked() REQUIRES(m_);

    const Config config_;
    mutable Mutex m_;
    std::condition_variable_any output_cv_;  // the output waits for data
    std::condition_variable_any space_cv_;   // the mux thread waits for room (Overflow::wait)
    std::vector<Entry> slots_ GUARDED_BY(m_);
    StartIndex starts_ GUARDED_BY(m_);
    std::uint64_t oldest_ GUARDED_BY(m_) = 0;  // first sequence still held
    std::uint64_t next_ GUARDED_BY(m_) = 0;    // sequence of the next packet
    std::uint64_t cursor_ GUARDED_BY(m_) = 0;  // the output's next packet
    bool resyncing_ GUARDED_BY(m_) = false;    // lost packets; waiting for a start point
    HeaderPtr header_ GUARDED_BY(m_);
    bool header_news_ GUARDED_BY(m_) = false;  // a header the output has not seen in a batch
    bool ended_ GUARDED_BY(m_) = false;
    bool end_reported_ GUARDED_BY(m_) = false;
    bool closed_ GUARDED_BY(m_) = false;
    std::optional<StreamMask> taken_streams_ GUARDED_BY(m_);
    std::uint64_t discarded_ GUARDED_BY(m_) = 0;
    std::function<void()> wake_;  // set before the first publish, then only read
    bool wake_pending_ GUARDED_BY(m_) = false;
    std::chrono::steady_clock::time_point last_loss_log_ GUARDED_BY(m_){};
    std::uint64_t unlogged_loss_ GUARDED_BY(m_) = 0;
};

}  // namespace asfcast
