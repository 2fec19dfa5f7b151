// latency_bench: capture-to-network latency of the pull source (brief target: below 150 ms with the
// low-latency preset). Runs `asfcast run --preset PRESET --pull 127.0.0.1:PORT --duration S` on its
// live test source, plays the stream with K ffmpeg clients (`ffmpeg -i mmsh://… -f null -`), and
// prints the latency asfcast measured: from the capture of a packet's oldest media to its last byte
// leaving a client's socket at the live edge (the pull server's histogram, 1 ms buckets).
//   latency_bench [--asfcast PATH] [--preset NAME|FILE] [--seconds S] [--clients K] [--port P]
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/bench_util.hpp"
#include "loadgen/procutil.hpp"

namespace {

struct Args {
    std::string asfcast;
    std::string preset = "low-latency";
    double seconds = 20;
    int clients = 1;
    int port = 18099;
};

Args parse(int argc, char** argv) {
    Args a;
    a.asfcast = benchutil::default_asfcast(argv[0]);
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--help") {
            std::printf("usage: latency_bench [--asfcast PATH] [--preset NAME|FILE] [--seconds S] [--clients K] "
                        "[--port P]\n");
            std::exit(0);
        }
        if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
        const std::string v = argv[++i];
        if (k == "--asfcast") a.asfcast = v;
        else if (k == "--preset") a.preset = v;
        else if (k == "--seconds") a.seconds = benchutil::to_double(k, v, 5, 3600);
        else if (k == "--clients") a.clients = static_cast<int>(benchutil::to_double(k, v, 1, 100));
        else if (k == "--port") a.port = static_cast<int>(benchutil::to_double(k, v, 1024, 65535));
        else throw std::invalid_argument("unknown option " + k);
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = benchutil::start_main("latency_bench", argc, argv, parse);
    return benchutil::run_guarded("latency_bench", [&] {
        const std::string log = "/tmp/latency_bench_asfcast.log";
        const int log_fd = benchutil::open_log(log);
        loadgen::SpawnSpec server;
        server.argv = {args.asfcast, "--log-level", "info", "run", "--preset", args.preset, "--pull",
                       "127.0.0.1:" + std::to_string(args.port), "--duration", std::to_string(args.seconds)};
        server.stdout_fd = server.stderr_fd = log_fd;
        const pid_t pid = loadgen::spawn(server);
        std::this_thread::sleep_for(std::chrono::seconds(2));  // header published, capture running
        std::vector<pid_t> clients;
        for (int i = 0; i < args.clients; ++i) {
            loadgen::SpawnSpec c;
            c.argv = {"ffmpeg", "-nostdin", "-v", "quiet", "-i", "mmsh://127.0.0.1:" + std::to_string(args.port) + "/",
                      "-f", "null", "-"};
            clients.push_back(loadgen::spawn(c));
        }
        const auto status = loadgen::wait_for(pid, args.seconds + 30);
        for (pid_t c : clients) loadgen::kill_group(c, {c}, 2.0);
        if (!status) {
            loadgen::kill_group(pid, {pid});
            std::fprintf(stderr, "latency_bench: asfcast did not end within %.0f s\n", args.seconds + 30);
            return 1;
        }
        const std::string text = loadgen::read_file(log);
        std::smatch m;
        const std::regex line(R"(latency at the live edge: p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms \((\d+) packet sends\))");
        if (!std::regex_search(text, m, line)) {
            std::fprintf(stderr, "latency_bench: asfcast reported no latency (log %s):\n%s\n", log.c_str(),
                         loadgen::tail_of_file(log, 10).c_str());
            return 1;
        }
        const int p99 = std::stoi(m[2]);
        std::printf("== latency_bench: preset %s, %d ffmpeg client(s), %.0f s ==\n", args.preset.c_str(), args.clients,
                    args.seconds);
        std::printf("capture -> last byte on the socket: p50 %s ms, p99 %s ms, max %s ms over %s packet sends\n",
                    m[1].str().c_str(), m[2].str().c_str(), m[3].str().c_str(), m[4].str().c_str());
        std::printf("target p99 < 150 ms: %s\n", p99 < 150 ? "PASS" : "FAIL");
        return 0;
    });
}
