// The interleaver: one send order by decode time from several encoders, released as soon as no
// stream can still deliver an earlier frame.
#include <gtest/gtest.h>

#include "asfcast/asfmux/interleaver.hpp"

namespace asfcast::asfmux {
namespace {

EncodedFrame frame(int stream, Micros dts) {
    EncodedFrame f;
    f.stream = stream;
    f.kind = stream == 1 ? MediaKind::video : MediaKind::audio;
    f.pts = f.dts = dts;
    return f;
}

std::vector<std::pair<int, Micros>> drain(Interleaver& il, Micros now) {
    std::vector<std::pair<int, Micros>> out;
    for (int i = 0; i < 1000; ++i) {
        auto f = il.pop(now);
        if (!f) break;
        out.emplace_back(f->stream, f->dts);
    }
    return out;
}

using Out = std::vector<std::pair<int, Micros>>;

TEST(Interleaver, ReleasesByDecodeTimeOnceEveryStreamHasAFrame) {
    Interleaver il({1, 2}, 500'000);
    il.push(frame(1, 0), 0);
    il.push(frame(1, 33'333), 0);
    EXPECT_TRUE(drain(il, 0).empty());  // the audio stream could still deliver something earlier
    il.push(frame(2, 20'000), 0);
    EXPECT_EQ(drain(il, 0), (Out{{1, 0}, {2, 20'000}}));  // 33'333 waits for the next audio frame
    il.push(frame(2, 66'000), 0);
    EXPECT_EQ(drain(il, 0), (Out{{1, 33'333}}));
}

TEST(Interleaver, MaxWaitReleasesWhenAStreamIsSilent) {
    Interleaver il({1, 2}, 500'000);
    il.push(frame(1, 0), 1'000'000);
    EXPECT_TRUE(drain(il, 1'400'000).empty());
    EXPECT_EQ(drain(il, 1'500'000), (Out{{1, 0}}));
    il.end_stream(2);
    il.push(frame(1, 33'333), 1'500'000);
    EXPECT_EQ(drain(il, 1'500'000), (Out{{1, 33'333}}));
}

// With the audio frame duration known, a video frame goes as soon as the audio frame that
// contains its time is out, not the one after it: 46 ms less waiting with WMA2 at 44.1 kHz.
TEST(Interleaver, MinStepReleasesFramesTheNextAudioFrameCannotPrecede) {
    const Micros step = 46'439;
    Interleaver il({1, 2}, 500'000);
    il.set_min_step(2, step);
    il.push(frame(2, 0), 0);
    il.push(frame(1, 10'000), 0);
    il.push(frame(1, 43'333), 0);
    il.push(frame(1, 76'666), 0);
    // Audio 0 is out: the next audio frame starts at 46'439 or later, so video up to there goes.
    EXPECT_EQ(drain(il, 0), (Out{{2, 0}, {1, 10'000}, {1, 43'333}}));
    il.push(frame(2, step), 0);
    EXPECT_EQ(drain(il, 0), (Out{{2, step}, {1, 76'666}}));
    // Without a frame pushed yet, the spacing says nothing.
    Interleaver fresh({1, 2}, 500'000);
    fresh.set_min_step(2, step);
    fresh.push(frame(1, 0), 0);
    EXPECT_TRUE(drain(fresh, 0).empty());
}

TEST(Interleaver, UnknownStreamsAreRefused) {
    Interleaver il({1, 2}, 500'000);
    EXPECT_THROW(il.push(frame(3, 0), 0), std::invalid_argument);
    EXPECT_THROW(il.set_min_step(3, 1000), std::invalid_argument);
}

}  // namespace
}  // namespace asfcast::asfmux
