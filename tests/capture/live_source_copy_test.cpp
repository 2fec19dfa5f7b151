// LiveSource with video.codec copy (issue 15): a fake network source hands on H.264 access units
// (on_coded_video) and audio at scripted times, in real time. What must hold: units keep their
// times, put on their frame period's grid (jittered input, output decode times exactly one period
// apart, presentation times shifted as much); a late source gets no filler picture (an encoded
// picture cannot be held) while audio silence still fills; a lost source gets the slate (raw
// frames) and, once back, its units go on after the last slate frame, those the slate ran past
// dropped and counted late; a unit whose decode time would not come a millisecond after the last
// one handed down is dropped where a new grid starts (on a running grid it takes the next slot).
#include "asfcast/capture/live_source.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asfcast/core/clock.hpp"

using namespace asfcast;
using namespace asfcast::capture;
using namespace std::chrono_literals;

namespace {

constexpr Micros kPeriod = 40'000;  // 25 fps
constexpr int kRate = 48'000;       // 1920 samples a period
constexpr int kSamplesPerPeriod = 1920;

RawFormat copy_format() {
    RawFormat f;
    f.width = 64;
    f.height = 48;
    f.fps_num = 25;
    f.fps_den = 1;
    f.sample_rate = kRate;
    f.channels = 2;
    f.video_copy = true;
    return f;
}

// A network source in copy mode run by a script on its own thread from start() until stop() or
// abort(). Its times are on a clock whose 0 is t0 (shared by every attach, as one camera's would
// be), and the script delivers each unit no earlier than its time.
class ScriptedSource : public MediaSource {
public:
    using Script = std::function<void(ScriptedSource&)>;
    ScriptedSource(CaptureCallbacks cb, Micros t0, int instance, Script script, std::atomic<int>& sent)
        : cb_(std::move(cb)), t0_(t0), instance_(instance), script_(std::move(script)), sent_(sent) {}
    ~ScriptedSource() override { halt(); }
    void start() override {
        thread_ = std::thread([this] { script_(*this); });
    }
    void stop() override { halt(); }
    void abort() override { halt(); }
    std::string description() const override { return "scripted source " + std::to_string(instance_); }
    Micros clock_base_us() const override { return t0_; }

    int instance() const { return instance_; }
    // Now, on the source's clock.
    Micros now() const { return monotonic_us() - t0_; }
    // Sleeps until the source's clock reads t; false when the source is being stopped.
    bool wait_for(Micros t) {
        std::unique_lock lk(m_);
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(std::max<Micros>(0, t - now()));
        cv_.wait_until(lk, until, [this] { return quit_; });
        return !quit_;
    }
    // Waits for the end (the source stopped or aborted).
    void idle() {
        std::unique_lock lk(m_);
        cv_.wait(lk, [this] { return quit_; });
    }
    // One access unit: its data says which source and unit it is (the bytes are not H.264 that
    // anything reads: LiveSource does not look inside).
    void unit(int index, Micros dts, Micros pts, Micros duration = kPeriod) {
        EncodedFrame f;
        f.kind = MediaKind::video;
        f.dts = dts;
        f.pts = pts;
        f.duration = duration;
        f.keyframe = index == 0;
        f.data = {0, 0, 0, 1, 0x41, static_cast<std::uint8_t>(instance_), static_cast<std::uint8_t>(index >> 8),
                  static_cast<std::uint8_t>(index)};
        cb_.on_coded_video(std::move(f));
        ++sent_;
    }
    // One period of a tone starting at pts.
    void audio(Micros pts) {
        RawAudioBlock b;
        b.pts = pts;
        b.sample_rate = kRate;
        b.channels = 2;
        b.samples.assign(static_cast<std::size_t>(kSamplesPerPeriod) * 2, 3000);
        cb_.on_audio(std::move(b));
    }
private:
    void halt() {
        {
            std::lock_guard lk(m_);
            quit_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    }

    CaptureCallbacks cb_;
    Micros t0_;
    int instance_;
    Script script_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    bool quit_ = false;
    std::atomic<int>& sent_;  // units handed on, counted by the test
};

// What came downstream, in the order it came: coded units and raw (slate) frames on one video
// time line, audio blocks apart.
struct Down {
    struct Video {
        bool coded;
        Micros pts, dts;  // a raw frame: dts = pts
        int instance = -1, index = -1;
    };
    std::mutex m;
    std::vector<Video> video;
    std::vector<std::pair<Micros, std::size_t>> audio;  // pts, frames
    std::vector<bool> audio_silent;

