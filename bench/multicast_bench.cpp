// Benchmark of the MS-MSB multicast sender (multicast/): a 10 Mbit/s live stream (our Packetizer's
// packets from synthetic H.264-sized video and 128 kbit/s audio frames), with error correction
// (a parity packet after every 10) and without.
//
//  1. Real time: MulticastOutput fed through its OutputFeed at the packets' send times, to a group
//     on the loopback joined by a receiving socket (so the kernel delivers every datagram once),
//     for --seconds per mode, --trials times alternating (medians reported). Prints the CPU time
//     of the output thread (asfcast-mcast, user + system, from /proc/self/task/TID/schedstat) per
//     Mbit of stream, the datagrams and bytes sent and what the receiver got.
//  2. Send rate: MsbSender and the same kind of socket in a tight loop, as fast as sendmsg goes:
//     the packets/s and Mbit/s one core can put out; and MsbSender alone (a sink that only counts),
//     the protocol's own cost including the XOR.
//
// There is no peer program to compare with: no MSB (Windows Media multicast) sender exists on
// Linux; Windows Media Services and Windows Media Encoder are Windows only and gone. The numbers
// are absolute; error correction on vs off is the comparison.
//
//   multicast_bench [--seconds S] [--trials N] [--rate-seconds S] [--packet-size BYTES] [--mbps M]
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/multicast/multicast.hpp"

using namespace asfcast;
using namespace asfcast::multicast;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
    double seconds = 5;        // real-time run per mode and trial
    int trials = 3;
    double rate_seconds = 3;   // tight-loop run per mode
    std::uint32_t packet_size = 1400;
    double mbps = 10;
};

struct Stream {
    HeaderPtr header;
    std::vector<PacketPtr> packets;  // in send order, send_time_ms from 0
    std::size_t wire_bytes = 0;
    double duration_s = 0;
};

// `seconds` of a `mbps` stream: 30 fps video (a key frame every 2 s, 4x the size of the others) and
// 128 kbit/s audio in 372-byte frames, packetized by our muxer.
Stream make_stream(double seconds, double mbps, std::uint32_t packet_size) {
    asfmux::MuxConfig mc;
    mc.packet_size = packet_size;
    mc.preroll_ms = 3000;
    asfmux::StreamSet streams;
    VideoStreamFormat v;
    v.stream = 1;
    v.width = 1280;
    v.height = 720;
    v.fourcc = 0x34363248;  // 'H','2','6','4'
    v.bitrate = static_cast<std::uint32_t>(mbps * 1e6 - 128000);
    v.max_bitrate = static_cast<std::uint32_t>(mbps * 1e6);
    v.buffer_ms = 2000;
    v.frame_rate = 30;
    v.codec_name = "H.264";
    streams.video.push_back(v);
    AudioStreamFormat a;
    a.stream = 2;
    a.format_tag = 0x0161;
    a.channels = 2;
    a.sample_rate = 44100;
    a.avg_bytes_per_sec = 16000;
    a.block_align = 372;
    a.bitrate = 128000;
    a.codec_data = {0, 0, 0, 0, 0x1F, 0, 0, 0, 0, 0};
    a.codec_name = "WMA2";
    streams.audio.push_back(a);
    asfmux::HeaderBuilder hb(mc, streams, {}, asfmux::Guid{9, 9, 9}, 0);
    Stream s;
    s.header = std::make_shared<MuxedHeader>(hb.build_live());
    asfmux::Packetizer pz(mc, streams);
    std::vector<DataPacket> out;
    // Frame sizes: a GOP of 60 frames with one key frame of 4 units and 59 of 1 unit.
    const double video_bytes_per_s = (mbps * 1e6 - 128000) / 8;
    const std::size_t unit = static_cast<std::size_t>(video_bytes_per_s * 2 / 63);
    std::mt19937 rng(7);
    const int frames = static_cast<int>(seconds * 30);
    const int audio_frames = static_cast<int>(seconds * 16000 / 372);
    int vi = 0, ai = 0;
    while (vi < frames || ai < audio_frames) {
        const Micros vt = static_cast<Micros>(vi) * 1'000'000 / 30;
        const Micros at = static_cast<Micros>(ai) * 372 * 1'000'000 / 16000;
        EncodedFrame f;
        if (vi < frames && (ai >= audio_frames || vt <= at)) {
            f.stream = 1;
            f.kind = MediaKind::video;
            f.pts = f.dts = vt;
            f.keyframe = vi % 60 == 0;
            f.data.resize(f.keyframe ? unit * 4 : unit);
            ++vi;
        } else {
            f.stream = 2;
            f.kind = MediaKind::audio;
            f.pts = f.dts = at;
            f.keyframe = true;
            f.data.resize(372);
            ++ai;
        }
        for (auto& b : f.data) b = static_cast<std::uint8_t>(rng());
        pz.add(f, f.dts, out);
        pz.poll(f.dts, out);
    }
    pz.flush(out);
    for (auto& p : out) {
        s.wire_bytes += p.wire_form().size();
        s.packets.push_back(std::make_shared<const DataPacket>(std::move(p)));
    }
    s.duration_s = seconds;
    return s;
}

