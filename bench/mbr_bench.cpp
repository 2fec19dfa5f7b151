// MBR cost: `asfcast run` encoding one rendition (1080p) and the three renditions of the mbr-3
// preset (1080p 4500k / 720p 2500k / 360p 800k, scaled once per size) from the same generated
// 1080p30 y4m clip (--input --fast), against ffmpeg's libx264 encoding the same renditions (same
// sizes, bitrates, x264 preset, profile, key frames every 2 s; one process, a split + scale filter
// graph and three video streams into one ASF file) in the same run. Then the library fan-out
// alone (encode::VideoRenditions on the clip's frames) with its size lanes on worker threads and
// all on one thread, to show what the parallel lanes buy.
//
//   mbr_bench --asfcast PATH [--seconds N] [--runs N] [--x264-preset P]
//
// Each command runs --runs times (default 3), interleaved and alternating which goes first;
// medians are reported. CPU seconds are user + system of the child and all its threads.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "asfcast/encode/renditions.hpp"
#include "common/child_cost.hpp"

namespace fs = std::filesystem;
using namespace asfcast;

namespace {

using benchutil::Cost;
using benchutil::median;
using benchutil::run_measured;

struct Rend {
    int w, h, kbps;
};
constexpr Rend kRends[3] = {{1920, 1080, 4500}, {1280, 720, 2500}, {640, 360, 800}};

// The library fan-out on the clip's frames (read from the y4m): CPU and wall seconds.
Cost fan_out(const std::string& clip, int frames, const std::string& preset, bool parallel) {
    encode::VideoRenditionsConfig c;
    c.capture_width = 1920;
    c.capture_height = 1080;
    c.keyframe_interval_s = 2.0;
    c.parallel = parallel;
    for (int i = 0; i < 3; ++i) {
        encode::VideoRendition r;
        r.encoder.stream = i + 1;
        r.encoder.width = kRends[i].w;
        r.encoder.height = kRends[i].h;
        r.encoder.bitrate_kbps = r.encoder.max_bitrate_kbps = r.encoder.vbv_buffer_kbit = kRends[i].kbps;
        r.encoder.preset = preset;
        c.renditions.push_back(r);
    }
    std::ifstream in(clip, std::ios::binary);
    std::string line;
    std::getline(in, line);  // YUV4MPEG2 header
    RawVideoFrame f;
    f.width = 1920;
    f.height = 1080;
    f.i420.resize(1920 * 1080 * 3 / 2);
    const double cpu0 = benchutil::self_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    Cost cost;
    {
        encode::VideoRenditions fan(c);
        std::vector<EncodedFrame> out;
        for (int i = 0; i < frames && std::getline(in, line); ++i) {  // "FRAME"
            in.read(reinterpret_cast<char*>(f.i420.data()), static_cast<std::streamsize>(f.i420.size()));
            if (!in) break;
            f.pts = static_cast<Micros>(i) * 1'000'000 / 30;
            fan.encode(f, out);
            out.clear();
        }
        fan.flush(out);
    }
    cost.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cost.cpu = benchutil::self_cpu_seconds() - cpu0;
    return cost;
}

}  // namespace

