// Fan-out benchmark of the MS-WMSP (mmsh) pull server: asfcast against VLC's mmsh output, same load
// generator, same run. For each client count N and each server, pull_bench starts the server on a 1 Mbit/s
// stream, waits until one probe client receives the ASF header ($H), ramps N Play sessions up gradually,
// warms up, then measures over a window: per-client received rate ($D payload bytes), the server's CPU
// (utime+stime from /proc; for asfcast the `asfcast-pull` network thread, since the same process also
// encodes) and RSS (VmRSS before the clients and the peak under load). It prints one table and the
// asfcast/VLC ratios against the targets of the brief (every client at full rate, <= 0.35x VLC's CPU per
// client, < 4 KB per client, < 150 MB RSS at 10000 clients; latency p99 < 200 ms with the low-latency
// preset at 1000 clients).
//
// CPU per client, the headline: MARGINAL against marginal. Each server's CPU with one probe client is
// measured first in the same run (same source of CPU time), and the ratio compares (CPU under load - CPU
// with one client) / clients. That keeps what does not scale with clients out of both sides: VLC's
// process also demuxes and remuxes its input (1-2% of a core), asfcast's process also captures and
// encodes (which is why its network thread is measured; whole-process marginal CPU is printed as a
// check that no other asfcast thread works per client).
//
// Latency: asfcast runs with --media-clock-file, which maps media time to CLOCK_MONOTONIC; "timed"
// clients (--latency-clients) read eagerly, stamp each $D's arrival and subtract the capture time of the
// packet's oldest media (its presentation times in the ASF payloads, minus the header's preroll). Only
// $D arriving inside the window count, so start-up bursts from a key frame in the past are left out.
//
//   pull_bench [--clients 100,1000,5000] [--seconds 20] [--servers asfcast,vlc] [--port-base 18080]
//              [--keep-going] [--asfcast PATH] [--preset NAME|FILE] [--latency-clients K]
//              [--bitrate KBPS|probe|median] [--warmup S] ...
//   pull_bench --help
//
// The load generator (loadgen/wmsp_load.*) is one thread on epoll with non-blocking sockets; its own CPU
// over the window is printed too. Servers run in their own process groups and are killed on exit, on
// errors and on SIGINT (and die with us through PR_SET_PDEATHSIG). VLC refuses to run as root: it runs as
// uid/gid 65534 with no supplementary groups (what `setpriv --reuid=65534 --regid=65534 --clear-groups`
// does).
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "loadgen/procutil.hpp"
#include "loadgen/wmsp_load.hpp"

using namespace loadgen;
using namespace benchutil;

