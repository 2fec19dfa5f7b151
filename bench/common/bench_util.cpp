#include "bench_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "loadgen/procutil.hpp"

namespace benchutil {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t p = 0;
    while (p <= s.size()) {
        const std::size_t q = s.find(sep, p);
        const std::string part = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (!part.empty()) out.push_back(part);
        if (q == std::string::npos) break;
        p = q + 1;
    }
    return out;
}

double to_double(const std::string& flag, const std::string& v, double lo, double hi) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || !(d >= lo && d <= hi)) {
        char range[64];
        std::snprintf(range, sizeof range, "%g..%g", lo, hi);
        throw std::invalid_argument(flag + ": '" + v + "' is not a number in " + range);
    }
    return d;
}

std::string default_asfcast(const std::string& fallback_self) {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string dir = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : fallback_self;
    dir = dir.substr(0, dir.rfind('/'));
    return dir + "/../app/asfcast";
}

int open_log(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    return fd;
}

std::string write_preset(const std::string& path, const std::string& comment, const std::string& name,
                         const std::string& extra) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    std::fprintf(f,
                 "# %s\n"
                 "name: %s\n"
                 "base: default\n"
                 "video: { width: 640, height: 360, bitrate_kbps: %d, max_bitrate_kbps: %d, vbv_buffer_kbit: %d,"
                 " x264_preset: ultrafast }\n"
                 "audio: { codec: wma2, bitrate_kbps: %d }\n"
                 "%s",
                 comment.c_str(), name.c_str(), kVideoKbps, kVideoKbps, kVideoKbps, kAudioKbps, extra.c_str());
    std::fclose(f);
    return path;
}

std::string check_asfcast(const std::string& asfcast, const std::string& help_path, const std::string& option,
                          const std::string& missing_what) {
    using namespace loadgen;
    if (access(asfcast.c_str(), X_OK) != 0)
        return "asfcast binary not found or not executable at " + asfcast +
               " (build the asfcast target in the same build dir, or pass --asfcast PATH)";
    const int fd = open_log(help_path);
    SpawnSpec s;
    s.argv = {asfcast, "run", "--help"};
    s.stdout_fd = fd;
    s.stderr_fd = fd;
    const pid_t pid = spawn(s);
    ::close(fd);
    const auto st = wait_for(pid, 15);
    if (st) forget_group(pid);
    else kill_group(pid, {pid}, 1);
    if (!st) return "`" + asfcast + " run --help` did not finish within 15 s";
    if (read_file(help_path).find(option) == std::string::npos) return "asfcast at " + asfcast + " " + missing_what;
    return "";
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

std::string fmt_num(double v, int prec) {
    if (std::isnan(v)) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

rlimit raise_nofile_limit() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    return rl;
}

void start_process() {
    loadgen::install_signal_handlers();
    setvbuf(stdout, nullptr, _IOLBF, 0);
}

int run_guarded(const char* prog, const std::function<int()>& body) {
    int rc = 0;
    try {
        rc = body();
        if (loadgen::g_stop) rc = 130;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", prog, e.what());
        rc = 1;
    }
    loadgen::kill_all_groups();
    return rc;
}

}  // namespace benchutil
