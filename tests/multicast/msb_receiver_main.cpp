// msb_receiver: a multicast client for the interop test, written from MS-MSB (MsbReceiver does
// the protocol). It joins the group, reads Beacons and MSB packets, drops some of them on purpose
// (a seeded loss model) and lets the error correction rebuild them, then writes the ASF stream it
// reassembled -- the header from the .nsc file, each packet padded back to the packet size -- as
// a file a player can read. It listens before the encoder starts (so that it gets the stream from
// its first packet) and reads the .nsc file once the encoder has written it.
//
//   msb_receiver --group G --port P [--interface ADDR|NAME] --nsc FILE --out FILE
//                [--drop-one-in N] [--drop-mode spread|independent] [--seed S]
//                [--eos-timeout S] [--open-timeout S] [--seconds S] [--nsc-wait S]
//
// Loss models: `spread` drops one datagram in every N, at a random place in each run of N, never
// two of one error correction cycle (a parity packet repairs one loss; a second one in the same
// cycle is postponed to the next cycle); `independent` drops each datagram with probability 1/N
// (two losses in one cycle then happen and cannot be rebuilt). Beacons are never dropped.
//
// Exit 0 when the stream ended (End of Stream timer, MS-MSB 3.2.6.2) without a violation; 1 on a
// violation, a timeout or an I/O error. The last line is the summary the test reads.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "msb_receiver.hpp"

using namespace msbtest;

namespace {

struct Args {
    std::string group, interface, nsc_path, out;
    int port = 0;
    int drop_one_in = 0;
    std::string drop_mode = "spread";
    unsigned seed = 1;
    double eos_timeout = 3, open_timeout = 20, seconds = 120, nsc_wait = 30;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "msb_receiver: %s\n", what.c_str());
    std::exit(1);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        if (i + 1 >= argc) die("missing value after " + f);
        const std::string v = argv[++i];
        if (f == "--group") a.group = v;
        else if (f == "--port") a.port = std::atoi(v.c_str());
        else if (f == "--interface") a.interface = v;
        else if (f == "--nsc") a.nsc_path = v;
        else if (f == "--out") a.out = v;
        else if (f == "--drop-one-in") a.drop_one_in = std::atoi(v.c_str());
        else if (f == "--drop-mode") a.drop_mode = v;
        else if (f == "--seed") a.seed = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 10));
        else if (f == "--eos-timeout") a.eos_timeout = std::atof(v.c_str());
        else if (f == "--open-timeout") a.open_timeout = std::atof(v.c_str());
        else if (f == "--seconds") a.seconds = std::atof(v.c_str());
        else if (f == "--nsc-wait") a.nsc_wait = std::atof(v.c_str());
        else die("unknown option " + f);
    }
    if (a.group.empty() || a.port <= 0 || a.port > 65535 || a.nsc_path.empty() || a.out.empty())
        die("usage: msb_receiver --group G --port P [--interface ADDR|NAME] --nsc FILE --out FILE [--drop-one-in N] ...");
    if (a.drop_mode != "spread" && a.drop_mode != "independent") die("--drop-mode is spread or independent");
    return a;
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

unsigned ifindex_of(const std::string& iface, int family) {
    if (iface.empty()) return 0;
    if (unsigned i = ::if_nametoindex(iface.c_str())) return i;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) die("getifaddrs failed");
    unsigned found = 0;
    for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != family) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        const void* a = family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
                                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
        ::inet_ntop(family, a, buf, sizeof buf);
        if (iface == buf) found = ::if_nametoindex(i->ifa_name);
    }
    ::freeifaddrs(list);
    if (!found) die("no interface " + iface);
    return found;
}

// Joins the group (MS-MSB 3.2.3) with a large receive buffer: a key frame comes as a burst.
int join(const Args& a, bool& v6) {
    in6_addr g6{};
    in_addr g4{};
    v6 = ::inet_pton(AF_INET6, a.group.c_str(), &g6) == 1;
    if (!v6 && ::inet_pton(AF_INET, a.group.c_str(), &g4) != 1) die("--group is not an IP address: " + a.group);
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const int rcvbuf = 32 << 20;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (v6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(static_cast<std::uint16_t>(a.port));
        sa.sin6_addr = in6addr_any;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die(std::string("bind: ") + std::strerror(errno));
        ipv6_mreq m{};
        m.ipv6mr_multiaddr = g6;
        m.ipv6mr_interface = a.interface.empty() ? ::if_nametoindex("lo") : ifindex_of(a.interface, AF_INET6);
        if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) != 0) die(std::string("IPV6_JOIN_GROUP: ") + std::strerror(errno));
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    } else {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(a.port));
        sa.sin_addr = g4;  // only this group's datagrams
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die(std::string("bind: ") + std::strerror(errno));
        ip_mreqn m{};
        m.imr_multiaddr = g4;
        in_addr ifa{};
        if (a.interface.empty()) ::inet_pton(AF_INET, "127.0.0.1", &ifa);
        else if (::inet_pton(AF_INET, a.interface.c_str(), &ifa) != 1) m.imr_ifindex = static_cast<int>(ifindex_of(a.interface, AF_INET));
        m.imr_address = ifa;
        if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) die(std::string("IP_ADD_MEMBERSHIP: ") + std::strerror(errno));
        ::setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

