// CPU cost of relaying an IP camera (issue 15): `asfcast run` passing the camera's H.264 through
// (`video.codec: copy`) against asfcast re-encoding the same stream and against ffmpeg transmuxing it
// into ASF, all from one test camera (tests/interop/rtsp_camera) over RTSP/TCP, for the same media
// duration, in the same run. Target from the issue: the copy relay under 5% of one core.
//
//   rtsp_relay_bench [--asfcast PATH] [--camera PATH] [--seconds 20] [--runs 1]
//                    [--cases copy,reencode,ffmpeg-copy,ffmpeg-wmav2] [--x264-preset veryfast]
//                    [--size 1920x1080] [--bitrate 4000] [--pattern smpte] [--motion 8] [--workdir DIR]
//
// How to run: build it with the camera and the asfcast command, then run it from the build directory
// (the defaults find both next to it: ../app/asfcast and ../tests/interop/rtsp_camera):
//
//   nice cmake --build build -j1 --target rtsp_relay_bench rtsp_camera asfcast
//   build/bench/rtsp_relay_bench --seconds 20
//
// It takes about (seconds + 5) x cases x runs: 100 s with the defaults. It needs ffmpeg and ffprobe.
//
// The camera: 1920x1080, 30 fps, x264enc (ultrafast, zerolatency, baseline, key frame every second)
// at 4000 kbit/s, AAC 128 kbit/s 48 kHz stereo. Its picture is colour bars moving 8 pixels a frame
// (--pattern smpte --motion 8), which makes x264enc spend the 4 Mbit/s (the camera's default ball
// stays near 1.2 Mbit/s at 1080p whatever the bit rate). It runs through all cases as a separate
// process; its CPU is not counted in any case (printed apart, for the load it puts on the machine).
//
// The cases (each reads the camera for `--seconds` of media and ends by itself):
//   copy          asfcast run, video.codec: copy (1920x1080), audio: the default preset's WMA2 128 kbit/s
//                 44.1 kHz stereo, archive to a file, --pull off, --duration N. Where asfcast refuses the
//                 preset (before video.codec: copy exists) the case prints "copy: not available (asfcast
//                 refused: <its error>)" and the other cases still run.
//   reencode      the same, video.codec: h264 1920x1080 30 fps 4000 kbit/s (VBV 4000 kbit), the default
//                 preset's other settings (main profile, key frame every 2 s, no B-frames) and
//                 x264_preset veryfast (the default preset's; --x264-preset changes it).
//   ffmpeg-copy   ffmpeg -rtsp_transport tcp -i URL -t N -c copy -f asf: H.264 and AAC into ASF as they are.
//   ffmpeg-wmav2  the same with -c:v copy -c:a wmav2 -b:a 128k -ar 44100 -ac 2: the same work as asfcast's
//                 copy (video carried, audio decoded, resampled to 44.1 kHz and encoded to WMA2 128 kbit/s).
//
// Measured per case: CPU seconds (user + system of the whole process and all its threads, from wait4's
// rusage), wall seconds from start to exit (RTSP connection included), the CPU as % of one core over
// that wall time, and in the output: the video frames ffprobe counts (-count_packets; expected about
// 30 x seconds) and the bit rate. Ratios: asfcast copy / ffmpeg-wmav2 (equal work: the headline),
// asfcast copy / ffmpeg-copy, asfcast copy / asfcast re-encode. With --runs N > 1 each case runs N
// times, the order rotating from run to run, and the medians are compared.
//
// Measured 2026-12-05 on the 2-core machine (load average near 3 from other builds; medians of 3 runs of
// 20 s; asfcast was a work-in-progress build of video.codec: copy): copy 1.65 CPU s (8.1% of a core, 598
// frames), re-encode veryfast 11.38 s (55.3%), ffmpeg -c copy 0.67 s (3.3%), ffmpeg with wmav2 0.76 s
// (3.7%); copy / ffmpeg-wmav2 2.18, copy / re-encode 0.145. Per thread (/proc, one 20 s copy run: 1.51 s),
// most of it is GStreamer's RTSP reception: rtspsrc's TCP task 0.42 s, the two rtpjitterbuffers 0.39 s,
// the video queue (h264parse) 0.18 s, start-up 0.13 s; asfcast's own threads 0.34 s. gst-launch with
// the same elements (rtspsrc, depayloaders, h264parse, AAC decode, resample to 44.1 kHz) alone takes
// 1.01 s over 20 s (5% of a core), so the 5% target needs a cheaper RTSP reception than rtspsrc as used.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/child_cost.hpp"

namespace fs = std::filesystem;

using benchutil::Cost;
using benchutil::median;
using benchutil::run_measured;

