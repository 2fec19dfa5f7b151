// Fan-out benchmark of the MS-WMHTTP push client: one asfcast encoder publishing the same ~1 Mbit/s live
// stream to N receivers at once (`asfcast run --push URL` N times). The N receivers run inside this process
// on 127.0.0.1, all served by one epoll thread (pushrx/push_rx.*: PushSetup answered 204 with a push-id
// cookie, PushStart bodies parsed frame by frame, $D payload bytes counted, no payload kept).
//
// For each run (a 1-target baseline, then each N of --targets) push_bench writes a 1 Mbit/s preset, starts
// asfcast, waits until every receiver has its $H, warms up, then measures over a window: each receiver's
// rate ($D payload bytes: ASF packets without their padding), whether it reached 95% of the nominal rate,
// framing/protocol errors, the CPU of asfcast's "asfcast-push" network thread and of the whole process
// (utime+stime from /proc), asfcast's RSS. Then it lets asfcast reach its --duration and checks that every
// receiver got $E (reason 0) and the same number of $D packets (no target skipped any).
//
//   push_bench [--targets 50[,100]] [--seconds 20] [--warmup 5] [--no-baseline] [--asfcast PATH] ...
//   push_bench --help
//
// asfcast runs in its own process group, is killed on exit, on errors and on SIGINT, and dies with us
// (PR_SET_PDEATHSIG). Every loop is bounded by a deadline.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "loadgen/procutil.hpp"
#include "loadgen/wmsp_load.hpp"  // now_s()
#include "pushrx/push_rx.hpp"

using namespace loadgen;
using namespace benchutil;

namespace {

struct Args {
    std::vector<int> targets{50};
    bool baseline = true;
    double window_s = 20;
    double warmup_s = 5;
    double startup_timeout_s = 10;
    double end_timeout_s = 30;
    int port_base = 0;
    double expected_kbps = kNominalKbps;
    bool keep_going = false;
    std::string asfcast;
    std::string workdir = "/tmp";
};

void usage() {
    std::printf(
        "push_bench: one asfcast pushing a 1 Mbit/s live stream (MS-WMHTTP) to N local receivers at once\n"
        "  --targets LIST      receiver counts, one asfcast run each (default 50; asfcast has no limit on\n"
        "                      --push URLs, the preset's outputs.push list stops at 64)\n"
        "  --no-baseline       skip the 1-target run (default: run it first, for the per-target cost)\n"
        "  --seconds S         measurement window (default 20)\n"
        "  --warmup S          after every receiver has its $H, before the window (default 5)\n"
        "  --startup-timeout S for every receiver's $H after asfcast starts (default 10); asfcast runs\n"
        "                      with --duration startup-timeout + warmup + seconds + 2\n"
        "  --end-timeout S     after the window, for asfcast to end and every $E (default 30)\n"
        "  --bitrate KBPS      rate a receiver must reach 95%% of (default %d: nominal %d video + %d audio)\n"
        "  --port-base P       receivers on P..P+N-1 (default: ephemeral ports)\n"
        "  --keep-going        continue after a failed run\n"
        "  --asfcast PATH      asfcast binary (default: ../app/asfcast next to this binary)\n"
        "  --workdir DIR       preset and asfcast logs (default /tmp)\n",
        kNominalKbps, kVideoKbps, kAudioKbps);
}

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(f + " needs a value");
            return argv[++i];
        };
        if (f == "--help" || f == "-h") {
            usage();
            std::exit(0);
        } else if (f == "--targets") {
            a.targets.clear();
            for (auto& s : split(val(), ',')) a.targets.push_back(static_cast<int>(to_double(f, s, 1, 5000)));
            if (a.targets.empty()) throw std::invalid_argument("--targets: empty list");
        } else if (f == "--no-baseline") a.baseline = false;
        else if (f == "--seconds") a.window_s = to_double(f, val(), 1, 3600);
        else if (f == "--warmup") a.warmup_s = to_double(f, val(), 0, 600);
        else if (f == "--startup-timeout") a.startup_timeout_s = to_double(f, val(), 1, 600);
        else if (f == "--end-timeout") a.end_timeout_s = to_double(f, val(), 1, 600);
        else if (f == "--bitrate") a.expected_kbps = to_double(f, val(), 1, 1e6);
        else if (f == "--port-base") a.port_base = static_cast<int>(to_double(f, val(), 1024, 60000));
        else if (f == "--keep-going") a.keep_going = true;
        else if (f == "--asfcast") a.asfcast = val();
        else if (f == "--workdir") a.workdir = val();
        else throw std::invalid_argument("unknown flag " + f + " (see --help)");
    }
    if (a.asfcast.empty()) a.asfcast = default_asfcast("./push_bench");
    return a;
}

