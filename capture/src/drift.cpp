#include "asfcast/capture/drift.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

namespace asfcast::capture {
namespace {

// Control loop on the offset e (seconds): correction c = Kp*e + I, I += Ki*e*dt, once per second
// of audio. The plant is de/dt = drift - c, so the loop is e'' + Kp e' + Ki e = 0: natural
// frequency sqrt(Ki) = 0.01 rad/s, damping 0.7. A 200 ppm card settles in a few minutes with a
// peak offset of a few ms, and the integral holds the card's drift with no steady offset.
constexpr double kKp = 0.014;
constexpr double kKi = 1e-4;
constexpr double kMaxCorrection = 5000e-6;  // 0.5 %: far beyond any working sound card
// Beyond this the card lost or repeated samples (overrun, suspend): realign at once instead of
// resampling for minutes.
constexpr double kRealignOffset = 0.200;
constexpr int kCalibrationWindows = 5;

}  // namespace

struct AudioDriftCorrector::Swr {
    SwrContext* ctx = nullptr;
    ~Swr() { swr_free(&ctx); }
};

AudioDriftCorrector::AudioDriftCorrector(int sample_rate, int channels, bool enabled)
    : rate_(sample_rate), channels_(channels), enabled_(enabled), swr_(std::make_unique<Swr>()) {
    if (rate_ <= 0 || channels_ <= 0 || channels_ > 8)
        throw std::invalid_argument("audio drift correction: bad format " + std::to_string(rate_) + " Hz, " +
                                    std::to_string(channels_) + " channels");
    if (!enabled_) return;
    AVChannelLayout layout;
    av_channel_layout_default(&layout, channels_);
    int err = swr_alloc_set_opts2(&swr_->ctx, &layout, AV_SAMPLE_FMT_S16, rate_, &layout, AV_SAMPLE_FMT_S16, rate_, 0,
                                  nullptr);
    if (err >= 0) err = swr_init(swr_->ctx);
    // Resampling mode from the first sample, so that switching compensation on later does not
    // change the resampler's delay (a jump in the output).
    if (err >= 0) err = swr_set_compensation(swr_->ctx, 0, rate_);
    if (err < 0) throw std::runtime_error("audio drift correction: libswresample cannot be set up (error " +
                                          std::to_string(err) + ")");
}

AudioDriftCorrector::~AudioDriftCorrector() = default;

void AudioDriftCorrector::restart() {
    in_frames_ = 0;
    out_frames_ = 0;
    calibration_windows_ = 0;
    window_max_s_ = -1e300;
    window_frames_ = 0;
    if (enabled_ && swr_->ctx) {
        // Drop what the resampler still holds from the old device; keep its drift estimate.
        swr_init(swr_->ctx);
        const double c = std::clamp(integral_, -kMaxCorrection, kMaxCorrection);
        swr_set_compensation(swr_->ctx, static_cast<int>(std::lround(-c * rate_)), rate_);
    }
}

void AudioDriftCorrector::push(const std::int16_t* samples, std::size_t frames, Micros arrival_us,
                               std::vector<std::int16_t>& out) {
    if (frames == 0) return;
    const auto ch = static_cast<std::size_t>(channels_);
    const std::size_t start = out.size();
    if (!enabled_) {
        out.insert(out.end(), samples, samples + frames * ch);
        out_frames_ += frames;
    } else {
        const int max_out = static_cast<int>(frames + frames / 50 + 256);
        const std::size_t at = out.size();
        out.resize(at + static_cast<std::size_t>(max_out) * ch);
        auto* dst = reinterpret_cast<std::uint8_t*>(out.data() + at);
        const auto* src = reinterpret_cast<const std::uint8_t*>(samples);
        const int got = swr_convert(swr_->ctx, &dst, max_out, &src, static_cast<int>(frames));
        out.resize(at + static_cast<std::size_t>(std::max(got, 0)) * ch);
        if (got > 0) out_frames_ += static_cast<std::uint64_t>(got);
    }
    in_frames_ += frames;

    // Where the output stands for the input consumed so far (samples still inside the resampler
    // count), against when that input arrived.
    const std::int64_t held = enabled_ ? swr_get_delay(swr_->ctx, rate_) : 0;
    const double position_s = static_cast<double>(out_frames_ + static_cast<std::uint64_t>(std::max<std::int64_t>(held, 0))) / rate_;
    const double raw = position_s - static_cast<double>(arrival_us) / 1e6;
    window_max_s_ = std::max(window_max_s_, raw);
    window_frames_ += frames;
    if (window_frames_ < static_cast<std::uint64_t>(rate_)) return;
    const double window = window_max_s_;
    window_max_s_ = -1e300;
    window_frames_ = 0;
    if (calibration_windows_ < kCalibrationWindows) {
        // The first seconds define "in sync": the least delayed of them, since a pipeline that
        // has just started often hands its first blocks over late, all at once.
        baseline_s_ = calibration_windows_++ == 0 ? window : std::max(baseline_s_, window);
        return;
    }
    control(window - baseline_s_);

    // Far off (samples lost or repeated by the card): realign now with silence or by skipping.
    const double e = window - baseline_s_;
    if (enabled_ && std::abs(e) > kRealignOffset) {
        const auto n = static_cast<std::size_t>(std::lround(std::abs(e) * rate_));
        if (e < 0) {
            out.insert(out.end(), n * ch, 0);
            out_frames_ += n;
        } else {
            const std::size_t drop = std::min(n * ch, out.size() - start);
            out.resize(out.size() - drop);
            out_frames_ -= drop / ch;
        }
    }
}

void AudioDriftCorrector::control(double e) {
    stats_.offset_us = static_cast<Micros>(std::llround(e * 1e6));
    ++stats_.windows;
    if (!enabled_) return;
    integral_ = std::clamp(integral_ + kKi * e, -kMaxCorrection, kMaxCorrection);
    const double c = std::clamp(kKp * e + integral_, -kMaxCorrection, kMaxCorrection);
    stats_.correction_ppm = c * 1e6;
    // Remove (c > 0) or add samples over the next second of output; the fraction of a sample
    // that cannot be applied now is carried to the next second.
    const double want = -c * rate_ + pending_delta_;
    const int delta = static_cast<int>(std::trunc(want));
    pending_delta_ = want - delta;
    swr_set_compensation(swr_->ctx, delta, rate_);
}

}  // namespace asfcast::capture
