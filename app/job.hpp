// One broadcast job: a preset plus command-line overrides turned into a running
// capture -> encode -> asfmux -> outputs graph. Owns the threads at the edges.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/presets/presets.hpp"

namespace asfcast::app {

// What a reload did (issue 14, point 5).
struct ReloadResult {
    bool applied = false;               // false: refused (error) or no job running
    std::string error;                  // why it was refused
    std::vector<std::string> live;      // keys taken live
    std::vector<std::string> restart;   // changed keys left as they are until a restart
};

// The entry point for reloading a running job from another thread (SIGHUP in `asfcast run`).
// Thread-safe; run_job connects it while the job runs and carries each reload out on its main
// loop (the thread that starts, stops, adds and removes outputs), as it does the control API's
// `reload` action.
class JobReloader {
public:
    // Applies what can change live from `next` (a validated preset, command-line overrides
    // applied) and names the rest in the log. Refused when no job is running.
    ReloadResult reload(const presets::Preset& next);

    // run_job's side.
    void connect(std::function<ReloadResult(const presets::Preset&)> reloader);
    void disconnect();

private:
    std::mutex mutex_;
    std::function<ReloadResult(const presets::Preset&)> reloader_;
};

// Logs what a reload did: each key applied or left until a restart, or why it was refused.
void log_reload(const ReloadResult& result);

struct JobOptions {
    presets::Preset preset;
    std::optional<double> duration_s;  // end cleanly after this much media time
    bool fast = false;                 // file source: no real-time pacing
    bool status_line = false;          // print a status line to stderr (terminals only)
    // When set: the media clock (CLOCK_MONOTONIC microseconds at media time 0, i.e. at ASF presentation
    // time = preroll) is written to this file whenever it changes, by the job's main loop (a temporary
    // file renamed over it). Lets a client measure latency from capture: see write_media_clock().
    std::string media_clock_file;
    // When set, run_job connects it for the job's lifetime (reload).
    JobReloader* reloader = nullptr;
    // Reads the preset again as at start (the file, then the command line's overrides; throws
    // presets::PresetError): the control API's `reload` action. Unset: that action is refused.
    std::function<presets::Preset()> load_preset;
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