std::string write_preset(const Args& a) {
    return benchutil::write_preset(
        a.workdir + "/push_bench_preset.yaml",
        "Written by push_bench: a ~1 Mbit/s live test pattern for the push fan-out benchmark.", "push-bench-1mbit",
        "outputs: { pull: off }\n");
}

// Does this asfcast have `run --push`? Returns an error message, or "" when it does.
std::string check_asfcast(const Args& a) {
    return benchutil::check_asfcast(a.asfcast, a.workdir + "/push_bench_asfcast_help.txt", "--push",
                                    "has no `run --push URL` option: cannot benchmark it");
}

// The asfcast child: its own process group; reaped once, its wait status kept.
struct Asfcast {
    pid_t pid = -1;
    bool reaped = false;
    bool killed = false;
    int status = 0;
    std::string log;

    bool gone() {
        if (pid > 0 && !reaped && exited(pid, &status)) {
            reaped = true;
            forget_group(pid);
        }
        return reaped;
    }
    void kill() {
        if (pid > 0 && !gone()) {
            kill_group(pid, {pid}, 3);
            reaped = killed = true;
        }
    }
    ~Asfcast() { kill(); }
    std::string how() const {
        if (killed) return "killed by push_bench";
        if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
        return "gone";
    }
};

struct Result {
    int n = 0;
    bool ok = false;
    std::string error;
    int got_header = 0, full = 0, streaming_at_end = 0;
    double header_after_s = 0;  // asfcast start to the last receiver's first $H
    double window_s = 0, cpu_window_s = 0;
    double med_kbps = NAN, min_kbps = NAN, max_kbps = NAN;
    double push_cpu_s = NAN, proc_cpu_s = NAN, rx_cpu_s = 0;
    std::string cpu_source;
    long rss_base_kb = 0, rss_peak_kb = 0;
    std::uint64_t framing_errors = 0, protocol_errors = 0, closed_mid_post = 0, reconnects = 0;
    std::string first_error;
    int e_ok = 0, e_bad = 0;  // receivers whose last $E had reason 0 / another reason
    std::uint64_t d_pkts_min = 0, d_pkts_max = 0, posts = 0, setups = 0;
    std::uint16_t d_len_min = 0xFFFF, d_len_max = 0;
    std::uint32_t h_bytes = 0;
    std::string exit_how;
    int warnings = 0;
    std::string first_warning;

    double push_pct() const { return push_cpu_s / cpu_window_s * 100; }
    double per_target_pct() const { return push_pct() / n; }
    double per_target_min() const { return push_cpu_s / n / (cpu_window_s / 60); }  // s per target-minute
};

// On-CPU time of one thread from /proc/PID/task/TID/schedstat (nanoseconds, user+system), finer than the
// 10 ms ticks of stat's utime+stime, which a thread at a fraction of a percent needs. nullopt if unavailable.
std::optional<double> task_schedstat_s(pid_t pid, pid_t tid) {
    const std::string s = read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat", 256);
    if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
    return static_cast<double>(std::strtoull(s.c_str(), nullptr, 10)) * 1e-9;
}

enum class Pump { Done, Timeout, Stopped, Died };