// A socket joined to the group on 127.0.0.1 that reads and counts on its own thread.
class Drain {
public:
    Drain(const std::string& group, std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const int one = 1, buf = 32 << 20;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        ::inet_pton(AF_INET, group.c_str(), &sa.sin_addr);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("bind");
        ip_mreq m{};
        m.imr_multiaddr = sa.sin_addr;
        ::inet_pton(AF_INET, "127.0.0.1", &m.imr_interface);
        if (::setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) throw std::runtime_error("join");
        thread_ = std::thread([this] {
            std::vector<std::uint8_t> b(65536);
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                for (int i = 0; i < 1024; ++i) {
                    const ssize_t n = ::recv(fd_, b.data(), b.size(), MSG_DONTWAIT);
                    if (n < 0) break;
                    ++datagrams;
                    bytes += static_cast<std::uint64_t>(n);
                }
            }
        });
    }
    ~Drain() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::atomic<std::uint64_t> datagrams{0}, bytes{0};

private:
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// CPU time (ns) of this process's thread named `name`, from schedstat (time on a CPU, user + system).
std::uint64_t thread_cpu_ns(const std::string& name) {
    DIR* d = ::opendir("/proc/self/task");
    std::uint64_t ns = 0;
    while (dirent* e = d ? ::readdir(d) : nullptr) {
        const std::string dir = std::string("/proc/self/task/") + e->d_name;
        std::ifstream comm(dir + "/comm");
        std::string n;
        if (!std::getline(comm, n) || n != name) continue;
        std::ifstream st(dir + "/schedstat");
        st >> ns;
    }
    if (d) ::closedir(d);
    return ns;
}

std::uint16_t pick_port() { return static_cast<std::uint16_t>(30000 + std::random_device{}() % 30000); }

struct RealTimeResult {
    double cpu_s = 0, mbit = 0;
    std::uint64_t datagrams = 0, parity = 0, bytes = 0, received = 0, skipped = 0, errors = 0;
};

