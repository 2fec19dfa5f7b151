// What pull_bench and push_bench share: the 1 Mbit/s stream they drive asfcast with, command-line parsing
// helpers, the asfcast preset and `run --help` check, logs, percentiles and table numbers.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace benchutil {

// The ~1 Mbit/s stream: what asfcast's preset asks for (and pull_bench's VLC input is encoded with).
constexpr int kVideoKbps = 900;
constexpr int kAudioKbps = 96;
constexpr int kNominalKbps = kVideoKbps + kAudioKbps;
constexpr double kFullRate = 0.95;  // a client is at full rate from 95% of the expected rate

// "a,,b" -> {"a", "b"}: empty parts are dropped.
std::vector<std::string> split(const std::string& s, char sep);
// The number in v, or std::invalid_argument naming flag when it is not one in [lo, hi].
double to_double(const std::string& flag, const std::string& v, double lo, double hi);
// ../app/asfcast next to this binary (fallback_self: this binary's path when /proc/self/exe is unreadable).
std::string default_asfcast(const std::string& fallback_self);

// Opens (truncates) a log file for a child's output; throws on failure.
int open_log(const std::string& path);

// Writes the 1 Mbit/s asfcast preset to path: `comment` is its first line (after "# "), `name` its name,
// `extra` more YAML lines (each ending in '\n') after the audio line. Returns path.
std::string write_preset(const std::string& path, const std::string& comment, const std::string& name,
                         const std::string& extra = "");

// Does `asfcast run --help` mention `option` (e.g. "--pull")? Its output goes to help_path. Returns an error
// message (missing binary, timeout, or "asfcast at PATH " + missing_what when the option is absent), or "".
std::string check_asfcast(const std::string& asfcast, const std::string& help_path, const std::string& option,
                          const std::string& missing_what);

// Linear-interpolated q-quantile (0..1) of v; NaN when empty.
double percentile(std::vector<double> v, double q);
// v with prec decimals, "-" for NaN.
std::string fmt_num(double v, int prec);

// Raises RLIMIT_NOFILE's soft limit to the hard one (children inherit it) and returns the new limits.
rlimit raise_nofile_limit();

void start_process();  // SIGINT/SIGTERM handlers (loadgen::g_stop) and a line-buffered stdout

// The start of a bench's main(): parse(argc, argv), where an exception is a usage error (its message after
// "prog: " on stderr, exit status 2); then start_process(). Returns what parse returned.
template <class Parse>
auto start_main(const char* prog, int argc, char** argv, Parse parse) {
    auto args = [&] {
        try {
            return parse(argc, argv);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", prog, e.what());
            std::exit(2);
        }
    }();
    start_process();
    return args;
}

// Runs a bench's runs: body's exit status, 130 once interrupted, or 1 after an exception (its message after
// "prog: " on stderr). Every child process group is killed afterwards.
int run_guarded(const char* prog, const std::function<int()>& body);

}  // namespace benchutil