namespace {

constexpr uid_t kNobody = 65534;
// What every client together may hold in its receive queue with --rcvlowat auto. 64 KiB each for 10000
// clients is 640 MiB of data (more in kernel buffers), past the TCP memory pressure point of a machine with
// a few GB (net.ipv4.tcp_mem): the kernel then prunes and drops on loopback and every client slows down.
constexpr int kLowatBudget = 320 << 20;

constexpr int kMinRatioClients = 100;  // below this, marginal CPU per client is noise

int auto_rcvlowat(int clients) {
    const int per = kLowatBudget / std::max(1, clients);
    return std::clamp(per / 4096 * 4096, 4096, 65536);
}

struct Args {
    std::vector<int> clients{100, 1000, 5000};
    std::vector<std::string> servers{"asfcast", "vlc"};
    double window_s = 20;
    double warmup_s = 5;
    double calib_s = 5;
    double startup_timeout_s = 40;
    double ramp_timeout_s = 120;
    int ramp_step = 200;
    int max_pending = 400;
    double ramp_interval_s = 0.1;
    int port_base = 18080;
    int rcvlowat = -1;           // -1: auto (kLowatBudget / clients, at most 64 KiB)
    int latency_clients = 50;    // timed clients (all when fewer)
    std::string preset;          // asfcast preset; "": the 1 Mbit/s bench preset
    std::string server_log_level = "warn";  // asfcast --log-level (info: its own latency histogram at the end)
    bool keep_going = false;
    bool verbose = false;
    std::string bitrate;  // "": nominal; a number; "probe"; "median"
    std::string asfcast;
    std::string input = "/tmp/pull_bench_input.asf";
    std::string workdir = "/tmp";
};

void usage() {
    std::printf(
        "pull_bench: fan-out of MS-WMSP (mmsh) Play sessions, asfcast vs VLC, same load generator\n"
        "  --clients LIST      client counts (default 100,1000,5000)\n"
        "  --seconds S         measurement window (default 20)\n"
        "  --servers LIST      asfcast,vlc (default both, in that order)\n"
        "  --port-base P       first TCP port; each run uses the next one (default 18080)\n"
        "  --keep-going        continue with the next run after a failed one\n"
        "  --asfcast PATH      asfcast binary (default: ../app/asfcast next to this binary)\n"
        "  --bitrate X         expected stream rate for the full-rate check: KBPS, 'probe' (rate one\n"
        "                      client got before the load) or 'median' (median client); default %d,\n"
        "                      the nominal rate of the input (%d video + %d audio)\n"
        "  --warmup S          after all clients have the header, before the window (default 5)\n"
        "  --calib S           unloaded probe measurement before the load (default 5)\n"
        "  --ramp-step N       connections opened per ramp interval (default 200)\n"
        "  --ramp-interval S   (default 0.1)\n"
        "  --max-pending N     at most N opened clients without their $H yet: the ramp waits for a\n"
        "                      server that accepts slowly (default 400)\n"
        "  --startup-timeout S until the first $H from a new server (default 40)\n"
        "  --ramp-timeout S    beyond the nominal ramp time, for every client's $H (default 120; then\n"
        "                      the window is measured anyway and the rest count as not served)\n"
        "  --rcvlowat BYTES    SO_RCVLOWAT of the clients once data flows: fewer, larger reads (default\n"
        "                      auto: 65536, less above %d clients so that all of them hold at most\n"
        "                      %d MiB in their receive queues, far below the kernel's TCP memory\n"
        "                      pressure point; 0: read whatever arrives, like an eager player).\n"
        "                      Counters are drained at both ends of the window, so rates stay exact\n"
        "  --latency-clients K clients that read eagerly (no SO_RCVLOWAT) and measure the latency of each\n"
        "                      $D from the capture of its oldest media (asfcast only; default 50, all\n"
        "                      clients when there are fewer)\n"
        "  --asfcast-log LEVEL asfcast's --log-level (default warn; info adds its own capture-to-socket\n"
        "                      latency histogram at the end of pull_bench_asfcast_PORT.log)\n"
        "  --preset NAME|FILE  asfcast preset (default: a 1 Mbit/s 640x360 preset written to the workdir;\n"
        "                      with another one pass --bitrate probe)\n"
        "  --input FILE        VLC's input ASF, made with ffmpeg if missing (default %s)\n"
        "  --workdir DIR       logs and the asfcast preset (default /tmp)\n"
        "  --verbose           print the response head of each server\n",
        kNominalKbps, kVideoKbps, kAudioKbps, kLowatBudget / 65536, kLowatBudget >> 20, "/tmp/pull_bench_input.asf");
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
            for (auto& s : split(val(), ','))
                a.clients.push_back(static_cast<int>(to_double(f, s, 1, 1'000'000)));
            if (a.clients.empty()) throw std::invalid_argument("--clients: empty list");
        } else if (f == "--servers") {
            a.servers = split(val(), ',');
            for (auto& s : a.servers)
                if (s != "asfcast" && s != "vlc") throw std::invalid_argument("--servers: unknown server '" + s + "'");
            if (a.servers.empty()) throw std::invalid_argument("--servers: empty list");
        } else if (f == "--seconds") a.window_s = to_double(f, val(), 1, 3600);
        else if (f == "--warmup") a.warmup_s = to_double(f, val(), 0, 600);
        else if (f == "--calib") a.calib_s = to_double(f, val(), 1, 600);
        else if (f == "--startup-timeout") a.startup_timeout_s = to_double(f, val(), 1, 600);
        else if (f == "--ramp-timeout") a.ramp_timeout_s = to_double(f, val(), 1, 600);
        else if (f == "--ramp-step") a.ramp_step = static_cast<int>(to_double(f, val(), 1, 100000));
        else if (f == "--max-pending") a.max_pending = static_cast<int>(to_double(f, val(), 1, 1000000));
        else if (f == "--ramp-interval") a.ramp_interval_s = to_double(f, val(), 0.001, 10);
        else if (f == "--port-base") a.port_base = static_cast<int>(to_double(f, val(), 1024, 65000));
        else if (f == "--rcvlowat") {
            const std::string v = val();
            a.rcvlowat = v == "auto" ? -1 : static_cast<int>(to_double(f, v, 0, 1 << 20));
        } else if (f == "--latency-clients") a.latency_clients = static_cast<int>(to_double(f, val(), 0, 1'000'000));
        else if (f == "--preset") a.preset = val();
        else if (f == "--asfcast-log") a.server_log_level = val();
        else if (f == "--keep-going") a.keep_going = true;
        else if (f == "--verbose") a.verbose = true;
        else if (f == "--asfcast") a.asfcast = val();
        else if (f == "--input") a.input = val();
        else if (f == "--workdir") a.workdir = val();
        else if (f == "--bitrate") {
            a.bitrate = val();
            if (a.bitrate != "probe" && a.bitrate != "median") to_double(f, a.bitrate, 1, 1e6);
        } else throw std::invalid_argument("unknown flag " + f + " (see --help)");
    }
    if (a.asfcast.empty()) a.asfcast = default_asfcast("./pull_bench");
    return a;
}

bool file_ok(const std::string& path, off_t min_size) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= min_size;
}

// The VLC input: 120 s of 640x360 H.264 (900 kbit/s, VBV 900/900, GOP 2 s, no B-frames) + WMA2 96 kbit/s,
// looped by the feeding ffmpeg. Made once and reused (written to a temporary name, then renamed).
void make_input(const Args& a) {
    if (file_ok(a.input, 1 << 20)) return;
    const std::string tmp = a.input + ".part";
    const std::string log = a.workdir + "/pull_bench_input.log";
    std::fprintf(stderr, "pull_bench: making the input %s with ffmpeg (about 10-20 s)\n", a.input.c_str());
    const int lfd = open_log(log);
    SpawnSpec s;
    s.argv = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
              "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
              "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
              "-t", "120", "-c:v", "libx264", "-preset", "veryfast",
              "-b:v", std::to_string(kVideoKbps) + "k", "-maxrate", std::to_string(kVideoKbps) + "k",
              "-bufsize", std::to_string(kVideoKbps) + "k", "-g", "60", "-bf", "0",
              "-c:a", "wmav2", "-b:a", std::to_string(kAudioKbps) + "k", "-f", "asf", tmp};
    s.stderr_fd = lfd;
    const pid_t pid = spawn(s);
    ::close(lfd);
    const auto st = wait_for(pid, 300);
    if (!st) {
        kill_group(pid, {pid}, 1);
        throw std::runtime_error(g_stop ? "interrupted" : "ffmpeg did not make the input within 300 s");
    }
    forget_group(pid);
    if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0 || !file_ok(tmp, 1 << 20))
        throw std::runtime_error("ffmpeg failed to make the input; see " + log + ":\n" + tail_of_file(log, 10));
    if (rename(tmp.c_str(), a.input.c_str()) != 0)
        throw std::runtime_error("rename " + tmp + ": " + std::strerror(errno));
}

