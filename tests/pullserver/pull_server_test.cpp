// The pull server over real sockets on 127.0.0.1, fed by a synthetic broadcast made with the real
// asfmux HeaderBuilder and Packetizer: Describe/Play bytes, late joiners on key frames, stream
// selection, mounts, header change, end of stream, and the robustness cases (slowloris, a client
// that stops reading, oversized heads, garbage, connect/disconnect churn with flat memory).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/pullserver/framing_reader.hpp"
#include "asfcast/pullserver/pullserver.hpp"
#include "../asfmux/test_util.hpp"

namespace asfcast::pull {
namespace {

using namespace std::chrono_literals;

// A live broadcast at about 1 Mbit/s: 30 fps video (a key frame every 30 frames) and 20 audio
// frames per second, published to every sink in real time by its own thread.
class SyntheticBroadcast {
public:
    // `video_streams` > 1: MBR renditions (streams 1..N, key frames at the same times), audio N+1.
    explicit SyntheticBroadcast(std::vector<std::shared_ptr<OutputFeed>> sinks, bool with_video = true,
                                int video_streams = 1)
        : sinks_(std::move(sinks)), with_video_(with_video), video_streams_(with_video ? video_streams : 0) {
        config_.packet_size = 4096;
        config_.preroll_ms = 1000;
        config_.max_packet_delay_ms = 50;
        for (int v = 1; v <= video_streams_; ++v) {
            VideoStreamFormat f = video_format();
            f.stream = v;
            streams_.video.push_back(f);
        }
        AudioStreamFormat a = audio_format();
        a.stream = audio_stream();
        streams_.audio.push_back(a);
        asfmux::Metadata md;
        md.title = "synthetic";
        builder_ = std::make_unique<asfmux::HeaderBuilder>(config_, streams_, md, asfmux::random_guid(), 0);
        packetizer_ = std::make_unique<asfmux::Packetizer>(config_, streams_);
    }
    ~SyntheticBroadcast() { stop(); }

    void publish_header() {
        auto h = std::make_shared<MuxedHeader>(builder_->build_live());
        h->version = ++header_version_;
        for (auto& s : sinks_) s->publish_header(h);
    }

    void start() {
        publish_header();
        thread_ = std::thread([this] { run(); });
    }
    void stop() {
        running_ = false;
        if (thread_.joinable()) thread_.join();
    }
    void end() {
        stop();
        std::vector<DataPacket> out;
        packetizer_->flush(out);
        publish(out);
        for (auto& s : sinks_) s->publish_end();
    }
    std::uint64_t packets() const { return packets_.load(); }
    int audio_stream() const { return with_video_ ? video_streams_ + 1 : 2; }

    // The asfmux tests' stream formats, at this broadcast's rates.
    static VideoStreamFormat video_format() {
        VideoStreamFormat v = testutil::test_video();
        v.bitrate = 880000;
        v.frame_rate = 30.0;
        return v;
    }
    static AudioStreamFormat audio_format() {
        AudioStreamFormat a = testutil::test_audio();
        a.block_align = 743;
        return a;
    }

private:
    void publish(std::vector<DataPacket>& out) {
        for (auto& p : out) {
            p.capture_us = start_us_ + p.min_pts;  // media time 0 was "captured" at start
            auto pp = std::make_shared<const DataPacket>(std::move(p));
            for (auto& s : sinks_) s->publish_packet(pp);
            ++packets_;
        }
        out.clear();
    }

    void run() {
        std::mt19937 rng(7);
        std::vector<DataPacket> out;
        const Micros start = start_us_ = monotonic_us();
        Micros next_video = 0, next_audio = 0;
        int frame = 0;
        while (running_) {
            const Micros media = monotonic_us() - start;
            while (with_video_ && next_video <= media) {
                const bool key = frame % 30 == 0;
                for (int v = 1; v <= video_streams_; ++v) {
                    Bytes data((key ? 12000 : 3200) / static_cast<std::size_t>(v));
                    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
                    packetizer_->add(EncodedFrame{v, MediaKind::video, next_video, next_video, key, std::move(data)},
                                     monotonic_us(), out);
                }
                next_video += 33'333;
                ++frame;
            }
            while (next_audio <= media) {
                packetizer_->add(EncodedFrame{audio_stream(), MediaKind::audio, next_audio, next_audio, false,
                                              Bytes(743, 0x55)},
                                 monotonic_us(), out);
                next_audio += 46'440;
            }
            packetizer_->poll(monotonic_us(), out);
            publish(out);
            std::this_thread::sleep_for(5ms);
        }
    }

