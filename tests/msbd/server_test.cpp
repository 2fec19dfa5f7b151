// MsbdServer over real sockets on 127.0.0.1, fed by a synthetic live broadcast (the real asfmux
// HeaderBuilder and Packetizer, about 1 Mbit/s, published in real time by its own thread): several
// clients at once and a late joiner, the end (IND_EOS + the empty IND_STREAMINFO to everyone),
// malformed messages closing only their own connection, refusals with failure HRESULTs (address
// rules, limits, multicast), pings, and a client that stops reading while the others go on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "../asfmux/test_util.hpp"
#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/msbd/msbd.hpp"
#include "msbd_message.hpp"

namespace asfcast::msbd {
namespace {

using namespace std::chrono_literals;

// 30 fps video (a key frame every 30 frames) and audio, about 1 Mbit/s, in real time.
class SyntheticBroadcast {
public:
    explicit SyntheticBroadcast(std::shared_ptr<OutputFeed> sink) : sink_(std::move(sink)) {
        config_.packet_size = 4096;
        config_.preroll_ms = 1000;
        config_.max_packet_delay_ms = 50;
        VideoStreamFormat v = testutil::test_video();
        v.bitrate = 880000;
        v.frame_rate = 30.0;
        streams_.video.push_back(v);
        AudioStreamFormat a = testutil::test_audio();
        a.stream = 2;
        a.block_align = 743;
        streams_.audio.push_back(a);
        builder_ = std::make_unique<asfmux::HeaderBuilder>(config_, streams_, asfmux::Metadata{}, asfmux::random_guid(), 0);
        packetizer_ = std::make_unique<asfmux::Packetizer>(config_, streams_);
    }
    ~SyntheticBroadcast() { stop(); }

    void start() {
        header_ = std::make_shared<MuxedHeader>(builder_->build_live());
        sink_->publish_header(header_);
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
        sink_->publish_end();
    }
    std::uint64_t packets() const { return packets_.load(); }
    const MuxedHeader& header() const { return *header_; }

private:
    void publish(std::vector<DataPacket>& out) {
        for (auto& p : out) {
            sink_->publish_packet(std::make_shared<const DataPacket>(std::move(p)));
            ++packets_;
        }
        out.clear();
    }
    void run() {
        std::mt19937 rng(7);
        std::vector<DataPacket> out;
        const Micros start = monotonic_us();
        Micros next_video = 0, next_audio = 0;
        int frame = 0;
        for (int i = 0; running_ && i < 1'000'000; ++i) {
            const Micros media = monotonic_us() - start;
            while (next_video <= media) {
                const bool key = frame % 30 == 0;
                Bytes data(key ? 12000 : 3200);
                for (auto& b : data) b = static_cast<std::uint8_t>(rng());
                packetizer_->add(EncodedFrame{1, MediaKind::video, next_video, next_video, key, std::move(data)},
                                 monotonic_us(), out);
                next_video += 33'333;
                ++frame;
            }
            while (next_audio <= media) {
                packetizer_->add(EncodedFrame{2, MediaKind::audio, next_audio, next_audio, false, Bytes(743, 0x55)},
                                 monotonic_us(), out);
                next_audio += 46'440;
            }
            packetizer_->poll(monotonic_us(), out);
            publish(out);
            std::this_thread::sleep_for(5ms);
        }
    }

    std::shared_ptr<OutputFeed> sink_;
    asfmux::MuxConfig config_;
    asfmux::StreamSet streams_;
    std::unique_ptr<asfmux::HeaderBuilder> builder_;
    std::unique_ptr<asfmux::Packetizer> packetizer_;
    HeaderPtr header_;
    std::thread thread_;
    std::atomic<bool> running_{true};
    std::atomic<std::uint64_t> packets_{0};
};

// A blocking-with-timeouts client socket that reads whole messages with MsbdMessageReader.
class TestClient {
public:
    explicit TestClient(std::uint16_t port, int rcvbuf = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    }
    ~TestClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const { return connected_; }

    void send(const Bytes& b) { (void)::send(fd_, b.data(), b.size(), MSG_NOSIGNAL); }