    CaptureCallbacks callbacks() {
        CaptureCallbacks cb;
        cb.on_video = [this](RawVideoFrame&& f) {
            std::lock_guard lk(m);
            video.push_back({false, f.pts, f.pts});
        };
        cb.on_coded_video = [this](EncodedFrame&& f) {
            std::lock_guard lk(m);
            EXPECT_EQ(f.data.size(), 8u);
            video.push_back({true, f.pts, f.dts, f.data[5], f.data[6] << 8 | f.data[7]});
        };
        cb.on_audio = [this](RawAudioBlock&& b) {
            const bool silent = std::all_of(b.samples.begin(), b.samples.end(), [](auto s) { return s == 0; });
            std::lock_guard lk(m);
            audio.emplace_back(b.pts, b.frames());
            audio_silent.push_back(silent);
        };
        cb.on_end = [] {};
        cb.on_error = [](const std::string&) {};
        return cb;
    }

    std::vector<Video> coded() {
        std::lock_guard lk(m);
        std::vector<Video> out;
        for (const auto& v : video)
            if (v.coded) out.push_back(v);
        return out;
    }
    std::size_t raw_frames() {
        std::lock_guard lk(m);
        return static_cast<std::size_t>(std::count_if(video.begin(), video.end(), [](const Video& v) { return !v.coded; }));
    }

