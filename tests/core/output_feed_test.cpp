// OutputFeed: the one hand-off between the mux thread and an output. Fed packets directly (no
// muxer), taken as an output would.
#include "asfcast/core/output_feed.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "asfcast/core/muxed_bus.hpp"
#include "feed_test_util.hpp"

namespace asfcast {
namespace {

using namespace std::chrono_literals;
using coretest::header;
using coretest::packet;

OutputFeed::Config config(std::size_t capacity,
                          OutputFeed::Overflow overflow = OutputFeed::Overflow::resume_at_start,
                          bool keep_taken = false) {
    return OutputFeed::Config{"test", capacity, overflow, keep_taken};
}

std::vector<std::uint64_t> numbers(const OutputFeed::Batch& b) {
    std::vector<std::uint64_t> n;
    for (const auto& e : b.entries) n.push_back(e.packet->number);
    return n;
}

TEST(OutputFeed, DeliversInOrderWithHeaderAndEndOnce) {
    OutputFeed f(config(8));
    OutputFeed::Batch b;
    EXPECT_FALSE(f.take(b));
    const auto h = header({1});
    f.publish_header(h);
    ASSERT_TRUE(f.take(b));  // a header alone is news (Describe can answer with it)
    EXPECT_EQ(b.header, h);
    EXPECT_TRUE(b.entries.empty());
    EXPECT_FALSE(f.take(b));
    for (std::uint64_t i = 0; i < 5; ++i) f.publish_packet(packet(i, i == 0 ? std::initializer_list<int>{1} : std::initializer_list<int>{}));
    f.publish_end();
    ASSERT_TRUE(f.take(b, 3));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{0, 1, 2}));
    EXPECT_FALSE(b.ended);  // packets are left
    for (const auto& e : b.entries) EXPECT_EQ(e.header, h);
    ASSERT_TRUE(f.take(b));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{3, 4}));
    EXPECT_TRUE(b.ended);
    EXPECT_FALSE(f.take(b));  // the end is news once
    EXPECT_EQ(f.discarded(), 0u);
    EXPECT_EQ(f.published(), 5u);
}

TEST(OutputFeed, PacketsBeforeAHeaderAreNotPublished) {
    OutputFeed f(config(4));
    f.publish_packet(packet(0, {1}));
    EXPECT_EQ(f.published(), 0u);
}

TEST(OutputFeed, PublishingNeverWaitsAndAStalledOutputResumesAtTheNewestStartPoint) {
    OutputFeed f(config(16));
    f.publish_header(header({1}));
    // 10,000 packets, a key frame every 30, and nobody taking: the mux thread never waits.
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < 10'000; ++i)
        f.publish_packet(i % 30 == 0 ? packet(i, {1}, static_cast<Micros>(i)) : packet(i));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    OutputFeed::Batch b;
    ASSERT_TRUE(f.take(b));
    // The ring holds 9984..9999; the newest start point in it is 9990.
    ASSERT_FALSE(b.entries.empty());
    EXPECT_EQ(b.entries.front().packet->number, 9990u);
    EXPECT_TRUE(b.entries.front().packet->starts_with_key_frame);
    EXPECT_EQ(b.entries.back().packet->number, 9999u);
    EXPECT_EQ(b.discarded, 9990u);  // every packet is delivered or counted lost
    EXPECT_EQ(f.backlog(), 0u);
}

TEST(OutputFeed, WithNoStartPointLeftTheOutputWaitsForTheNextOne) {
    OutputFeed f(config(4));
    f.publish_header(header({1}));
    f.publish_packet(packet(0, {1}));
    for (std::uint64_t i = 1; i < 10; ++i) f.publish_packet(packet(i));  // the key frame is overwritten
    OutputFeed::Batch b;
    f.take(b);
    EXPECT_TRUE(b.entries.empty());
    EXPECT_EQ(b.discarded, 6u);  // 0..5 overwritten; 6..9 held, no start point among them
    f.publish_packet(packet(10));  // still no start point
    f.publish_packet(packet(11, {1}));
    f.publish_packet(packet(12));
    ASSERT_TRUE(f.take(b));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{11, 12}));
    EXPECT_EQ(b.discarded, 11u);  // 0..10
}