    std::vector<std::shared_ptr<OutputFeed>> sinks_;
    bool with_video_;
    int video_streams_ = 1;
    asfmux::MuxConfig config_;
    asfmux::StreamSet streams_;
    std::unique_ptr<asfmux::HeaderBuilder> builder_;
    std::unique_ptr<asfmux::Packetizer> packetizer_;
    std::thread thread_;
    std::atomic<bool> running_{true};
    std::atomic<std::uint64_t> packets_{0};
    std::uint32_t header_version_ = 0;
    std::atomic<Micros> start_us_{0};
};

// A blocking test client on a plain socket, every operation bounded by a timeout.
class Client {
public:
    explicit Client(std::uint16_t port, const char* from = "127.0.0.1", int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        // Before connect, so the advertised window is small from the start.
        if (receive_buffer) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        ::inet_pton(AF_INET, from, &local.sin_addr);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Client() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    bool connected() const { return connected_; }

    bool send(std::string_view s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

    // Reads what arrives within `timeout` (returns early once `enough` bytes are in).
    std::size_t read_for(std::chrono::milliseconds timeout, std::size_t enough = SIZE_MAX) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::size_t got = 0;
        std::uint8_t buf[65536];
        while (got < enough && !eof_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                eof_ = true;
                break;
            }
            data_.insert(data_.end(), buf, buf + n);
            got += static_cast<std::size_t>(n);
        }
        return got;
    }
    // Reads until the end of the HTTP head; returns it (without the body bytes that followed).
    std::string read_head(std::chrono::milliseconds timeout = 3000ms) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            std::string_view s(reinterpret_cast<const char*>(data_.data()), data_.size());
            if (auto end = s.find("\r\n\r\n"); end != std::string_view::npos) {
                std::string head(s.substr(0, end + 4));
                data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(end + 4));
                return head;
            }
            if (eof_ || std::chrono::steady_clock::now() > deadline) return {};
            read_for(100ms, 1);
        }
    }
    bool eof() const { return eof_; }
    Bytes& data() { return data_; }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    Bytes data_;
};

const char* kPlay =
    "GET / HTTP/1.0\r\nAccept: */*\r\nUser-Agent: NSPlayer/11.0.0.1234\r\nHost: x\r\n"
    "Pragma: no-cache,rate=1.000,stream-time=0,stream-offset=0:0,packet-num=4294967295,max-duration=0\r\n"
    "Pragma: xPlayStrm=1\r\nPragma: xClientGUID={00000000-0000-0000-0000-000000000000}\r\n"
    "Pragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0\r\n\r\n";

std::vector<FramedPacket> packets_of(Bytes& bytes, std::string* error = nullptr, std::vector<Bytes>* payloads = nullptr) {
    FramedStreamReader r;
    r.feed(bytes);
    std::vector<FramedPacket> out;
    while (auto p = r.next()) {
        if (payloads) payloads->emplace_back(p->payload.begin(), p->payload.end());
        p->payload = {};
        out.push_back(*p);
    }
    if (error) *error = r.error();
    return out;
}

std::size_t rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    return 0;
}

class PullServerTest : public ::testing::Test {
protected:
    void start(PullConfig config = {}, bool with_video = true, int video_streams = 1) {
        config.port = 0;
        server_ = std::make_unique<PullServer>(config);
        auto sink = server_->add_mount("/");
        server_->start();
        broadcast_ = std::make_unique<SyntheticBroadcast>(std::vector<std::shared_ptr<OutputFeed>>{sink}, with_video,
                                                          video_streams);
        broadcast_->start();
        std::this_thread::sleep_for(300ms);
    }
    void TearDown() override {
        if (broadcast_) broadcast_->stop();
        if (server_) server_->stop();
    }
    std::uint16_t port() const { return server_->port(); }

    std::unique_ptr<PullServer> server_;
    std::unique_ptr<SyntheticBroadcast> broadcast_;
};

