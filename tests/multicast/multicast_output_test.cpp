// MulticastOutput with real sockets: the stream sent to a group on the loopback (IPv4; sending and
// joining on 127.0.0.1), received by a socket of the test and read by the strict receiver; the
// .nsc file written before the first packet; Beacons before the stream; configuration errors.
// The *Netns* tests run in a network namespace with a veth pair (in_netns.sh): IPv6 groups and
// interfaces named by address or by name.
#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "../push/test_stream.hpp"
#include "asfcast/multicast/multicast.hpp"
#include "msb_receiver.hpp"

namespace asfcast::multicast {
namespace {

using namespace std::chrono_literals;

// A plain socket joined to the group, reading what arrives.
class GroupSocket {
public:
    GroupSocket(const std::string& group, std::uint16_t port, const std::string& interface = "127.0.0.1") {
        in6_addr g6{};
        in_addr g4{};
        const bool v6 = ::inet_pton(AF_INET6, group.c_str(), &g6) == 1;
        if (!v6 && ::inet_pton(AF_INET, group.c_str(), &g4) != 1) throw std::runtime_error("bad group " + group);
        fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        const int one = 1, buf = 8 << 20;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
        int rc;
        if (v6) {
            sockaddr_in6 sa{};
            sa.sin6_family = AF_INET6;
            sa.sin6_port = htons(port);
            ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
            ipv6_mreq m{};
            m.ipv6mr_multiaddr = g6;
            m.ipv6mr_interface = ::if_nametoindex(interface.c_str());
            rc = ::setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
        } else {
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(port);
            sa.sin_addr = g4;
            ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
            ip_mreq m{};
            m.imr_multiaddr = g4;
            ::inet_pton(AF_INET, interface.c_str(), &m.imr_interface);
            rc = ::setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
        }
        if (rc != 0) throw std::runtime_error(std::string("join: ") + std::strerror(errno));
    }
    ~GroupSocket() { ::close(fd_); }

    // Datagrams until `quiet` passes without one (at most `limit` in all).
    std::vector<Bytes> read(std::chrono::milliseconds quiet, std::chrono::milliseconds limit = 10s) {
        std::vector<Bytes> out;
        const auto end = std::chrono::steady_clock::now() + limit;
        Bytes buf(65536);
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
            for (int i = 0; i < 10000; ++i) {
                const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
                if (n < 0) break;
                out.emplace_back(buf.begin(), buf.begin() + n);
            }
        }
        return out;
    }

private:
    int fd_ = -1;
};

std::uint16_t test_port() {
    std::random_device rd;
    return static_cast<std::uint16_t>(30000 + rd() % 30000);
}

std::string test_group_v4() {
    std::random_device rd;
    return "239.255." + std::to_string(rd() % 250 + 1) + "." + std::to_string(rd() % 250 + 1);
}

std::filesystem::path temp_dir() {
    auto d = std::filesystem::temp_directory_path() / ("asfcast-mc-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
}

// The folder of the .nsc files goes at the end of the run.
struct RemoveTempDir : ::testing::Environment {
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("asfcast-mc-test-" + std::to_string(::getpid())), ignored);
    }
};
[[maybe_unused]] const auto* const remove_temp_dir = ::testing::AddGlobalTestEnvironment(new RemoveTempDir);

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool thread_named(const std::string& name) {
    DIR* d = ::opendir("/proc/self/task");
    if (!d) return false;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
        std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
        std::string n;
        if (std::getline(comm, n) && n == name) found = true;
    }
    ::closedir(d);
    return found;
}

struct Received {
    std::unique_ptr<msbtest::MsbReceiver> rx;
    std::vector<msbtest::ReceivedPacket> packets;
    std::size_t beacons = 0;
};

