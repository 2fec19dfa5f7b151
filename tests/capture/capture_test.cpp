// Capture pipelines driven by live test sources and by small files made with ffmpeg.
#include "asfcast/capture/capture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace asfcast;
using namespace asfcast::capture;
using namespace std::chrono_literals;

namespace {

struct VideoSeen {
    Micros pts;
    int width;
    int height;
    std::size_t size;
    std::uint64_t checksum;
};
struct AudioSeen {
    Micros pts;
    int rate;
    int channels;
    std::size_t frames;
};

// Collects what the callbacks deliver (they run on GStreamer threads).
struct Collector {
    std::mutex m;
    std::condition_variable cv;
    std::vector<VideoSeen> video;
    std::vector<AudioSeen> audio;
    int ends = 0;
    std::vector<std::string> errors;

    CaptureCallbacks callbacks() {
        CaptureCallbacks cb;
        cb.on_video = [this](RawVideoFrame&& f) {
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < f.i420.size(); i += 7) sum = sum * 31 + f.i420[i];
            std::lock_guard lk(m);
            video.push_back({f.pts, f.width, f.height, f.i420.size(), sum});
        };
        cb.on_audio = [this](RawAudioBlock&& b) {
            std::lock_guard lk(m);
            audio.push_back({b.pts, b.sample_rate, b.channels, b.frames()});
        };
        cb.on_end = [this] {
            std::lock_guard lk(m);
            ++ends;
            cv.notify_all();
        };
        cb.on_error = [this](const std::string& e) {
            std::lock_guard lk(m);
            errors.push_back(e);
            cv.notify_all();
        };
        return cb;
    }

    bool wait_end(std::chrono::milliseconds timeout) {
        std::unique_lock lk(m);
        return cv.wait_for(lk, timeout, [this] { return ends > 0 || !errors.empty(); }) && ends > 0;
    }
    std::size_t audio_frames() {
        std::lock_guard lk(m);
        std::size_t n = 0;
        for (auto& a : audio) n += a.frames;
        return n;
    }
};

class TempDir {
public:
    TempDir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() / ("asfcast-capture-" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

bool have_ffmpeg() { return std::system("ffmpeg -version >/dev/null 2>&1") == 0; }

bool make_media(const std::string& args, const fs::path& out) {
    std::string cmd = "ffmpeg -nostdin -v error -y " + args + " '" + out.string() + "'";
    return std::system(cmd.c_str()) == 0 && fs::exists(out);
}

template <typename F>
void expect_capture_error(F&& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "expected CaptureError mentioning '" << needle << "'";
    } catch (const CaptureError& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

RawFormat small_format(int fps = 30) {
    RawFormat f;
    f.width = 320;
    f.height = 240;
    f.fps_num = fps;
    f.fps_den = 1;
    f.sample_rate = 44100;
    f.channels = 2;
    return f;
}

}  // namespace

TEST(Capture, TestSourceDeliversRealTimeVideoAndAudioOnOneClock) {
    Collector c;
    SourceConfig src;
    src.pattern = "ball";  // moving, so frames differ
    src.tone_hz = 440;
    CapturePipeline p(src, small_format(30), c.callbacks());
    p.start();
    EXPECT_NE(p.description().find("videotestsrc is-live=true pattern=ball"), std::string::npos)
        << p.description();
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(1500ms);
    p.stop();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::lock_guard lk(c.m);
    EXPECT_TRUE(c.errors.empty()) << c.errors.front();
    EXPECT_EQ(c.ends, 1);
    ASSERT_GE(c.video.size(), 30u);
    // Real-time rate: about 30 frames per second of wall time (not faster).
    EXPECT_LE(c.video.size(), static_cast<std::size_t>(elapsed * 30 + 8));
    EXPECT_GE(c.video.size(), static_cast<std::size_t>(elapsed * 30 * 0.7));
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < c.video.size(); ++i) {
        const auto& v = c.video[i];
        EXPECT_EQ(v.width, 320);
        EXPECT_EQ(v.height, 240);
        EXPECT_EQ(v.size, 320u * 240u * 3u / 2u);
        if (i) {
            EXPECT_GT(v.pts, c.video[i - 1].pts);
            EXPECT_NEAR(static_cast<double>(v.pts - c.video[i - 1].pts), 33333.0, 2000.0);
            if (v.checksum != c.video[i - 1].checksum) ++distinct;
        }
    }
    EXPECT_GT(distinct, c.video.size() / 2);
    // Timestamps follow wall time.
    double span = static_cast<double>(c.video.back().pts - c.video.front().pts) / 1e6;
    EXPECT_NEAR(span, elapsed, 0.35);

    ASSERT_GE(c.audio.size(), 10u);
    std::size_t samples = 0;
    for (std::size_t i = 0; i < c.audio.size(); ++i) {
        const auto& a = c.audio[i];
        EXPECT_EQ(a.rate, 44100);
        EXPECT_EQ(a.channels, 2);
        samples += a.frames;
        if (i) {
            // Each block starts where the previous one's samples end.
            const auto& prev = c.audio[i - 1];
            double expect = static_cast<double>(prev.pts) + static_cast<double>(prev.frames) * 1e6 / 44100.0;
            EXPECT_NEAR(static_cast<double>(a.pts), expect, 1000.0) << "block " << i;
        }
    }
    EXPECT_NEAR(static_cast<double>(samples) / 44100.0, elapsed, 0.35);
    // One clock: both streams start together.
    EXPECT_LT(std::abs(c.video.front().pts - c.audio.front().pts), 100000) << c.video.front().pts << " vs "
                                                                           << c.audio.front().pts;
    EXPECT_LT(c.video.front().pts, 200000);
    EXPECT_EQ(p.stats().video_frames.load(), c.video.size());
    EXPECT_EQ(p.stats().audio_blocks.load(), c.audio.size());
}

TEST(Capture, StopIsIdempotentAndEndsOnce) {
    Collector c;
    RawFormat f = small_format();
    f.audio = false;
    {
        CapturePipeline p(SourceConfig{}, f, c.callbacks());
        p.start();
        std::this_thread::sleep_for(200ms);
        auto t0 = std::chrono::steady_clock::now();
        p.stop();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 3500ms);
        p.stop();
    }
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_TRUE(c.errors.empty());
    EXPECT_GT(c.video.size(), 0u);
    EXPECT_TRUE(c.audio.empty());
}