std::string write_preset(const Args& a) {
    if (!a.preset.empty()) return a.preset;
    return benchutil::write_preset(a.workdir + "/pull_bench_preset.yaml",
                                   "Written by pull_bench: a ~1 Mbit/s live test pattern for the fan-out benchmark.",
                                   "bench-1mbit");
}

// Does this asfcast have `run --pull`? Returns an error message, or "" when it does.
std::string check_asfcast(const Args& a) {
    return benchutil::check_asfcast(
        a.asfcast, a.workdir + "/pull_bench_asfcast_help.txt", "--pull",
        "has no `run --pull HOST:PORT` option yet (the WMSP pull server has not landed): cannot benchmark it");
}

struct Server {
    std::string name;
    pid_t pgid = -1;
    std::vector<pid_t> pids;  // reaped on stop
    pid_t measured = -1;      // whose /proc is read
    std::string log;
    void stop() {
        if (pgid > 0) kill_group(pgid, pids, 5);
        pgid = -1;
    }
    ~Server() { stop(); }
    // A description of why it is gone, or "" while it runs.
    std::string dead() const {
        for (pid_t p : pids) {
            int st = 0;
            if (exited(p, &st)) {
                std::string why = WIFEXITED(st)     ? "exited with status " + std::to_string(WEXITSTATUS(st))
                                  : WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st))
                                                    : "gone";
                return "pid " + std::to_string(p) + (p == measured ? " (" + name + ")" : "") + " " + why +
                       "; last lines of " + log + ":\n" + tail_of_file(log, 12);
            }
        }
        return "";
    }
};

void start_vlc(Server& s, const Args& a, int port) {
    s.name = "vlc";
    s.log = a.workdir + "/pull_bench_vlc_" + std::to_string(port) + ".log";
    const std::string home = a.workdir + "/pull_bench_vlc_home";
    mkdir(home.c_str(), 0700);
    if (chown(home.c_str(), kNobody, kNobody) != 0)
        throw std::runtime_error("chown " + home + ": " + std::strerror(errno));
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const int lfd = open_log(s.log);
    SpawnSpec ff;
    ff.argv = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
               "-i", a.input, "-c", "copy", "-f", "asf", "-"};
    ff.stdout_fd = p[1];
    ff.stderr_fd = lfd;
    const pid_t ffpid = spawn(ff);
    s.pgid = ffpid;
    s.pids.push_back(ffpid);
    SpawnSpec v;
    v.argv = {"cvlc", "-I", "dummy", "-", "--sout",
              "#std{access=mmsh,mux=asfh,dst=127.0.0.1:" + std::to_string(port) + "}"};
    v.stdin_fd = p[0];
    v.stdout_fd = lfd;
    v.stderr_fd = lfd;
    v.pgid = ffpid;
    v.drop_to_uid = kNobody;
    v.env = {{"HOME", home}};
    const pid_t vpid = spawn(v);  // cvlc is a shell script that execs vlc: same pid
    s.pids.push_back(vpid);
    s.measured = vpid;
    ::close(p[0]);
    ::close(p[1]);
    ::close(lfd);
}

void start_asfcast(Server& s, const Args& a, int port, const std::string& preset, double duration_s,
                   const std::string& clock_file) {
    s.name = "asfcast";
    s.log = a.workdir + "/pull_bench_asfcast_" + std::to_string(port) + ".log";
    const int lfd = open_log(s.log);
    SpawnSpec sp;
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.0f", std::ceil(duration_s));
    sp.argv = {a.asfcast, "--log-level", a.server_log_level, "run", "--preset", preset,
               "--pull", "127.0.0.1:" + std::to_string(port), "--duration", dur};
    if (!clock_file.empty()) {
        ::unlink(clock_file.c_str());
        sp.argv.insert(sp.argv.end(), {"--media-clock-file", clock_file});
    }
    sp.stdout_fd = lfd;
    sp.stderr_fd = lfd;
    const pid_t pid = spawn(sp);
    ::close(lfd);
    s.pgid = pid;
    s.pids.push_back(pid);
    s.measured = pid;
}

struct Result {
    std::string server;
    int n = 0;
    bool ok = false;
    std::string error;
    int opened = 0, got_header = 0, connected = 0, full = 0;
    double expected_kbps = 0, median_kbps = 0, min_kbps = 0, p10_kbps = 0, max_kbps = 0;
    double window_s = 0;      // per-client rate window (includes the drains at both ends)
    double cpu_window_s = 0;  // between the two CPU samples
    double cpu_s = 0, proc_cpu_s = 0;
    std::string cpu_source;
    long rss_base_kb = 0, rss_load_kb = 0;
    std::uint64_t framing_errors = 0, lost_pkts = 0, e_pkts = 0;
    std::string first_framing_error;
    std::map<std::string, int> fails;
    double header_after_s = 0, ramp_s = 0, probe_kbps = 0, loadgen_cpu_s = 0;
    double idle_cpu_pct = NAN;  // server CPU (same source) with the single probe client, before the load
    double idle_proc_cpu_pct = NAN;  // the whole process, the same way
    double ksoftirqd_s = 0;          // kernel receive work charged to no process, over the window
    int rcvlowat = 0, timed = 0;
    double lat_p50 = NAN, lat_p99 = NAN, lat_max = NAN;
    std::uint64_t lat_samples = 0, lat_negative = 0, lat_unparsed = 0;
    std::string lat_note;  // why there is no latency
    std::uint64_t loadgen_reads = 0, loadgen_waits = 0;
    std::string head;
    std::uint32_t h_bytes = 0;
    std::uint16_t d_len_min = 0, d_len_max = 0;