// Sends `n` packets of a test stream through a MulticastOutput and checks what arrives with the
// strict receiver.
void send_and_check(MulticastConfig cfg, GroupSocket& sock, std::size_t n) {
    const auto nsc_path = temp_dir() / ("stream-" + std::to_string(cfg.port) + ".nsc");
    cfg.nsc_path = nsc_path.string();
    cfg.name = "test, live";
    cfg.description = "test stream";
    MulticastOutput out(cfg);
    pushtest::TestStream ts(1400);
    const HeaderPtr h = ts.header();
    const std::string nsc = out.announce(h);
    EXPECT_EQ(read_file(nsc_path), nsc) << "written before the first packet";
    EXPECT_EQ(out.nsc_text(), nsc);
    const NscAnnouncement a = parse_nsc(nsc);
    EXPECT_EQ(a.ip_address, cfg.group);
    EXPECT_EQ(a.ip_port, cfg.port);
    EXPECT_EQ(a.time_to_live, static_cast<std::uint32_t>(cfg.ttl));
    EXPECT_EQ(a.default_ecc, static_cast<std::uint32_t>(cfg.msb.fec_span));
    ASSERT_EQ(a.formats.size(), 1u);
    EXPECT_EQ(a.formats[0].asf_header, h->bytes);
    EXPECT_EQ(a.formats[0].description, "test stream");

    auto feed = out.feed();
    feed->publish_header(h);
    const auto packets = ts.packets(n);
    for (const auto& p : packets) feed->publish_packet(p);
    EXPECT_TRUE(thread_named("asfcast-mcast"));
    feed->publish_end();
    ASSERT_TRUE(out.wait_finished(10s));
    const auto datagrams = sock.read(500ms);

    msbtest::MsbReceiver rx(msbtest::read_nsc(nsc), 1400);
    for (const auto& d : datagrams) rx.on_datagram(d.data(), d.size(), 0);
    rx.finish();
    for (const auto& v : rx.violations()) ADD_FAILURE() << v;
    const auto got = rx.take_packets();
    ASSERT_EQ(got.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
        const ByteView wire = packets[i]->wire_form();
        EXPECT_EQ(got[i].packet_id, i);
        ASSERT_EQ(got[i].asf.size(), wire.size());
        EXPECT_TRUE(std::equal(wire.begin() + 3, wire.end(), got[i].asf.begin() + 3));
    }
    const auto& st = out.stats();
    EXPECT_EQ(st.data_packets, n);
    EXPECT_EQ(st.parity_packets, (n + static_cast<std::size_t>(cfg.msb.fec_span) - 1) / static_cast<std::size_t>(cfg.msb.fec_span));
    EXPECT_EQ(st.datagrams, datagrams.size());
    EXPECT_EQ(st.send_errors, 0u);
    EXPECT_EQ(rx.counts().parity_checked, st.parity_packets.load());
    std::filesystem::remove(nsc_path);
}

TEST(MulticastOutput, StreamOnTheLoopbackReachesAReceiverIntact) {
    MulticastConfig cfg;
    cfg.group = test_group_v4();
    cfg.port = test_port();
    GroupSocket sock(cfg.group, cfg.port);
    send_and_check(cfg, sock, 137);
}

TEST(MulticastOutput, BeaconsWhileThereIsNothingToSend) {
    MulticastConfig cfg;
    cfg.group = test_group_v4();
    cfg.port = test_port();
    cfg.msb.beacon_interval = 1s;
    GroupSocket sock(cfg.group, cfg.port);
    MulticastOutput out(cfg);
    const auto datagrams = sock.read(2500ms, 2500ms);
    out.stop();
    ASSERT_GE(datagrams.size(), 2u);
    EXPECT_LE(datagrams.size(), 3u);
    for (const auto& d : datagrams) EXPECT_EQ(d, (Bytes{'M', 'S', 'B', ' '}));
    EXPECT_EQ(out.stats().beacons, datagrams.size());
}

TEST(MulticastOutput, ConfigurationErrorsNameTheSetting) {
    auto error = [](MulticastConfig c) -> std::string {
        try {
            MulticastOutput out(c);
        } catch (const MulticastError& e) {
            return e.what();
        }
        return "(no error)";
    };
    MulticastConfig c;
    c.group = "239.1.2.3";
    c.port = 5000;
    MulticastConfig x = c;
    x.group = "10.1.2.3";
    EXPECT_NE(error(x).find("not a multicast address"), std::string::npos) << error(x);
    x.group = "example.com";
    EXPECT_NE(error(x).find("not an IP address"), std::string::npos) << error(x);
    x = c;
    x.port = 0;
    EXPECT_NE(error(x).find("port 0"), std::string::npos);
    x = c;
    x.ttl = 256;
    EXPECT_NE(error(x).find("TTL 256"), std::string::npos);
    x = c;
    x.msb.fec_span = 16;
    EXPECT_NE(error(x).find("1..15"), std::string::npos);
    x = c;
    x.msb.beacon_interval = 20s;
    EXPECT_NE(error(x).find("1 s..10 s"), std::string::npos);
    x = c;
    x.interface = "nosuchif0";
    EXPECT_NE(error(x).find("neither an address nor an interface"), std::string::npos) << error(x);
    x.interface = "192.0.2.55";
    EXPECT_NE(error(x).find("no interface of this host has that address"), std::string::npos) << error(x);
    x.interface = "::1";
    EXPECT_NE(error(x).find("IPv6 address and the group IPv4"), std::string::npos) << error(x);
}