struct Datagram {
    std::vector<std::uint8_t> bytes;
    double t = 0;
    std::string source;
    int ttl = -1;
};

// Reads one datagram with its source address and IP TTL / hop limit; false when none is waiting.
bool receive(int fd, Datagram& d) {
    static std::vector<std::uint8_t> buf(65536);
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
        die(std::string("recvmsg: ") + std::strerror(errno));
    }
    d.bytes.assign(buf.begin(), buf.begin() + n);
    d.t = now_s();
    char addr[INET6_ADDRSTRLEN] = {};
    if (from.ss_family == AF_INET) ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&from)->sin_addr, addr, sizeof addr);
    else ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr, addr, sizeof addr);
    d.source = addr;
    d.ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof v);
            d.ttl = v;
        }
    }
    return true;
}

// The ASF data packet size from the header's File Properties Object (ASF-notes §5: GUID
// 8CABDCA1-A947-11CF-8EE4-00C00C205365, Maximum Data Packet Size at offset 96).
std::uint32_t packet_size_of(const Bytes& header) {
    static const std::uint8_t guid[16] = {0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11,
                                          0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65};
    for (std::size_t at = 30; at + 104 <= header.size(); ++at)
        if (std::memcmp(header.data() + at, guid, 16) == 0) {
            const std::uint8_t* p = header.data() + at;
            const std::uint32_t min = p[92] | (p[93] << 8) | (p[94] << 16) | (std::uint32_t{p[95]} << 24);
            const std::uint32_t max = p[96] | (p[97] << 8) | (p[98] << 16) | (std::uint32_t{p[99]} << 24);
            if (min != max || max == 0) die("the header's packet size is not fixed");
            return max;
        }
    die("no File Properties Object in the .nsc file's header");
}

// The seeded loss model (see the top of the file).
class LossModel {
public:
    LossModel(const Args& a) : n_(a.drop_one_in), spread_(a.drop_mode == "spread"), rng_(a.seed) {
        if (n_ > 0) pick();
    }
    bool drop(const std::vector<std::uint8_t>& d) {
        if (n_ <= 0 || d.size() == 4) return false;  // Beacons pass
        const int cycle = d.size() > 10 && (d[8] & 0x80) ? d[10] : -1;
        if (!spread_) return std::uniform_int_distribution<int>(0, n_ - 1)(rng_) == 0;
        bool out = false;
        if (index_in_run_ == target_) pending_ = true;
        if (pending_ && (cycle < 0 || cycle != last_dropped_cycle_)) {
            out = true;
            pending_ = false;
            last_dropped_cycle_ = cycle;
        }
        if (++index_in_run_ == n_) pick();
        return out;
    }

private:
    void pick() {
        index_in_run_ = 0;
        target_ = std::uniform_int_distribution<int>(0, n_ - 1)(rng_);
    }
    int n_;
    bool spread_;
    std::mt19937 rng_;
    int index_in_run_ = 0, target_ = 0;
    bool pending_ = false;
    int last_dropped_cycle_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    bool v6 = false;
    const int fd = join(args, v6);
    std::printf("listening on %s port %d\n", args.group.c_str(), args.port);
    std::fflush(stdout);

    const double start = now_s();
    std::deque<Datagram> early;  // before the .nsc file is read
    std::optional<ReceiverNsc> nsc;
    std::optional<MsbReceiver> rx;
    std::uint32_t packet_size = 0;
    LossModel loss(args);
    std::uint64_t dropped_data = 0, dropped_parity = 0, wrong_source = 0, wrong_ttl = 0;
    std::vector<std::string> problems;
    std::optional<double> first_any;  // first Beacon or MSB packet (the Open timer stops)
    Bytes file_header;
    std::vector<Bytes> packets;
    std::uint64_t rebuilt_written = 0, other_stream = 0;
    std::optional<std::uint16_t> stream_id;
    bool last_msb_was_parity = false;  // the last MSB packet that arrived, dropped or not

    auto settle_packets = [&] {
        for (auto& p : rx->take_packets()) {
            if (!stream_id) {
                stream_id = p.stream_id;
                file_header = nsc->headers.at(p.format_id);
            }
            if (p.stream_id != *stream_id) {  // one stream per file
                ++other_stream;
                continue;
            }
            Bytes b = std::move(p.asf);
            if (b.size() > packet_size) b.resize(packet_size);  // a rebuilt packet's zero extension
            b.resize(packet_size, 0);                          // MS-MSB 2.2.4: padding removed on the wire
            packets.push_back(std::move(b));
            rebuilt_written += p.rebuilt;
        }
    };
    auto process = [&](Datagram& d) {
        if (!first_any) first_any = d.t;
        if (!nsc->adapter.empty() && d.source != nsc->adapter) ++wrong_source;
        if (nsc->ttl && d.ttl >= 0 && static_cast<std::uint32_t>(d.ttl) != *nsc->ttl) ++wrong_ttl;
        if (d.bytes.size() > 8) last_msb_was_parity = d.bytes[8] & 0x10;
        if (loss.drop(d.bytes)) {
            const bool parity = d.bytes.size() > 8 && (d.bytes[8] & 0x10);
            ++(parity ? dropped_parity : dropped_data);
            return;
        }
        rx->on_datagram(d.bytes.data(), d.bytes.size(), d.t);
        settle_packets();
    };