TEST_F(PullServerTest, DescribeAnswersOneHeaderWithContentLength) {
    start();
    Client c(port());
    ASSERT_TRUE(c.send("GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nPragma: no-cache\r\n\r\n"));
    const std::string head = c.read_head();
    EXPECT_NE(head.find("HTTP/1.0 200 OK\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Server: Rex/"), std::string::npos);
    EXPECT_NE(head.find("Content-Type: application/vnd.ms.wms-hdr.asfv1\r\n"), std::string::npos);
    EXPECT_NE(head.find("Pragma: features=\"broadcast,playlist\"\r\n"), std::string::npos);
    EXPECT_NE(head.find("Pragma: client-id="), std::string::npos);
    const auto cl = head.find("Content-Length: ");
    ASSERT_NE(cl, std::string::npos);
    const std::size_t length = std::stoul(head.substr(cl + 16));
    c.read_for(2000ms, length + 1);
    ASSERT_EQ(c.data().size(), length);  // exactly one $H, nothing after it
    std::vector<Bytes> payloads;
    auto packets = packets_of(c.data(), nullptr, &payloads);
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(packets[0].type, 'H');
    EXPECT_EQ(packets[0].afflags, 0x0C);
    const auto info = asfmux::parse_header(payloads[0]);
    EXPECT_EQ(info.flags & 1u, 1u);  // broadcast
}

TEST_F(PullServerTest, PlayStreamsHeaderThenDataFromAKeyFrame) {
    start();
    std::this_thread::sleep_for(1500ms);  // join a broadcast well under way
    Client c(port());
    ASSERT_TRUE(c.send(kPlay));
    const std::string head = c.read_head();
    EXPECT_NE(head.find("200 OK"), std::string::npos) << head;
    EXPECT_NE(head.find("Content-Type: application/x-mms-framed\r\n"), std::string::npos);
    c.read_for(3000ms);
    std::string error;
    std::vector<Bytes> payloads;
    auto packets = packets_of(c.data(), &error, &payloads);
    EXPECT_EQ(error, "");
    ASSERT_GT(packets.size(), 20u);
    EXPECT_EQ(packets[0].type, 'H');
    const auto info = asfmux::parse_header(payloads[0]);
    // $D: AFFlags count from 0; LocationId is the ASF packet number and increases.
    std::uint8_t expect_seq = 0;
    std::uint32_t last_location = 0;
    for (std::size_t i = 1; i < packets.size(); ++i) {
        ASSERT_EQ(packets[i].type, 'D');
        EXPECT_EQ(packets[i].afflags, expect_seq++);
        if (i > 1) {
            EXPECT_GT(packets[i].location_id, last_location);
        }
        last_location = packets[i].location_id;
        const auto pi = asfmux::parse_wire_packet(payloads[i], info.min_packet_size);
        EXPECT_EQ(pi.padding, 0u);  // MS-WMSP 2.2.3.3: no padding in $D
        if (i == 1) {
            ASSERT_FALSE(pi.payloads.empty());
            EXPECT_EQ(pi.payloads[0].stream, 1);
            EXPECT_TRUE(pi.payloads[0].keyframe);  // a late joiner starts on a key frame
            EXPECT_EQ(pi.payloads[0].offset, 0u);
        }
    }
    EXPECT_GT(packets[1].location_id, 0u);  // not the first packet of the broadcast: a late join
    // Packets sent at the live edge (after the start-up burst) are counted in the latency stats.
    const PullStats st = server_->stats();
    EXPECT_GT(st.latency_samples, 0u);
    EXPECT_GE(st.latency_p99_ms, st.latency_p50_ms);
    EXPECT_GE(st.latency_max_ms + 1, st.latency_p99_ms);
}