    double cpu_per_client_min() const {  // server CPU seconds per client-minute
        return connected > 0 && window_s > 0 ? cpu_s / connected / (cpu_window_s / 60.0) : NAN;
    }
    // The same without the server's cost at one client (VLC's process also demuxes and remuxes its input).
    double marginal_cpu_per_client_min() const {
        return connected > 0 && window_s > 0 && !std::isnan(idle_cpu_pct)
                   ? (cpu_s - idle_cpu_pct / 100 * cpu_window_s) / connected / (cpu_window_s / 60.0)
                   : NAN;
    }
    double marginal_proc_cpu_per_client_min() const {
        return connected > 0 && window_s > 0 && !std::isnan(idle_proc_cpu_pct) && !std::isnan(proc_cpu_s)
                   ? (proc_cpu_s - idle_proc_cpu_pct / 100 * cpu_window_s) / connected / (cpu_window_s / 60.0)
                   : NAN;
    }
    double kb_per_client() const {
        return connected > 0 ? static_cast<double>(rss_load_kb - rss_base_kb) / connected : NAN;
    }
};

enum class Pump { Done, Timeout, Stopped, ServerDied };

// asfcast's media clock file: "origin_us N" (CLOCK_MONOTONIC us at media time 0); 0 when not (yet) there.
std::int64_t read_media_origin(const std::string& path) {
    if (path.empty()) return 0;
    const std::string text = read_file(path, 4096);
    const auto at = text.find("origin_us ");
    return at == std::string::npos ? 0 : std::strtoll(text.c_str() + at + 10, nullptr, 10);
}

// Runs the engine until done() or the deadline, checking the server (and its media clock) every 200 ms.
template <class F>
Pump pump(Engine& eng, Server& srv, double deadline, std::string& why, F done, const std::string& clock_file = "") {
    double next_check = 0;
    for (long iter = 0; iter < 100'000'000; ++iter) {
        if (g_stop) return Pump::Stopped;
        if (done()) return Pump::Done;
        const double t = now_s();
        if (t >= deadline) return Pump::Timeout;
        if (t >= next_check) {
            next_check = t + 0.2;
            why = srv.dead();
            if (!why.empty()) return Pump::ServerDied;
            if (const auto origin = read_media_origin(clock_file)) eng.set_media_origin(origin);
        }
        eng.poll(std::max(1, std::min(50, static_cast<int>((deadline - t) * 1000))));
    }
    return Pump::Timeout;
}