    bool ended = false;
    for (;;) {
        const double now = now_s();
        if (now - start > args.seconds) {
            problems.push_back("gave up after --seconds " + std::to_string(args.seconds));
            break;
        }
        if (!nsc) {
            std::ifstream in(args.nsc_path, std::ios::binary);
            if (in) {
                const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                try {
                    nsc = read_nsc(text);
                } catch (const std::exception& e) {
                    die(std::string("the .nsc file: ") + e.what());
                }
                if (nsc->group != args.group || nsc->port != args.port)
                    die("the .nsc file announces " + nsc->group + " port " + std::to_string(nsc->port) + ", not the group joined");
                packet_size = packet_size_of(nsc->headers.begin()->second);
                rx.emplace(*nsc, packet_size);
                std::printf("nsc: group %s port %u, ttl %d, Default Ecc %d, %zu format(s), adapter %s, packet size %u\n",
                            nsc->group.c_str(), nsc->port, nsc->ttl ? static_cast<int>(*nsc->ttl) : -1,
                            nsc->default_ecc ? static_cast<int>(*nsc->default_ecc) : -1, nsc->headers.size(),
                            nsc->adapter.empty() ? "-" : nsc->adapter.c_str(), packet_size);
                std::fflush(stdout);
                for (auto& d : early) process(d);
                early.clear();
            } else if (now - start > args.nsc_wait) {
                die("no .nsc file at " + args.nsc_path + " after " + std::to_string(args.nsc_wait) + " s");
            }
        }
        // MS-MSB 3.2.3: the Open timer (stopped by the first Beacon or MSB packet).
        if (!first_any && now - start > args.open_timeout) die("Open timer expired: no Beacon and no MSB packet");
        // MS-MSB 3.2.6.2: the End of Stream timer, reset by every MSB packet of a known format.
        if (rx && rx->last_packet_time() && now - *rx->last_packet_time() > args.eos_timeout) {
            ended = true;
            break;
        }
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        Datagram d;
        for (int burst = 0; burst < 4096 && receive(fd, d); ++burst) {
            if (!nsc) {
                if (!first_any) first_any = d.t;
                if (early.size() > 500000) die("too many datagrams before the .nsc file appeared");
                early.push_back(std::move(d));
                d = Datagram{};
            } else {
                process(d);
            }
        }
    }
    ::close(fd);
    if (!rx) die("no .nsc file was read");
    rx->finish();
    settle_packets();

    const ReceiverCounts& c = rx->counts();
    for (const auto& v : rx->violations()) problems.push_back(v);
    if (wrong_source) problems.push_back(std::to_string(wrong_source) + " datagrams not from the Multicast Adapter " + nsc->adapter);
    if (wrong_ttl) problems.push_back(std::to_string(wrong_ttl) + " datagrams whose TTL is not the .nsc's Time To Live");
    if (c.unknown_format) problems.push_back(std::to_string(c.unknown_format) + " MSB packets of a format the .nsc does not list");
    if (c.data_packets == 0) problems.push_back("no MSB packet received");
    if (nsc->default_ecc && !last_msb_was_parity)
        problems.push_back("the last MSB packet is not a parity packet (3.1.5.3: the last packet ends the last cycle)");

    std::ofstream out(args.out, std::ios::binary);
    out.write(reinterpret_cast<const char*>(file_header.data()), static_cast<std::streamsize>(file_header.size()));
    for (const auto& b : packets) out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    out.close();
    if (!out) problems.push_back("cannot write " + args.out);

    for (const auto& p : problems) std::fprintf(stderr, "VIOLATION: %s\n", p.c_str());
    std::printf("beacons %llu (min gap %.2f s, %llu while streaming); data %llu, parity %llu received; dropped %llu data + %llu parity; "
                "recovered %llu, lost %llu; cycles %llu, parity verified %llu; wrote %zu packets (%llu rebuilt, %llu of another stream "
                "skipped) to %s; %s\n",
                static_cast<unsigned long long>(c.beacons), c.min_beacon_gap_s,
                static_cast<unsigned long long>(c.beacons_while_streaming), static_cast<unsigned long long>(c.data_packets),
                static_cast<unsigned long long>(c.parity_packets), static_cast<unsigned long long>(dropped_data),
                static_cast<unsigned long long>(dropped_parity), static_cast<unsigned long long>(c.recovered),
                static_cast<unsigned long long>(c.lost), static_cast<unsigned long long>(c.cycles),
                static_cast<unsigned long long>(c.parity_checked), packets.size(),
                static_cast<unsigned long long>(rebuilt_written), static_cast<unsigned long long>(other_stream), args.out.c_str(),
                ended ? "end of stream" : "stopped");
    return problems.empty() && ended ? 0 : 1;
}