template <class F>
Pump pump(pushrx::Receivers& rx, Asfcast& srv, double deadline, F done, bool exit_ok = false) {
    double next_check = 0;
    for (long iter = 0; iter < 100'000'000; ++iter) {
        if (g_stop) return Pump::Stopped;
        if (done()) return Pump::Done;
        const double t = now_s();
        if (t >= deadline) return Pump::Timeout;
        if (t >= next_check) {
            next_check = t + 0.2;
            if (!exit_ok && srv.gone()) return Pump::Died;
        }
        rx.poll(std::max(1, std::min(50, static_cast<int>((deadline - t) * 1000))));
    }
    return Pump::Timeout;
}

// Warning and error lines of asfcast's log (spdlog: "... warning ..." / "... error ...").
void scan_log(Result& r, const std::string& path) {
    const std::string s = read_file(path, 8 << 20);
    std::size_t p = 0;
    for (int k = 0; k < 10'000'000 && p < s.size(); ++k) {
        std::size_t q = s.find('\n', p);
        if (q == std::string::npos) q = s.size();
        const std::string line = s.substr(p, q - p);
        p = q + 1;
        if (line.find(" warning ") != std::string::npos || line.find(" error ") != std::string::npos ||
            line.find(" critical ") != std::string::npos) {
            ++r.warnings;
            if (r.first_warning.empty()) r.first_warning = line.substr(0, 200);
        }
    }
}

