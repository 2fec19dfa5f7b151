// The one start rule (core/start_points.hpp) as each output sees it.
#include "asfcast/core/start_points.hpp"

#include <gtest/gtest.h>

#include "feed_test_util.hpp"

namespace asfcast {
namespace {

using coretest::header;
using coretest::packet;

StreamMask mask(std::initializer_list<int> s) {
    StreamMask m;
    for (int v : s) m.set(static_cast<std::size_t>(v));
    return m;
}

TEST(StartPoint, OnlyPacketsBeginningWithAKeyFrameStart) {
    const auto h = header({1});
    EXPECT_FALSE(start_point_of(*packet(0), *h).is_start);
    const StartPoint sp = start_point_of(*packet(1, {1}, 2'000'000), *h);
    EXPECT_TRUE(sp.is_start);
    EXPECT_EQ(sp.group, 2'000'000);
    EXPECT_EQ(sp.streams, mask({1}));
    // A key frame that begins in the middle of a packet (after the tail of another frame) is not
    // a place to start: the consumer would get a fragment without its beginning.
    auto mid = std::make_shared<DataPacket>(*packet(2, {1}, 0));
    mid->starts_with_key_frame = false;
    EXPECT_FALSE(start_point_of(*mid, *h).is_start);
}

TEST(StartPoint, AudioOnlyStreamsStartAnywhere) {
    const auto h = header({}, {1});
    const StartPoint sp = start_point_of(*packet(5), *h);
    EXPECT_TRUE(sp.is_start);
    EXPECT_TRUE(sp.streams.none());
}

TEST(StartPoint, VideoStreamsTaken) {
    const auto h = header({1, 2, 3}, {4});
    EXPECT_EQ(video_streams_taken(*h), mask({1, 2, 3}));
    const StreamMask sel = mask({2, 4});
    EXPECT_EQ(video_streams_taken(*h, &sel), mask({2}));
}

TEST(StartIndex, MbrGroupMustCoverEveryWantedStream) {
    StartIndex ix;
    // Group at 0: streams 1, 2, 3 in packets 0, 1, 2. Group at 2 s: streams 1, 2 only so far.
    ix.add(0, {true, 0, mask({1})});
    ix.add(1, {true, 0, mask({2})});
    ix.add(2, {true, 0, mask({3})});
    ix.add(10, {true, 2'000'000, mask({1})});
    ix.add(11, {true, 2'000'000, mask({2})});
    EXPECT_EQ(ix.newest_for(mask({1, 2, 3})), 0u);
    EXPECT_EQ(ix.newest_for(mask({1, 2})), 10u);
    EXPECT_EQ(ix.newest_for(mask({2})), 11u);
    EXPECT_EQ(ix.newest_for(mask({3})), 2u);
    EXPECT_EQ(ix.newest_for({}), 11u);  // a consumer of no video stream: any start point
    ix.forget_before(1);  // packet 0 left the window: group 0 lost stream 1
    EXPECT_EQ(ix.newest_for(mask({1, 2, 3})), std::nullopt);
    EXPECT_EQ(ix.newest_for(mask({2, 3})), 1u);
    ix.clear();
    EXPECT_TRUE(ix.empty());
    EXPECT_EQ(ix.newest_for({}), std::nullopt);
}

}  // namespace
}  // namespace asfcast