    // The next message, or nullopt on timeout / close (closed() tells).
    std::optional<MsbdMessage> next(std::chrono::milliseconds timeout = 3000ms) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (int i = 0; i < 100000; ++i) {
            MsbdMessage m;
            const auto s = reader_.next(m);
            if (s == MsbdMessageReader::Status::message) {
                if (m.id == MessageId::ind_packet) ++packets;
                if (m.id == MessageId::req_ping) {
                    ++pings;
                    if (answer_pings) send(header_only_message(MessageId::res_ping));
                }
                return m;
            }
            EXPECT_NE(s, MsbdMessageReader::Status::malformed) << reader_.error();
            if (s == MsbdMessageReader::Status::malformed || closed_) return std::nullopt;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            std::uint8_t buf[65536];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                continue;
            }
            bytes += static_cast<std::size_t>(n);
            reader_.feed(ByteView(buf, static_cast<std::size_t>(n)));
        }
        return std::nullopt;
    }

    // Reads for `time`, answering pings; false when the connection closed.
    bool read_for(std::chrono::milliseconds time) {
        const auto until = std::chrono::steady_clock::now() + time;
        while (std::chrono::steady_clock::now() < until) {
            const auto m = next(50ms);
            if (!m && closed_) return false;
            if (m && m->id == MessageId::ind_eos) eos = true;
        }
        return true;
    }

    // Waits until the server closes the connection; true when it did within `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (!closed_ && std::chrono::steady_clock::now() < until) {
            const auto m = next(100ms);
            if (m && m->id == MessageId::ind_eos) eos = true;
        }
        return closed_;
    }
    bool closed() const { return closed_; }

    // REQ_CONNECT, then RES_CONNECT (hr returned) and, when accepted, IND_STREAMINFO.
    std::uint32_t connect_stream(std::uint32_t flags = kConnectOverTcp) {
        send(connect_request(flags));
        const auto rc = next();
        EXPECT_TRUE(rc);
        if (!rc) return 0xFFFFFFFF;
        EXPECT_EQ(rc->id, MessageId::res_connect);
        if (hresult::failed(rc->hr)) return rc->hr;
        const auto si = next();
        EXPECT_TRUE(si && si->id == MessageId::ind_streaminfo);
        if (si) info = parse_stream_info(*si);
        return rc->hr;
    }

    std::size_t packets = 0, pings = 0, bytes = 0;
    bool answer_pings = true;
    bool eos = false;
    StreamInfo info;

private:
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
    MsbdMessageReader reader_;
};

MsbdConfig test_config() {
    MsbdConfig c;
    c.port = 0;
    c.send_interval_ms = 20;
    return c;
}

TEST(MsbdServer, ClientsAtOnceAndALateJoinerThenTheEnd) {
    MsbdServer server(test_config());
    server.start();
    SyntheticBroadcast b(server.feed());
    b.start();
    TestClient early(server.port());
    ASSERT_EQ(early.connect_stream(), hresult::ok);
    EXPECT_EQ(early.info.header, b.header().bytes);
    EXPECT_EQ(early.info.bit_rate, b.header().max_bitrate);
    EXPECT_EQ(early.info.duration_ms, kUnknownDuration);
    ASSERT_TRUE(early.read_for(1500ms));
    TestClient late(server.port());
    ASSERT_EQ(late.connect_stream(), hresult::ok);
    EXPECT_EQ(late.info.stream_id, early.info.stream_id);
    // The late joiner's first packet starts a key frame.
    std::optional<MsbdMessage> first;
    for (int i = 0; i < 100 && !(first && first->id == MessageId::ind_packet); ++i) first = late.next();
    ASSERT_TRUE(first);
    const PacketMessage fp = parse_packet_message(*first);
    EXPECT_EQ(fp.packet_id, 0u);
    const auto pi = asfmux::parse_packet(fp.payload, 4096);
    ASSERT_FALSE(pi.payloads.empty());
    EXPECT_TRUE(pi.payloads.front().keyframe);
    EXPECT_EQ(fp.payload.size(), 4096u);  // the file form, padding included
    ASSERT_TRUE(early.read_for(1500ms));
    ASSERT_TRUE(late.read_for(1500ms));
    b.end();
    for (TestClient* c : {&early, &late}) {
        bool eos = c->eos;
        for (int i = 0; i < 2000 && !eos; ++i) {
            const auto m = c->next(2000ms);
            ASSERT_TRUE(m);
            eos = m->id == MessageId::ind_eos;
        }
        ASSERT_TRUE(eos);
        const auto empty = c->next();
        ASSERT_TRUE(empty);
        EXPECT_EQ(empty->id, MessageId::ind_streaminfo);
        EXPECT_EQ(empty->hr, hresult::no_more_streams);
        EXPECT_FALSE(c->wait_closed(200ms));  // 4.1: the client ends the session, not the server
    }
    EXPECT_TRUE(server.wait_ended(3000ms));
    const MsbdStats st = server.stats();
    std::printf("clients: early %zu packets, late %zu packets of %llu published; stats: %llu accepted, %llu packets, "
                "%llu eos\n", early.packets, late.packets, static_cast<unsigned long long>(b.packets()),
                static_cast<unsigned long long>(st.connections_accepted), static_cast<unsigned long long>(st.packets_sent),
                static_cast<unsigned long long>(st.eos_sent));
    EXPECT_EQ(st.eos_sent, 2u);
    EXPECT_EQ(st.streaming_now, 0u);
    EXPECT_GT(early.packets, late.packets);
    EXPECT_GT(late.packets, 50u);
    server.stop();
}