Result run_one(const Args& a, int n, const std::string& preset, int port_base) {
    Result r;
    r.n = n;
    auto fail = [&](std::string msg) {
        r.error = std::move(msg);
        return r;
    };
    pushrx::Receivers rx(n, port_base);

    const double duration = std::ceil(a.startup_timeout_s + a.warmup_s + a.window_s + 2);
    Asfcast srv;
    srv.log = a.workdir + "/push_bench_asfcast_" + std::to_string(n) + ".log";
    {
        const int lfd = open_log(srv.log);
        SpawnSpec sp;
        char dur[32];
        std::snprintf(dur, sizeof dur, "%.0f", duration);
        sp.argv = {a.asfcast, "--log-level", "warn", "run", "--preset", preset};
        for (int i = 0; i < n; ++i) {
            sp.argv.push_back("--push");
            sp.argv.push_back("http://127.0.0.1:" + std::to_string(rx.port(i)) + "/live");
        }
        sp.argv.push_back("--duration");
        sp.argv.push_back(dur);
        sp.stdout_fd = lfd;
        sp.stderr_fd = lfd;
        srv.pid = spawn(sp);
        ::close(lfd);
    }
    const double t0 = now_s();
    auto died = [&](const char* when) {
        return fail(std::string("asfcast ") + srv.how() + " " + when + "; last lines of " + srv.log + ":\n" +
                    tail_of_file(srv.log, 12));
    };

    // 1. Every receiver's $H.
    Pump pr = pump(rx, srv, t0 + a.startup_timeout_s, [&] {
        for (int i = 0; i < n; ++i)
            if (rx.at(i).t_first_h == 0) return false;
        return true;
    });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::Died) return died("during startup");
    double last_h = 0;
    for (int i = 0; i < n; ++i) {
        r.got_header += rx.at(i).t_first_h > 0;
        last_h = std::max(last_h, rx.at(i).t_first_h);
    }
    if (r.got_header == 0)
        return fail("no receiver got $H within " + std::to_string(static_cast<int>(a.startup_timeout_s)) +
                    " s; last lines of " + srv.log + ":\n" + tail_of_file(srv.log, 12));
    if (r.got_header < n)
        std::fprintf(stderr, "  only %d of %d receivers had $H after %.0f s; measuring anyway\n", r.got_header, n,
                     a.startup_timeout_s);
    r.header_after_s = last_h - t0;

    // asfcast's push network thread (named by push_output.cpp); its CPU is the push cost proper.
    std::optional<pid_t> thread;
    for (int k = 0; k < 10 && !thread; ++k) {
        thread = find_thread(srv.pid, "asfcast-push");
        if (!thread) pump(rx, srv, now_s() + 0.1, [] { return false; });
    }
    const bool schedstat = thread && task_schedstat_s(srv.pid, *thread).value_or(0) > 0;
    r.cpu_source = !thread     ? "WHOLE PROCESS (no asfcast-push thread found)"
                   : schedstat ? "thread asfcast-push (schedstat)"
                               : "thread asfcast-push (stat ticks)";
    auto push_cpu = [&] {
        if (!thread) return proc_cpu_s(srv.pid);
        return schedstat ? task_schedstat_s(srv.pid, *thread) : task_cpu_s(srv.pid, *thread);
    };
    r.rss_base_kb = proc_rss_kb(srv.pid).value_or(0);

    // 2. Warm-up, then the window.
    pr = pump(rx, srv, now_s() + a.warmup_s, [] { return false; });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::Died) return died("during the warm-up");
    std::vector<std::uint64_t> b0(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) b0[static_cast<std::size_t>(i)] = rx.at(i).d_bytes;
    const auto cpu0 = push_cpu();
    const auto pcpu0 = proc_cpu_s(srv.pid);
    const double self0 = self_cpu_s();
    const double w0 = now_s();
    long rss_peak = r.rss_base_kb;
    double next_rss = w0 + 1;
    pr = pump(rx, srv, w0 + a.window_s, [&] {
        if (now_s() >= next_rss) {
            next_rss += 1;
            rss_peak = std::max(rss_peak, proc_rss_kb(srv.pid).value_or(0));
        }
        return false;
    });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::Died) return died("during the window");
    const auto cpu1 = push_cpu();
    const auto pcpu1 = proc_cpu_s(srv.pid);
    r.rx_cpu_s = self_cpu_s() - self0;
    const double w1 = now_s();
    r.window_s = r.cpu_window_s = w1 - w0;
    r.rss_peak_kb = std::max(rss_peak, proc_rss_kb(srv.pid).value_or(0));
    if (cpu0 && cpu1) r.push_cpu_s = *cpu1 - *cpu0;
    if (pcpu0 && pcpu1) r.proc_cpu_s = *pcpu1 - *pcpu0;
    std::vector<double> rates;
    for (int i = 0; i < n; ++i) {
        const double kbps = static_cast<double>(rx.at(i).d_bytes - b0[static_cast<std::size_t>(i)]) * 8 / r.window_s / 1000;
        rates.push_back(kbps);
        r.full += kbps >= kFullRate * a.expected_kbps;
        r.streaming_at_end += rx.at(i).streaming;
    }
    r.med_kbps = percentile(rates, 0.5);
    r.min_kbps = percentile(rates, 0);
    r.max_kbps = percentile(rates, 1);

    // 3. The end: asfcast reaches --duration, sends $E (reason 0) to every target and exits.
    const double end_deadline = t0 + duration + a.end_timeout_s;
    pr = pump(rx, srv, end_deadline, [&] { return srv.gone(); }, true);
    if (pr == Pump::Stopped) return fail("interrupted");
    // What was in flight, and the receivers' side of the closes.
    pump(rx, srv, now_s() + 2, [&] { return rx.open_connections() == 0; }, true);
    if (!srv.gone()) srv.kill();
    r.exit_how = srv.how();
    scan_log(r, srv.log);

    r.d_pkts_min = ~0ull;
    for (int i = 0; i < n; ++i) {
        const pushrx::RxStats& s = rx.at(i);
        r.framing_errors += s.framing_errors;
        r.protocol_errors += s.protocol_errors;
        if (r.first_error.empty() && !s.first_error.empty())
            r.first_error = "receiver " + std::to_string(i) + ": " + s.first_error;
        r.closed_mid_post += s.closed_mid_post;
        r.reconnects += s.conns > 0 ? s.conns - 1 : 0;
        r.posts += s.posts;
        r.setups += s.setups;
        if (s.e_pkts > 0 && s.last_e_reason == 0) ++r.e_ok;
        else if (s.e_pkts > 0) ++r.e_bad;
        r.d_pkts_min = std::min(r.d_pkts_min, s.d_pkts);
        r.d_pkts_max = std::max(r.d_pkts_max, s.d_pkts);
        if (s.d_pkts) {
            r.d_len_min = std::min(r.d_len_min, s.d_len_min);
            r.d_len_max = std::max(r.d_len_max, s.d_len_max);
        }
        r.h_bytes = std::max(r.h_bytes, s.h_bytes);
    }
    r.ok = true;
    return r;
}