TEST(OutputFeed, ResumesAtAGroupCoveringTheStreamsTaken) {
    OutputFeed f(config(8));
    f.publish_header(header({1, 2}));
    f.publish_packet(packet(0, {1}, 0));
    f.publish_packet(packet(1, {2}, 0));
    for (std::uint64_t i = 2; i < 6; ++i) f.publish_packet(packet(i));
    f.publish_packet(packet(6, {1}, 1'000'000));  // stream 2's key frame of this group is still to come
    for (std::uint64_t i = 7; i < 10; ++i) f.publish_packet(packet(i));
    OutputFeed::Batch b;
    f.take(b);  // 2..9 held: group 0 lost stream 1, group 1 lacks stream 2
    EXPECT_TRUE(b.entries.empty());
    f.publish_packet(packet(10, {2}, 1'000'000));
    ASSERT_TRUE(f.take(b));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{6, 7, 8, 9, 10}));
    // An output taking stream 2 only could have started at its own key frame.
    OutputFeed g(config(4));
    g.set_taken_streams(StreamMask().set(2));
    g.publish_header(header({1, 2}));
    for (std::uint64_t i = 0; i < 6; ++i) g.publish_packet(packet(i));
    g.publish_packet(packet(6, {1}, 1'000'000));
    g.publish_packet(packet(7, {2}, 1'000'000));
    g.publish_packet(packet(8));
    ASSERT_TRUE(g.take(b));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{7, 8}));
}

TEST(OutputFeed, AudioOnlyResumesAtOnce) {
    OutputFeed f(config(4));
    f.publish_header(header({}, {1}));
    for (std::uint64_t i = 0; i < 10; ++i) f.publish_packet(packet(i));
    OutputFeed::Batch b;
    ASSERT_TRUE(f.take(b));
    EXPECT_EQ(numbers(b), (std::vector<std::uint64_t>{9}));  // the newest start point: any packet
    EXPECT_EQ(b.discarded, 9u);
}

TEST(OutputFeed, HeaderChangeTravelsWithThePackets) {
    OutputFeed f(config(8));
    const auto h1 = header({1}, {2}, 1), h2 = header({1}, {2}, 2);
    f.publish_header(h1);
    f.publish_packet(packet(0, {1}));
    f.publish_header(h2);
    f.publish_packet(packet(1, {1}));
    OutputFeed::Batch b;
    ASSERT_TRUE(f.take(b));
    ASSERT_EQ(b.entries.size(), 2u);
    EXPECT_EQ(b.entries[0].header, h1);
    EXPECT_EQ(b.entries[1].header, h2);
    EXPECT_EQ(b.header, h2);
}

TEST(OutputFeed, OneWakeUpPendingAtATime) {
    OutputFeed f(config(64));
    int wakes = 0;
    f.set_wake([&] { ++wakes; });
    f.publish_header(header({1}));
    for (std::uint64_t i = 0; i < 50; ++i) f.publish_packet(packet(i));
    f.publish_end();
    EXPECT_EQ(wakes, 1);  // posting to an event loop is bounded: one pending drain
    OutputFeed::Batch b;
    f.take(b);
    f.publish_end();  // already ended: nothing new
    EXPECT_EQ(wakes, 1);
    OutputFeed g(config(64));
    int g_wakes = 0;
    g.set_wake([&] { ++g_wakes; });
    g.publish_header(header({1}));
    g.take(b);
    g.publish_packet(packet(0));
    g.publish_packet(packet(1));
    EXPECT_EQ(g_wakes, 2);
}

