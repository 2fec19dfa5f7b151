// LiveSource with real GStreamer test pipelines: the source is pulled out mid-broadcast (a driver
// error, or frames that just stop), is missing at start, comes back; downstream must see one
// gapless time line with the slate in between.
#include "asfcast/capture/live_source.hpp"
#include "asfcast/core/clock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace asfcast;
using namespace asfcast::capture;
using namespace std::chrono_literals;

namespace {

RawFormat small_format() {
    RawFormat f;
    f.width = 320;
    f.height = 240;
    f.fps_num = 30;
    f.fps_den = 1;
    f.sample_rate = 44100;
    f.channels = 2;
    return f;
}

// A real videotestsrc/audiotestsrc pipeline that the test can "unplug": from then on nothing it
// captures gets through, and with `error` the driver reports it, as v4l2src does on a USB unplug.
class UnpluggableSource : public MediaSource {
public:
    UnpluggableSource(RawFormat format, CaptureCallbacks cb, std::atomic<UnpluggableSource*>& handle)
        : cb_(std::move(cb)), handle_(handle) {
        CaptureCallbacks inner;
        inner.on_video = [this](RawVideoFrame&& f) {
            if (!unplugged_) cb_.on_video(std::move(f));
        };
        inner.on_audio = [this](RawAudioBlock&& b) {
            if (!unplugged_) cb_.on_audio(std::move(b));
        };
        inner.on_end = [this] { cb_.on_end(); };
        inner.on_error = [this](const std::string& m) { cb_.on_error(m); };
        SourceConfig sc;
        sc.type = SourceType::test;
        sc.pattern = "ball";  // moving: every real frame differs from the slate and from each other
        pipeline_ = std::make_unique<CapturePipeline>(sc, format, inner);
        handle_ = this;
    }
    ~UnpluggableSource() override {
        UnpluggableSource* self = this;
        handle_.compare_exchange_strong(self, nullptr);
    }
    void start() override { pipeline_->start(); }
    void stop() override { pipeline_->stop(); }
    void abort() override { pipeline_->abort(); }
    std::string description() const override { return "unpluggable " + pipeline_->description(); }
    Micros clock_base_us() const override { return pipeline_->clock_base_us(); }

    void unplug(bool error) {
        unplugged_ = true;
        if (error) cb_.on_error("v4l2src0: Could not read from resource (device gone)");
    }

private:
    CaptureCallbacks cb_;
    std::atomic<UnpluggableSource*>& handle_;
    std::unique_ptr<CapturePipeline> pipeline_;
    std::atomic<bool> unplugged_{false};
};

// A factory making a fresh unpluggable test pipeline for every attach; `handle` points at the
// newest one.
MediaSourceFactory unpluggable(const RawFormat& fmt, std::atomic<UnpluggableSource*>& handle) {
    return [fmt, &handle](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
        return std::make_unique<UnpluggableSource>(fmt, std::move(cb), handle);
    };
}

struct Seen {
    std::mutex m;
    std::vector<Micros> video_pts;
    std::vector<std::uint64_t> video_sum;
    std::vector<std::pair<Micros, std::size_t>> audio;  // pts, frames
    std::vector<std::int16_t> audio_peaks;              // per block
    int ends = 0;
    std::vector<std::string> errors;

    CaptureCallbacks callbacks() {
        CaptureCallbacks cb;
        cb.on_video = [this](RawVideoFrame&& f) {
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < f.i420.size(); i += 13) sum = sum * 1099511628211ULL + f.i420[i];
            std::lock_guard lk(m);
            video_pts.push_back(f.pts);
            video_sum.push_back(sum);
        };
        cb.on_audio = [this](RawAudioBlock&& b) {
            std::int16_t peak = 0;
            for (auto s : b.samples) peak = std::max<std::int16_t>(peak, static_cast<std::int16_t>(std::abs(s)));
            std::lock_guard lk(m);
            audio.emplace_back(b.pts, b.frames());
            audio_peaks.push_back(peak);
        };
        cb.on_end = [this] {
            std::lock_guard lk(m);
            ++ends;
        };
        cb.on_error = [this](const std::string& e) {
            std::lock_guard lk(m);
            errors.push_back(e);
        };
        return cb;
    }