TEST(MsbdServer, MalformedMessagesCloseOnlyThatConnection) {
    MsbdServer server(test_config());
    server.start();
    SyntheticBroadcast b(server.feed());
    b.start();
    TestClient a(server.port()), c(server.port());
    ASSERT_EQ(a.connect_stream(), hresult::ok);
    ASSERT_EQ(c.connect_stream(), hresult::ok);
    ASSERT_TRUE(a.read_for(500ms));
    ASSERT_TRUE(c.read_for(500ms));

    // Garbage as the first bytes (an HTTP request on the MSBD port): closed, nothing answered.
    TestClient http(server.port());
    const std::string get = "GET / HTTP/1.0\r\n\r\n";
    http.send(Bytes(get.begin(), get.end()));
    EXPECT_TRUE(http.wait_closed(2000ms));
    EXPECT_EQ(http.bytes, 0u);
    // Mid-stream: an unknown wMessageId, a cbMessage above the bound, a length past the end.
    std::vector<Bytes> bad;
    Bytes unknown = header_only_message(MessageId::res_ping);
    unknown[6] = 0x06;
    bad.push_back(unknown);
    Bytes huge = header_only_message(MessageId::res_ping);
    huge[10] = 0x01;  // cbMessage 0x10010
    bad.push_back(huge);
    Bytes past = header_only_message(MessageId::req_streaminfo);
    past[8] = 20;  // claims 4 bytes more: they come from the next message
    const Bytes ping = header_only_message(MessageId::res_ping);
    past.insert(past.end(), ping.begin(), ping.end());
    bad.push_back(past);
    for (const Bytes& m : bad) {
        TestClient d(server.port());
        ASSERT_EQ(d.connect_stream(), hresult::ok);
        ASSERT_TRUE(d.read_for(300ms));
        d.send(m);
        EXPECT_TRUE(d.wait_closed(3000ms));
        EXPECT_FALSE(d.eos);
    }
    // The others never noticed.
    const std::size_t a_before = a.packets, c_before = c.packets;
    ASSERT_TRUE(a.read_for(1000ms));
    ASSERT_TRUE(c.read_for(1000ms));
    EXPECT_GT(a.packets, a_before + 20);
    EXPECT_GT(c.packets, c_before + 20);
    const MsbdStats st = server.stats();
    EXPECT_EQ(st.malformed, 3u);       // GET, unknown id, huge length
    EXPECT_EQ(st.protocol_errors, 1u);  // the REQ_STREAMINFO with a body
    EXPECT_EQ(st.clients_now, 2u);
    server.stop();
}

