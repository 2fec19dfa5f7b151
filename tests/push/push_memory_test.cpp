// Memory stays flat while PushOutput goes through fault after fault: a live target (the strict receiver)
// that restarts, resets the connection mid-POST, answers 500 to PushSetup and stalls, over and over, plus a
// dead target retried all along. About 15 s of accelerated feeding; /proc/self/status VmRSS is sampled
// after a warm-up (which includes one full round of faults) and at the end. The strict receiver keeps
// every $D it gets in memory, so what it stored in between is subtracted from the growth.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "asfcast/push/push_output.hpp"
#include "push_test_util.hpp"
#include "strict_receiver.hpp"
#include "test_stream.hpp"

namespace asfcast::push {
namespace {

using namespace std::chrono_literals;
using namespace pushtest;  // TestStream, StrictReceiver and the helpers of push_test_util.hpp
using Clock = std::chrono::steady_clock;

long vmrss_kb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    for (int k = 0; k < 200 && std::getline(in, line); ++k)
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

// Heap the strict receiver holds for what it recorded ($D payloads, send times): malloc chunks of the
// payload vectors (16-byte granularity, 8 bytes of header, 32 at least) and the two arrays' capacity.
std::size_t receiver_bytes(const StrictReceiver::Pubpoint& p) {
    std::size_t total = p.packets.capacity() * sizeof(Bytes) + p.send_times.capacity() * sizeof(std::uint32_t);
    for (const auto& b : p.packets) total += std::max<std::size_t>(32, (b.capacity() + 8 + 15) & ~std::size_t{15});
    return total;
}

struct Snapshot {
    std::size_t packets = 0;
    int sessions = 0;
    std::size_t stored = 0;
};

Snapshot snapshot(const StrictReceiver& rx) {
    Snapshot s;
    // wait_for evaluates the predicate under the receiver's lock: no copy of what it stored.
    rx.wait_for(
        [&](const StrictReceiver::Pubpoint& p) {
            s.packets = p.packets.size();
            s.sessions = p.sessions_started;
            s.stored = receiver_bytes(p);
            return true;
        },
        0ms);
    return s;
}

TEST(PushMemory, FlatThroughRepeatedFaultsWithADeadTarget) {
    const auto t_start = Clock::now();
    StrictReceiver::Options o;
    o.rcvbuf = 8192;  // a server that stops reading blocks the writer quickly
    StrictReceiver rx(o);

    PushConfig cfg = fast_config();
    cfg.stall_timeout = 400ms;
    cfg.end_timeout = 5000ms;
    cfg.socket_send_buffer = 8192;
    cfg.post_budget = 100000;       // a new PushStart every ~75 packets: the armed faults hit soon
    cfg.queue_bytes = 512 * 1024;   // the dead target's queue fills (and overflows) during the warm-up
    cfg.feed_packets = 256;         // the recent packets kept for resumes fill during the warm-up too
    cfg.targets.push_back({fmt::format("127.0.0.1:{}/live", refused_port()), "", "", "", false});
    cfg.targets.push_back({rx.url(), "", "", "", false});
    PushOutput out(cfg);

    TestStream ts(1400, 10);
    out.feed()->publish_header(ts.header());
    // ~200 packets/s (about 7x real time for this stream), from its own thread like the muxer.
    std::atomic<bool> go{true};
    std::thread feeder([&] {
        for (int k = 0; k < 2000 && go; ++k) {  // 2000 x 50 ms: bounded even if nobody stops it
            for (const auto& p : ts.packets(10)) out.feed()->publish_packet(p);
            std::this_thread::sleep_for(50ms);
        }
    });
    struct FeederJoin {
        std::atomic<bool>& go;
        std::thread& t;
        ~FeederJoin() {
            go = false;
            if (t.joinable()) t.join();
        }
    } feeder_join{go, feeder};

    ASSERT_TRUE(rx.wait_for([](const auto& p) { return p.packets.size() >= 100; }, 5000ms)) << "no stream at all";

    // One round of faults; after each, the live target must reconnect (a new session, $H) and receive again.
    struct Fault {
        const char* name;
        std::function<void()> inject;
    };
    const std::vector<Fault> faults = {
        {"receiver restart", [&] { rx.restart(100ms); }},
        {"reset mid-POST", [&] { rx.reset_next_post_after(5000); }},
        {"500 on PushSetup (twice)",
         [&] {
             rx.fail_setups(500, 2);
             rx.reset_next_post_after(3000);  // the reconnect that meets the 500s
         }},
        {"stall", [&] { rx.stall_next_post_after(20000); }},
    };
    int rounds = 0, faults_survived = 0;
    auto one_round = [&]() -> bool {
        for (const auto& f : faults) {
            const Snapshot before = snapshot(rx);
            f.inject();
            const bool back = rx.wait_for(
                [&](const auto& p) { return p.sessions_started > before.sessions && p.packets.size() >= before.packets + 40; },
                6000ms);
            EXPECT_TRUE(back) << "round " << rounds + 1 << ": the live target did not reconnect and receive after: "
                              << f.name << " (" << out.status()[1].describe() << ")";
            if (!back) return false;
            ++faults_survived;
        }
        ++rounds;
        return true;
    };

    // Warm-up: a round of every fault (thread stacks, allocator arenas, the dead target's full queue).
    ASSERT_TRUE(one_round());
    std::this_thread::sleep_for(300ms);
    const long rss0 = vmrss_kb();
    const Snapshot s0 = snapshot(rx);
    const auto t0 = Clock::now();
    bool ok = true;
    for (int k = 0; k < 50 && ok && Clock::now() - t_start < 15s; ++k) ok = one_round();
    std::this_thread::sleep_for(300ms);
    const long rss1 = vmrss_kb();
    const Snapshot s1 = snapshot(rx);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

    go = false;
    feeder.join();
    // The last fault may have left the live target reconnecting: end once it streams again, so
    // that $E is judged and not the back-off timing of a loaded machine.
    for (int i = 0; i < 120 && out.status()[1].state != TargetState::streaming; ++i) std::this_thread::sleep_for(50ms);
    pushtest::end_stream(out);
    EXPECT_TRUE(rx.wait_for([](const auto& p) { return p.ended; }, 6000ms))
        << "no $E(0) at the end (" << out.status()[1].describe() << ")";

    ASSERT_GT(rss0, 0);
    const long growth_kb = rss1 - rss0;
    const long stored_kb = static_cast<long>((s1.stored - s0.stored) / 1024);
    const long net_kb = growth_kb - stored_kb;
    const auto st = out.status();
    std::printf("[ memory ] %d rounds (%d faults) in %.1f s after the warm-up: VmRSS %ld -> %ld kB (%+ld kB); the "
                "receiver stored %+ld kB (%zu packets); net %+ld kB. live target: %llu packets sent, %llu skipped, "
                "%llu reconnects; dead target: %llu attempts (%s)\n",
                rounds, faults_survived, secs, rss0, rss1, growth_kb, stored_kb, s1.packets - s0.packets, net_kb,
                static_cast<unsigned long long>(st[1].packets_sent), static_cast<unsigned long long>(st[1].packets_skipped),
                static_cast<unsigned long long>(st[1].reconnects), static_cast<unsigned long long>(st[0].reconnects),
                st[0].describe().c_str());
    EXPECT_GE(rounds, 3) << "too few fault rounds to say anything about leaks";
    EXPECT_LT(net_kb, 2 * 1024) << "memory grew through the faults (VmRSS " << rss0 << " -> " << rss1
                                << " kB, receiver storage " << stored_kb << " kB)";
    EXPECT_GE(st[1].reconnects, static_cast<std::uint64_t>(faults_survived));
    EXPECT_EQ(st[1].state, TargetState::finished) << st[1].describe();
    EXPECT_EQ(st[0].error, TargetError::network) << st[0].describe();
    EXPECT_GT(st[0].reconnects, 20u) << "the dead target was not retried all along";
    expect_no_violations(rx);
    EXPECT_LT(Clock::now() - t_start, 30s);
}

}  // namespace
}  // namespace asfcast::push