    // Video on the frame grid with no gap or step back; audio sample after sample.
    void expect_gapless(Micros frame_us, int rate) {
        std::lock_guard lk(m);
        ASSERT_GT(video_pts.size(), 10u);
        for (std::size_t i = 1; i < video_pts.size(); ++i) {
            const Micros d = video_pts[i] - video_pts[i - 1];
            ASSERT_GE(d, frame_us / 2) << "video frames closer than half a period (or going back) at frame " << i;
            ASSERT_LE(d, frame_us * 3 / 2) << "video gap at frame " << i << " (" << video_pts[i - 1] << " -> "
                                           << video_pts[i] << " us)";
        }
        ASSERT_GT(audio.size(), 10u);
        for (std::size_t i = 1; i < audio.size(); ++i) {
            const Micros expected = audio[i - 1].first + static_cast<Micros>(audio[i - 1].second * 1'000'000 / rate);
            ASSERT_NEAR(audio[i].first, expected, 30) << "audio gap or overlap at block " << i;
        }
    }
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

LossPolicy quick_policy() {
    LossPolicy p;
    p.loss_timeout_us = 400'000;
    p.reattach_interval_us = 300'000;
    p.slate_text = "Signal lost";
    return p;
}

TEST(LiveSource, DriverErrorPutsTheSlateOnAirAndTheSourceComesBack) {
    Seen seen;
    std::atomic<UnpluggableSource*> handle{nullptr};
    std::atomic<int> made{0};
    const RawFormat fmt = small_format();
    LiveSource live(fmt, quick_policy(),
                    [&](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
                        ++made;
                        return std::make_unique<UnpluggableSource>(fmt, std::move(cb), handle);
                    },
                    seen.callbacks());
    live.start();
    ASSERT_TRUE(wait_until([&] { return live.status().state == SourceState::live; }, 5s));
    std::this_thread::sleep_for(1s);
    const RawVideoFrame slate = render_slate(fmt.width, fmt.height, "", "Signal lost");
    handle.load()->unplug(true);
    ASSERT_TRUE(wait_until([&] { return live.status().losses == 1; }, 3s));
    // While lost the factory is asked again; the new pipeline delivers, and the source is back.
    ASSERT_TRUE(wait_until([&] { return live.status().reattaches == 1 && live.status().state == SourceState::live; },
                           5s));
    std::this_thread::sleep_for(1s);
    live.stop();
    const LiveSourceStatus st = live.status();
    EXPECT_EQ(st.state, SourceState::stopped);
    EXPECT_EQ(st.losses, 1u);
    EXPECT_GE(made.load(), 2);
    EXPECT_GT(st.filler_frames, 0u);
    EXPECT_GT(st.silence_frames, 0u);
    EXPECT_NE(st.last_event.find("source back"), std::string::npos) << st.last_event;
    seen.expect_gapless(33'333, fmt.sample_rate);

    // The slate itself was on air, between pictures of the ball, and silence with it.
    std::uint64_t slate_sum = 0;
    for (std::size_t i = 0; i < slate.i420.size(); i += 13) slate_sum = slate_sum * 1099511628211ULL + slate.i420[i];
    std::lock_guard lk(seen.m);
    std::size_t first_slate = seen.video_sum.size(), last_slate = 0, slates = 0;
    for (std::size_t i = 0; i < seen.video_sum.size(); ++i)
        if (seen.video_sum[i] == slate_sum) {
            first_slate = std::min(first_slate, i);
            last_slate = i;
            ++slates;
        }
    EXPECT_GE(slates, 3u);
    EXPECT_GT(first_slate, 10u);                        // real pictures before
    EXPECT_LT(last_slate + 10, seen.video_sum.size());  // and after
    EXPECT_EQ(seen.ends, 1);
    EXPECT_TRUE(std::any_of(seen.audio_peaks.begin(), seen.audio_peaks.end(), [](auto p) { return p == 0; }));
    EXPECT_GT(seen.audio_peaks.back(), 1000);  // the tone is back
}

TEST(LiveSource, FramesThatJustStopAreALossAfterTheTimeout) {
    Seen seen;
    std::atomic<UnpluggableSource*> handle{nullptr};
    const RawFormat fmt = small_format();
    LossPolicy policy = quick_policy();
    policy.reattach_interval_us = 60'000'000;  // stays lost for this test
    LiveSource live(fmt, policy,
                    unpluggable(fmt, handle),
                    seen.callbacks());
    live.start();
    ASSERT_TRUE(wait_until([&] { return live.status().state == SourceState::live; }, 5s));
    std::this_thread::sleep_for(500ms);
    handle.load()->unplug(false);  // no signal: no error, just nothing
    EXPECT_TRUE(wait_until([&] { return live.status().state == SourceState::holding; }, 2s));
    EXPECT_EQ(live.status().losses, 0u);  // late is not lost yet
    ASSERT_TRUE(wait_until([&] { return live.status().losses == 1; }, 3s));
    EXPECT_NE(live.status().last_event.find("no media"), std::string::npos) << live.status().last_event;
    std::this_thread::sleep_for(700ms);
    live.stop();
    seen.expect_gapless(33'333, fmt.sample_rate);
}

TEST(LiveSource, MissingAtStartBroadcastsTheSlateUntilTheDeviceAppears) {
    Seen seen;
    std::atomic<UnpluggableSource*> handle{nullptr};
    std::atomic<int> attempts{0};
    const RawFormat fmt = small_format();
    LiveSource live(fmt, quick_policy(),
                    [&](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
                        if (++attempts <= 3) throw CaptureError("cannot open /dev/video0: No such file or directory");
                        return std::make_unique<UnpluggableSource>(fmt, std::move(cb), handle);
                    },
                    seen.callbacks());
    live.start();  // no throw: the slate goes on air
    EXPECT_EQ(live.status().state, SourceState::lost);
    EXPECT_NE(live.status().last_event.find("/dev/video0"), std::string::npos);
    ASSERT_TRUE(wait_until([&] { return live.status().state == SourceState::live; }, 5s));
    std::this_thread::sleep_for(500ms);
    live.stop();
    const LiveSourceStatus st = live.status();
    EXPECT_EQ(st.attach_failures, 3u);
    EXPECT_EQ(st.reattaches, 1u);
    seen.expect_gapless(33'333, fmt.sample_rate);
    std::lock_guard lk(seen.m);
    EXPECT_LT(seen.video_pts.front(), 1'000'000);  // the slate started at once
}

TEST(LiveSource, StopPolicyEndsTheJobInsteadOfTheSlate) {
    Seen seen;
    std::atomic<UnpluggableSource*> handle{nullptr};
    const RawFormat fmt = small_format();
    LossPolicy policy = quick_policy();
    policy.slate = false;
    {
        LiveSource failing(fmt, policy,
                           [&](CaptureCallbacks) -> std::unique_ptr<MediaSource> {
                               throw CaptureError("cannot open /dev/video0");
                           },
                           seen.callbacks());
        EXPECT_THROW(failing.start(), CaptureError);
    }
    LiveSource live(fmt, policy,
                    unpluggable(fmt, handle),
                    seen.callbacks());
    live.start();
    ASSERT_TRUE(wait_until([&] { return live.status().state == SourceState::live; }, 5s));
    handle.load()->unplug(true);
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lk(seen.m);
        return !seen.errors.empty();
    }, 3s));
    live.stop();
    std::lock_guard lk(seen.m);
    EXPECT_NE(seen.errors.front().find("device gone"), std::string::npos);
}

TEST(LiveSource, AvOffsetMovesAudioAgainstVideo) {
    const RawFormat fmt = small_format();
    Micros first_audio[2] = {0, 0};
    for (int run = 0; run < 2; ++run) {
        Seen seen;
        std::atomic<UnpluggableSource*> handle{nullptr};
        LossPolicy policy = quick_policy();
        policy.av_offset_us = run ? 200'000 : 0;
        LiveSource live(fmt, policy,
                        unpluggable(fmt, handle),
                        seen.callbacks());
        live.start();
        ASSERT_TRUE(wait_until([&] {
            std::lock_guard lk(seen.m);
            return seen.audio.size() > 20 && seen.video_pts.size() > 10;
        }, 5s));
        live.stop();
        std::lock_guard lk(seen.m);
        first_audio[run] = seen.audio.front().first - seen.video_pts.front();
    }
    EXPECT_NEAR(first_audio[1] - first_audio[0], 200'000, 40'000);
}

TEST(Slate, ColourBarsWithTextAndAnImageScaledWithBorders) {
    const RawVideoFrame bars = render_slate(640, 360, "", "");
    const RawVideoFrame text = render_slate(640, 360, "", "Signal lost - back shortly");
    ASSERT_EQ(bars.i420.size(), 640u * 360 * 3 / 2);
    ASSERT_EQ(text.i420.size(), bars.i420.size());
    EXPECT_NE(bars.i420, text.i420);  // the text is there
    // Colour bars: the top-left bar is light grey/white, the picture is not flat.
    EXPECT_GT(bars.i420[10 * 640 + 10], 150);
    const std::string png = (std::filesystem::temp_directory_path() / "asfcast-slate-test.png").string();
    const std::string cmd = "gst-launch-1.0 -q videotestsrc pattern=red num-buffers=1 ! video/x-raw,width=200,height=200 ! "
                            "videoconvert ! pngenc ! filesink location=" + png;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const RawVideoFrame image = render_slate(640, 360, png, "");
    ASSERT_EQ(image.i420.size(), bars.i420.size());
    // A square image in a 16:9 picture: black borders left and right, red (Y about 81) in the middle.
    EXPECT_LT(image.i420[180 * 640 + 5], 30);
    EXPECT_NEAR(image.i420[180 * 640 + 320], 81, 12);
    std::filesystem::remove(png);
    try {
        render_slate(640, 360, "/nonexistent/slate.png", "");
        FAIL() << "a missing slate image must be an error";
    } catch (const CaptureError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/slate.png"), std::string::npos);
    }
}

}  // namespace

