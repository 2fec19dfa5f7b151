// Accelerated long-run A/V sync: a simulated sound card whose clock runs off the system clock
// delivers 24 hours of audio in blocks that arrive with jitter; AudioDriftCorrector resamples it.
// Clicks written into the input at known capture times are found in the output, and the output
// time of each click against the time it was captured is the A/V offset a viewer would see.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "asfcast/capture/drift.hpp"

namespace asfcast::capture {
namespace {

struct SyncRun {
    double max_abs_offset_s = 0;   // over every click after the first 10 minutes
    double final_offset_s = 0;     // the last click
    int clicks_found = 0;
    int clicks_written = 0;
    double final_correction_ppm = 0;
};

// `ppm`: how much faster than nominal the card samples. `hours` of real time. 8 kHz mono keeps
// 24 hours to a few seconds of CPU; the control loop works in seconds, not samples.
SyncRun run_sync(double ppm, double hours, bool enabled, std::uint64_t lose_at_block = 0, std::size_t lose_frames = 0,
                 double startup_delay_s = 0) {
    constexpr int kRate = 8000;
    constexpr std::size_t kBlock = 800;  // 100 ms of card time per block
    const double card_rate = kRate * (1.0 + ppm * 1e-6);
    const auto total_blocks = static_cast<std::uint64_t>(hours * 3600.0 * card_rate / kBlock);
    const std::uint64_t click_every = 60 * static_cast<std::uint64_t>(kRate);  // a click every card minute
    AudioDriftCorrector corrector(kRate, 1, enabled);
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> jitter(0.0, 0.015);

    std::vector<std::int16_t> in(kBlock), out;
    std::vector<double> click_times;  // true capture time of each click, in order
    std::uint64_t in_pos = 0, out_pos = 0;
    std::size_t next_click = 0;
    SyncRun r;
    double last_peak = 0;
    std::uint64_t peak_at = 0;
    bool in_peak = false;
    auto finish_peak = [&] {
        if (!in_peak) return;
        in_peak = false;
        if (next_click >= click_times.size()) return;
        const double offset = static_cast<double>(peak_at) / kRate - click_times[next_click++];
        ++r.clicks_found;
        r.final_offset_s = offset;
        if (click_times[next_click - 1] > 600) r.max_abs_offset_s = std::max(r.max_abs_offset_s, std::abs(offset));
    };
    for (std::uint64_t b = 0; b < total_blocks; ++b) {
        // A card overrun: frames captured but never delivered (the output must realign).
        std::size_t deliver = kBlock;
        if (lose_at_block && b >= lose_at_block && b < lose_at_block + lose_frames / kBlock) deliver = 0;
        std::fill(in.begin(), in.end(), 0);
        for (std::size_t i = 0; deliver && i < kBlock; ++i)
            if ((in_pos + i) % click_every == click_every / 2) {
                in[i] = 20000;
                click_times.push_back(static_cast<double>(in_pos + i) / card_rate);
                ++r.clicks_written;
            }
        std::uint64_t captured = in_pos + kBlock;
        double arrival = static_cast<double>(captured) / card_rate + 0.005 + jitter(rng);
        // A pipeline that has just started may hand its first blocks over late, all at once.
        if (b < 10) arrival = std::max(arrival, 1.0 + startup_delay_s) ;
        out.clear();
        if (deliver) corrector.push(in.data(), deliver, static_cast<Micros>(arrival * 1e6), out);
        in_pos = captured;
        for (std::size_t j = 0; j < out.size(); ++j, ++out_pos) {
            const double v = std::abs(static_cast<double>(out[j]));
            if (v > 5000) {
                if (!in_peak || v > last_peak) {
                    last_peak = v;
                    peak_at = out_pos;
                }
                in_peak = true;
            } else if (in_peak && out_pos > peak_at + 64) {
                finish_peak();
                last_peak = 0;
            }
        }
    }
    finish_peak();
    r.final_correction_ppm = corrector.stats().correction_ppm;
    return r;
}

TEST(AudioDriftCorrector, CardClock200ppmFastStaysWithinOneFrameOver24Hours) {
    const SyncRun r = run_sync(200, 24, true);
    std::printf("200 ppm fast, 24 h: final offset %.2f ms, worst after 10 min %.2f ms, correction %.1f ppm, %d/%d clicks\n",
                r.final_offset_s * 1e3, r.max_abs_offset_s * 1e3, r.final_correction_ppm, r.clicks_found,
                r.clicks_written);
    EXPECT_EQ(r.clicks_found, r.clicks_written);
    EXPECT_LT(std::abs(r.final_offset_s), 1.0 / 30);  // under one video frame at 30 fps
    EXPECT_LT(r.max_abs_offset_s, 1.0 / 30);
    EXPECT_NEAR(r.final_correction_ppm, 200, 20);      // the loop learned the card's drift
}

TEST(AudioDriftCorrector, CardClock300ppmSlowStaysWithinOneFrame) {
    const SyncRun r = run_sync(-300, 6, true);
    EXPECT_EQ(r.clicks_found, r.clicks_written);
    EXPECT_LT(std::abs(r.final_offset_s), 1.0 / 30);
    EXPECT_LT(r.max_abs_offset_s, 1.0 / 30);
    EXPECT_NEAR(r.final_correction_ppm, -300, 30);
}

TEST(AudioDriftCorrector, WithoutCorrectionTheSameCardDriftsBySeconds) {
    // The measurement itself: uncorrected, 200 ppm over 24 h is 17.28 s.
    const SyncRun r = run_sync(200, 24, false);
    EXPECT_EQ(r.clicks_found, r.clicks_written);
    EXPECT_NEAR(r.final_offset_s, 200e-6 * 24 * 3600 / (1 + 200e-6), 0.05);
}

TEST(AudioDriftCorrector, ALateStartIsNotTakenForDrift) {
    // The first second arrives in one burst 150 ms late: no realignment, no offset afterwards.
    const SyncRun r = run_sync(0, 1, true, 0, 0, 0.150);
    EXPECT_EQ(r.clicks_found, r.clicks_written);
    EXPECT_LT(r.max_abs_offset_s, 0.005);
    EXPECT_LT(std::abs(r.final_correction_ppm), 20);
}

TEST(AudioDriftCorrector, LostSamplesAreRealignedAtOnce) {
    // 2 s of samples never delivered an hour in: the output inserts silence instead of running
    // 2 s early for the rest of the day.
    const SyncRun r = run_sync(100, 2, true, 36000, 16000);
    EXPECT_EQ(r.clicks_found, r.clicks_written);
    EXPECT_LT(std::abs(r.final_offset_s), 1.0 / 30);
}

}  // namespace
}  // namespace asfcast::capture