// The same stream whether a wake's writes go out in one io_uring submission (batch_sends, the
// default where the kernel offers it) or one sendmsg each: several clients at once, each with its
// own AFFlags sequence from 0 and increasing LocationIds, the same packets.
TEST_F(PullServerTest, BatchedAndPlainSendsStreamTheSame) {
    for (bool batched : {true, false}) {
        SCOPED_TRACE(batched ? "batched" : "plain sendmsg");
        PullConfig config;
        config.batch_sends = batched;
        start(config);
        std::this_thread::sleep_for(1000ms);
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < 4; ++i) {
            clients.push_back(std::make_unique<Client>(port()));
            ASSERT_TRUE(clients.back()->send(kPlay));
        }
        for (auto& c : clients) EXPECT_NE(c->read_head().find("200 OK"), std::string::npos);
        std::vector<std::vector<std::uint32_t>> locations;
        for (auto& c : clients) {
            c->read_for(700ms);
            std::string error;
            auto packets = packets_of(c->data(), &error);
            EXPECT_EQ(error, "");
            ASSERT_GT(packets.size(), 10u);
            EXPECT_EQ(packets[0].type, 'H');
            std::uint8_t seq = 0;
            locations.emplace_back();
            for (std::size_t i = 1; i < packets.size(); ++i) {
                ASSERT_EQ(packets[i].type, 'D');
                EXPECT_EQ(packets[i].afflags, seq++);
                if (!locations.back().empty()) {
                    EXPECT_EQ(packets[i].location_id, locations.back().back() + 1);
                }
                locations.back().push_back(packets[i].location_id);
            }
        }
        // Clients read one after another: each got a run of consecutive packets from the same
        // start (the newest key frame when they connected, within a few hundred ms of each other).
        for (auto& l : locations) EXPECT_LE(l.front(), locations[0].back());
        clients.clear();
        TearDown();
        server_.reset();
        broadcast_.reset();
    }
}

// Many clients with small submissions and more packets per wake than one write takes (8): the batch
// fills during a wake and again while its results are handed out (each result queues the client's
// next write), and every client still gets a clean stream.
TEST_F(PullServerTest, FullBatchesAndFollowUpWritesKeepEveryStreamClean) {
    PullConfig config;
    config.batch_entries = 3;
    config.send_interval_ms = 400;  // about 12 packets per wake: two writes per client
    start(config);
    std::this_thread::sleep_for(1500ms);  // start-up bursts of up to a second of packets
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 24; ++i) {
        clients.push_back(std::make_unique<Client>(port()));
        ASSERT_TRUE(clients.back()->send(kPlay));
    }
    for (auto& c : clients) EXPECT_NE(c->read_head().find("200 OK"), std::string::npos);
    // Read every client in turn for a while (one left unread would rightly fall behind and skip).
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    for (int round = 0; round < 1000 && std::chrono::steady_clock::now() < until; ++round)
        for (auto& c : clients) c->read_for(2ms);
    for (auto& c : clients) {
        std::string error;
        auto packets = packets_of(c->data(), &error);
        EXPECT_EQ(error, "");
        ASSERT_GT(packets.size(), 10u);
        std::uint8_t seq = 0;
        for (std::size_t i = 1; i < packets.size(); ++i) {
            ASSERT_EQ(packets[i].type, 'D');
            EXPECT_EQ(packets[i].afflags, seq++);
            if (i > 1) {
                EXPECT_EQ(packets[i].location_id, packets[i - 1].location_id + 1);
            }
        }
    }
}

// The ring holds max_lag_ms + 2 s of the stream, not ring_packets: what is older is of use to no
// client. Late joiners still start on the newest key frame (one a second here).
TEST_F(PullServerTest, RingKeepsMaxLagPlusAMargin) {
    PullConfig config;
    config.max_lag_ms = 500;  // keeps 2.5 s: the broadcast runs 6 s
    start(config);
    std::this_thread::sleep_for(6000ms);
    const std::uint64_t published = broadcast_->packets();
    const PullStats st = server_->stats();
    EXPECT_GT(st.ring_packets, 0u);
    EXPECT_LT(st.ring_packets, published * 3.6 / 6) << published << " packets published in 6 s";
    Client c(port());
    ASSERT_TRUE(c.send(kPlay));
    EXPECT_NE(c.read_head().find("200 OK"), std::string::npos);
    c.read_for(1000ms);
    std::vector<Bytes> payloads;
    auto packets = packets_of(c.data(), nullptr, &payloads);
    ASSERT_GT(packets.size(), 2u);
    const auto info = asfmux::parse_header(payloads[0]);
    const auto first = asfmux::parse_wire_packet(payloads[1], info.min_packet_size);
    ASSERT_FALSE(first.payloads.empty());
    EXPECT_TRUE(first.payloads[0].keyframe);
}