TEST(Capture, DestructorStopsARunningPipeline) {
    Collector c;
    RawFormat f = small_format();
    f.video = false;
    {
        CapturePipeline p(SourceConfig{}, f, c.callbacks());
        p.start();
        std::this_thread::sleep_for(150ms);
    }
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_GT(c.audio.size(), 0u);
    EXPECT_TRUE(c.video.empty());
}

TEST(Capture, UnknownPatternIsAnErrorListingValidOnes) {
    Collector c;
    SourceConfig src;
    src.pattern = "plaid";
    CapturePipeline p(src, small_format(), c.callbacks());
    expect_capture_error([&] { p.start(); }, "plaid");
    expect_capture_error(
        [&] {
            CapturePipeline q(src, small_format(), c.callbacks());
            q.start();
        },
        "smpte");
    p.stop();
    EXPECT_EQ(c.ends, 0);
}

TEST(Capture, MissingFileIsAnErrorNamingIt) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = "/nonexistent/dir/missing-input.mkv";
    expect_capture_error([&] { (void)probe_file(src.path); }, src.path);
    CapturePipeline p(src, small_format(), c.callbacks());
    expect_capture_error([&] { p.start(); }, src.path);
}

TEST(Capture, GarbageFileIsAnErrorNamingIt) {
    TempDir dir;
    fs::path garbage = dir / "garbage.mkv";
    {
        std::ofstream out(garbage, std::ios::binary);
        std::mt19937 rng(42);
        for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>(rng() & 0xff));
    }
    expect_capture_error([&] { (void)probe_file(garbage.string()); }, garbage.string());
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = garbage.string();
    CapturePipeline p(src, small_format(), c.callbacks());
    expect_capture_error([&] { p.start(); }, garbage.string());
}

// Media that ffmpeg makes once per test suite (in SetUpTestSuite of `Suite`, into dir_, setting
// ok_); the suite's tests are skipped when it could not.
template <typename Suite>
class SuiteMedia : public ::testing::Test {
protected:
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!ok_) GTEST_SKIP() << "ffmpeg could not make the test media";
    }
    static inline TempDir* dir_ = nullptr;
    static inline bool ok_ = false;
};

class FileCapture : public SuiteMedia<FileCapture> {
protected:
    static void SetUpTestSuite() {
        if (!have_ffmpeg()) return;
        dir_ = new TempDir;
        av_ = *dir_ / "in.mkv";
        audio_only_ = *dir_ / "audio.mka";
        ok_ = make_media(
                  "-f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 "
                  "-t 2 -c:v mpeg4 -c:a mp2",
                  av_) &&
              make_media("-f lavfi -i sine=frequency=440:sample_rate=44100 -t 1 -c:a mp2", audio_only_);
    }
    static inline fs::path av_;
    static inline fs::path audio_only_;
};

TEST_F(FileCapture, ProbeReportsStreamsAndDuration) {
    FileProbe p = probe_file(av_.string());
    EXPECT_TRUE(p.has_video);
    EXPECT_TRUE(p.has_audio);
    EXPECT_NEAR(static_cast<double>(p.duration), 2e6, 1e5);
    FileProbe a = probe_file("file://" + audio_only_.string());
    EXPECT_FALSE(a.has_video);
    EXPECT_TRUE(a.has_audio);
}