void print_table(const std::vector<Result>& results, const Args& a) {
    std::printf("\n== push_bench: one asfcast pushing (MS-WMHTTP) to N local receivers, 1 Mbit/s stream, %.0f s window ==\n",
                a.window_s);
    std::printf("full rate: >= %.0f%% of %.0f kbit/s%s, counted in $D payload bytes (ASF packets, padding removed)\n",
                kFullRate * 100, a.expected_kbps, a.expected_kbps == kNominalKbps ? " (nominal: 900 video + 96 audio)" : "");
    std::printf("%6s %6s %6s %7s %7s %7s %8s %9s %9s %8s %8s %8s %5s %6s %6s\n", "N", "got $H", "full", "med", "min",
                "max", "push CPU", "per tgt", "per tgt", "process", "RSS", "RSS", "frm", "$E", "rx");
    std::printf("%6s %6s %6s %7s %7s %7s %8s %9s %9s %8s %8s %8s %5s %6s %6s\n", "", "", "", "kbit/s", "kbit/s", "kbit/s",
                "%core", "%core", "s/tgt-min", "%core", "base MB", "peak MB", "err", "ok", "%core");
    for (auto& r : results) {
        if (!r.ok) {
            std::printf("%6d  FAILED: %s\n", r.n, r.error.substr(0, r.error.find('\n')).c_str());
            continue;
        }
        std::printf("%6d %6d %6d %7s %7s %7s %8s %9s %9s %8s %8s %8s %5llu %6s %6s\n", r.n, r.got_header, r.full,
                    fmt_num(r.med_kbps, 0).c_str(), fmt_num(r.min_kbps, 0).c_str(), fmt_num(r.max_kbps, 0).c_str(),
                    fmt_num(r.push_pct(), 2).c_str(), fmt_num(r.per_target_pct(), 3).c_str(), fmt_num(r.per_target_min(), 4).c_str(),
                    fmt_num(r.proc_cpu_s / r.cpu_window_s * 100, 1).c_str(), fmt_num(r.rss_base_kb / 1024.0, 1).c_str(),
                    fmt_num(r.rss_peak_kb / 1024.0, 1).c_str(),
                    static_cast<unsigned long long>(r.framing_errors), (std::to_string(r.e_ok) + "/" + std::to_string(r.n)).c_str(),
                    fmt_num(r.rx_cpu_s / r.cpu_window_s * 100, 1).c_str());
    }
    const Result* base = nullptr;
    for (auto& r : results)
        if (r.ok && r.n == 1) base = &r;
    std::printf("\nnotes:\n");
    for (auto& r : results) {
        if (!r.ok) continue;
        std::printf("  N=%d: CPU from %s; process (encoder included) %s s over %.1f s; every $H %.1f s after start "
                    "(%u bytes); $D %u..%u bytes\n",
                    r.n, r.cpu_source.c_str(), fmt_num(r.proc_cpu_s, 2).c_str(), r.cpu_window_s, r.header_after_s, r.h_bytes,
                    r.d_len_min == 0xFFFF ? 0 : r.d_len_min, r.d_len_max);
        std::printf("    %s; $D packets per receiver over the whole run %llu..%llu%s; %llu PushSetup, %llu PushStart, "
                    "%llu reconnects; %d/%d streaming at the window end",
                    r.full == r.n ? "every receiver at full rate" : (std::to_string(r.n - r.full) + " receivers below full rate").c_str(),
                    static_cast<unsigned long long>(r.d_pkts_min), static_cast<unsigned long long>(r.d_pkts_max),
                    r.d_pkts_min == r.d_pkts_max ? " (all equal: no target skipped a packet)" : " (NOT equal)",
                    static_cast<unsigned long long>(r.setups), static_cast<unsigned long long>(r.posts),
                    static_cast<unsigned long long>(r.reconnects), r.streaming_at_end, r.n);
        if (base && r.n > 1 && !std::isnan(base->push_cpu_s) && !std::isnan(r.push_cpu_s)) {
            const double marginal = (r.push_cpu_s / r.cpu_window_s - base->push_cpu_s / base->cpu_window_s) / (r.n - 1);
            std::printf("\n    above the 1-target cost: %s%% core per added target (%s s per target-minute)",
                        fmt_num(marginal * 100, 3).c_str(), fmt_num(marginal * 60, 4).c_str());
        }
        std::printf("\n    end: asfcast %s; $E reason 0 at %d/%d receivers", r.exit_how.c_str(), r.e_ok, r.n);
        if (r.e_bad) std::printf(", another reason at %d", r.e_bad);
        if (r.closed_mid_post) std::printf("; %llu closes mid-PushStart without $E", static_cast<unsigned long long>(r.closed_mid_post));
        if (r.protocol_errors) std::printf("; %llu protocol errors", static_cast<unsigned long long>(r.protocol_errors));
        if (!r.first_error.empty()) std::printf("; first error: %s", r.first_error.c_str());
        std::printf("; %d warning/error lines in the log", r.warnings);
        if (!r.first_warning.empty()) std::printf(" (first: %s)", r.first_warning.c_str());
        std::printf("\n");
    }
    for (auto& r : results)
        if (!r.ok) std::printf("  N=%d FAILED: %s\n", r.n, r.error.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = start_main("push_bench", argc, argv, parse_args);
    raise_nofile_limit();

    std::vector<int> runs;
    if (a.baseline && std::find(a.targets.begin(), a.targets.end(), 1) == a.targets.end()) runs.push_back(1);
    for (int n : a.targets) runs.push_back(n);

    std::vector<Result> results;
    const int rc = run_guarded("push_bench", [&] {
        int rc = 0;
        const std::string preset = write_preset(a);
        const std::string err = check_asfcast(a);
        if (!err.empty()) throw std::runtime_error(err);
        int port_base = a.port_base;
        for (int n : runs) {
            if (g_stop) break;
            std::fprintf(stderr, "push_bench: %d target%s ...\n", n, n == 1 ? "" : "s");
            Result r;
            try {
                r = run_one(a, n, preset, port_base);
            } catch (const std::exception& e) {
                r.n = n;
                r.error = e.what();
            }
            if (port_base) port_base += n;
            if (r.ok)
                std::fprintf(stderr, "  %d/%d at full rate, median %.0f kbit/s, min %.0f; push thread %.2f%% core "
                             "(%.3f%% per target), process %.1f%%; RSS %.1f -> %.1f MB; $E %d/%d\n",
                             r.full, n, r.med_kbps, r.min_kbps, r.push_pct(), r.per_target_pct(),
                             r.proc_cpu_s / r.cpu_window_s * 100, r.rss_base_kb / 1024.0, r.rss_peak_kb / 1024.0, r.e_ok, n);
            else
                std::fprintf(stderr, "  FAILED: %s\n", r.error.c_str());
            const bool bad = !r.ok || r.full < n || r.framing_errors || r.e_ok < n || r.d_pkts_min != r.d_pkts_max;
            if (bad) rc = 1;
            const bool failed = !r.ok;
            results.push_back(std::move(r));
            if (failed && !a.keep_going) break;
        }
        return rc;
    });
    print_table(results, a);
    return rc;
}
