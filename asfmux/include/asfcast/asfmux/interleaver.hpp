// Orders encoded frames from several encoders (each in its own decode order) into one send
// order by decode time, so ASF send times rise and audio and video are interleaved closely.
//
// A frame goes out once no stream can still deliver an earlier one: every other stream has a
// frame waiting (its decode times only rise), has ended, or has a known minimum spacing
// (set_min_step) that puts its next frame at or after this one. Without the spacing, video waits
// for the audio frame that starts after it (up to an audio frame duration more than for the one
// that contains it: 46 ms with WMA2 at 44.1 kHz), on top of the audio encoder's own delay.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "asfcast/core/media.hpp"

namespace asfcast::asfmux {

class Interleaver {
public:
    // `max_wait_us`: a frame is released anyway once it has waited this long for a frame of a
    // silent stream (a stalled encoder must not stall the broadcast).
    Interleaver(const std::vector<int>& streams, Micros max_wait_us);

    void push(EncodedFrame frame, Micros now_us);
    // The stream will deliver nothing more; it no longer holds back the others.
    void end_stream(int stream);
    // The stream's decode times rise by at least `min_step` from frame to frame (an audio
    // encoder's frame duration): frames up to its last decode time + min_step need not wait for
    // its next frame. A stream that breaks this (a resynchronization backwards) gets frames out
    // of decode order by less than min_step, which the packetizer's rising send times absorb.
    void set_min_step(int stream, Micros min_step);
    // The next frame in decode-time order, when no stream can still deliver an earlier one.
    std::optional<EncodedFrame> pop(Micros now_us);
    // All frames, in order, regardless of waiting streams (end of broadcast).
    std::optional<EncodedFrame> pop_any();
    // When pop() may release a frame because of max_wait, if anything is queued.
    std::optional<Micros> next_deadline() const;
    std::size_t queued() const;

private:
    struct Queued {
        EncodedFrame frame;
        Micros arrived;
    };
    struct Lane {
        std::deque<Queued> frames;
        bool ended = false;
        Micros min_step = 0;      // 0: unknown
        bool have_last = false;   // a frame was pushed: last_dts is its decode time
        Micros last_dts = 0;
    };
    std::map<int, Lane>::iterator earliest();

    std::map<int, Lane> lanes_;
    Micros max_wait_;
};

}  // namespace asfcast::asfmux
