// Audio clock drift correction. A sound card samples on its own crystal, a few hundred ppm off the
// system clock that timestamps video; left alone, audio moves against video by seconds a day.
// AudioDriftCorrector measures how the card's sample count advances against the arrival times of
// its blocks on the system clock and resamples (libswresample compensation) so that the output
// timeline, one sample after the other, stays on the system clock.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "asfcast/core/media.hpp"

namespace asfcast::capture {

struct DriftStats {
    double correction_ppm = 0;  // resampling applied now: positive removes samples (card fast)
    Micros offset_us = 0;       // latest measured offset of the output against the system clock
    std::uint64_t windows = 0;  // control updates so far
};

class AudioDriftCorrector {
public:
    // `enabled` false: samples pass through unchanged (offset is still measured).
    AudioDriftCorrector(int sample_rate, int channels, bool enabled);
    ~AudioDriftCorrector();
    AudioDriftCorrector(const AudioDriftCorrector&) = delete;
    AudioDriftCorrector& operator=(const AudioDriftCorrector&) = delete;

    // A new device (or the same device re-attached) starts delivering: the measurement baseline
    // is taken again from its first blocks. The drift estimate is kept (same card, same crystal).
    void restart();

    // Feeds one captured block of `frames` interleaved frames that arrived at `arrival_us` on the
    // system clock (any origin, the same for every call). Appends the corrected samples to `out`.
    void push(const std::int16_t* samples, std::size_t frames, Micros arrival_us, std::vector<std::int16_t>& out);

    DriftStats stats() const { return stats_; }

private:
    void control(double offset_s);

    int rate_;
    int channels_;
    bool enabled_;
    struct Swr;
    std::unique_ptr<Swr> swr_;
    std::uint64_t in_frames_ = 0;   // since restart()
    std::uint64_t out_frames_ = 0;  // since restart()
    // Offset measurement: (output position incl. resampler delay) - arrival, per block. Arrival
    // jitter only ever delays a block, so the largest value of a window is the least disturbed.
    int calibration_windows_ = 0;   // seconds of audio measured for the baseline so far
    double baseline_s_ = 0;
    double window_max_s_ = -1e300;
    std::uint64_t window_frames_ = 0;
    double integral_ = 0;           // integral part of the correction (drift estimate)
    double pending_delta_ = 0;      // fraction of a sample not yet applied
    DriftStats stats_;
};

}  // namespace asfcast::capture