TEST(MulticastOutput, UnwritableNscPathStopsTheStart) {
    MulticastConfig cfg;
    cfg.group = test_group_v4();
    cfg.port = test_port();
    cfg.nsc_path = "/nonexistent-dir/stream.nsc";
    MulticastOutput out(cfg);
    pushtest::TestStream ts(1400);
    try {
        out.announce(ts.header());
        ADD_FAILURE() << "announced to an unwritable path";
    } catch (const MulticastError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/stream.nsc"), std::string::npos) << e.what();
    }
}

TEST(MulticastOutput, HeaderChangeRewritesTheNscBeforeItsPackets) {
    MulticastConfig cfg;
    cfg.group = test_group_v4();
    cfg.port = test_port();
    const auto nsc_path = temp_dir() / "change.nsc";
    cfg.nsc_path = nsc_path.string();
    GroupSocket sock(cfg.group, cfg.port);
    MulticastOutput out(cfg);
    pushtest::TestStream a(1400), b(1400, 10, 24);
    const HeaderPtr ha = a.header(0), hb = b.header(1);
    out.announce(ha);
    auto feed = out.feed();
    feed->publish_header(ha);
    for (const auto& p : a.packets(15)) feed->publish_packet(p);
    feed->publish_header(hb);
    for (const auto& p : b.packets(7)) feed->publish_packet(p);
    feed->publish_end();
    ASSERT_TRUE(out.wait_finished(10s));
    const NscAnnouncement ann = parse_nsc(read_file(nsc_path));
    ASSERT_EQ(ann.formats.size(), 2u);
    EXPECT_EQ(ann.formats[0].asf_header, ha->bytes);
    EXPECT_EQ(ann.formats[1].asf_header, hb->bytes);
    msbtest::MsbReceiver rx(msbtest::read_nsc(read_file(nsc_path)), 1400);
    for (const auto& d : sock.read(500ms)) rx.on_datagram(d.data(), d.size(), 0);
    rx.finish();
    for (const auto& v : rx.violations()) ADD_FAILURE() << v;
    const auto got = rx.take_packets();
    ASSERT_EQ(got.size(), 22u);
    EXPECT_EQ(got[0].format_id, ann.formats[0].format_id);
    EXPECT_EQ(got[21].format_id, ann.formats[1].format_id);
    EXPECT_EQ(got[21].stream_id & 0x8000, 0x8000) << "the second stream has bit 15 set";
    std::filesystem::remove(nsc_path);
}

// ---- In a network namespace with a veth pair (tests/multicast/in_netns.sh) ----

const char* netns_if() { return std::getenv("MULTICAST_TEST_IF"); }

TEST(MulticastOutputNetns, Ipv6GroupOnAnInterfaceNamedByAddress) {
    if (!netns_if()) GTEST_SKIP() << "runs in in_netns.sh (MULTICAST_TEST_IF)";
    MulticastConfig cfg;
    cfg.group = "ff15::a5f:1";
    cfg.port = test_port();
    cfg.interface = std::getenv("MULTICAST_TEST_IF_V6");
    cfg.ttl = 3;
    GroupSocket sock(cfg.group, cfg.port, netns_if());
    send_and_check(cfg, sock, 64);
}

TEST(MulticastOutputNetns, Ipv6GroupOnAnInterfaceNamedByName) {
    if (!netns_if()) GTEST_SKIP() << "runs in in_netns.sh (MULTICAST_TEST_IF)";
    MulticastConfig cfg;
    cfg.group = "ff15::a5f:2";
    cfg.port = test_port();
    cfg.interface = netns_if();
    cfg.msb.fec_span = 4;
    GroupSocket sock(cfg.group, cfg.port, netns_if());
    send_and_check(cfg, sock, 41);
}

TEST(MulticastOutputNetns, Ipv4GroupOnAnInterfaceNamedByName) {
    if (!netns_if()) GTEST_SKIP() << "runs in in_netns.sh (MULTICAST_TEST_IF)";
    MulticastConfig cfg;
    cfg.group = test_group_v4();
    cfg.port = test_port();
    cfg.interface = netns_if();
    GroupSocket sock(cfg.group, cfg.port, std::getenv("MULTICAST_TEST_IF_V4"));
    send_and_check(cfg, sock, 50);
}

TEST(MulticastOutputNetns, Ipv6WithoutAMulticastInterfaceIsAClearError) {
    if (!netns_if()) GTEST_SKIP() << "runs in in_netns.sh (MULTICAST_TEST_IF)";
    // The loopback of a namespace has no IPv6 multicast route: said at the start, not per datagram.
    MulticastConfig cfg;
    cfg.group = "ff15::a5f:3";
    cfg.port = test_port();
    try {
        MulticastOutput out(cfg);
        ADD_FAILURE() << "IPv6 multicast on the loopback started";
    } catch (const MulticastError& e) {
        EXPECT_NE(std::string(e.what()).find("name an interface"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace asfcast::multicast