TEST_F(PullServerTest, StreamSelectionSendsOnlyTheChosenStreams) {
    start();
    Client c(port());
    std::string play = kPlay;
    play.replace(play.find("ffff:1:0 ffff:2:0"), 17, "ffff:1:2 ffff:2:0");  // video off, audio on
    ASSERT_TRUE(c.send(play));
    ASSERT_NE(c.read_head().find("200 OK"), std::string::npos);
    c.read_for(2500ms);
    std::vector<Bytes> payloads;
    auto packets = packets_of(c.data(), nullptr, &payloads);
    ASSERT_GT(packets.size(), 5u);
    const auto info = asfmux::parse_header(payloads[0]);
    int audio = 0;
    for (std::size_t i = 1; i < packets.size(); ++i) {
        for (const auto& p : asfmux::parse_wire_packet(payloads[i], info.min_packet_size).payloads) {
            EXPECT_EQ(p.stream, 2);
            ++audio;
        }
    }
    EXPECT_GT(audio, 20);
}

// MBR: three video renditions with key frames at the same times (adjacent packets). A late joiner
// selecting one rendition, and one taking every stream, get each video stream's first object as a
// key frame (MS-WMSP 2.2.1.4.27 stream-switch-entry; thinning level 2 = not sent).
TEST_F(PullServerTest, MbrLateJoinersStartOnKeyFramesOfTheirStreams) {
    start({}, true, 3);
    std::this_thread::sleep_for(1500ms);  // join a broadcast well under way
    for (const char* entries : {"ffff:1:2 ffff:2:0 ffff:3:2 ffff:4:0", "ffff:1:0 ffff:2:0 ffff:3:0 ffff:4:0"}) {
        SCOPED_TRACE(entries);
        Client c(port());
        std::string play = kPlay;
        play.replace(play.find("stream-switch-count=2"), 21, "stream-switch-count=4");
        play.replace(play.find("ffff:1:0 ffff:2:0"), 17, entries);
        ASSERT_TRUE(c.send(play));
        ASSERT_NE(c.read_head().find("200 OK"), std::string::npos);
        c.read_for(2000ms);
        std::vector<Bytes> payloads;
        auto packets = packets_of(c.data(), nullptr, &payloads);
        ASSERT_GT(packets.size(), 5u);
        const auto info = asfmux::parse_header(payloads[0]);
        ASSERT_EQ(info.mutual_exclusions.size(), 1u);
        const bool only_two = std::string(entries).find("ffff:1:2") != std::string::npos;
        std::map<int, int> objects;
        std::map<int, bool> first_key;
        for (std::size_t i = 1; i < packets.size(); ++i) {
            ASSERT_EQ(packets[i].type, 'D');
            for (const auto& p : asfmux::parse_wire_packet(payloads[i], info.min_packet_size).payloads) {
                if (p.stream > 3) continue;  // audio
                if (!objects.count(p.stream)) first_key[p.stream] = p.keyframe && p.offset == 0;
                objects[p.stream] += p.offset == 0;
            }
        }
        const std::vector<int> expect = only_two ? std::vector<int>{2} : std::vector<int>{1, 2, 3};
        ASSERT_EQ(objects.size(), expect.size());
        for (int v : expect) {
            EXPECT_GT(objects[v], 20) << "stream " << v;
            EXPECT_TRUE(first_key[v]) << "stream " << v << " does not start on a key frame";
        }
    }
}

TEST_F(PullServerTest, EndOfBroadcastSendsEndOfStreamAndCloses) {
    start();
    Client c(port());
    ASSERT_TRUE(c.send(kPlay));
    ASSERT_NE(c.read_head().find("200 OK"), std::string::npos);
    c.read_for(800ms);
    broadcast_->end();
    c.read_for(3000ms);
    EXPECT_TRUE(c.eof());
    auto packets = packets_of(c.data());
    ASSERT_FALSE(packets.empty());
    EXPECT_EQ(packets.back().type, 'E');
    EXPECT_EQ(packets.back().reason, 0u);
}

