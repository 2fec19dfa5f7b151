#include "procutil.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "wmsp_load.hpp"

namespace loadgen {

std::atomic<bool> g_stop{false};

namespace {

// Registered process groups; read by the signal handler, so a fixed array of atomics.
constexpr int kMaxGroups = 16;
std::atomic<pid_t> g_groups[kMaxGroups];

void register_group(pid_t pgid) {
    for (auto& g : g_groups) {
        pid_t expected = 0;
        if (g.compare_exchange_strong(expected, pgid)) return;
    }
}

void unregister_group(pid_t pgid) {
    for (auto& g : g_groups) {
        pid_t expected = pgid;
        g.compare_exchange_strong(expected, 0);
    }
}

void on_signal(int) {
    if (g_stop.exchange(true)) {
        for (auto& g : g_groups) {
            const pid_t p = g.load();
            if (p > 0) ::kill(-p, SIGKILL);
        }
        _exit(130);
    }
}

[[noreturn]] void child_fail(const char* what) {
    const char* err = std::strerror(errno);
    (void)!::write(2, "pull_bench child: ", 18);
    (void)!::write(2, what, std::strlen(what));
    (void)!::write(2, ": ", 2);
    (void)!::write(2, err, std::strlen(err));
    (void)!::write(2, "\n", 1);
    _exit(127);
}

double ticks_to_s(unsigned long long t) {
    static const long hz = sysconf(_SC_CLK_TCK);
    return static_cast<double>(t) / static_cast<double>(hz > 0 ? hz : 100);
}

// utime + stime (fields 14 and 15) of a /proc stat line; the command name may contain spaces.
std::optional<double> stat_cpu(const std::string& path) {
    const std::string s = read_file(path, 4096);
    const std::size_t rp = s.rfind(')');
    if (rp == std::string::npos) return std::nullopt;
    std::istringstream in(s.substr(rp + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int k = 3; k <= 15 && (in >> field); ++k) {
        if (k == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (k == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    if (!in) return std::nullopt;
    return ticks_to_s(utime + stime);
}

}  // namespace

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

pid_t spawn(const SpawnSpec& spec) {
    if (spec.argv.empty()) throw std::invalid_argument("spawn: empty argv");
    std::vector<char*> argv;
    for (auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        setpgid(0, spec.pgid);
        // Signals back to default for the exec'd program.
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (::dup2(spec.stdin_fd >= 0 ? spec.stdin_fd : devnull, 0) < 0) child_fail("dup2 stdin");
        if (::dup2(spec.stdout_fd >= 0 ? spec.stdout_fd : devnull, 1) < 0) child_fail("dup2 stdout");
        if (::dup2(spec.stderr_fd >= 0 ? spec.stderr_fd : devnull, 2) < 0) child_fail("dup2 stderr");
        close_range(3, ~0U, 0);  // our sockets are CLOEXEC anyway; this also covers pipe ends
        if (spec.drop_to_uid) {
            const uid_t u = *spec.drop_to_uid;
            if (setgroups(0, nullptr) < 0) child_fail("setgroups");
            if (setgid(static_cast<gid_t>(u)) < 0) child_fail("setgid");
            if (setuid(u) < 0) child_fail("setuid");
        }
        // After the credential change (which would clear it): die with the parent.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        for (auto& [k, v] : spec.env) setenv(k.c_str(), v.c_str(), 1);
        execvp(argv[0], argv.data());
        child_fail(argv[0]);
    }
    setpgid(pid, spec.pgid ? spec.pgid : pid);  // same call in both: no race
    register_group(spec.pgid ? spec.pgid : pid);
    return pid;
}

bool exited(pid_t pid, int* status) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        if (status) *status = st;
        return true;
    }
    return r < 0 && errno == ECHILD;
}

std::optional<int> wait_for(pid_t pid, double timeout_s) {
    const double end = now_s() + timeout_s;
    for (int k = 0; k < 1'000'000 && now_s() < end; ++k) {
        int st = 0;
        if (exited(pid, &st)) return st;
        if (g_stop) return std::nullopt;
        usleep(20'000);
    }
    return std::nullopt;
}

void kill_group(pid_t pgid, const std::vector<pid_t>& reap, double grace_s) {
    if (pgid <= 0) return;
    ::kill(-pgid, SIGTERM);
    const double end = now_s() + grace_s;
    std::vector<bool> gone(reap.size(), false);
    for (int k = 0; k < 100'000 && now_s() < end; ++k) {
        bool all = true;
        for (std::size_t i = 0; i < reap.size(); ++i) {
            if (!gone[i]) gone[i] = exited(reap[i]);
            all = all && gone[i];
        }
        if (all) break;
        usleep(20'000);
    }
    ::kill(-pgid, SIGKILL);  // stragglers, and anything else left in the group
    for (std::size_t i = 0; i < reap.size(); ++i)
        if (!gone[i]) waitpid(reap[i], nullptr, 0);  // SIGKILLed: returns promptly
    unregister_group(pgid);
}

void forget_group(pid_t pgid) { unregister_group(pgid); }

void kill_all_groups() {
    for (auto& g : g_groups) {
        const pid_t p = g.exchange(0);
        if (p > 0) ::kill(-p, SIGKILL);
    }
}

std::optional<double> proc_cpu_s(pid_t pid) { return stat_cpu("/proc/" + std::to_string(pid) + "/stat"); }

std::optional<double> task_cpu_s(pid_t pid, pid_t tid) {
    return stat_cpu("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
}

double ksoftirqd_cpu_s() {
    double total = 0;
    DIR* d = opendir("/proc");
    if (!d) return 0;
    for (int k = 0; k < 100000; ++k) {
        const dirent* e = readdir(d);
        if (!e) break;
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        const std::string dir = std::string("/proc/") + e->d_name;
        if (read_file(dir + "/comm", 64).rfind("ksoftirqd/", 0) != 0) continue;
        total += stat_cpu(dir + "/stat").value_or(0);
    }
    closedir(d);
    return total;
}

std::optional<long> proc_rss_kb(pid_t pid) {
    const std::string s = read_file("/proc/" + std::to_string(pid) + "/status", 16384);
    const std::size_t p = s.find("\nVmRSS:");
    if (p == std::string::npos) return std::nullopt;
    return std::strtol(s.c_str() + p + 7, nullptr, 10);
}

std::optional<pid_t> find_thread(pid_t pid, const std::string& comm) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) return std::nullopt;
    std::optional<pid_t> found;
    for (int k = 0; k < 100'000; ++k) {
        dirent* e = readdir(d);
        if (!e) break;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string c = read_file(dir + "/" + e->d_name + "/comm", 64);
        while (!c.empty() && (c.back() == '\n' || c.back() == '\0')) c.pop_back();
        if (c == comm) {
            found = static_cast<pid_t>(std::atoi(e->d_name));
            break;
        }
    }
    closedir(d);
    return found;
}

double self_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[4096];
    while (out.size() < max_bytes) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    ::close(fd);
    return out;
}

std::string tail_of_file(const std::string& path, int lines) {
    std::string s = read_file(path, 4 << 20);
    if (s.size() > 65536) s.erase(0, s.size() - 65536);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    std::size_t pos = s.size();
    for (int k = 0; k < lines && pos != std::string::npos && pos > 0; ++k) pos = s.rfind('\n', pos - 1);
    return pos == std::string::npos || pos == 0 ? s : s.substr(pos + 1);
}

}  // namespace loadgen
