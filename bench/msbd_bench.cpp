// Fan-out benchmark of the MS-MSBD server against the MS-WMSP pull server, same run: one `asfcast run`
// serves the same ~1 Mbit/s live stream over both (--pull and --msbd), and for each client count N the
// bench measures, one protocol after the other, the CPU of the server's network thread (utime+stime of
// `asfcast-pull` and `asfcast-msbd` from /proc: the same process also captures and encodes) over a
// window with N clients at full rate, and with one client before the load (the 1-client cost). It
// prints the CPU per client for both, above the 1-client cost too, and the MSBD/WMSP ratio.
//
//   msbd_bench [--clients 100,1000] [--seconds 15] [--warmup 3] [--calib 4] [--port-base 18700]
//              [--asfcast PATH] [--workdir /tmp] [--rcvlowat BYTES] [--keep-going]
//
// Load generators: loadgen/wmsp_load (Play sessions) and loadgen/msbd_load (REQ_CONNECT sessions),
// each one epoll thread with non-blocking sockets and SO_RCVLOWAT-batched reads; the load
// generator's own CPU is printed too. asfcast runs in its own process group, killed on exit, on
// errors and on SIGINT.
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "loadgen/msbd_load.hpp"
#include "loadgen/procutil.hpp"
#include "loadgen/wmsp_load.hpp"

using namespace loadgen;
using namespace benchutil;