int main(int argc, char** argv) {
    std::string asfcast = "asfcast";
    std::string x264_preset = "superfast";
    int seconds = 8;
    int runs = 3;
    benchutil::parse_flag_pairs(argc, argv, "usage: mbr_bench --asfcast PATH [--seconds N] [--runs N] [--x264-preset P]",
                                {{"--asfcast", [&](const std::string& v) { asfcast = v; }},
                                 {"--seconds", [&](const std::string& v) { seconds = std::max(2, std::atoi(v.c_str())); }},
                                 {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
                                 {"--x264-preset", [&](const std::string& v) { x264_preset = v; }}});
    fs::path dir = fs::temp_directory_path() / ("asfcast-mbr-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string clip = (dir / "clip.y4m").string();
    const int frames = seconds * 30;

    std::printf("making %d s of noisy 1080p30 video (%s, %.0f MB)...\n", seconds, clip.c_str(),
                frames * 1920.0 * 1080 * 1.5 / 1e6);
    const Cost make = benchutil::make_noisy_clip("1920x1080", seconds, clip);
    if (make.status != 0) {
        std::fprintf(stderr, "ffmpeg could not make the clip\n");
        fs::remove_all(dir);
        return 1;
    }

    // Presets: mbr-3 with this run's x264 preset; the single-rendition case drops the
    // alternatives. The clip has no audio: every side encodes video only.
    const std::string mbr_yaml = (dir / "mbr.yaml").string();
    const std::string one_yaml = (dir / "one.yaml").string();
    std::ofstream(mbr_yaml) << "name: bench-mbr\nbase: mbr-3\nvideo: {x264_preset: " << x264_preset
                            << "}\naudio: none\n";
    std::ofstream(one_yaml) << "name: bench-one\nbase: mbr-3\nvideo: {x264_preset: " << x264_preset
                            << ", renditions: none}\naudio: none\n";
    auto ours = [&](const std::string& yaml, const char* out) {
        return std::vector<std::string>{asfcast, "--log-level", "warn", "run", "--preset", yaml, "--input", clip,
                                        "--fast", "--pull", "off", "--archive", (dir / out).string()};
    };
    // x264 settings as asfcast sets them. One rendition: key frame every 60 frames, none closer
    // than 15, scene cuts on. Several: IDRs only every 60 frames at the same times in each
    // (asfcast forces them; ffmpeg: -g 60 with scene cuts off). Bicubic scaling on both sides.
    auto x264_args = [&](std::vector<std::string>& a, int index, const Rend& r, bool mbr) {
        const std::string s = ":v:" + std::to_string(index);
        const std::string k = std::to_string(r.kbps) + "k";
        for (const std::string& x : {"-c" + s, std::string("libx264"), "-preset" + s, x264_preset, "-profile" + s,
                                     std::string("main"), "-b" + s, k, "-maxrate" + s, k, "-bufsize" + s, k,
                                     "-g" + s, std::string("60"), "-bf" + s, std::string("0")})
            a.push_back(x);
        if (mbr) {
            a.push_back("-sc_threshold" + s);
            a.push_back("0");
        } else {
            a.push_back("-keyint_min" + s);
            a.push_back("15");
        }
    };
    std::vector<std::string> ff_one = {"ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-map", "0:v"};
    x264_args(ff_one, 0, kRends[0], false);
    for (const char* x : {"-f", "asf", "-y"}) ff_one.push_back(x);
    ff_one.push_back((dir / "ff-one.asf").string());
    std::vector<std::string> ff_mbr = {"ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-filter_complex",
                                       "[0:v]split=3[a][b][c];[b]scale=1280:720:flags=bicubic[b2];"
                                       "[c]scale=640:360:flags=bicubic[c2]",
                                       "-map", "[a]", "-map", "[b2]", "-map", "[c2]"};
    for (int i = 0; i < 3; ++i) x264_args(ff_mbr, i, kRends[i], true);
    for (const char* x : {"-f", "asf", "-y"}) ff_mbr.push_back(x);
    ff_mbr.push_back((dir / "ff-mbr.asf").string());

    struct Case {
        const char* name;
        std::vector<std::string> cmd;
        std::vector<double> cpu, wall;
    };
    std::vector<Case> cases = {{"asfcast 1 rendition 1080p", ours(one_yaml, "one.wmv"), {}, {}},
                               {"ffmpeg  1 rendition 1080p", ff_one, {}, {}},
                               {"asfcast mbr-3 (3 renditions)", ours(mbr_yaml, "mbr.wmv"), {}, {}},
                               {"ffmpeg  3 renditions", ff_mbr, {}, {}}};
    bool failed = false;
    for (int r = 0; r < runs && !failed; ++r) {
        for (std::size_t pair = 0; pair < cases.size() && !failed; pair += 2) {
            for (std::size_t k = 0; k < 2; ++k) {
                Case& c = cases[pair + ((r % 2) ? 1 - k : k)];  // alternate which side goes first
                const Cost cost = run_measured(c.cmd);
                if (cost.status != 0) {
                    std::fprintf(stderr, "%s failed: exit %d\n", c.name, cost.status);
                    failed = true;
                    break;
                }
                c.cpu.push_back(cost.cpu);
                c.wall.push_back(cost.wall);
                std::printf("run %d: %-30s %7.2f CPU s %7.2f wall s %6.1f fps\n", r + 1, c.name, cost.cpu, cost.wall,
                            frames / cost.wall);
            }
        }
    }
    std::vector<double> par_cpu, par_wall, ser_cpu, ser_wall;
    if (!failed) {
        for (int r = 0; r < runs; ++r) {
            for (int k = 0; k < 2; ++k) {
                const bool parallel = (r + k) % 2 == 0;
                const Cost c = fan_out(clip, frames, x264_preset, parallel);
                (parallel ? par_cpu : ser_cpu).push_back(c.cpu);
                (parallel ? par_wall : ser_wall).push_back(c.wall);
                std::printf("run %d: fan-out %-22s %7.2f CPU s %7.2f wall s %6.1f fps\n", r + 1,
                            parallel ? "parallel lanes" : "one thread", c.cpu, c.wall, frames / c.wall);
            }
        }
    }
    fs::remove_all(dir);
    if (failed) return 1;

    std::printf("\nmedians of %d runs, %d frames of 1080p30, x264 %s, main profile:\n", runs, frames,
                x264_preset.c_str());
    for (const auto& c : cases) {
        const double cpu = median(c.cpu), wall = median(c.wall);
        std::printf("%-32s %7.2f CPU s %7.2f wall s %6.1f fps %6.2f CPU ms/frame\n", c.name, cpu, wall, frames / wall,
                    cpu * 1000 / frames);
    }
    const double pc = median(par_cpu), pw = median(par_wall), sc = median(ser_cpu), sw = median(ser_wall);
    std::printf("%-32s %7.2f CPU s %7.2f wall s %6.1f fps\n", "fan-out only, parallel lanes", pc, pw, frames / pw);
    std::printf("%-32s %7.2f CPU s %7.2f wall s %6.1f fps\n", "fan-out only, one thread", sc, sw, frames / sw);
    std::printf("CPU ratio asfcast/ffmpeg: 1 rendition %.3f, 3 renditions %.3f\n",
                median(cases[0].cpu) / median(cases[1].cpu), median(cases[2].cpu) / median(cases[3].cpu));
    std::printf("CPU ratio 3 renditions / 1 rendition: asfcast %.3f, ffmpeg %.3f\n",
                median(cases[2].cpu) / median(cases[0].cpu), median(cases[3].cpu) / median(cases[1].cpu));
    std::printf("fps of mbr-3 (file, --fast): %.1f; live needs 30 on this machine\n", frames / median(cases[2].wall));
    std::printf("fan-out parallel/one-thread: wall %.3f, CPU %.3f\n", pw / sw, pc / sc);
    return 0;
}