TEST_F(FileCapture, FastModeDeliversEverythingFasterThanRealTime) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = av_.string();
    src.fast = true;
    CapturePipeline p(src, small_format(25), c.callbacks());
    auto t0 = std::chrono::steady_clock::now();
    p.start();
    ASSERT_TRUE(c.wait_end(20s)) << (c.errors.empty() ? "timeout" : c.errors.front());
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(elapsed, 1.9);  // a 2 s file, probe included (about 0.1 s when the machine is idle)
    p.stop();
    std::size_t samples = c.audio_frames();
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_TRUE(c.errors.empty());
    EXPECT_GE(c.video.size(), 49u);
    EXPECT_LE(c.video.size(), 52u);
    for (std::size_t i = 0; i < c.video.size(); ++i) {
        EXPECT_EQ(c.video[i].size, 320u * 240u * 3u / 2u);
        if (i) {
            EXPECT_NEAR(static_cast<double>(c.video[i].pts - c.video[i - 1].pts), 40000.0, 1000.0);
        }
    }
    EXPECT_LT(std::abs(c.video.front().pts), 50000);
    EXPECT_NEAR(static_cast<double>(samples) / 44100.0, 2.0, 0.1);  // resampled 48 kHz -> 44.1 kHz
    ASSERT_FALSE(c.audio.empty());
    EXPECT_EQ(c.audio.front().rate, 44100);
    EXPECT_LT(std::abs(c.audio.front().pts - c.video.front().pts), 100000);
    EXPECT_NE(p.description().find("uridecodebin"), std::string::npos);
}

TEST_F(FileCapture, NormalModePacesInRealTime) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = audio_only_.string();  // 1 s
    RawFormat f = small_format();
    CapturePipeline p(src, f, c.callbacks());
    auto t0 = std::chrono::steady_clock::now();
    p.start();
    ASSERT_TRUE(c.wait_end(10s)) << (c.errors.empty() ? "timeout" : c.errors.front());
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GT(elapsed, 0.85);
    p.stop();
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_TRUE(c.video.empty());  // audio-only file: no video branch
    std::size_t samples = 0;
    for (auto& a : c.audio) samples += a.frames;
    EXPECT_NEAR(static_cast<double>(samples) / 44100.0, 1.0, 0.06);
}

TEST_F(FileCapture, AudioOnlyFileWithoutAudioWantedIsAnError) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = audio_only_.string();
    RawFormat f = small_format();
    f.audio = false;
    CapturePipeline p(src, f, c.callbacks());
    expect_capture_error([&] { p.start(); }, audio_only_.string());
}

TEST_F(FileCapture, VideoOnlyFromAnAVFileAndStopMidway) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = av_.string();
    RawFormat f = small_format(25);
    f.audio = false;
    CapturePipeline p(src, f, c.callbacks());
    p.start();
    std::this_thread::sleep_for(500ms);
    auto t0 = std::chrono::steady_clock::now();
    p.stop();  // frames already queued in the pipeline are still delivered, within 3 s
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3500ms);
    p.stop();
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_TRUE(c.audio.empty());
    EXPECT_GE(c.video.size(), 8u);
    EXPECT_LE(c.video.size(), 52u);
    for (std::size_t i = 1; i < c.video.size(); ++i) EXPECT_GT(c.video[i].pts, c.video[i - 1].pts);
}

// YUV4MPEG2 files of 4:2:0 pictures take `filesrc ! y4mdec` instead of uridecodebin (typefind
// would feed y4mdec in 4 KiB pieces); what comes out must be exactly what the file holds.
namespace {

// Checksums (as Collector computes them) of the packed I420 pictures of a plain y4m file.
std::vector<std::uint64_t> y4m_checksums(const fs::path& path, std::size_t frame_bytes) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    std::getline(in, line);  // stream header
    std::vector<std::uint64_t> sums;
    std::vector<char> frame(frame_bytes);
    while (std::getline(in, line) && line.rfind("FRAME", 0) == 0) {
        if (!in.read(frame.data(), static_cast<std::streamsize>(frame.size()))) break;
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < frame.size(); i += 7) sum = sum * 31 + static_cast<std::uint8_t>(frame[i]);
        sums.push_back(sum);
    }
    return sums;
}

}  // namespace