TEST(OutputFeed, WaitModeLosesNothingAndCloseReleasesThePublisher) {
    auto f = std::make_shared<OutputFeed>(config(4, OutputFeed::Overflow::wait));
    f->publish_header(header({1}));
    std::atomic<std::uint64_t> published{0};
    std::thread mux([&] {
        for (std::uint64_t i = 0; i < 200; ++i) {
            f->publish_packet(packet(i));
            published = i + 1;
        }
        f->publish_end();
    });
    std::this_thread::sleep_for(50ms);
    EXPECT_LE(published.load(), 4u);  // waits for the output: an offline (--fast) job only
    std::vector<std::uint64_t> got;
    OutputFeed::Batch b;
    for (int guard = 0; guard < 10000 && !b.ended; ++guard) {
        if (!f->take(b)) {
            f->wait(10ms);
            continue;
        }
        for (auto n : numbers(b)) got.push_back(n);
    }
    mux.join();
    ASSERT_EQ(got.size(), 200u);
    for (std::uint64_t i = 0; i < 200; ++i) EXPECT_EQ(got[i], i);
    EXPECT_EQ(f->discarded(), 0u);

    // An output that fails closes its feed: a publisher waiting for room returns.
    auto g = std::make_shared<OutputFeed>(config(2, OutputFeed::Overflow::wait));
    g->publish_header(header({1}));
    std::thread blocked([&] {
        for (std::uint64_t i = 0; i < 10; ++i) g->publish_packet(packet(i));
    });
    std::this_thread::sleep_for(20ms);
    g->close();
    blocked.join();
    EXPECT_TRUE(g->closed());
    EXPECT_FALSE(g->take(b));
}

TEST(OutputFeed, RecentFromStartForResumes) {
    OutputFeed f(config(16, OutputFeed::Overflow::resume_at_start, true));
    f.publish_header(header({1}));
    for (std::uint64_t i = 0; i < 12; ++i) f.publish_packet(i % 5 == 0 ? packet(i, {1}, static_cast<Micros>(i)) : packet(i));
    OutputFeed::Batch b;
    f.take(b, 8);  // taken: 0..7
    auto recent = f.recent_from_start(StreamMask().set(1));
    // The newest start point is 10, not taken yet: nothing to resume from among the taken ones.
    EXPECT_TRUE(recent.empty());
    f.take(b);  // 8..11
    recent = f.recent_from_start(StreamMask().set(1));
    ASSERT_EQ(recent.size(), 2u);
    EXPECT_EQ(recent.front().packet->number, 10u);
    // Without keep_taken the packets leave the feed when taken.
    OutputFeed g(config(16));
    g.publish_header(header({1}));
    g.publish_packet(packet(0, {1}));
    g.take(b);
    EXPECT_TRUE(g.recent_from_start(StreamMask().set(1)).empty());
}

TEST(OutputFeed, ConcurrentProducerAndSlowConsumerAccountForEveryPacket) {
    OutputFeed f(config(64));
    f.publish_header(header({1}));
    constexpr std::uint64_t kPackets = 200'000;
    std::thread mux([&] {
        for (std::uint64_t i = 0; i < kPackets; ++i) f.publish_packet(i % 50 == 0 ? packet(i, {1}, static_cast<Micros>(i)) : packet(i));
        f.publish_end();
    });
    std::uint64_t got = 0, last = 0;
    bool first = true, in_order = true;
    OutputFeed::Batch b;
    for (int guard = 0; guard < 1'000'000 && !b.ended; ++guard) {
        if (!f.take(b, 7)) {
            f.wait(1ms);
            continue;
        }
        for (auto n : numbers(b)) {
            if (!first && n <= last) in_order = false;
            first = false;
            last = n;
            ++got;
        }
    }
    mux.join();
    EXPECT_TRUE(b.ended);
    EXPECT_TRUE(in_order);
    EXPECT_EQ(got + b.discarded, kPackets);
}

TEST(MuxedStreamBus, LateOutputsGetTheHeaderAndClosedOnesAreNotCounted) {
    MuxedStreamBus bus;
    auto a = std::make_shared<OutputFeed>(config(4));
    bus.attach(a);
    const auto h = header({1});
    bus.publish_header(h);
    auto late = std::make_shared<OutputFeed>(config(4));
    bus.attach(late);
    OutputFeed::Batch b;
    ASSERT_TRUE(late->take(b));
    EXPECT_EQ(b.header, h);
    EXPECT_EQ(bus.open_outputs(), 2u);
    a->close();
    EXPECT_EQ(bus.open_outputs(), 1u);
    bus.publish_packet(packet(0, {1}));
    bus.publish_end();
    ASSERT_TRUE(late->take(b));
    EXPECT_EQ(numbers(b), std::vector<std::uint64_t>{0});
    EXPECT_TRUE(b.ended);
}

}  // namespace
}  // namespace asfcast