Result run_one(const Args& a, const std::string& server, int n, int port, const std::string& preset) {
    Result r;
    r.server = server;
    r.n = n;
    auto fail = [&](std::string msg) {
        r.error = std::move(msg);
        return r;
    };
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(n) + 64 > rl.rlim_cur)
        return fail("RLIMIT_NOFILE is " + std::to_string(rl.rlim_cur) + ", too low for " + std::to_string(n) +
                    " clients");

    Options opt;
    opt.addr.sin_family = AF_INET;
    opt.addr.sin_port = htons(static_cast<std::uint16_t>(port));
    opt.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    opt.host = "127.0.0.1:" + std::to_string(port);
    r.rcvlowat = opt.rcvlowat = a.rcvlowat >= 0 ? a.rcvlowat : auto_rcvlowat(n);
    Engine eng(static_cast<std::size_t>(n) + 1, opt);  // slot 0: the probe; 1..n: the load
    eng.keep_head_of(0);
    // Timed clients, spread evenly over the load (they connect at different points of the ramp).
    const int timed = std::min(n, a.latency_clients);
    for (int k = 0; k < timed; ++k) eng.at(1 + static_cast<std::size_t>(static_cast<long>(k) * n / timed)).timed = true;
    r.timed = timed;
    const std::string clock_file =
        server == "asfcast" ? a.workdir + "/pull_bench_media_clock_" + std::to_string(port) : std::string();

    // Worst case of one run, so asfcast's --duration never ends it before we do.
    const double ramp_s = std::ceil(static_cast<double>(n) / a.ramp_step) * a.ramp_interval_s;
    const double budget = a.startup_timeout_s + a.calib_s + 3 + ramp_s + a.ramp_timeout_s + a.warmup_s + a.window_s + 30;

    Server srv;
    const double t0 = now_s();
    if (server == "vlc") start_vlc(srv, a, port);
    else start_asfcast(srv, a, port, preset, budget, clock_file);
    std::string why;

    // 1. Probe until the first $H (VLC answers the head at once but holds the body for some seconds).
    double next_try = t0 + 0.2;
    const double startup_end = t0 + a.startup_timeout_s;
    int attempts = 0;
    Pump pr = pump(eng, srv, startup_end, why, [&] {
        Client& c = eng.at(0);
        if (c.t_first_h > 0) return true;
        const double t = now_s();
        if ((c.state == State::Idle || c.state == State::Closed) && t >= next_try && attempts < 1000) {
            ++attempts;
            eng.connect(0);
            next_try = t + 0.25;
        }
        return false;
    });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died during startup: " + why);
    if (pr == Pump::Timeout) {
        const Client& c = eng.at(0);
        return fail("no $H within " + std::to_string(static_cast<int>(a.startup_timeout_s)) + " s (" +
                    std::to_string(attempts) + " connection attempts; last: " + state_name(c.state) +
                    (c.fail != Fail::None ? std::string(", ") + fail_name(c.fail) : std::string()) +
                    (c.status ? ", HTTP " + std::to_string(c.status) : "") + ")" +
                    (c.framing_error.empty() ? "" : ": " + c.framing_error) + "; last lines of " + srv.log + ":\n" +
                    tail_of_file(srv.log, 12));
    }
    r.header_after_s = eng.at(0).t_first_h - t0;
    if (eng.at(0).head) r.head = *eng.at(0).head;
    r.h_bytes = eng.at(0).h_bytes;
    // The server's CPU: for asfcast its network thread, since the same process also captures and encodes.
    std::optional<pid_t> thread;
    if (server == "asfcast") {
        thread = find_thread(srv.measured, "asfcast-pull");
        r.cpu_source = thread ? "thread asfcast-pull" : "WHOLE PROCESS (no asfcast-pull thread found)";
    } else {
        r.cpu_source = "process";
    }
    auto server_cpu = [&] { return thread ? task_cpu_s(srv.measured, *thread) : proc_cpu_s(srv.measured); };
    // Every pump from here on follows the media clock (asfcast writes it once capture runs).
    auto run = [&](double deadline, auto done) { return pump(eng, srv, deadline, why, done, clock_file); };

    // 2. Unloaded rate of one client and the server's CPU with it: skip 1 s, then measure calib_s.
    pr = run(now_s() + 1, [] { return false; });
    eng.drain(0);
    const std::uint64_t pb0 = eng.at(0).d_bytes;
    const double pt0 = now_s();
    const auto icpu0 = server_cpu();
    const auto ipcpu0 = proc_cpu_s(srv.measured);
    if (pr == Pump::Timeout) pr = run(pt0 + a.calib_s, [] { return false; });
    const auto icpu1 = server_cpu();
    const auto ipcpu1 = proc_cpu_s(srv.measured);
    eng.drain(0);
    if (icpu0 && icpu1) r.idle_cpu_pct = (*icpu1 - *icpu0) / (now_s() - pt0) * 100;
    if (ipcpu0 && ipcpu1) r.idle_proc_cpu_pct = (*ipcpu1 - *ipcpu0) / (now_s() - pt0) * 100;
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died: " + why);
    if (eng.at(0).state != State::Body)
        return fail(std::string("the probe client lost its session before the load: ") + fail_name(eng.at(0).fail));
    r.probe_kbps = static_cast<double>(eng.at(0).d_bytes - pb0) * 8 / (now_s() - pt0) / 1000;
    r.d_len_min = eng.at(0).d_len_min;
    r.d_len_max = eng.at(0).d_len_max;
    eng.close(0, Fail::Closed);

    // 3. Baseline RSS and, for asfcast, its network thread.
    pr = run(now_s() + 1, [] { return false; });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died: " + why);
    r.rss_base_kb = proc_rss_kb(srv.measured).value_or(0);

    // 4. Ramp: up to ramp_step connections per ramp_interval, never more than max_pending of them waiting
    //    for their $H (so the server's accept queue never overflows into SYN/ACK retransmission back-off,
    //    which would measure TCP timers instead of the server); then wait until every client has its $H.
    int opened = 0;
    const double ramp_start = now_s();
    double next_step = ramp_start;
    const double ramp_end = ramp_start + ramp_s + a.ramp_timeout_s;
    pr = run(ramp_end, [&] {
        const double t = now_s();
        if (t < next_step) return false;
        next_step = t + a.ramp_interval_s;
        int waiting = 0;  // O(opened) every ramp interval
        for (int i = 1; i <= opened; ++i) {
            const Client& c = eng.at(static_cast<std::size_t>(i));
            waiting += c.state != State::Closed && c.t_first_h == 0;
        }
        if (opened < n) {
            const int k = std::min({a.ramp_step, n - opened, std::max(0, a.max_pending - waiting)});
            for (int j = 0; j < k; ++j) eng.connect(static_cast<std::size_t>(1 + opened++));
            return false;
        }
        return waiting == 0;
    });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died during the ramp: " + why);
    r.ramp_s = now_s() - ramp_start;
    r.opened = opened;
    for (int i = 1; i <= n; ++i) r.got_header += eng.at(static_cast<std::size_t>(i)).t_first_h > 0;
    if (pr == Pump::Timeout)
        std::fprintf(stderr, "  ramp: only %d of %d clients had $H after %.0f s (%d opened); measuring anyway\n",
                     r.got_header, n, r.ramp_s, opened);

    // 5. Warm-up, then the window.
    pr = run(now_s() + a.warmup_s, [] { return false; });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died during the warm-up: " + why);

    std::vector<std::uint64_t> b0(static_cast<std::size_t>(n) + 1), l0(b0.size());
    for (int i = 1; i <= n; ++i) {
        eng.drain(static_cast<std::size_t>(i));
        b0[static_cast<std::size_t>(i)] = eng.at(static_cast<std::size_t>(i)).d_bytes;
        l0[static_cast<std::size_t>(i)] = eng.at(static_cast<std::size_t>(i)).lost_pkts;
    }
    const auto cpu0 = server_cpu();
    const auto pcpu0 = proc_cpu_s(srv.measured);
    const double self0 = self_cpu_s();
    const double ksoft0 = ksoftirqd_cpu_s();
    const std::uint64_t reads0 = eng.reads(), waits0 = eng.waits();
    const double w0 = now_s();  // (the drain above takes a few ms for thousands of clients)
    long rss_peak = proc_rss_kb(srv.measured).value_or(0);
    double next_rss = w0 + 1;
    eng.latency().clear();
    eng.set_recording(true);
    const std::uint64_t unparsed0 = eng.unparsed_packets();
    pr = run(w0 + a.window_s, [&] {
        if (now_s() >= next_rss) {
            next_rss += 1;
            rss_peak = std::max(rss_peak, proc_rss_kb(srv.measured).value_or(0));
        }
        return false;
    });
    if (pr == Pump::Stopped) return fail("interrupted");
    if (pr == Pump::ServerDied) return fail(server + " died during the window: " + why);
    eng.set_recording(false);
    const auto cpu1 = server_cpu();
    const auto pcpu1 = proc_cpu_s(srv.measured);
    {
        const LatencyHistogram& h = eng.latency();
        r.lat_samples = h.samples;
        r.lat_negative = h.negative;
        r.lat_unparsed = eng.unparsed_packets() - unparsed0;
        if (h.samples) {
            r.lat_p50 = h.percentile(0.5);
            r.lat_p99 = h.percentile(0.99);
            r.lat_max = h.max_ms;
        } else if (timed == 0) {
            r.lat_note = "no timed clients (--latency-clients 0)";
        } else if (server != "asfcast") {
            r.lat_note = "no media clock (asfcast only)";
        } else if (eng.media_origin() == 0) {
            r.lat_note = "asfcast wrote no media clock to " + clock_file;
        } else {
            r.lat_note = "no $D parsed";
        }
    }
    r.cpu_window_s = now_s() - w0;
    r.loadgen_cpu_s = self_cpu_s() - self0;
    r.ksoftirqd_s = ksoftirqd_cpu_s() - ksoft0;
    r.loadgen_reads = eng.reads() - reads0;
    r.loadgen_waits = eng.waits() - waits0;
    for (int i = 1; i <= n; ++i) eng.drain(static_cast<std::size_t>(i));
    const double w1 = now_s();
    rss_peak = std::max(rss_peak, proc_rss_kb(srv.measured).value_or(0));
    r.window_s = w1 - w0;
    if (!cpu0 || !cpu1) return fail("could not read the CPU time of " + server);
    r.cpu_s = *cpu1 - *cpu0;
    r.proc_cpu_s = pcpu0 && pcpu1 ? *pcpu1 - *pcpu0 : NAN;
    r.rss_load_kb = rss_peak;

    // 6. Per-client rates.
    std::vector<double> rates;
    rates.reserve(static_cast<std::size_t>(n));
    for (int i = 1; i <= n; ++i) {
        const auto ii = static_cast<std::size_t>(i);
        const Client& c = eng.at(ii);
        rates.push_back(static_cast<double>(c.d_bytes - b0[ii]) * 8 / r.window_s / 1000);
        r.lost_pkts += c.lost_pkts - l0[ii];
        r.framing_errors += c.framing_errors;
        r.e_pkts += c.e_pkts;
        if (r.first_framing_error.empty() && !c.framing_error.empty()) r.first_framing_error = c.framing_error;
        if (c.state == State::Body && c.t_first_h > 0) ++r.connected;
        else if (c.state == State::Body) ++r.fails["no $H yet"];
        else if (c.state == State::Closed) ++r.fails[std::string("closed: ") + fail_name(c.fail)];
        else ++r.fails[state_name(c.state)];
    }
    r.median_kbps = percentile(rates, 0.5);
    r.min_kbps = percentile(rates, 0);
    r.p10_kbps = percentile(rates, 0.1);
    r.max_kbps = percentile(rates, 1);
    if (a.bitrate.empty()) r.expected_kbps = kNominalKbps;
    else if (a.bitrate == "probe") r.expected_kbps = r.probe_kbps;
    else if (a.bitrate == "median") r.expected_kbps = r.median_kbps;
    else r.expected_kbps = std::strtod(a.bitrate.c_str(), nullptr);
    for (double x : rates) r.full += x >= kFullRate * r.expected_kbps;

    eng.close_all();
    srv.stop();
    r.ok = true;
    return r;
}

