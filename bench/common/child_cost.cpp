#include "child_cost.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace benchutil {

namespace {

double seconds(const rusage& ru) {
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

}  // namespace

Cost run_measured(const std::vector<std::string>& args, const std::string& output_path, double timeout_s) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        if (!output_path.empty()) {
            const int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) {
                std::perror(output_path.c_str());
                _exit(127);
            }
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execvp(argv[0], argv.data());
        std::perror(argv[0]);
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    if (timeout_s <= 0) {
        wait4(pid, &status, 0, &ru);  // wait4's rusage covers the child and all its threads
    } else {
        // Polled (every 20 ms, in this process, which is not measured) so that a hung child is stopped.
        int signals_sent = 0;
        while (wait4(pid, &status, WNOHANG, &ru) == 0) {
            const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (signals_sent == 0 && t > timeout_s) {
                kill(pid, SIGINT);
                signals_sent = 1;
            } else if (signals_sent == 1 && t > timeout_s + 10) {
                kill(pid, SIGKILL);
                signals_sent = 2;
            }
            usleep(20000);
        }
    }
    Cost c;
    c.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.cpu = seconds(ru);
    c.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return c;
}

double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return seconds(ru);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void parse_flag_pairs(int argc, char** argv, const char* usage,
                      const std::vector<std::pair<std::string, FlagSetter>>& flags) {
    for (int i = 1; i < argc; i += 2) {
        const std::string a = argv[i];
        const auto it = std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == a; });
        if (a == "--help" || a == "-h") {
            std::printf("%s\n", usage);
            std::exit(0);
        }
        if (it == flags.end() || i + 1 >= argc) {
            std::fprintf(stderr, "%s\n", usage);
            std::exit(2);
        }
        it->second(argv[i + 1]);
    }
}

Cost make_noisy_clip(const std::string& size, int seconds, const std::string& path) {
    return run_measured({"ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                         "testsrc2=size=" + size + ":rate=30,noise=alls=12:allf=t+u", "-t", std::to_string(seconds),
                         "-pix_fmt", "yuv420p", "-y", path});
}

}  // namespace benchutil
