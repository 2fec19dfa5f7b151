// One broadcast job: a preset plus command-line overrides turned into a running
// capture -> encode -> asfmux -> outputs graph. Owns the threads at the edges.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "asfcast/presets/presets.hpp"

namespace asfcast::app {

struct JobOptions {
    presets::Preset preset;
    std::optional<double> duration_s;  // end cleanly after this much media time
    bool fast = false;                 // file source: no real-time pacing
    bool status_line = false;          // print a status line to stderr (terminals only)
    // When set: the media clock (CLOCK_MONOTONIC microseconds at media time 0, i.e. at ASF presentation
    // time = preroll) is written to this file whenever it changes, by the job's main loop (a temporary
    // file renamed over it). Lets a client measure latency from capture: see write_media_clock().
    std::string media_clock_file;
};

// Counters read by the status line (and later the control API and /metrics).
struct JobStats {
    std::atomic<std::uint64_t> video_frames_captured{0};
    std::atomic<std::uint64_t> video_frames_dropped{0};
    std::atomic<std::uint64_t> video_frames_encoded{0};
    std::atomic<std::uint64_t> audio_blocks_captured{0};
    std::atomic<std::uint64_t> audio_blocks_dropped{0};
    std::atomic<std::uint64_t> audio_frames_encoded{0};
    std::atomic<std::uint64_t> packets{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::int64_t> media_time_us{0};
    std::atomic<std::uint64_t> pull_clients{0};
    std::atomic<std::uint64_t> push_streaming{0};  // push targets streaming now
    std::atomic<std::uint64_t> source_losses{0};   // times the source was lost (slate on air)
    std::atomic<std::uint64_t> filler_frames{0};   // held or slate video frames
    std::atomic<double> drift_ppm{0};              // audio drift correction applied now
    // Per ASF stream number (1..127): media objects encoded and their bytes (the control API's
    // renditions and /metrics).
    std::array<std::atomic<std::uint64_t>, 128> stream_frames{};
    std::array<std::atomic<std::uint64_t>, 128> stream_bytes{};
};

// Runs the job until the source ends, the duration is reached or `stop` becomes true.
// Returns the process exit code (0 on a clean end). Errors that prevent starting throw
// std::runtime_error with a message for the user.
int run_job(const JobOptions& options, const std::atomic<bool>& stop, JobStats& stats);

}  // namespace asfcast::app
