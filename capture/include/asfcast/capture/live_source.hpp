// LiveSource keeps a broadcast going whatever its source does. It supervises a MediaSource (a
// capture pipeline): when the source stops delivering (unplugged, driver error, no signal, file
// ended, missing at start) it holds the last picture, then shows a slate (colour bars or a still
// image, with a message) and silence at the same format, and starts the source again every
// reattach interval until it delivers. Downstream sees one time line: video frames on the frame
// grid, audio sample after sample, never a gap or a step back, whatever happens upstream. Audio
// goes through AudioDriftCorrector so it stays on the clock that timestamps video.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "asfcast/capture/capture.hpp"
#include "asfcast/capture/drift.hpp"

namespace asfcast::capture {

struct LossPolicy {
    bool slate = true;                 // false: a lost source ends the job (on_end / on_error)
    Micros loss_timeout_us = 2'000'000;       // no media for this long: the source is lost
    Micros reattach_interval_us = 2'000'000;  // how often a lost source is tried again
    // Back-off: each attempt that fails in a row waits twice as long, up to this (network sources:
    // a camera that is off is not called every 2 s for hours). 0 or <= reattach_interval: none.
    Micros reattach_max_interval_us = 0;
    std::string slate_image;           // still image file; empty: colour bars
    std::string slate_text = "Signal lost - back shortly";
    bool drift_correction = true;      // live audio only; files pass through
    Micros av_offset_us = 0;           // added to audio times
};

enum class SourceState {
    starting,  // before the first attach
    live,      // the source delivers
    holding,   // late: the last picture is held, silence fills (not yet lost)
    lost,      // slate on air; re-attach attempts running
    stopped,
};
std::string to_string(SourceState s);

struct LiveSourceStatus {
    SourceState state = SourceState::starting;
    std::uint64_t losses = 0;          // times the source was declared lost (incl. missing at start)
    std::uint64_t reattaches = 0;      // times it came back
    std::uint64_t attach_failures = 0; // start attempts that failed
    std::uint64_t filler_frames = 0;   // held or slate frames sent
    std::uint64_t silence_frames = 0;  // audio frames of silence sent
    std::uint64_t late_frames = 0;     // source frames dropped because the time line had passed them
    std::uint64_t ahead_frames = 0;    // audio frames dropped: the source ran faster than real time
    std::string last_event;            // human-readable, for the status line and logs
    DriftStats drift;
};

// Builds a fresh MediaSource wired to the given callbacks (called for each attach attempt).
using MediaSourceFactory = std::function<std::unique_ptr<MediaSource>(CaptureCallbacks)>;

class LiveSource {
public:
    // `format` is what downstream gets (the slate is rendered at it). `live`: the source runs in
    // real time (test and device sources, paced files); audio drift correction applies to live
    // sources only.
    LiveSource(RawFormat format, LossPolicy policy, MediaSourceFactory factory, CaptureCallbacks downstream,
               bool correct_drift = true);
    ~LiveSource();
    LiveSource(const LiveSource&) = delete;
    LiveSource& operator=(const LiveSource&) = delete;

    // Attaches the source. If it cannot start: with a slate policy the broadcast starts on the
    // slate and re-attach attempts begin; otherwise the CaptureError is thrown. Also throws
    // CaptureError when the slate cannot be rendered (bad slate_image).
    void start();
    // Drains the source, stops the slate, then calls downstream on_end once.
    void stop();

    LiveSourceStatus status() const;
    std::string description() const;  // the attached source's, or why there is none

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

// The slate picture at `width`x`height`: `image` (scaled with borders) or colour bars, with `text`
// written over it. Throws CaptureError naming the image when it cannot be decoded.
RawVideoFrame render_slate(int width, int height, const std::string& image, const std::string& text);

}  // namespace asfcast::capture