class Y4mCapture : public SuiteMedia<Y4mCapture> {
protected:
    static void SetUpTestSuite() {
        if (!have_ffmpeg()) return;
        dir_ = new TempDir;
        exact_ = *dir_ / "exact.y4m";
        other_ = *dir_ / "other.y4m";
        // 338 pixels: rows are not a multiple of 4 bytes, so y4m's packed planes are not
        // GStreamer's default I420 layout (y4mdec describes them with a video meta).
        ok_ = make_media("-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -pix_fmt yuv420p", exact_) &&
              make_media("-f lavfi -i testsrc2=size=338x200:rate=15 -t 1 -pix_fmt yuv420p", other_);
    }
    static inline fs::path exact_;
    static inline fs::path other_;
};

TEST_F(Y4mCapture, ProbeReadsTheHeader) {
    FileProbe p = probe_file(exact_.string());
    EXPECT_TRUE(p.has_video);
    EXPECT_FALSE(p.has_audio);
    EXPECT_NEAR(static_cast<double>(p.duration), 2e6, 1e3);
    FileProbe u = probe_file("file://" + other_.string());
    EXPECT_TRUE(u.has_video);
    EXPECT_NEAR(static_cast<double>(u.duration), 1e6, 1e3);
}

TEST_F(Y4mCapture, FastModeDeliversTheFileFramesUnchanged) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = exact_.string();
    src.fast = true;
    CapturePipeline p(src, small_format(25), c.callbacks());  // audio wanted, the file has none
    p.start();
    EXPECT_NE(p.description().find("y4mdec"), std::string::npos) << p.description();
    EXPECT_EQ(p.description().find("uridecodebin"), std::string::npos) << p.description();
    ASSERT_TRUE(c.wait_end(20s)) << (c.errors.empty() ? "timeout" : c.errors.front());
    p.stop();
    const auto expected = y4m_checksums(exact_, 320u * 240u * 3u / 2u);
    ASSERT_EQ(expected.size(), 50u);
    std::lock_guard lk(c.m);
    EXPECT_EQ(c.ends, 1);
    EXPECT_TRUE(c.errors.empty());
    EXPECT_TRUE(c.audio.empty());
    ASSERT_EQ(c.video.size(), expected.size());
    for (std::size_t i = 0; i < c.video.size(); ++i) {
        EXPECT_EQ(c.video[i].width, 320);
        EXPECT_EQ(c.video[i].height, 240);
        EXPECT_EQ(c.video[i].size, 320u * 240u * 3u / 2u);
        EXPECT_EQ(c.video[i].checksum, expected[i]) << "frame " << i;
        EXPECT_NEAR(static_cast<double>(c.video[i].pts), static_cast<double>(i) * 40000.0, 1000.0) << "frame " << i;
    }
}

TEST_F(Y4mCapture, OtherSizeAndRateAreConverted) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = other_.string();
    src.fast = true;
    RawFormat f = small_format(30);
    f.audio = false;
    CapturePipeline p(src, f, c.callbacks());
    p.start();
    ASSERT_TRUE(c.wait_end(20s)) << (c.errors.empty() ? "timeout" : c.errors.front());
    p.stop();
    std::lock_guard lk(c.m);
    EXPECT_TRUE(c.errors.empty());
    EXPECT_GE(c.video.size(), 28u);  // videorate does not repeat the last picture to fill 1 s
    EXPECT_LE(c.video.size(), 31u);
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < c.video.size(); ++i) {
        EXPECT_EQ(c.video[i].width, 320);
        EXPECT_EQ(c.video[i].height, 240);
        EXPECT_EQ(c.video[i].size, 320u * 240u * 3u / 2u);
        if (i) {
            EXPECT_NEAR(static_cast<double>(c.video[i].pts - c.video[i - 1].pts), 33333.0, 1000.0);
            if (c.video[i].checksum != c.video[i - 1].checksum) ++distinct;
        }
    }
    EXPECT_GE(distinct, 13u);  // 15 source pictures, each shown twice
}

TEST_F(Y4mCapture, NormalModePacesInRealTime) {
    Collector c;
    SourceConfig src;
    src.type = SourceType::file;
    src.path = other_.string();  // 1 s
    RawFormat f = small_format(15);
    f.width = 338;
    f.height = 200;
    CapturePipeline p(src, f, c.callbacks());
    auto t0 = std::chrono::steady_clock::now();
    p.start();
    ASSERT_TRUE(c.wait_end(10s)) << (c.errors.empty() ? "timeout" : c.errors.front());
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GT(elapsed, 0.85);
    p.stop();
    const auto expected = y4m_checksums(other_, 338u * 200u + 2u * 169u * 100u);
    std::lock_guard lk(c.m);
    EXPECT_TRUE(c.errors.empty());
    ASSERT_EQ(c.video.size(), expected.size());
    for (std::size_t i = 0; i < c.video.size(); ++i) EXPECT_EQ(c.video[i].checksum, expected[i]) << "frame " << i;
}