// MS-WMSP 3.2.4.2 on a new header (a new playlist entry): $C (Reason 0, 2.2.3.2), then the new
// header's $H, then $D of the new header from a key frame (predstrm: the client goes on streaming);
// no $E before the $C (3.2.4.1 MAY, and ffmpeg's mmsh stops at any $E). The Playlist-gen-id
// changes (3.2.4.2) and responses carry it from then on (3.2.5.2, 2.2.1.4.18).
TEST_F(PullServerTest, HeaderChangeSendsStreamChangeThenTheNewHeader) {
    start();
    const auto describe = [&] {
        Client d(port());
        EXPECT_TRUE(d.send("GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0.0.2980\r\nPragma: no-cache\r\n\r\n"));
        return d.read_head();
    };
    const std::string before = describe();
    EXPECT_NE(before.find("200 OK"), std::string::npos) << before;
    EXPECT_EQ(before.find("playlist-gen-id"), std::string::npos) << before;  // 0: not sent
    Client c(port());
    ASSERT_TRUE(c.send(kPlay));
    const std::string play = c.read_head();
    ASSERT_NE(play.find("200 OK"), std::string::npos);
    EXPECT_EQ(play.find("playlist-gen-id"), std::string::npos) << play;
    c.read_for(800ms);
    broadcast_->publish_header();  // same streams, new header version
    c.read_for(1500ms);
    std::vector<Bytes> payloads;
    auto packets = packets_of(c.data(), nullptr, &payloads);
    std::size_t changes = 0, change = 0, ends = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (packets[i].type == 'C') {
            ++changes;
            change = i;
        }
        ends += packets[i].type == 'E';
    }
    ASSERT_EQ(changes, 1u);
    EXPECT_EQ(ends, 0u);
    EXPECT_EQ(packets[change].reason, 0u);
    ASSERT_GT(change, 1u);
    EXPECT_EQ(packets[change - 1].type, 'D');  // the first header's data up to the change
    ASSERT_LT(change + 2, packets.size());
    EXPECT_EQ(packets[change + 1].type, 'H');
    EXPECT_EQ(packets[change + 1].afflags, 0x0C);  // the whole header in one $H
    EXPECT_EQ(asfmux::parse_header(payloads[change + 1]).max_packet_size, 4096u);
    std::size_t data_after = 0;
    for (std::size_t i = change + 2; i < packets.size(); ++i) data_after += packets[i].type == 'D';
    EXPECT_GT(data_after, 10u);
    EXPECT_EQ(packets[change + 2].type, 'D');
    // The first $D of the new entry starts with a video key frame.
    const auto first = asfmux::parse_wire_packet(payloads[change + 2], 4096);
    ASSERT_FALSE(first.payloads.empty());
    bool key = false;
    for (const auto& pl : first.payloads) key |= pl.stream == 1 && pl.keyframe && pl.offset == 0;
    EXPECT_TRUE(key);
    const std::string after = describe();
    EXPECT_NE(after.find("Pragma: playlist-gen-id=1\r\n"), std::string::npos) << after;
}

TEST_F(PullServerTest, MountsServeTheirOwnStreamAndUnknownPathsGet404) {
    PullConfig config;
    config.port = 0;
    server_ = std::make_unique<PullServer>(config);
    auto root = server_->add_mount("/");
    auto radio = server_->add_mount("/radio");
    server_->start();
    SyntheticBroadcast video({root}), audio_only({radio}, false);
    video.start();
    audio_only.start();
    std::this_thread::sleep_for(500ms);
    for (auto [path, streams] : {std::pair{"/", 2u}, std::pair{"/radio", 1u}}) {
        Client c(port());
        ASSERT_TRUE(c.send(std::string("GET ") + path + " HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\n\r\n"));
        ASSERT_NE(c.read_head().find("200 OK"), std::string::npos) << path;
        c.read_for(1000ms);
        std::vector<Bytes> payloads;
        packets_of(c.data(), nullptr, &payloads);
        ASSERT_EQ(payloads.size(), 1u);
        EXPECT_EQ(asfmux::parse_header(payloads[0]).streams.size(), streams) << path;
    }
    Client c(port());
    ASSERT_TRUE(c.send("GET /nothing HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\n\r\n"));
    EXPECT_NE(c.read_head().find("404 Not Found"), std::string::npos);
    video.stop();
    audio_only.stop();
}

TEST_F(PullServerTest, OversizedHeadGets431AndGarbageGets400) {
    PullConfig config;
    config.max_head_bytes = 2048;
    start(config);
    {
        Client c(port());
        std::string big = "GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\nX-Filler: " + std::string(4000, 'a') + "\r\n\r\n";
        c.send(big);
        EXPECT_NE(c.read_head().find("431"), std::string::npos);
    }
    {
        Client c(port());
        c.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15));
        EXPECT_NE(c.read_head().find("400 Bad Request"), std::string::npos);
        c.read_for(1000ms);
        EXPECT_TRUE(c.eof());
    }
    EXPECT_GE(server_->stats().bad_requests, 2u);
}