    // Audio sample after sample, no gap or overlap.
    void expect_gapless_audio() {
        std::lock_guard lk(m);
        ASSERT_GT(audio.size(), 5u);
        for (std::size_t i = 1; i < audio.size(); ++i) {
            const Micros expected = audio[i - 1].first + static_cast<Micros>(audio[i - 1].second * 1'000'000 / kRate);
            ASSERT_NEAR(audio[i].first, expected, 30) << "audio gap or overlap at block " << i;
        }
    }
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

LossPolicy policy(Micros loss_timeout_us) {
    LossPolicy p;
    p.loss_timeout_us = loss_timeout_us;
    p.reattach_interval_us = 200'000;
    p.drift_correction = false;
    p.slate_text = "Signal lost";
    return p;
}

// Jitter of unit i's times (under half a period either way), as a network's would be.
Micros jitter(int i) {
    constexpr Micros kJitter[] = {0, 7'000, -9'000, 13'000, -4'000, 17'000, -15'000, 2'000, 11'000, -18'000};
    return kJitter[i % 10];
}

// A LiveSource in copy mode whose attach k (0, 1, ...) runs scripts[min(k, last)].
struct Rig {
    Down down;
    Micros t0 = monotonic_us() + 50'000;
    std::vector<ScriptedSource::Script> scripts;
    std::atomic<int> attaches{0};
    std::atomic<int> sent[4] = {0, 0, 0, 0};  // units each attach handed on
    std::unique_ptr<LiveSource> live;

    void make(LossPolicy p) {
        live = std::make_unique<LiveSource>(
            copy_format(), std::move(p),
            [this](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
                const int k = std::min(attaches++, 3);
                const auto& script = scripts[std::min<std::size_t>(static_cast<std::size_t>(k), scripts.size() - 1)];
                return std::make_unique<ScriptedSource>(std::move(cb), t0, k, script, sent[k]);
            },
            down.callbacks());
    }
};

TEST(LiveSourceCopy, UnitsKeepTheirTimesOnTheFramePeriodGrid) {
    Rig rig;
    constexpr int kUnits = 30;
    rig.scripts.push_back([](ScriptedSource& s) {
        for (int i = 0; i < kUnits && s.wait_for(i * kPeriod + std::max<Micros>(0, jitter(i))); ++i) {
            const Micros dts = i * kPeriod + jitter(i);
            s.unit(i, dts, dts + 2 * kPeriod);  // B-frames: shown two periods after decoding
            s.audio(i * kPeriod);
        }
        s.idle();
    });
    rig.make(policy(2'000'000));
    rig.live->start();
    ASSERT_TRUE(wait_until([&] { return rig.down.coded().size() == kUnits; }, 5s));
    rig.live->stop();
    const auto units = rig.down.coded();
    ASSERT_EQ(units.size(), static_cast<std::size_t>(kUnits));
    for (int i = 0; i < kUnits; ++i) {
        const auto& u = units[static_cast<std::size_t>(i)];
        EXPECT_EQ(u.index, i);
        // Mapped onto the time line (whose 0 is the source's 0 here), then onto the grid of the
        // first unit: exactly one period apart, presentation shifted by as much.
        EXPECT_EQ(u.dts, units[0].dts + i * kPeriod) << "unit " << i;
        EXPECT_EQ(u.pts - u.dts, 2 * kPeriod) << "unit " << i;
    }
    EXPECT_EQ(units[0].dts, jitter(0));
    EXPECT_EQ(rig.down.raw_frames(), 0u);  // never late: no slate, no filler
    const LiveSourceStatus st = rig.live->status();
    EXPECT_EQ(st.late_frames, 0u);
    EXPECT_EQ(st.losses, 0u);
}

TEST(LiveSourceCopy, ALateSourceGetsNoFillerPictureButSilence) {
    Rig rig;
    // Units 0..14, nothing for 0.8 s (late: more than the filler's lag of 0.3 s, under the loss
    // timeout of 1.5 s), then units 35..49.
    rig.scripts.push_back([](ScriptedSource& s) {
        for (int i = 0; i < 50; ++i) {
            if (i >= 15 && i < 35) continue;
            if (!s.wait_for(i * kPeriod + std::max<Micros>(0, jitter(i)))) return;
            const Micros dts = i * kPeriod + jitter(i);
            s.unit(i, dts, dts);
            s.audio(i * kPeriod);
        }
        s.idle();
    });
    rig.make(policy(1'500'000));
    rig.live->start();
    ASSERT_TRUE(wait_until([&] { return rig.live->status().state == SourceState::holding; }, 3s));
    ASSERT_TRUE(wait_until([&] { return rig.down.coded().size() == 30; }, 5s));
    rig.live->stop();
    const LiveSourceStatus st = rig.live->status();
    EXPECT_EQ(st.losses, 0u);  // late, not lost
    EXPECT_EQ(st.filler_frames, 0u);
    EXPECT_EQ(rig.down.raw_frames(), 0u) << "no held picture, no slate in copy mode while the source is only late";
    EXPECT_GT(st.silence_frames, static_cast<std::uint64_t>(kRate / 10));  // the audio line was filled
    EXPECT_EQ(st.late_frames, 0u);
    const auto units = rig.down.coded();
    ASSERT_EQ(units.size(), 30u);
    for (std::size_t k = 0; k < units.size(); ++k) {
        const int i = units[k].index;
        EXPECT_EQ(i, k < 15 ? static_cast<int>(k) : static_cast<int>(k) + 20);
        EXPECT_EQ(units[k].dts, units[0].dts + i * kPeriod) << "unit " << i << ": off the grid";
        EXPECT_EQ(units[k].pts, units[k].dts);
    }
    rig.down.expect_gapless_audio();
    std::lock_guard lk(rig.down.m);
    EXPECT_TRUE(std::find(rig.down.audio_silent.begin(), rig.down.audio_silent.end(), true) !=
                rig.down.audio_silent.end());
    EXPECT_FALSE(rig.down.audio_silent.back());  // the tone is back
}

TEST(LiveSourceCopy, ALostSourceGetsTheSlateAndGoesOnAfterIt) {
    Rig rig;
    // First attach: units 0..14, then silence until it is aborted (lost after 0.3 s).
    rig.scripts.push_back([](ScriptedSource& s) {
        for (int i = 0; i < 15 && s.wait_for(i * kPeriod); ++i) {
            s.unit(i, i * kPeriod, i * kPeriod + kPeriod);
            s.audio(i * kPeriod);
        }
        s.idle();
    });
    // Second attach: its jitter buffer hands on the last 0.6 s at once (the slate ran past most
    // of them), then units in real time for 0.6 s.
    rig.scripts.push_back([](ScriptedSource& s) {
        const int first = static_cast<int>((s.now() - 600'000) / kPeriod);
        const int last = first + 30;
        for (int i = first; i < last; ++i) {
            if (!s.wait_for(i * kPeriod)) return;
            s.unit(i, i * kPeriod, i * kPeriod + kPeriod);
            s.audio(i * kPeriod);
        }
        s.idle();
    });
    LossPolicy p = policy(300'000);
    p.reattach_interval_us = 500'000;  // about 0.5 s of slate
    rig.make(p);
    rig.live->start();
    ASSERT_TRUE(wait_until([&] { return rig.live->status().reattaches == 1; }, 5s));
    ASSERT_TRUE(wait_until([&] { return rig.sent[1] == 30; }, 5s));
    std::this_thread::sleep_for(50ms);
    rig.live->stop();
    const LiveSourceStatus st = rig.live->status();
    EXPECT_EQ(st.losses, 1u);
    EXPECT_GT(st.filler_frames, 0u);

    std::lock_guard lk(rig.down.m);
    const auto& v = rig.down.video;
    // The first source's units, then the slate, then the second source's units.
    std::size_t k = 0;
    for (; k < v.size() && v[k].coded; ++k) {
        EXPECT_EQ(v[k].instance, 0);
        EXPECT_EQ(v[k].dts, static_cast<Micros>(k) * kPeriod);
    }
    ASSERT_EQ(k, 15u);
    const std::size_t slate_begin = k;
    for (; k < v.size() && !v[k].coded; ++k) {
        // Slate frames: on the grid after the last picture shown (unit 14, shown at 15 periods).
        EXPECT_EQ(v[k].pts, static_cast<Micros>(k - slate_begin + 16) * kPeriod) << "slate frame " << k - slate_begin;
    }
    const std::size_t slate_frames = k - slate_begin;
    EXPECT_GE(slate_frames, 5u);
    EXPECT_EQ(slate_frames, st.filler_frames);
    ASSERT_LT(k, v.size()) << "the second source's units never came";
    const Micros last_slate = v[k - 1].pts;
    // No gap: the slate filled the periods up to the source's first unit, which moved onto its grid.
    EXPECT_EQ(v[k].dts, last_slate + kPeriod) << "a unit the slate ran past was handed down, or a gap";
    const std::size_t resumed = k;
    for (; k < v.size(); ++k) {
        ASSERT_TRUE(v[k].coded) << "a slate frame after the source came back (" << k << ")";
        EXPECT_EQ(v[k].instance, 1);
        EXPECT_EQ(v[k].dts, v[resumed].dts + static_cast<Micros>(k - resumed) * kPeriod) << "unit " << v[k].index;
        EXPECT_EQ(v[k].pts - v[k].dts, kPeriod);
        if (k > resumed) {
            EXPECT_EQ(v[k].index, v[k - 1].index + 1);
        }
    }
    // Every unit of the second source either came or was counted late.
    const std::size_t from_second = v.size() - resumed;
    EXPECT_GT(st.late_frames, 0u);
    EXPECT_EQ(from_second + st.late_frames, 30u);
}

// Where a new grid starts (after an attach or the slate, or when the source's frame period
// changes), a unit whose decode time is not a millisecond after the last one handed down is
// dropped (ASF's millisecond times would not keep it after that one) and counted late.
TEST(LiveSourceCopy, AUnitUnderAMillisecondAfterTheLastIsDroppedWhereANewGridStarts) {
    Rig rig;
    // Units 0..9 at 25 fps; then the source goes to 50 fps (a new grid): its first unit comes
    // 0.5 ms after unit 9, the next ones 20 ms apart.
    constexpr Micros kFast = 20'000;
    rig.scripts.push_back([](ScriptedSource& s) {
        for (int i = 0; i < 20; ++i) {
            const Micros dts = i < 10 ? i * kPeriod : 9 * kPeriod + 500 + (i - 10) * kFast;
            if (!s.wait_for(dts)) return;
            s.unit(i, dts, dts, i < 10 ? kPeriod : kFast);
            s.audio(dts);
        }
        s.idle();
    });
    rig.make(policy(2'000'000));
    rig.live->start();
    ASSERT_TRUE(wait_until([&] { return rig.sent[0] == 20; }, 5s));
    std::this_thread::sleep_for(50ms);
    rig.live->stop();
    const auto units = rig.down.coded();
    ASSERT_EQ(units.size(), 19u);
    for (std::size_t k = 0; k < units.size(); ++k) {
        const int i = units[k].index;
        EXPECT_NE(i, 10);
        EXPECT_EQ(units[k].dts, i < 10 ? i * kPeriod : 9 * kPeriod + 500 + (i - 10) * kFast) << "unit " << i;
        if (k > 0) {
            EXPECT_GE(units[k].dts, units[k - 1].dts + 1000);
        }
    }
    EXPECT_EQ(rig.live->status().late_frames, 1u);
}

// On a running grid, a unit whose decode time repeats the last one's (under a millisecond after
// it) is not dropped: it takes the next slot of the grid, so no two units go out under a
// millisecond apart either.
TEST(LiveSourceCopy, ARepeatedDecodeTimeOnTheGridTakesTheNextSlot) {
    Rig rig;
    // Units 0..19 on the grid, but unit 10 carries a decode time 0.5 ms after unit 9's.
    rig.scripts.push_back([](ScriptedSource& s) {
        for (int i = 0; i < 20 && s.wait_for(i * kPeriod); ++i) {
            const Micros dts = i == 10 ? 9 * kPeriod + 500 : i * kPeriod;
            s.unit(i, dts, dts);
            s.audio(i * kPeriod);
        }
        s.idle();
    });
    rig.make(policy(2'000'000));
    rig.live->start();
    ASSERT_TRUE(wait_until([&] { return rig.sent[0] == 20; }, 5s));
    std::this_thread::sleep_for(50ms);
    rig.live->stop();
    const auto units = rig.down.coded();
    ASSERT_EQ(units.size(), 20u);
    for (std::size_t k = 0; k < units.size(); ++k) {
        EXPECT_EQ(units[k].index, static_cast<int>(k));
        EXPECT_EQ(units[k].dts, units[k].index * kPeriod) << "unit " << units[k].index;
        EXPECT_EQ(units[k].pts, units[k].dts);
    }
    EXPECT_EQ(rig.live->status().late_frames, 0u);
}

}  // namespace
