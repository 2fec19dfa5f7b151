// Network sources (issue 15): URIs, credential redaction, and LiveSource's re-attach back-off for a
// source that keeps failing (an unreachable camera, refused credentials).
#include "asfcast/capture/live_source.hpp"
#include "asfcast/capture/network.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "asfcast/core/clock.hpp"

using namespace asfcast;
using namespace asfcast::capture;
using namespace std::chrono_literals;

namespace {

TEST(NetworkUri, EachTypeAndItsErrors) {
    SourceConfig s;
    s.type = SourceType::rtsp;
    s.url = "rtsp://cam.local:554/stream1";
    EXPECT_EQ(network_uri(s), "rtsp://cam.local:554/stream1");
    s.url = "http://cam.local/";
    EXPECT_THROW(network_uri(s), CaptureError);

    s.type = SourceType::srt;
    s.srt_mode = "listener";
    s.srt_address = "0.0.0.0";
    s.srt_port = 9000;
    EXPECT_EQ(network_uri(s), "srt://0.0.0.0:9000?mode=listener");
    s.srt_address = "::1";
    EXPECT_EQ(network_uri(s), "srt://[::1]:9000?mode=listener");
    s.srt_port = 0;
    EXPECT_THROW(network_uri(s), CaptureError);
    s.srt_mode = "caller";
    s.url = "srt://enc.example:9000";
    EXPECT_EQ(network_uri(s), "srt://enc.example:9000?mode=caller");
    s.url = "srt://enc.example:9000?latency=200";
    EXPECT_EQ(network_uri(s), "srt://enc.example:9000?latency=200&mode=caller");
    s.passphrase = "never-in-the-uri";
    EXPECT_EQ(network_uri(s).find("never"), std::string::npos);

    s.type = SourceType::uri;
    s.url = "http://example.com/live.ts";
    EXPECT_EQ(network_uri(s), s.url);
    s.url = "not a uri";
    EXPECT_THROW(network_uri(s), CaptureError);
}

TEST(Redact, CredentialsNeverSurvive) {
    EXPECT_EQ(redact_url("rtsp://admin:s3cret@10.0.0.5:554/h264"), "rtsp://admin:***@10.0.0.5:554/h264");
    EXPECT_EQ(redact_url("rtsp://admin@10.0.0.5/h264"), "rtsp://admin@10.0.0.5/h264");
    EXPECT_EQ(redact_url("srt://h:1?mode=caller&passphrase=abcdefghijk&latency=5"),
              "srt://h:1?mode=caller&passphrase=***&latency=5");
    EXPECT_EQ(redact_url("error at rtsp://u:p%40ss@h/x: 401"), "error at rtsp://u:***@h/x: 401");
    // Redacting twice changes nothing (log lines are built from redacted parts and redacted again).
    EXPECT_EQ(redact_url("srt://h:1?passphrase=***: x"), "srt://h:1?passphrase=***: x");

    SourceConfig s;
    s.type = SourceType::rtsp;
    s.password = "pa ss";
    s.passphrase = "0123456789";
    EXPECT_EQ(redact("user-pw is pa ss, key 0123456789", s), "user-pw is ***, key ***");
}

// A source that fails every attempt: at start() (`async` false), or after it (`async`: the error
// comes from the source once started, as rtspsrc's 401 does). The factory records attempt times.
class FailingSource : public MediaSource {
public:
    FailingSource(CaptureCallbacks cb, bool async) : cb_(std::move(cb)), async_(async) {}
    void start() override {
        if (!async_) throw CaptureError("cannot connect to 127.0.0.1:9");
        cb_.on_error("the camera refused the credentials (401 Unauthorized)");
    }
    void stop() override {}
    void abort() override {}
    std::string description() const override { return "failing"; }
    Micros clock_base_us() const override { return 0; }

private:
    CaptureCallbacks cb_;
    bool async_;
};

std::vector<Micros> attempt_gaps(bool async) {
    RawFormat f;
    f.width = 64;
    f.height = 48;
    std::mutex m;
    std::vector<Micros> attempts;
    LossPolicy policy;
    policy.reattach_interval_us = 100'000;
    policy.reattach_max_interval_us = 400'000;
    CaptureCallbacks down;
    down.on_video = [](RawVideoFrame&&) {};
    down.on_audio = [](RawAudioBlock&&) {};
    LiveSource live(f, policy,
                    [&](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
                        std::lock_guard lk(m);
                        attempts.push_back(monotonic_us());
                        return std::make_unique<FailingSource>(std::move(cb), async);
                    },
                    down);
    live.start();
    std::this_thread::sleep_for(2200ms);
    const LiveSourceStatus st = live.status();
    live.stop();
    EXPECT_EQ(st.losses, 1u) << "failed attempts are not new losses";
    EXPECT_EQ(st.state, SourceState::lost);
    std::lock_guard lk(m);
    EXPECT_GE(st.attach_failures + 1, attempts.size() - 1);
    std::vector<Micros> gaps;
    for (std::size_t i = 1; i < attempts.size(); ++i) gaps.push_back(attempts[i] - attempts[i - 1]);
    return gaps;
}

void expect_backoff(const std::vector<Micros>& gaps) {
    // 100, 200, 400, then 400 ms (the cap); the supervisor wakes every 20 ms.
    ASSERT_GE(gaps.size(), 5u);
    const Micros expected[] = {100'000, 200'000, 400'000, 400'000, 400'000};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_GE(gaps[i], expected[i] - 5'000) << "attempt " << i + 1;
        EXPECT_LE(gaps[i], expected[i] + 60'000) << "attempt " << i + 1;
    }
}

TEST(LiveSourceBackoff, FailuresAtStartDoubleUpToTheCap) { expect_backoff(attempt_gaps(false)); }

TEST(LiveSourceBackoff, FailuresAfterStartDoubleUpToTheCap) {
    const auto gaps = attempt_gaps(true);
    // The first failure after start() is the loss itself (then the interval), the rest back off.
    ASSERT_GE(gaps.size(), 5u);
    EXPECT_LE(gaps[0], 160'000);
    expect_backoff(std::vector<Micros>(gaps.begin() + 1, gaps.end()));
}

// A camera without audio (or an encoder sending video only): the filler starts the audio time
// line with silence once video has run for a moment, so downstream gets both; the same the other
// way round.
void one_kind_only(bool video_only) {
    RawFormat f;
    f.width = 160;
    f.height = 120;
    std::mutex m;
    std::vector<Micros> video, audio_ends;
    std::vector<Micros> audio_starts;
    CaptureCallbacks down;
    down.on_video = [&](RawVideoFrame&& v) {
        std::lock_guard lk(m);
        video.push_back(v.pts);
    };
    down.on_audio = [&](RawAudioBlock&& b) {
        std::lock_guard lk(m);
        audio_starts.push_back(b.pts);
        audio_ends.push_back(b.pts + static_cast<Micros>(b.frames() * 1'000'000 / static_cast<std::size_t>(b.sample_rate)));
    };
    LiveSource live(f, LossPolicy{},
                    [f, video_only](CaptureCallbacks cb) -> std::unique_ptr<MediaSource> {
                        SourceConfig sc;
                        sc.type = SourceType::test;
                        RawFormat inner = f;
                        (video_only ? inner.audio : inner.video) = false;
                        return std::make_unique<CapturePipeline>(sc, inner, std::move(cb));
                    },
                    down);
    live.start();
    std::this_thread::sleep_for(2500ms);
    const LiveSourceStatus st = live.status();
    live.stop();
    EXPECT_EQ(st.losses, 0u);
    std::lock_guard lk(m);
    ASSERT_GT(video.size(), 30u);
    ASSERT_GT(audio_starts.size(), 5u);
    const Micros first = std::min(video.front(), audio_starts.front());
    EXPECT_LE((video_only ? audio_starts.front() : video.front()) - first, 1'100'000)
        << "the missing kind starts within a second of the other";
    for (std::size_t i = 1; i < audio_starts.size(); ++i)
        ASSERT_NEAR(audio_starts[i], audio_ends[i - 1], 30) << "audio gap at block " << i;
    for (std::size_t i = 1; i < video.size(); ++i) ASSERT_LE(video[i] - video[i - 1], 50'000) << "video gap at " << i;
}

TEST(LiveSourceOneKind, VideoOnlySourceGetsSilence) { one_kind_only(true); }
TEST(LiveSourceOneKind, AudioOnlySourceGetsTheSlate) { one_kind_only(false); }

}  // namespace