TEST_F(PullServerTest, SlowlorisIsCutOffWhileOthersStream) {
    PullConfig config;
    config.header_timeout_ms = 1000;
    start(config);
    Client good(port());
    ASSERT_TRUE(good.send(kPlay));
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < 20; ++i) {
        slow.push_back(std::make_unique<Client>(port()));
        slow.back()->send("GET / HTTP/1.0\r\n");
    }
    // Trickle a byte at a time: the head never completes within the timeout.
    for (int t = 0; t < 15; ++t) {
        for (auto& s : slow) s->send("X");
        good.read_for(100ms);
    }
    for (auto& s : slow) {
        s->read_for(1500ms);
        EXPECT_TRUE(s->eof());
        const std::string text(s->data().begin(), s->data().end());
        EXPECT_NE(text.find("408"), std::string::npos);
    }
    good.read_for(500ms);
    EXPECT_FALSE(good.eof());
    EXPECT_GT(good.data().size(), 150'000u);  // ~2 s at ~1 Mbit/s
    EXPECT_GE(server_->stats().header_timeouts, 20u);
}

TEST_F(PullServerTest, AClientThatStopsReadingDoesNotSlowTheOthers) {
    PullConfig config;
    config.max_lag_ms = 1000;
    config.lag_policy = "disconnect";
    start(config);
    Client stuck(port(), "127.0.0.1", 4096);
    ASSERT_TRUE(stuck.send(kPlay));  // and never reads
    Client good(port());
    ASSERT_TRUE(good.send(kPlay));
    ASSERT_NE(good.read_head().find("200 OK"), std::string::npos);
    const std::size_t start_bytes = good.data().size();
    good.read_for(4000ms);
    const double kbps = (good.data().size() - start_bytes) * 8.0 / 4.0 / 1000.0;
    EXPECT_GT(kbps, 700.0) << "the reading client got " << kbps << " kbit/s";
    EXPECT_FALSE(good.eof());
    const PullStats st = server_->stats();
    EXPECT_GE(st.lag_disconnects, 1u);  // the stuck one was cut off
    EXPECT_EQ(st.streaming_now, 1u);
}

TEST_F(PullServerTest, ASlowClientSkipsToKeyFrames) {
    PullConfig config;
    config.max_lag_ms = 800;
    config.lag_policy = "skip";
    start(config);
    Client slow(port(), "127.0.0.1", 4096);
    ASSERT_TRUE(slow.send(kPlay));
    std::this_thread::sleep_for(4000ms);  // not reading: it falls behind
    ASSERT_NE(slow.read_head().find("200 OK"), std::string::npos);
    slow.read_for(3000ms);
    EXPECT_FALSE(slow.eof());
    EXPECT_GE(server_->stats().lag_skips, 1u);
    // The stream stays well-formed across the skip: framing intact, $D sequence unbroken, and
    // the packet after a LocationId gap starts with a video key frame.
    std::string error;
    std::vector<Bytes> payloads;
    auto packets = packets_of(slow.data(), &error, &payloads);
    EXPECT_EQ(error, "");
    ASSERT_GT(packets.size(), 10u);
    const auto info = asfmux::parse_header(payloads[0]);
    int gaps = 0;
    for (std::size_t i = 2; i < packets.size(); ++i) {
        EXPECT_EQ(packets[i].afflags, static_cast<std::uint8_t>(packets[i - 1].afflags + 1));
        if (packets[i].location_id > packets[i - 1].location_id + 1) {
            ++gaps;
            const auto pi = asfmux::parse_wire_packet(payloads[i], info.min_packet_size);
            ASSERT_FALSE(pi.payloads.empty());
            EXPECT_TRUE(pi.payloads[0].keyframe && pi.payloads[0].stream == 1 && pi.payloads[0].offset == 0);
        }
    }
    EXPECT_GE(gaps, 1);
}

TEST_F(PullServerTest, ConnectDisconnectChurnKeepsMemoryFlat) {
    start();
    Client good(port());
    ASSERT_TRUE(good.send(kPlay));
    auto churn = [&](int n) {
        for (int i = 0; i < n; ++i) {
            Client c(port());
            if (i % 2) c.send(kPlay);
            else c.send("GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\n\r\n");
            if (i % 3 == 0) c.read_for(5ms);
            if (i % 50 == 0) good.read_for(1ms);
        }
    };
    churn(500);  // warm up allocator pools
    std::this_thread::sleep_for(500ms);
    good.read_for(100ms);
    const std::size_t before = rss_kb();
    churn(2000);
    std::this_thread::sleep_for(1000ms);
    good.read_for(100ms);
    const std::size_t after = rss_kb();
    EXPECT_LT(after, before + 4096) << "RSS grew from " << before << " kB to " << after << " kB";
    EXPECT_EQ(server_->stats().clients_now, 1u);
    EXPECT_FALSE(good.eof());
}