TEST(MsbdServer, RefusalsCarryAFailureHresult) {
    {
        MsbdConfig cfg = test_config();
        cfg.allow = {"10.0.0.0/8"};
        MsbdServer server(cfg);
        server.start();
        TestClient c(server.port());
        EXPECT_EQ(c.connect_stream(), hresult::access_denied);
        EXPECT_TRUE(c.wait_closed(2000ms));
        EXPECT_EQ(server.stats().connections_refused, 1u);
    }
    {
        MsbdConfig cfg = test_config();
        cfg.max_clients_per_ip = 2;
        MsbdServer server(cfg);
        server.start();
        SyntheticBroadcast b(server.feed());
        b.start();
        TestClient one(server.port()), two(server.port());
        ASSERT_EQ(one.connect_stream(), hresult::ok);
        ASSERT_EQ(two.connect_stream(), hresult::ok);
        TestClient three(server.port());
        EXPECT_EQ(three.connect_stream(), hresult::too_many_connections);
        EXPECT_TRUE(three.wait_closed(2000ms));
        EXPECT_TRUE(one.read_for(200ms));
    }
    {
        // 3.1.5.1: multicast delivery is refused with a failure hr, then the connection closes.
        MsbdServer server(test_config());
        server.start();
        SyntheticBroadcast b(server.feed());
        b.start();
        TestClient c(server.port());
        EXPECT_EQ(c.connect_stream(kConnectMulticast), hresult::multicast_not_offered);
        EXPECT_TRUE(c.wait_closed(2000ms));
        EXPECT_EQ(server.stats().connects_rejected, 1u);
    }
    EXPECT_THROW(MsbdServer([] {
                     MsbdConfig c;
                     c.deny = {"300.0.0.0/8"};
                     return c;
                 }()),
                 std::invalid_argument);
    MsbdConfig v6 = test_config();
    v6.address = "::1";
    MsbdServer server(v6);
    EXPECT_THROW(server.start(), std::runtime_error);
}

TEST(MsbdServer, PingsAndAClientThatDoesNotAnswer) {
    MsbdConfig cfg = test_config();
    cfg.ping_interval_ms = 300;
    cfg.ping_timeout_ms = 700;
    MsbdServer server(cfg);
    server.start();
    SyntheticBroadcast b(server.feed());
    b.start();
    TestClient answers(server.port()), silent(server.port());
    silent.answer_pings = false;
    ASSERT_EQ(answers.connect_stream(), hresult::ok);
    ASSERT_EQ(silent.connect_stream(), hresult::ok);
    // Both read; only one answers.
    const auto until = std::chrono::steady_clock::now() + 4000ms;
    while (!silent.closed() && std::chrono::steady_clock::now() < until) {
        answers.next(10ms);
        silent.next(10ms);
    }
    EXPECT_TRUE(silent.closed());
    EXPECT_GE(silent.pings, 1u);
    EXPECT_TRUE(answers.read_for(1500ms));
    EXPECT_GE(answers.pings, 3u);
    const MsbdStats st = server.stats();
    EXPECT_EQ(st.ping_timeouts, 1u);
    EXPECT_GE(st.pings_answered, 3u);
    server.stop();
}

TEST(MsbdServer, AClientThatStopsReadingNeverSlowsTheOthers) {
    MsbdConfig cfg = test_config();
    cfg.max_lag_ms = 1000;
    cfg.send_buffer_bytes = 16 * 1024;
    cfg.ring_packets = 256;
    MsbdServer server(cfg);
    server.start();
    SyntheticBroadcast b(server.feed());
    b.start();
    TestClient stalled(server.port(), 4096);
    ASSERT_EQ(stalled.connect_stream(), hresult::ok);  // then reads nothing more
    TestClient reader(server.port());
    ASSERT_EQ(reader.connect_stream(), hresult::ok);
    const std::uint64_t published0 = b.packets();
    ASSERT_TRUE(reader.read_for(7000ms));
    const std::uint64_t published = b.packets() - published0;
    const MsbdStats st = server.stats();
    std::printf("reader got %zu packets while %llu were published; stalled client: %llu lag skips, %llu lag disconnects\n",
                reader.packets, static_cast<unsigned long long>(published), static_cast<unsigned long long>(st.lag_skips),
                static_cast<unsigned long long>(st.lag_disconnects));
    EXPECT_GE(reader.packets + 10, published);  // at full rate
    EXPECT_GT(st.lag_skips + st.lag_disconnects, 0u);
    server.stop();
}

}  // namespace
}  // namespace asfcast::msbd