namespace {

const std::vector<std::string> kAllCases = {"copy", "reencode", "ffmpeg-copy", "ffmpeg-wmav2"};

// DIR/../REL next to this binary (/proc/self/exe), or REL's last part looked up in PATH when unreadable.
std::string next_to_self(const std::string& rel) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return fs::path(rel).filename().string();
    return (self.parent_path() / ".." / rel).lexically_normal().string();
}

// A TCP port on 127.0.0.1 that is free now (asked from the kernel, then released).
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        std::perror("free port");
        std::exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

// Runs args and returns what it wrote on stdout (stderr to /dev/null); "" when it could not run.
std::string capture(const std::vector<std::string>& args) {
    int p[2];
    if (pipe(p) != 0) return "";
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    close(p[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    close(p[0]);
    waitpid(pid, nullptr, 0);
    return out;
}

// The video frames in file, as ffprobe counts its packets; -1 when ffprobe cannot read it.
long video_frames(const std::string& file) {
    const std::string out = capture({"ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                     "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", file});
    if (out.empty() || out[0] < '0' || out[0] > '9') return -1;
    return std::atol(out.c_str());
}

// The first error line of an asfcast log ("2026-... error MESSAGE" -> MESSAGE), else the log's last line
// (ffmpeg's message).
std::string log_error(const std::string& log) {
    std::ifstream in(log);
    std::string line, last;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto at = line.find(" error ");
        if (at != std::string::npos) return line.substr(at + 7);
        last = line;
    }
    return last.empty() ? "no message" : last;
}

// How many warning lines an asfcast log has (at --log-level warn), and the first one; "" when none.
std::string log_warnings(const std::string& log) {
    std::ifstream in(log);
    std::string line, first;
    int n = 0;
    while (std::getline(in, line)) {
        const auto at = line.find(" warn");
        if (at == std::string::npos) continue;
        if (n++ == 0) first = line.substr(at + 1, 200);
    }
    return n == 0 ? "" : std::to_string(n) + " warning line(s) in its log, the first: " + first;
}

// The test camera, started once for every case.
struct Camera {
    pid_t pid = -1;
    int out_fd = -1;  // its stdout (kept open: it prints only the "ready" line)
    std::chrono::steady_clock::time_point started;
};

Camera start_camera(const std::vector<std::string>& args, const std::string& log) {
    int p[2];
    if (pipe(p) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    Camera cam;
    cam.started = std::chrono::steady_clock::now();
    cam.pid = fork();
    if (cam.pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        std::perror(argv[0]);
        _exit(127);
    }
    close(p[1]);
    cam.out_fd = p[0];
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (got.find("ready ") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{cam.out_fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) {
            char buf[256];
            const ssize_t n = read(cam.out_fd, buf, sizeof buf);
            if (n <= 0) break;  // exited
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
    if (got.find("ready ") == std::string::npos) {
        std::fprintf(stderr, "rtsp_relay_bench: the camera (%s) did not start; see %s\n", args[0].c_str(),
                     log.c_str());
        kill(cam.pid, SIGKILL);
        waitpid(cam.pid, nullptr, 0);
        std::exit(1);
    }
    return cam;
}

// Stops the camera; returns its CPU seconds and wall seconds.
std::pair<double, double> stop_camera(Camera& cam) {
    kill(cam.pid, SIGTERM);
    int status = 0;
    rusage ru{};
    wait4(cam.pid, &status, 0, &ru);
    close(cam.out_fd);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - cam.started).count();
    return {ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
            wall};
}

struct Result {
    std::vector<double> cpu, wall;
    long frames = -1;
    double kbps = 0;
    bool available = true;
    std::string why;  // when not available
};

}  // namespace

int main(int argc, char** argv) {
    std::string asfcast = next_to_self("app/asfcast");
    std::string camera = next_to_self("tests/interop/rtsp_camera");
    std::string cases_arg = "copy,reencode,ffmpeg-copy,ffmpeg-wmav2";
    std::string x264_preset = "veryfast", size = "1920x1080", pattern = "smpte", workdir;
    int seconds = 20, runs = 1, bitrate = 4000, motion = 8;
    benchutil::parse_flag_pairs(
        argc, argv,
        "usage: rtsp_relay_bench [--asfcast PATH] [--camera PATH] [--seconds 20] [--runs 1]\n"
        "                        [--cases copy,reencode,ffmpeg-copy,ffmpeg-wmav2] [--x264-preset veryfast]\n"
        "                        [--size 1920x1080] [--bitrate 4000] [--pattern smpte] [--motion 8] [--workdir DIR]",
        {{"--asfcast", [&](const std::string& v) { asfcast = v; }},
         {"--camera", [&](const std::string& v) { camera = v; }},
         {"--seconds", [&](const std::string& v) { seconds = std::max(2, std::atoi(v.c_str())); }},
         {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
         {"--cases", [&](const std::string& v) { cases_arg = v; }},
         {"--x264-preset", [&](const std::string& v) { x264_preset = v; }},
         {"--size", [&](const std::string& v) { size = v; }},
         {"--bitrate", [&](const std::string& v) { bitrate = std::max(1, std::atoi(v.c_str())); }},
         {"--pattern", [&](const std::string& v) { pattern = v; }},
         {"--motion", [&](const std::string& v) { motion = std::atoi(v.c_str()); }},
         {"--workdir", [&](const std::string& v) { workdir = v; }}});
    std::vector<std::string> cases;
    {
        std::stringstream ss(cases_arg);
        std::string c;
        while (std::getline(ss, c, ',')) {
            if (c.empty()) continue;
            if (std::find(kAllCases.begin(), kAllCases.end(), c) == kAllCases.end()) {
                std::fprintf(stderr, "rtsp_relay_bench: unknown case %s (copy, reencode, ffmpeg-copy, ffmpeg-wmav2)\n",
                             c.c_str());
                return 2;
            }
            cases.push_back(c);
        }
    }
    const auto x = size.find('x');
    if (cases.empty() || x == std::string::npos) {
        std::fprintf(stderr, "rtsp_relay_bench: no case, or --size is not WxH\n");
        return 2;
    }
    const std::string width = size.substr(0, x), height = size.substr(x + 1);
    const bool own_dir = workdir.empty();
    const fs::path dir = own_dir ? fs::temp_directory_path() / ("rtsp-relay-bench-" + std::to_string(getpid()))
                                 : fs::path(workdir);
    fs::create_directories(dir);

    const int port = free_port();
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(port) + "/cam";
    const int case_limit = seconds + 60;  // a case still running then is stopped (and reported failed)
    const int camera_seconds = (case_limit + 10) * static_cast<int>(cases.size()) * runs + 60;
    const std::vector<std::string> camera_cmd = {camera, "--port", std::to_string(port), "--seconds",
                                                 std::to_string(camera_seconds), "--size", size, "--fps", "30",
                                                 "--bitrate", std::to_string(bitrate), "--pattern", pattern,
                                                 "--motion", std::to_string(motion)};

    const std::string source = "source: {type: rtsp, url: \"" + url + "\", transport: tcp}\n";
    const std::string copy_yaml = (dir / "copy.yaml").string(), reencode_yaml = (dir / "reencode.yaml").string();
    std::ofstream(copy_yaml) << "# rtsp_relay_bench: the camera's H.264 passed through, its AAC to WMA2\n"
                                "base: default\n"
                             << source << "video: {codec: copy, width: " << width << ", height: " << height
                             << ", framerate: 30}\n";
    std::ofstream(reencode_yaml) << "# rtsp_relay_bench: the camera decoded and re-encoded\n"
                                    "base: default\n"
                                 << source << "video: {codec: h264, width: " << width << ", height: " << height
                                 << ", framerate: 30, bitrate_kbps: " << bitrate << ", max_bitrate_kbps: " << bitrate
                                 << ", vbv_buffer_kbit: " << bitrate << ", x264_preset: " << x264_preset << "}\n";

    auto command = [&](const std::string& c, const std::string& out) -> std::vector<std::string> {
        const std::string n = std::to_string(seconds);
        if (c == "copy" || c == "reencode")
            return {asfcast, "--log-level", "warn", "run", "--preset", c == "copy" ? copy_yaml : reencode_yaml,
                    "--duration", n, "--pull", "off", "--archive", out};
        std::vector<std::string> cmd = {"ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
                                        "-t", n, "-map", "0:v:0", "-map", "0:a:0"};
        if (c == "ffmpeg-copy") {
            cmd.insert(cmd.end(), {"-c", "copy"});
        } else {
            cmd.insert(cmd.end(), {"-c:v", "copy", "-c:a", "wmav2", "-b:a", "128k", "-ar", "44100", "-ac", "2"});
        }
        cmd.insert(cmd.end(), {"-f", "asf", "-y", out});
        return cmd;
    };
    const std::map<std::string, std::string> label = {
        {"copy", "asfcast copy (video.codec: copy)"},
        {"reencode", "asfcast re-encode (x264 " + x264_preset + ")"},
        {"ffmpeg-copy", "ffmpeg -c copy (H.264 + AAC)"},
        {"ffmpeg-wmav2", "ffmpeg -c:v copy -c:a wmav2"}};

    std::printf("camera: %s %s 30 fps, x264enc ultrafast %d kbit/s, %s moving %d px/frame, AAC 128 kbit/s (%s)\n",
                url.c_str(), size.c_str(), bitrate, pattern.c_str(), motion, camera.c_str());
    std::printf("asfcast: %s; %d s of media per case, %d run(s); work files in %s\n", asfcast.c_str(), seconds,
                runs, dir.c_str());
    Camera cam = start_camera(camera_cmd, (dir / "camera.log").string());

    std::map<std::string, Result> results;
    bool keep_dir = false;  // a case failed: its log stays
    for (int r = 0; r < runs; ++r) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const std::string& c = cases[(i + static_cast<std::size_t>(r)) % cases.size()];
            Result& res = results[c];
            if (!res.available) continue;
            const std::string out = (dir / (c + (c == "copy" || c == "reencode" ? ".wmv" : ".asf"))).string();
            const std::string log = (dir / (c + ".log")).string();
            std::error_code ec;
            fs::remove(out, ec);
            const Cost cost = run_measured(command(c, out), log, case_limit);
            if (cost.status != 0) {
                const std::string msg = log_error(log);
                if (c == "copy" && cost.wall < seconds / 2.0) {
                    res.why = "not available (asfcast refused: " + msg + ")";
                } else {
                    char buf[160];
                    std::snprintf(buf, sizeof buf, "failed (exit status %d after %.1f s; log %s): ", cost.status,
                                  cost.wall, log.c_str());
                    res.why = buf + msg;
                    keep_dir = true;
                }
                res.available = false;
                std::printf("run %d: %s: %s\n", r + 1, c.c_str(), res.why.c_str());
                continue;
            }
            res.cpu.push_back(cost.cpu);
            res.wall.push_back(cost.wall);
            res.frames = video_frames(out);
            std::error_code size_ec;
            const auto bytes = fs::file_size(out, size_ec);
            res.kbps = size_ec ? 0 : static_cast<double>(bytes) * 8 / seconds / 1000;
            std::printf("run %d: %-34s %6.2f CPU s %6.2f wall s %6.1f%% of a core, %ld video frames\n", r + 1,
                        label.at(c).c_str(), cost.cpu, cost.wall, 100 * cost.cpu / cost.wall, res.frames);
            if (c == "copy" || c == "reencode") {
                const std::string w = log_warnings(log);
                if (!w.empty()) std::printf("       %s\n", w.c_str());
            }
        }
    }
    const auto [cam_cpu, cam_wall] = stop_camera(cam);

    std::printf("\n%s of %d run(s), %d s of media each (expected about %d video frames):\n",
                runs > 1 ? "medians" : "results", runs, seconds, 30 * seconds);
    std::printf("%-34s %8s %8s %12s %13s %11s\n", "case", "CPU s", "wall s", "% of a core", "video frames",
                "out kbit/s");
    std::map<std::string, double> cpu;
    for (const auto& c : cases) {
        const Result& res = results[c];
        if (!res.available) {
            std::printf("%s: %s\n", c.c_str(), res.why.c_str());
            continue;
        }
        const double mc = median(res.cpu), mw = median(res.wall);
        cpu[c] = mc;
        std::printf("%-34s %8.2f %8.2f %11.1f%% %13ld %11.0f\n", label.at(c).c_str(), mc, mw, 100 * mc / mw,
                    res.frames, res.kbps);
    }
    std::printf("%-34s %8.2f %8.2f %11.1f%%   (not counted in any case)\n", "camera (whole bench)", cam_cpu, cam_wall,
                100 * cam_cpu / cam_wall);

    auto ratio = [&](const char* what, const std::string& a, const std::string& b) {
        if (cpu.count(a) && cpu.count(b) && cpu[b] > 0)
            std::printf("CPU ratio %-44s %.3f\n", what, cpu[a] / cpu[b]);
        else
            std::printf("CPU ratio %-44s n/a\n", what);
    };
    std::printf("\n");
    ratio("asfcast copy / ffmpeg copy+wmav2 (equal work):", "copy", "ffmpeg-wmav2");
    ratio("asfcast copy / ffmpeg -c copy:", "copy", "ffmpeg-copy");
    ratio("asfcast copy / asfcast re-encode:", "copy", "reencode");
    if (cpu.count("copy")) {
        const Result& res = results["copy"];
        const double pct = 100 * cpu["copy"] / median(res.wall);
        std::printf("target: asfcast copy under 5%% of a core: %.1f%% -> %s\n", pct, pct < 5 ? "met" : "NOT met");
    }
    if (own_dir && !keep_dir) fs::remove_all(dir);
    return 0;
}
