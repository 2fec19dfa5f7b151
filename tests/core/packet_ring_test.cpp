// PacketRing start points with MBR: a reader of some video streams starts where each of them
// begins with a key frame.
#include "asfcast/core/packet_ring.hpp"

#include <gtest/gtest.h>

namespace asfcast {
namespace {

using Ring = PacketRing<int>;

StreamMask streams(std::initializer_list<int> s) {
    StreamMask set;
    for (int v : s) set.set(static_cast<std::size_t>(v));
    return set;
}

StartPoint key(std::initializer_list<int> s, std::int64_t pts) { return StartPoint{true, pts, streams(s)}; }
const StartPoint kAnyStream{true, 0, {}};  // a packet of a stream without video

// Three renditions: key frames of streams 1, 2, 3 at one capture time land in adjacent packets.
void push_group(Ring& r, int filler, std::int64_t pts) {
    for (int v : {1, 2, 3}) r.push(std::make_shared<const int>(v), StartPoint{true, pts, streams({v})});
    for (int i = 0; i < filler; ++i) r.push(std::make_shared<const int>(0));
}

TEST(PacketRing, MbrReadersStartOnTheirStreamsKeyFrames) {
    Ring r(100);
    push_group(r, 5, 0);          // seq 0,1,2 starts; 3..7 filler
    push_group(r, 5, 2'000'000);  // seq 8,9,10 starts
    EXPECT_EQ(r.newest_start_for({}), 10u);                     // stream 3's key: streams 1, 2 would not start clean
    EXPECT_EQ(r.newest_start_for(streams({1, 2, 3})), 8u);  // all streams: the whole group
    EXPECT_EQ(r.newest_start_for(streams({2})), 9u);
    EXPECT_EQ(r.newest_start_for(streams({3})), 10u);
    EXPECT_EQ(r.newest_start_for({}), 10u);
    // A group still arriving (only stream 1's key so far) is not complete for all streams or for
    // stream 2; a stream 1 reader can take it.
    r.push(std::make_shared<const int>(1), key({1}, 4'000'000));  // seq 16
    EXPECT_EQ(r.newest_start_for(streams({1, 2, 3})), 8u);
    EXPECT_EQ(r.newest_start_for(streams({2})), 9u);
    EXPECT_EQ(r.newest_start_for(streams({1})), 16u);
    EXPECT_EQ(r.newest_start_for(streams({1, 3})), 8u);
}

TEST(PacketRing, StartPointsLeaveWithTheirEntries) {
    Ring r(6);
    push_group(r, 3, 0);  // 0..5
    EXPECT_EQ(r.newest_start_for(streams({1, 2})), 0u);
    r.push(std::make_shared<const int>(0));  // seq 6: seq 0 (stream 1's key) leaves
    EXPECT_EQ(r.newest_start_for(streams({1, 2})), std::nullopt);
    EXPECT_EQ(r.newest_start_for(streams({2})), 1u);
    r.clear();
    EXPECT_EQ(r.newest_start_for(streams({2})), std::nullopt);
}

TEST(PacketRing, UnlabelledStartPointsServeEveryStream) {
    // Audio-only rings and single-video streams push start points without streams.
    Ring r(10);
    r.push(std::make_shared<const int>(0), kAnyStream);
    r.push(std::make_shared<const int>(0));
    r.push(std::make_shared<const int>(0), kAnyStream);
    EXPECT_EQ(r.newest_start_for(streams({1, 2})), 2u);
}

}  // namespace
}  // namespace asfcast