RealTimeResult run_real_time(const Stream& s, int span, double seconds) {
    MulticastConfig cfg;
    cfg.group = "239.255.91.7";
    cfg.port = pick_port();
    cfg.msb.fec_span = span;
    Drain drain(cfg.group, cfg.port);
    MulticastOutput out(cfg);
    out.announce(s.header);
    auto feed = out.feed();
    feed->publish_header(s.header);
    // The output thread exists from construction: measure from here.
    std::uint64_t cpu0 = 0;
    for (int k = 0; k < 500 && cpu0 == 0; ++k) {  // the thread names itself as it starts
        cpu0 = thread_cpu_ns("asfcast-mcast");
        if (cpu0 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (cpu0 == 0) throw std::runtime_error("no thread asfcast-mcast in /proc/self/task");
    const auto start = Clock::now();
    std::size_t i = 0, sent_bytes = 0;
    for (; i < s.packets.size(); ++i) {
        const auto& p = s.packets[i];
        if (p->send_time_ms / 1000.0 >= seconds) break;
        std::this_thread::sleep_until(start + std::chrono::milliseconds(p->send_time_ms));
        feed->publish_packet(p);
        sent_bytes += p->wire_form().size();
    }
    // Read the thread's CPU time while it still exists: once it has sent everything published.
    for (int k = 0; k < 500 && feed->backlog() > 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t cpu1 = thread_cpu_ns("asfcast-mcast");
    feed->publish_end();
    out.wait_finished(std::chrono::seconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RealTimeResult r;
    r.cpu_s = static_cast<double>(cpu1 - cpu0) / 1e9;
    r.mbit = static_cast<double>(sent_bytes) * 8 / 1e6;
    r.datagrams = out.stats().datagrams;
    r.parity = out.stats().parity_packets;
    r.bytes = out.stats().bytes;
    r.received = drain.datagrams;
    r.skipped = out.stats().packets_skipped;
    r.errors = out.stats().send_errors;
    out.stop();
    return r;
}

// Sends to a connected UDP socket with one sendmsg per datagram (as MulticastOutput does).
struct SocketSink final : DatagramSink {
    int fd = -1;
    std::uint64_t errors = 0;
    void send(const MsbDatagram& d) override {
        iovec iov[2] = {{const_cast<std::uint8_t*>(d.head.data()), d.head.size()},
                        {const_cast<std::uint8_t*>(d.body.data()), d.body.size()}};
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        if (::sendmsg(fd, &m, 0) < 0) ++errors;
    }
};
struct CountingSink final : DatagramSink {
    std::uint64_t bytes = 0;
    void send(const MsbDatagram& d) override { bytes += d.size(); }
};

struct RateResult {
    double seconds = 0, cpu_s = 0;
    std::uint64_t data_packets = 0, datagrams = 0, asf_bytes = 0, errors = 0, received = 0;
};

RateResult run_rate(const Stream& s, int span, double seconds, bool socket) {
    MsbSenderConfig mc;
    mc.fec_span = span;
    mc.fec_max_delay = std::chrono::milliseconds(0);
    const std::string group = "239.255.91.8";
    const std::uint16_t port = pick_port();
    std::unique_ptr<Drain> drain;
    SocketSink ss;
    CountingSink cs;
    if (socket) {
        drain = std::make_unique<Drain>(group, port);
        ss.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        in_addr ifa{};
        ::inet_pton(AF_INET, "127.0.0.1", &ifa);
        ::setsockopt(ss.fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        ::inet_pton(AF_INET, group.c_str(), &sa.sin_addr);
        ::connect(ss.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    DatagramSink& sink = socket ? static_cast<DatagramSink&>(ss) : cs;
    auto t = MsbSender::TimePoint{} + std::chrono::hours(1);
    MsbSender sender(mc, t);
    sender.on_header(s.header, t, sink);
    RateResult r;
    timespec c0{}, c1{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        for (std::size_t i = 0; i < s.packets.size(); ++i) {
            sender.on_packet(*s.packets[i], t, sink);
            r.asf_bytes += s.packets[i]->wire_form().size();
            if ((i & 255) == 0 && Clock::now() >= end) break;
        }
    }
    sender.on_end(t, sink);
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.cpu_s = static_cast<double>(c1.tv_sec - c0.tv_sec) + static_cast<double>(c1.tv_nsec - c0.tv_nsec) / 1e9;
    r.data_packets = sender.stats().data_packets;
    r.datagrams = sender.stats().datagrams;
    r.errors = ss.errors;
    if (socket) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        r.received = drain->datagrams;
        ::close(ss.fd);
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string f = argv[i];
        if (f == "--seconds") a.seconds = std::atof(argv[i + 1]);
        else if (f == "--rate-seconds") a.rate_seconds = std::atof(argv[i + 1]);
        else if (f == "--packet-size") a.packet_size = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
        else if (f == "--mbps") a.mbps = std::atof(argv[i + 1]);
        else if (f == "--trials") a.trials = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: multicast_bench [--seconds S] [--trials N] [--rate-seconds S] [--packet-size BYTES] [--mbps M]\n");
            return 2;
        }
    }
    if (a.trials < 1 || a.trials > 20 || a.seconds <= 0 || a.seconds > 600 || a.rate_seconds <= 0 || a.rate_seconds > 600 || a.mbps <= 0 || a.mbps > 1000 ||
        a.packet_size < 256 || a.packet_size > 65000) {
        std::fprintf(stderr, "multicast_bench: a value is out of range\n");
        return 2;
    }
    spdlog::set_level(spdlog::level::warn);
    std::printf("multicast_bench: MS-MSB sender, %.0f Mbit/s stream, ASF packet size %u, loopback group with one receiver\n",
                a.mbps, a.packet_size);
    std::printf("peer: none -- no MSB (Windows Media multicast) sender exists on Linux; Windows Media Services/Encoder\n"
                "were Windows only. Absolute numbers; error correction on vs off is the comparison.\n\n");
    const Stream s = make_stream(std::max(a.seconds, 2.0), a.mbps, a.packet_size);
    std::printf("stream: %zu packets, %.1f MB wire form, %.2f Mbit/s of ASF packets\n\n", s.packets.size(), s.wire_bytes / 1e6,
                static_cast<double>(s.wire_bytes) * 8 / 1e6 / s.duration_s);

    std::printf("1. real time, MulticastOutput (thread asfcast-mcast), %d alternating trials of %.0f s per mode\n", a.trials,
                a.seconds);
    std::printf("   %-22s %6s %10s %10s %10s %12s %14s %10s\n", "mode", "trial", "datagrams", "parity", "received", "Mbit sent",
                "CPU ms/Mbit", "CPU %");
    std::vector<double> cpu_per_mbit[2];
    for (int t = 0; t < a.trials; ++t)
        for (int k = 0; k < 2; ++k) {
            const int span = k == 0 ? 0 : 10;
            const RealTimeResult r = run_real_time(s, span, a.seconds);
            cpu_per_mbit[k].push_back(r.cpu_s * 1000 / r.mbit);
            std::printf("   %-22s %6d %10llu %10llu %10llu %12.1f %14.3f %9.2f%%%s\n",
                        span ? "error correction 10" : "no error correction", t + 1,
                        static_cast<unsigned long long>(r.datagrams), static_cast<unsigned long long>(r.parity),
                        static_cast<unsigned long long>(r.received), static_cast<double>(r.bytes) * 8 / 1e6,
                        cpu_per_mbit[k].back(), 100 * r.cpu_s / a.seconds,
                        (r.skipped || r.errors) ? (" (" + std::to_string(r.skipped) + " skipped, " + std::to_string(r.errors) +
                                                   " send errors)").c_str()
                                                : "");
        }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double off = median(cpu_per_mbit[0]), on = median(cpu_per_mbit[1]);
    std::printf("   median CPU per Mbit of stream: %.3f ms without error correction, %.3f ms with (%.2fx)\n\n", off, on,
                on / off);

    std::printf("2. send rate, one thread, %.0f s each\n", a.rate_seconds);
    std::printf("   %-38s %12s %12s %12s %14s\n", "mode", "packets/s", "Mbit/s ASF", "x real time", "CPU us/packet");
    for (int socket = 1; socket >= 0; --socket)
        for (int span : {0, 10}) {
            const RateResult r = run_rate(s, span, a.rate_seconds, socket);
            const double mbit_s = static_cast<double>(r.asf_bytes) * 8 / 1e6 / r.seconds;
            std::printf("   %-38s %12.0f %12.0f %12.0f %14.3f%s\n",
                        (std::string(socket ? "sendmsg to the group, " : "MsbSender alone, ") +
                         (span ? "error correction 10" : "no error correction")).c_str(),
                        static_cast<double>(r.data_packets) / r.seconds, mbit_s, mbit_s / a.mbps,
                        r.cpu_s * 1e6 / static_cast<double>(r.data_packets),
                        socket ? (" (" + std::to_string(r.datagrams) + " datagrams, " + std::to_string(r.received) +
                                  " received, " + std::to_string(r.errors) + " send errors)").c_str()
                               : "");
        }
    return 0;
}