TEST_F(PullServerTest, LimitsRefuseWithServiceUnavailable) {
    PullConfig config;
    config.max_clients = 3;
    start(config);
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<Client>(port()));
        held.back()->send(kPlay);
    }
    std::this_thread::sleep_for(200ms);
    Client extra(port());
    EXPECT_NE(extra.read_head().find("503 Service Unavailable"), std::string::npos);
    EXPECT_GE(server_->stats().connections_refused, 1u);
}

TEST_F(PullServerTest, PerAddressLimitAndDenyList) {
    PullConfig config;
    config.max_clients_per_ip = 2;
    config.deny = {"127.0.0.9/32"};
    start(config);
    Client a(port()), b(port());
    a.send(kPlay);
    b.send(kPlay);
    std::this_thread::sleep_for(200ms);
    Client c(port());
    EXPECT_NE(c.read_head().find("503"), std::string::npos);
    Client other(port(), "127.0.0.2");  // another address still gets in
    other.send(kPlay);
    EXPECT_NE(other.read_head().find("200 OK"), std::string::npos);
    Client denied(port(), "127.0.0.9");
    EXPECT_NE(denied.read_head().find("403 Forbidden"), std::string::npos);
}

TEST_F(PullServerTest, WrongPasswordGets401AndNoMediaByte) {
    PullConfig config;
    config.auth = {"basic"};
    config.users = {{"alice", "secret"}};
    start(config);
    Client c(port());
    c.send("GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\nPragma: xPlayStrm=1\r\n"
           "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n");  // alice:wrong
    const std::string head = c.read_head();
    EXPECT_NE(head.find("401 Unauthorized"), std::string::npos);
    EXPECT_NE(head.find("WWW-Authenticate: Basic realm="), std::string::npos);
    c.read_for(500ms);
    const std::string body(c.data().begin(), c.data().end());
    EXPECT_EQ(body.find("$H"), std::string::npos);
    EXPECT_EQ(body.find("$D"), std::string::npos);
    Client ok(port());
    ok.send("GET / HTTP/1.0\r\nUser-Agent: NSPlayer/9.0\r\nPragma: xPlayStrm=1\r\n"
            "Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n");  // alice:secret
    EXPECT_NE(ok.read_head().find("200 OK"), std::string::npos);
    ok.read_for(1000ms);
    EXPECT_GT(ok.data().size(), 10'000u);
}

TEST_F(PullServerTest, ChunkedPlayWhenVersion11Enabled) {
    start();
    Client c(port());
    std::string play = kPlay;
    play.replace(play.find("HTTP/1.0"), 8, "HTTP/1.1");
    play.insert(play.size() - 2, "Pragma: version11-enabled=1\r\n");
    ASSERT_TRUE(c.send(play));
    const std::string head = c.read_head();
    EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
    c.read_for(1500ms);
    // De-chunk and check the framing inside.
    Bytes& raw = c.data();
    Bytes body;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        const auto line_end = std::search(raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.end(), "\r\n", "\r\n" + 2);
        if (line_end == raw.end()) break;
        const std::size_t size = std::stoul(std::string(raw.begin() + static_cast<std::ptrdiff_t>(pos), line_end), nullptr, 16);
        const std::size_t data_at = static_cast<std::size_t>(line_end - raw.begin()) + 2;
        if (data_at + size + 2 > raw.size()) break;
        body.insert(body.end(), raw.begin() + static_cast<std::ptrdiff_t>(data_at),
                    raw.begin() + static_cast<std::ptrdiff_t>(data_at + size));
        pos = data_at + size + 2;
    }
    std::string error;
    auto packets = packets_of(body, &error);
    EXPECT_EQ(error, "");
    ASSERT_GT(packets.size(), 5u);
    EXPECT_EQ(packets[0].type, 'H');
    EXPECT_EQ(packets[1].type, 'D');
}

}  // namespace
}  // namespace asfcast::pull
