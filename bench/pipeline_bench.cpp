// CPU cost of the whole `asfcast run` pipeline (GStreamer file decode -> libx264 -> asfmux ->
// archive) against ffmpeg's libx264 encoding the same frames with the same settings into ASF,
// both run on the same noisy 720p30 clip in the same run.
//
//   pipeline_bench --asfcast PATH [--seconds N] [--runs N]
//
// CPU seconds (user + system of the child and all its threads) on a shared 2-core machine vary by
// several percent from run to run, mostly in x264 itself, so each side runs --runs times
// (default 3), interleaved and alternating which goes first, and the ratio is of the medians.
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/child_cost.hpp"

namespace fs = std::filesystem;

using benchutil::Cost;
using benchutil::median;
using benchutil::run_measured;

int main(int argc, char** argv) {
    std::string asfcast = "asfcast";
    int seconds = 20;
    int runs = 3;
    benchutil::parse_flag_pairs(argc, argv, "usage: pipeline_bench --asfcast PATH [--seconds N] [--runs N]",
                                {{"--asfcast", [&](const std::string& v) { asfcast = v; }},
                                 {"--seconds", [&](const std::string& v) { seconds = std::atoi(v.c_str()); }},
                                 {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }}});
    fs::path dir = fs::temp_directory_path() / ("asfcast-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string clip = (dir / "clip.y4m").string();
    const int frames = seconds * 30;

    std::printf("making %d s of noisy 720p30 video (%s)...\n", seconds, clip.c_str());
    const Cost make = benchutil::make_noisy_clip("1280x720", seconds, clip);
    if (make.status != 0) {
        std::fprintf(stderr, "ffmpeg could not make the clip\n");
        return 1;
    }

    // Same x264 settings as the built-in default preset: main, veryfast, 2000 kbit/s ABR with a
    // 2000 kbit VBV, key frame every 60 frames and none closer than 15 (asfcast's keyint_min is
    // a quarter of the interval, at most one second; x264's own default would be 6), no
    // B-frames, x264's automatic thread count. The x264 option strings both write into the
    // stream are identical. The clip has no audio, so both encode video only.
    const std::vector<std::string> ours_cmd = {asfcast, "--log-level", "warn", "run", "--preset", "default",
                                               "--input", clip, "--fast", "--pull", "off", "--archive",
                                               (dir / "asfcast.wmv").string()};
    const std::vector<std::string> ff_cmd = {"ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-c:v", "libx264",
                                             "-preset", "veryfast", "-profile:v", "main", "-b:v", "2000k",
                                             "-maxrate", "2000k", "-bufsize", "2000k", "-g", "60",
                                             "-keyint_min", "15", "-bf", "0", "-f", "asf", "-y",
                                             (dir / "ffmpeg.asf").string()};
    std::vector<double> ours_cpu, ours_wall, ff_cpu, ff_wall;
    bool failed = false;
    for (int r = 0; r < runs && !failed; ++r) {
        Cost ours, ff;
        if (r % 2 == 0) {
            ours = run_measured(ours_cmd);
            ff = run_measured(ff_cmd);
        } else {
            ff = run_measured(ff_cmd);
            ours = run_measured(ours_cmd);
        }
        if (ours.status != 0 || ff.status != 0) {
            std::fprintf(stderr, "a run failed: asfcast exit %d, ffmpeg exit %d\n", ours.status, ff.status);
            failed = true;
            break;
        }
        std::printf("run %d: asfcast %.2f CPU s, ffmpeg %.2f CPU s, ratio %.3f\n", r + 1, ours.cpu, ff.cpu,
                    ours.cpu / ff.cpu);
        ours_cpu.push_back(ours.cpu);
        ours_wall.push_back(ours.wall);
        ff_cpu.push_back(ff.cpu);
        ff_wall.push_back(ff.wall);
    }
    fs::remove_all(dir);
    if (failed) return 1;
    const double oc = median(ours_cpu), ow = median(ours_wall), fc = median(ff_cpu), fw = median(ff_wall);
    std::printf("medians of %d runs:\n", runs);
    std::printf("%-28s %8.2f CPU s %8.2f wall s %7.1f fps %6.2f CPU ms/frame\n", "asfcast run (whole pipeline)", oc,
                ow, frames / ow, oc * 1000 / frames);
    std::printf("%-28s %8.2f CPU s %8.2f wall s %7.1f fps %6.2f CPU ms/frame\n", "ffmpeg -c:v libx264 -f asf", fc,
                fw, frames / fw, fc * 1000 / frames);
    std::printf("CPU ratio asfcast/ffmpeg: %.3f (target <= 1.10)\n", oc / fc);
    return 0;
}