namespace {

// audio.codec copy: a "network source" of AAC frames (1024 samples at 48 kHz, real time, its own
// times) that the test can silence, as a camera that stops sending.
class CodedAudioSource : public MediaSource {
public:
    CodedAudioSource(CaptureCallbacks cb, std::atomic<bool>& mute) : cb_(std::move(cb)), mute_(mute) {}
    ~CodedAudioSource() override { halt(); }
    void start() override {
        base_ = monotonic_us();
        thread_ = std::thread([this] {
            auto config = std::make_shared<const Bytes>(Bytes{0x11, 0x90});
            for (std::int64_t n = 0; !quit_; ++n) {
                const Micros pts = n * 1024 * 1'000'000 / 48000;
                while (!quit_ && monotonic_us() - base_ < pts) std::this_thread::sleep_for(2ms);
                if (quit_ || mute_) continue;
                EncodedFrame f;
                f.kind = MediaKind::audio;
                f.pts = f.dts = pts;
                f.duration = 21'333;
                f.data = {0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80};
                f.codec_config = config;
                cb_.on_coded_audio(std::move(f));
            }
        });
    }
    void stop() override {
        halt();
        cb_.on_end();
    }
    void abort() override { halt(); }
    std::string description() const override { return "coded audio"; }
    Micros clock_base_us() const override { return base_; }

private:
    void halt() {
        quit_ = true;
        if (thread_.joinable()) thread_.join();
    }
    CaptureCallbacks cb_;
    std::atomic<bool>& mute_;
    std::atomic<bool> quit_{false};
    Micros base_ = 0;
    std::thread thread_;
};

// The frames keep one AAC frame's step; while the source is lost silence comes, and the silence
// between two frames is a whole number of AAC frames: the frames after it go on on the same grid.
TEST(LiveSource, CopiedAacFramesAndSilenceInWholeFrames) {
    RawFormat fmt;
    fmt.video = false;
    fmt.audio = true;
    fmt.audio_copy = true;
    fmt.sample_rate = 48000;
    fmt.channels = 2;
    LossPolicy policy = quick_policy();
    std::atomic<bool> mute{false};
    std::mutex m;
    // (pts, samples, coded)
    std::vector<std::tuple<Micros, std::int64_t, bool>> seen;
    CaptureCallbacks cb;
    cb.on_coded_audio = [&](EncodedFrame&& f) {
        std::lock_guard lk(m);
        seen.emplace_back(f.pts, 1024, true);
    };
    cb.on_audio = [&](RawAudioBlock&& b) {
        std::lock_guard lk(m);
        seen.emplace_back(b.pts, static_cast<std::int64_t>(b.frames()), false);
    };
    cb.on_end = [] {};
    cb.on_error = [](const std::string&) {};
    LiveSource live(fmt, policy,
                    [&mute](CaptureCallbacks c) -> std::unique_ptr<MediaSource> {
                        return std::make_unique<CodedAudioSource>(std::move(c), mute);
                    },
                    cb, false);
    live.start();
    ASSERT_TRUE(wait_until([&] { return live.status().state == SourceState::live; }, 5s));
    std::this_thread::sleep_for(600ms);
    mute = true;
    ASSERT_TRUE(wait_until([&] { return live.status().losses == 1; }, 3s));
    std::this_thread::sleep_for(300ms);
    mute = false;
    ASSERT_TRUE(wait_until([&] { return live.status().reattaches == 1; }, 5s));
    std::this_thread::sleep_for(600ms);
    live.stop();

    std::lock_guard lk(m);
    std::int64_t silence = 0, coded = 0, runs_of_silence = 0;
    bool after_silence = false;
    for (std::size_t i = 0; i < seen.size(); ++i) {
        const auto [pts, samples, is_coded] = seen[i];
        if (i > 0) {
            const auto [prev, prev_samples, prev_coded] = seen[i - 1];
            EXPECT_NEAR(pts, prev + prev_samples * 1'000'000 / 48000, 2) << "a gap or overlap at " << i;
        }
        if (is_coded) {
            ++coded;
            if (after_silence) {
                EXPECT_EQ(silence % 1024, 0) << "silence of " << silence << " samples before frame " << i;
                ++runs_of_silence;
            }
            silence = 0;
            after_silence = false;
        } else {
            silence += samples;
            after_silence = true;
        }
    }
    EXPECT_GT(coded, 40);
    EXPECT_GE(runs_of_silence, 1);
}

}  // namespace