void print_table(const std::vector<Result>& results, const Args& a) {
    std::printf("\n== pull_bench: MS-WMSP fan-out, %s, %.0f s window ==\n",
                a.preset.empty() ? "1 Mbit/s stream" : ("asfcast preset " + a.preset + " (VLC: 1 Mbit/s)").c_str(),
                a.window_s);
    std::printf("full rate: >= %.0f%% of the expected rate (%s); CPU s/cl-min: server CPU seconds per client-minute, "
                "all of it and marginal (above the same server's cost with 1 client, measured first in the same run)\n",
                kFullRate * 100,
                a.bitrate.empty() ? ("nominal " + std::to_string(kNominalKbps) + " kbit/s").c_str()
                                  : ("--bitrate " + a.bitrate).c_str());
    std::printf("%-8s %6s %6s %6s %7s %7s %7s %9s %9s %7s %7s %7s %8s %8s %5s %6s %7s\n", "server", "N", "conn", "full",
                "med", "min", "CPU", "CPU s/", "CPU s/", "RSS", "RSS", "KB/", "latency", "latency", "frm", "lost",
                "loadgen");
    std::printf("%-8s %6s %6s %6s %7s %7s %7s %9s %9s %7s %7s %7s %8s %8s %5s %6s %7s\n", "", "", "", "", "kbit/s",
                "kbit/s", "%core", "cl-min", "cl-min mg", "base MB", "load MB", "client", "p50 ms", "p99 ms", "err",
                "$D", "%core");
    for (auto& r : results) {
        if (!r.ok) {
            std::printf("%-8s %6d  FAILED: %s\n", r.server.c_str(), r.n, r.error.substr(0, r.error.find('\n')).c_str());
            continue;
        }
        std::printf("%-8s %6d %6d %6d %7s %7s %7s %9s %9s %7s %7s %7s %8s %8s %5llu %6llu %7s\n", r.server.c_str(), r.n,
                    r.connected, r.full, fmt_num(r.median_kbps, 0).c_str(), fmt_num(r.min_kbps, 0).c_str(),
                    fmt_num(r.cpu_s / r.cpu_window_s * 100, 2).c_str(), fmt_num(r.cpu_per_client_min(), 5).c_str(),
                    fmt_num(r.marginal_cpu_per_client_min(), 5).c_str(), fmt_num(r.rss_base_kb / 1024.0, 1).c_str(),
                    fmt_num(r.rss_load_kb / 1024.0, 1).c_str(), fmt_num(r.kb_per_client(), 2).c_str(),
                    fmt_num(r.lat_p50, 1).c_str(), fmt_num(r.lat_p99, 1).c_str(),
                    static_cast<unsigned long long>(r.framing_errors), static_cast<unsigned long long>(r.lost_pkts),
                    fmt_num(r.loadgen_cpu_s / r.cpu_window_s * 100, 1).c_str());
    }
    std::printf("\nnotes:\n");
    for (auto& r : results) {
        if (!r.ok) continue;
        std::printf("  %s N=%d: CPU from %s; with 1 client %s%% core", r.server.c_str(), r.n, r.cpu_source.c_str(),
                    fmt_num(r.idle_cpu_pct, 2).c_str());
        if (r.server == "asfcast")
            std::printf("; whole process %s%% core under load, %s%% with 1 client: %s s/client-min above that",
                        fmt_num(r.proc_cpu_s / r.cpu_window_s * 100, 1).c_str(), fmt_num(r.idle_proc_cpu_pct, 1).c_str(),
                        fmt_num(r.marginal_proc_cpu_per_client_min(), 5).c_str());
        std::printf("\n    $H after %.1f s (%u bytes); $D %u..%u bytes; ramp %.1f s, %d opened, %d/%d got $H; rate p10 %s "
                    "max %s (probe alone %s); loadgen SO_RCVLOWAT %d, %.0f reads/s, %.0f epoll waits/s",
                    r.header_after_s, r.h_bytes, r.d_len_min, r.d_len_max, r.ramp_s, r.opened, r.got_header, r.n,
                    fmt_num(r.p10_kbps, 0).c_str(), fmt_num(r.max_kbps, 0).c_str(), fmt_num(r.probe_kbps, 0).c_str(),
                    r.rcvlowat, r.loadgen_reads / r.cpu_window_s, r.loadgen_waits / r.cpu_window_s);
        std::printf("; ksoftirqd %s%% core", fmt_num(r.ksoftirqd_s / r.cpu_window_s * 100, 1).c_str());
        if (r.lat_samples)
            std::printf("\n    latency of %d timed clients (eager reads): %llu $D, p50 %s ms, p99 %s ms, max %s ms%s",
                        r.timed, static_cast<unsigned long long>(r.lat_samples), fmt_num(r.lat_p50, 1).c_str(),
                        fmt_num(r.lat_p99, 1).c_str(), fmt_num(r.lat_max, 1).c_str(),
                        r.lat_negative ? (" (" + std::to_string(r.lat_negative) + " negative, counted as 0)").c_str() : "");
        else
            std::printf("\n    latency: not measured: %s", r.lat_note.c_str());
        if (r.lat_unparsed) std::printf("; %llu $D not parsed", static_cast<unsigned long long>(r.lat_unparsed));
        if (r.e_pkts) std::printf("; %llu $E", static_cast<unsigned long long>(r.e_pkts));
        for (auto& [k, v] : r.fails) std::printf("; %d %s", v, k.c_str());
        if (!r.first_framing_error.empty()) std::printf("; first framing error: %s", r.first_framing_error.c_str());
        if (r.probe_kbps < kFullRate * r.expected_kbps)
            std::printf("\n    WARNING: an unloaded client got only %.0f kbit/s, below %.0f%% of the expected %.0f: "
                        "the full-rate check is meaningless (pass --bitrate)",
                        r.probe_kbps, kFullRate * 100, r.expected_kbps);
        std::printf("\n");
    }
    for (auto& r : results)
        if (!r.ok) std::printf("  %s N=%d FAILED: %s\n", r.server.c_str(), r.n, r.error.c_str());

    // The headline: asfcast against VLC (same N, same run) and the brief's targets.
    bool header = false;
    for (auto& x : results) {
        if (!x.ok || x.server != "asfcast") continue;
        const Result* v = nullptr;
        for (auto& y : results)
            if (y.ok && y.server == "vlc" && y.n == x.n) v = &y;
        if (!header) {
            std::printf("\nasfcast vs VLC and the targets; CPU per client is marginal against marginal (s/client-min "
                        "above each server's 1-client cost, same run, same load generator):\n");
            std::printf("%6s %12s %6s %10s %10s %7s %6s %9s %5s %8s %6s %17s %6s\n", "N", "full", "", "asfcast", "VLC",
                        "ratio", "<=0.35", "KB/client", "<4 KB", "RSS MB", "<150", "latency p50/p99", "");
            header = true;
        }
        const double xm = x.marginal_cpu_per_client_min();
        const double vm = v ? v->marginal_cpu_per_client_min() : NAN;
        // With a handful of clients the marginal cost is within the noise of the 1-client cost: no ratio.
        const double ratio = x.n >= kMinRatioClients ? xm / vm : NAN;
        const double kb = x.kb_per_client();
        const std::string lat = x.lat_samples ? fmt_num(x.lat_p50, 0) + "/" + fmt_num(x.lat_p99, 0) + " ms" : "-";
        std::printf("%6d %6d/%-5d %6s %10s %10s %7s %6s %9s %5s %8s %6s %17s\n", x.n, x.full, x.n,
                    x.full == x.n ? "PASS" : "FAIL", fmt_num(xm, 5).c_str(), v ? fmt_num(vm, 5).c_str() : "no vlc",
                    v && !std::isnan(ratio) ? (fmt_num(ratio, 3) + "x").c_str() : "-",
                    v && !std::isnan(ratio) ? (ratio <= 0.35 ? "PASS" : "FAIL") : "-",
                    fmt_num(kb, 2).c_str(), x.n < 1000 ? "-" : kb < 4 ? "PASS" : "FAIL",
                    fmt_num(x.rss_load_kb / 1024.0, 1).c_str(),
                    x.n >= 10000 ? (x.rss_load_kb < 150 * 1024 ? "PASS" : "FAIL") : "-", lat.c_str());
        if (v && v->connected < v->n)
            std::printf("%6s VLC served only %d of %d clients (%d at full rate): its figures are for those\n", "",
                        v->connected, v->n, v->full);
        if (v && x.n >= kMinRatioClients)
            std::printf("%6s all CPU (not marginal): %s vs %s s/client-min (%sx); memory per client %s vs %s KB (%sx)\n",
                        "", fmt_num(x.cpu_per_client_min(), 5).c_str(), fmt_num(v->cpu_per_client_min(), 5).c_str(),
                        fmt_num(x.cpu_per_client_min() / v->cpu_per_client_min(), 3).c_str(), fmt_num(kb, 2).c_str(),
                        fmt_num(v->kb_per_client(), 2).c_str(), fmt_num(kb / v->kb_per_client(), 2).c_str());
    }
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = start_main("pull_bench", argc, argv, parse_args);
    const rlimit rl = raise_nofile_limit();  // children (VLC, asfcast) inherit it too

    std::vector<Result> results;
    const int rc = run_guarded("pull_bench", [&] {
        int rc = 0;
        const bool want_vlc = std::find(a.servers.begin(), a.servers.end(), "vlc") != a.servers.end();
        const bool want_asfcast = std::find(a.servers.begin(), a.servers.end(), "asfcast") != a.servers.end();
        if (want_vlc) make_input(a);
        std::string preset, asfcast_error;
        if (want_asfcast) {
            preset = write_preset(a);
            asfcast_error = check_asfcast(a);
            if (!asfcast_error.empty()) std::fprintf(stderr, "pull_bench: %s\n", asfcast_error.c_str());
        }
        std::fprintf(stderr, "pull_bench: RLIMIT_NOFILE %llu; clients ramp %d per %.0f ms\n",
                     static_cast<unsigned long long>(rl.rlim_cur), a.ramp_step, a.ramp_interval_s * 1000);
        int port = a.port_base;
        bool stop = false;
        for (int n : a.clients) {
            for (auto& server : a.servers) {
                if (stop || g_stop) break;
                std::fprintf(stderr, "pull_bench: %s, %d clients, port %d ...\n", server.c_str(), n, port);
                Result r;
                if (server == "asfcast" && !asfcast_error.empty()) {
                    r.server = server;
                    r.n = n;
                    r.error = asfcast_error;
                } else {
                    try {
                        r = run_one(a, server, n, port, preset);
                    } catch (const std::exception& e) {
                        r.server = server;
                        r.n = n;
                        r.error = e.what();
                    }
                }
                ++port;
                if (r.ok)
                    std::fprintf(stderr,
                                 "  %d/%d connected, %d at full rate, median %.0f kbit/s, min %.0f, CPU %.2f%% core, "
                                 "RSS %.1f -> %.1f MB, loadgen %.1f%% core\n",
                                 r.connected, n, r.full, r.median_kbps, r.min_kbps, r.cpu_s / r.cpu_window_s * 100,
                                 r.rss_base_kb / 1024.0, r.rss_load_kb / 1024.0, r.loadgen_cpu_s / r.cpu_window_s * 100);
                else
                    std::fprintf(stderr, "  FAILED: %s\n", r.error.c_str());
                if (a.verbose && r.ok && !r.head.empty())
                    std::fprintf(stderr, "  response head:\n    %s\n",
                                 [&] {
                                     std::string h = r.head;
                                     for (std::size_t p = 0; (p = h.find("\r\n", p)) != std::string::npos; p += 6)
                                         h.replace(p, 2, "\n    ");
                                     return h;
                                 }()
                                     .c_str());
                if (!r.ok) {
                    rc = 1;
                    if (!a.keep_going || g_stop) stop = true;
                }
                results.push_back(std::move(r));
            }
        }
        return rc;
    });
    print_table(results, a);
    return rc;
}
