// Orders encoded frames from several encoders (each in its own decode order) into one send
// order by decode time, so ASF send times rise and audio and video are interleaved closely.
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
    };
    std::map<int, Lane>::iterator earliest();

    std::map<int, Lane> lanes_;
    Micros max_wait_;
};

}  // namespace asfcast::asfmux