namespace {

struct Args {
    std::vector<int> clients{100, 1000};
    double window_s = 15;
    double warmup_s = 3;
    double calib_s = 4;
    double startup_timeout_s = 40;
    double ramp_timeout_s = 60;
    int ramp_step = 200;
    double ramp_interval_s = 0.1;
    int max_pending = 400;
    int port_base = 18700;
    int rcvlowat = 65536;
    bool keep_going = false;
    std::string asfcast;
    std::string workdir = "/tmp";
};

void usage() {
    std::printf(
        "msbd_bench: MS-MSBD fan-out against MS-WMSP, one asfcast serving both, same run\n"
        "  --clients LIST      client counts (default 100,1000)\n"
        "  --seconds S         measurement window per protocol and N (default 15)\n"
        "  --warmup S          after every client has its header, before the window (default 3)\n"
        "  --calib S           the 1-client measurement before each load (default 4)\n"
        "  --port-base P       WMSP on P, MSBD on P+1 (default 18700)\n"
        "  --ramp-step N       connections opened per ramp interval (default 200)\n"
        "  --ramp-interval S   (default 0.1)\n"
        "  --rcvlowat BYTES    SO_RCVLOWAT of the clients once data flows (default 65536; 0: off)\n"
        "  --keep-going        continue after a failed run\n"
        "  --asfcast PATH      asfcast binary (default: ../app/asfcast next to this binary)\n"
        "  --workdir DIR       logs and the preset (default /tmp)\n");
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
        } else if (f == "--clients") {
            a.clients.clear();
            for (auto& s : split(val(), ',')) a.clients.push_back(static_cast<int>(to_double(f, s, 1, 100'000)));
            if (a.clients.empty()) throw std::invalid_argument("--clients: empty list");
        } else if (f == "--seconds") a.window_s = to_double(f, val(), 1, 3600);
        else if (f == "--warmup") a.warmup_s = to_double(f, val(), 0, 600);
        else if (f == "--calib") a.calib_s = to_double(f, val(), 1, 600);
        else if (f == "--port-base") a.port_base = static_cast<int>(to_double(f, val(), 1024, 65000));
        else if (f == "--ramp-step") a.ramp_step = static_cast<int>(to_double(f, val(), 1, 100000));
        else if (f == "--ramp-interval") a.ramp_interval_s = to_double(f, val(), 0.001, 10);
        else if (f == "--rcvlowat") a.rcvlowat = static_cast<int>(to_double(f, val(), 0, 1 << 20));
        else if (f == "--keep-going") a.keep_going = true;
        else if (f == "--asfcast") a.asfcast = val();
        else if (f == "--workdir") a.workdir = val();
        else throw std::invalid_argument("unknown flag " + f + " (see --help)");
    }
    if (a.asfcast.empty()) a.asfcast = default_asfcast("./msbd_bench");
    return a;
}

// The same questions asked of either load generator.
struct Load {
    std::string protocol;  // "WMSP" or "MSBD"
    std::string thread;    // asfcast's network thread serving it
    std::function<void(std::size_t)> connect, drain;
    std::function<void()> close_all;
    std::function<void(int)> poll;
    std::function<bool(std::size_t)> has_header, streaming;
    std::function<std::uint64_t(std::size_t)> payload_bytes;
    std::function<std::string(std::size_t)> failure;
    std::function<std::uint64_t()> reads;
};

struct Result {
    std::string protocol;
    int n = 0;
    bool ok = false;
    std::string error;
    int connected = 0, full = 0;
    double median_kbps = 0, min_kbps = 0, probe_kbps = 0;
    double cpu_s = 0, window_s = 0, idle_cpu_pct = NAN, loadgen_cpu_s = 0;
    std::map<std::string, int> fails;
    double per_client() const { return connected > 0 ? cpu_s / connected / (window_s / 60) : NAN; }  // s per client-min
    double marginal() const {
        return connected > 0 && !std::isnan(idle_cpu_pct) ? (cpu_s - idle_cpu_pct / 100 * window_s) / connected / (window_s / 60)
                                                          : NAN;
    }
};

struct Server {
    pid_t pid = -1;
    std::string log;
    void stop() {
        if (pid > 0) kill_group(pid, {pid}, 5);
        pid = -1;
    }
    ~Server() { stop(); }
    std::string dead() const {
        int st = 0;
        if (pid > 0 && exited(pid, &st))
            return "asfcast exited (status " + std::to_string(st) + "); last lines of " + log + ":\n" + tail_of_file(log, 12);
        return "";
    }
};

// Runs the load until done() or the deadline; false when interrupted or the server died (why says).
bool pump(Load& l, const Server& srv, double deadline, std::string& why, const std::function<bool()>& done) {
    double next_check = 0;
    for (long iter = 0; iter < 100'000'000; ++iter) {
        if (g_stop) {
            why = "interrupted";
            return false;
        }
        if (done()) return true;
        const double t = now_s();
        if (t >= deadline) return true;
        if (t >= next_check) {
            next_check = t + 0.2;
            why = srv.dead();
            if (!why.empty()) return false;
        }
        l.poll(std::max(1, std::min(50, static_cast<int>((deadline - t) * 1000))));
    }
    return true;
}

Result run_phase(const Args& a, Load& l, int n, const Server& srv) {
    Result r;
    r.protocol = l.protocol;
    r.n = n;
    std::string why;
    auto fail = [&](const std::string& e) {
        r.error = e;
        l.close_all();
        return r;
    };

    // 1. One client: its rate and the thread's CPU with it. Connects again while the server is
    //    still starting (connection refused).
    double next_try = 0;
    if (!pump(l, srv, now_s() + a.startup_timeout_s, why, [&] {
            if (l.has_header(0)) return true;
            if (!l.streaming(0) && now_s() >= next_try) {
                l.connect(0);
                next_try = now_s() + 0.25;
            }
            return false;
        }) ||
        !l.has_header(0))
        return fail("the probe client got no header: " + (why.empty() ? l.failure(0) : why));
    const std::optional<pid_t> tid = find_thread(srv.pid, l.thread);
    if (!tid) return fail("no thread " + l.thread + " in asfcast");
    auto cpu = [&] { return task_cpu_s(srv.pid, *tid); };
    if (!pump(l, srv, now_s() + 1, why, [] { return false; })) return fail(why);
    l.drain(0);
    const std::uint64_t pb0 = l.payload_bytes(0);
    const auto c0 = cpu();
    const double t0 = now_s();
    if (!pump(l, srv, t0 + a.calib_s, why, [] { return false; })) return fail(why);
    const auto c1 = cpu();
    l.drain(0);
    const double t1 = now_s();
    if (c0 && c1) r.idle_cpu_pct = (*c1 - *c0) / (t1 - t0) * 100;
    r.probe_kbps = static_cast<double>(l.payload_bytes(0) - pb0) * 8 / (t1 - t0) / 1000;
    l.close_all();
    if (!pump(l, srv, now_s() + 0.5, why, [] { return false; })) return fail(why);

    // 2. Ramp to N clients (slots 1..N), at most max_pending without their header at a time.
    int opened = 0;
    double next_step = now_s();
    const double ramp_end = now_s() + std::ceil(static_cast<double>(n) / a.ramp_step) * a.ramp_interval_s + a.ramp_timeout_s;
    if (!pump(l, srv, ramp_end, why, [&] {
            const double t = now_s();
            if (t < next_step) return false;
            next_step = t + a.ramp_interval_s;
            int waiting = 0;
            for (int i = 1; i <= opened; ++i) waiting += l.streaming(static_cast<std::size_t>(i)) && !l.has_header(static_cast<std::size_t>(i));
            if (opened < n) {
                const int k = std::min({a.ramp_step, n - opened, std::max(0, a.max_pending - waiting)});
                for (int j = 0; j < k; ++j) l.connect(static_cast<std::size_t>(1 + opened++));
                return false;
            }
            return waiting == 0;
        }))
        return fail(why);
    if (!pump(l, srv, now_s() + a.warmup_s, why, [] { return false; })) return fail(why);

    // 3. The window.
    std::vector<std::uint64_t> b0(static_cast<std::size_t>(n) + 1);
    for (int i = 1; i <= n; ++i) {
        l.drain(static_cast<std::size_t>(i));
        b0[static_cast<std::size_t>(i)] = l.payload_bytes(static_cast<std::size_t>(i));
    }
    const auto w_cpu0 = cpu();
    const double self0 = self_cpu_s();
    const double w0 = now_s();
    if (!pump(l, srv, w0 + a.window_s, why, [] { return false; })) return fail(why);
    const auto w_cpu1 = cpu();
    r.loadgen_cpu_s = self_cpu_s() - self0;
    for (int i = 1; i <= n; ++i) l.drain(static_cast<std::size_t>(i));
    r.window_s = now_s() - w0;
    if (!w_cpu0 || !w_cpu1) return fail("could not read the CPU time of thread " + l.thread);
    r.cpu_s = *w_cpu1 - *w_cpu0;
    std::vector<double> rates;
    for (int i = 1; i <= n; ++i) {
        const auto ii = static_cast<std::size_t>(i);
        if (l.streaming(ii) && l.has_header(ii)) {
            ++r.connected;
            rates.push_back(static_cast<double>(l.payload_bytes(ii) - b0[ii]) * 8 / r.window_s / 1000);
        } else {
            ++r.fails[l.failure(ii)];
        }
    }
    r.median_kbps = percentile(rates, 0.5);
    r.min_kbps = percentile(rates, 0);
    for (double x : rates) r.full += x >= kFullRate * r.probe_kbps;
    l.close_all();
    pump(l, srv, now_s() + 1, why, [] { return false; });  // the server notices the closes
    r.ok = true;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = start_main("msbd_bench", argc, argv, parse_args);
    const rlimit rl = raise_nofile_limit();
    std::vector<Result> results;
    const int rc = run_guarded("msbd_bench", [&] {
        const int max_n = *std::max_element(a.clients.begin(), a.clients.end());
        if (rl.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(max_n) * 2 + 128 > rl.rlim_cur)
            throw std::runtime_error("RLIMIT_NOFILE " + std::to_string(rl.rlim_cur) + " is too low for " + std::to_string(max_n) + " clients");
        const std::string err = check_asfcast(a.asfcast, a.workdir + "/msbd_bench_asfcast_help.txt", "--msbd",
                                              "has no `run --msbd [ADDR:]PORT` option: cannot benchmark MSBD");
        if (!err.empty()) throw std::runtime_error(err);
        const std::string preset = write_preset(a.workdir + "/msbd_bench_preset.yaml",
                                                "Written by msbd_bench: a ~1 Mbit/s live test pattern served over WMSP and MSBD.",
                                                "bench-msbd",
                                                "outputs:\n  pull: {max_clients: 50000}\n  msbd: {max_clients: 50000}\n");
        const int wmsp_port = a.port_base, msbd_port = a.port_base + 1;
        double budget = a.startup_timeout_s + 30;
        for (int n : a.clients)
            budget += 2 * (a.calib_s + 3 + std::ceil(static_cast<double>(n) / a.ramp_step) * a.ramp_interval_s + a.ramp_timeout_s +
                           a.warmup_s + a.window_s + 3);
        Server srv;
        srv.log = a.workdir + "/msbd_bench_asfcast.log";
        {
            const int lfd = open_log(srv.log);
            SpawnSpec sp;
            sp.argv = {a.asfcast, "--log-level", "warn", "run", "--preset", preset,
                       "--pull", "127.0.0.1:" + std::to_string(wmsp_port), "--msbd", "127.0.0.1:" + std::to_string(msbd_port),
                       "--duration", std::to_string(static_cast<int>(budget))};
            sp.stdout_fd = lfd;
            sp.stderr_fd = lfd;
            srv.pid = spawn(sp);
            ::close(lfd);
        }
        std::fprintf(stderr, "msbd_bench: asfcast pid %d serving WMSP on %d and MSBD on %d; RLIMIT_NOFILE %llu\n", srv.pid,
                     wmsp_port, msbd_port, static_cast<unsigned long long>(rl.rlim_cur));

        int rc = 0;
        for (int n : a.clients) {
            Options wo;
            wo.addr.sin_family = AF_INET;
            wo.addr.sin_port = htons(static_cast<std::uint16_t>(wmsp_port));
            wo.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            wo.host = "127.0.0.1:" + std::to_string(wmsp_port);
            wo.rcvlowat = a.rcvlowat;
            Engine wmsp(static_cast<std::size_t>(n) + 1, wo);
            MsbdLoadOptions mo;
            mo.addr = wo.addr;
            mo.addr.sin_port = htons(static_cast<std::uint16_t>(msbd_port));
            mo.rcvlowat = a.rcvlowat;
            MsbdEngine msbd(static_cast<std::size_t>(n) + 1, mo);

            Load lw{"WMSP", "asfcast-pull",
                    [&](std::size_t i) { wmsp.connect(i); }, [&](std::size_t i) { wmsp.drain(i); },
                    [&] { wmsp.close_all(); }, [&](int ms) { wmsp.poll(ms); },
                    [&](std::size_t i) { return wmsp.at(i).t_first_h > 0; },
                    [&](std::size_t i) { return wmsp.at(i).state == State::Body || wmsp.at(i).state == State::Head; },
                    [&](std::size_t i) { return wmsp.at(i).d_bytes; },
                    [&](std::size_t i) {
                        const Client& c = wmsp.at(i);
                        return std::string(state_name(c.state)) + (c.fail != Fail::None ? std::string(", ") + fail_name(c.fail) : "");
                    },
                    [&] { return wmsp.reads(); }};
            Load lm{"MSBD", "asfcast-msbd",
                    [&](std::size_t i) { msbd.connect(i); }, [&](std::size_t i) { msbd.drain(i); },
                    [&] { msbd.close_all(); }, [&](int ms) { msbd.poll(ms); },
                    [&](std::size_t i) { return msbd.at(i).t_first_info > 0; },
                    [&](std::size_t i) { return msbd.at(i).state == State::Body || msbd.at(i).state == State::Head; },
                    [&](std::size_t i) { return msbd.at(i).packet_bytes; },
                    [&](std::size_t i) {
                        const MsbdLoadClient& c = msbd.at(i);
                        return std::string(state_name(c.state)) + (c.fail != Fail::None ? std::string(", ") + fail_name(c.fail) : "") +
                               (c.framing_error.empty() ? "" : ": " + c.framing_error);
                    },
                    [&] { return msbd.reads(); }};
            for (Load* l : {&lw, &lm}) {
                if (g_stop) break;
                std::fprintf(stderr, "msbd_bench: %s, %d clients ...\n", l->protocol.c_str(), n);
                Result r = run_phase(a, *l, n, srv);
                if (r.ok)
                    std::fprintf(stderr, "  %d/%d connected, %d at full rate, median %.0f kbit/s, thread CPU %.2f%% core (1 client: %.2f%%)\n",
                                 r.connected, n, r.full, r.median_kbps, r.cpu_s / r.window_s * 100, r.idle_cpu_pct);
                else
                    std::fprintf(stderr, "  FAILED: %s\n", r.error.c_str());
                if (!r.ok) rc = 1;
                results.push_back(std::move(r));
                if (rc && !a.keep_going) return rc;
            }
            std::uint64_t gaps = 0;
            for (std::size_t i = 0; i < msbd.size(); ++i) gaps += msbd.at(i).id_gaps;
            if (gaps) {
                std::fprintf(stderr, "msbd_bench: %llu dwPacketId gaps seen by MSBD clients (MS-MSBD 2.2.10 wants +1)\n",
                             static_cast<unsigned long long>(gaps));
                rc = 1;
            }
        }
        srv.stop();
        return rc;
    });

    std::printf("\n== msbd_bench: MSBD vs WMSP fan-out, one asfcast, 1 Mbit/s stream, %.0f s windows ==\n", a.window_s);
    std::printf("%-5s %6s %6s %6s %8s %8s %8s %9s %10s %10s %8s\n", "proto", "N", "conn", "full", "med", "min", "CPU",
                "1 client", "CPU s/", "marginal", "loadgen");
    std::printf("%-5s %6s %6s %6s %8s %8s %8s %9s %10s %10s %8s\n", "", "", "", "", "kbit/s", "kbit/s", "%core", "%core",
                "client-min", "s/cl-min", "%core");
    for (const Result& r : results) {
        if (!r.ok) {
            std::printf("%-5s %6d  FAILED: %s\n", r.protocol.c_str(), r.n, r.error.c_str());
            continue;
        }
        std::printf("%-5s %6d %6d %6d %8s %8s %8s %9s %10s %10s %8s\n", r.protocol.c_str(), r.n, r.connected, r.full,
                    fmt_num(r.median_kbps, 0).c_str(), fmt_num(r.min_kbps, 0).c_str(),
                    fmt_num(r.cpu_s / r.window_s * 100, 2).c_str(), fmt_num(r.idle_cpu_pct, 2).c_str(),
                    fmt_num(r.per_client(), 6).c_str(), fmt_num(r.marginal(), 6).c_str(),
                    fmt_num(r.loadgen_cpu_s / r.window_s * 100, 1).c_str());
        for (const auto& [k, v] : r.fails) std::printf("      %d clients: %s\n", v, k.c_str());
    }
    std::printf("\nMSBD / WMSP CPU per client (same asfcast, same stream, network threads only):\n");
    for (const Result& m : results) {
        if (!m.ok || m.protocol != "MSBD") continue;
        for (const Result& w : results) {
            if (!w.ok || w.protocol != "WMSP" || w.n != m.n) continue;
            std::printf("  N=%-6d per client %s vs %s s/client-min: %sx; above the 1-client cost %s vs %s: %sx\n", m.n,
                        fmt_num(m.per_client(), 6).c_str(), fmt_num(w.per_client(), 6).c_str(),
                        fmt_num(m.per_client() / w.per_client(), 2).c_str(), fmt_num(m.marginal(), 6).c_str(),
                        fmt_num(w.marginal(), 6).c_str(), fmt_num(m.marginal() / w.marginal(), 2).c_str());
        }
    }
    return rc;
}
