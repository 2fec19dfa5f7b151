// CPU cost of the whole `asfcast run` pipeline (GStreamer file decode -> libx264 -> asfmux ->
// archive) against ffmpeg's libx264 encoding the same frames with the same settings into ASF,
// both run on the same noisy 720p30 clip in the same run.
//
//   pipeline_bench --asfcast PATH [--seconds N]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Cost {
    double cpu = 0;   // user + system seconds of the child and its threads
    double wall = 0;
    int status = 0;
};

Cost run(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv.data());
        std::perror(argv[0]);
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    Cost c;
    c.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    c.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    std::string asfcast = "asfcast";
    int seconds = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--asfcast") asfcast = argv[i + 1];
        else if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    }
    fs::path dir = fs::temp_directory_path() / ("asfcast-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string clip = (dir / "clip.y4m").string();
    const int frames = seconds * 30;

    std::printf("making %d s of noisy 720p30 video (%s)...\n", seconds, clip.c_str());
    Cost make = run({"ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                     "testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t+u", "-t", std::to_string(seconds),
                     "-pix_fmt", "yuv420p", "-y", clip});
    if (make.status != 0) {
        std::fprintf(stderr, "ffmpeg could not make the clip\n");
        return 1;
    }

    // Same x264 settings as the built-in default preset: main, veryfast, 2000 kbit/s ABR with a
    // 2000 kbit VBV, key frame every 60 frames, no B-frames. The clip has no audio, so both
    // encode video only.
    Cost ours = run({asfcast, "--log-level", "warn", "run", "--preset", "default", "--input", clip, "--fast",
                     "--archive", (dir / "asfcast.wmv").string()});
    Cost ff = run({"ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-c:v", "libx264", "-preset", "veryfast",
                   "-profile:v", "main", "-b:v", "2000k", "-maxrate", "2000k", "-bufsize", "2000k", "-g", "60",
                   "-bf", "0", "-f", "asf", "-y", (dir / "ffmpeg.asf").string()});
    fs::remove_all(dir);
    if (ours.status != 0 || ff.status != 0) {
        std::fprintf(stderr, "a run failed: asfcast exit %d, ffmpeg exit %d\n", ours.status, ff.status);
        return 1;
    }
    std::printf("%-28s %8.2f CPU s %8.2f wall s %7.1f fps %6.2f CPU ms/frame\n", "asfcast run (whole pipeline)",
                ours.cpu, ours.wall, frames / ours.wall, ours.cpu * 1000 / frames);
    std::printf("%-28s %8.2f CPU s %8.2f wall s %7.1f fps %6.2f CPU ms/frame\n", "ffmpeg -c:v libx264 -f asf",
                ff.cpu, ff.wall, frames / ff.wall, ff.cpu * 1000 / frames);
    std::printf("CPU ratio asfcast/ffmpeg: %.3f (target <= 1.10)\n", ours.cpu / ff.cpu);
    return 0;
}
