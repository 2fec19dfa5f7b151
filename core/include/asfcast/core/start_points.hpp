// Where a consumer of the muxed stream may begin: the one rule every output uses (a new pull
// client, a pull client or push target that fell behind, a push target after a reconnect, an
// output whose hand-off queue overflowed).
//
// The rule: a consumer starts at the newest group of video key frames that covers every video
// stream it takes, at the group's first packet that starts one of them. A group is the key frames
// with the same presentation time: MBR renditions are keyed on the same capture frames
// (encode/renditions.hpp) and leave the interleaver in adjacent packets. A stream without video
// may start at any packet.
#pragma once

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <deque>
#include <optional>

#include "asfcast/core/muxed.hpp"

namespace asfcast {

// ASF stream numbers 1..127.
using StreamMask = std::bitset<128>;

struct StartPoint {
    bool is_start = false;
    std::int64_t group = 0;  // the key frames' presentation time
    StreamMask streams;      // video streams whose key frames begin in the packet; none: any stream
};

// What `packet` offers as a start point under `header`. Only a packet whose first payload begins a
// key frame counts (the muxer starts a packet at every video key frame), so a consumer never gets
// the tail of a frame whose beginning it did not see.
inline StartPoint start_point_of(const DataPacket& packet, const MuxedHeader& header) {
    StartPoint sp;
    if (header.video_streams.empty()) {
        sp.is_start = true;
        return sp;
    }
    if (!packet.starts_with_key_frame || packet.key_frames.empty()) return sp;
    sp.is_start = true;
    sp.group = packet.key_frames.front().pts;
    for (const auto& k : packet.key_frames)
        if (k.stream > 0 && k.stream < 128 && k.pts == sp.group) sp.streams.set(static_cast<std::size_t>(k.stream));
    return sp;
}

// The video streams of `header` a consumer takes: all of them, or those in `selected`.
inline StreamMask video_streams_taken(const MuxedHeader& header, const StreamMask* selected = nullptr) {
    StreamMask want;
    for (int v : header.video_streams)
        if (v > 0 && v < 128 && (!selected || selected->test(static_cast<std::size_t>(v))))
            want.set(static_cast<std::size_t>(v));
    return want;
}

// The start points among a window of packets numbered by increasing sequence numbers.
class StartIndex {
public:
    void add(std::uint64_t seq, const StartPoint& sp) {
        if (!sp.is_start) return;
        starts_.push_back({seq, sp.group, sp.streams});
    }
    // Forgets the start points of packets before `seq` (they left the window).
    void forget_before(std::uint64_t seq) {
        while (!starts_.empty() && starts_.front().seq < seq) starts_.pop_front();
    }
    void clear() { starts_.clear(); }
    bool empty() const { return starts_.empty(); }

    // Where a consumer of the video streams in `want` begins: the first packet of the newest group
    // that starts every wanted stream (only that group's start points for wanted streams count).
    // A start point without streams (no video) serves every consumer; `want` empty (a consumer of
    // no video stream): the newest start point.
    std::optional<std::uint64_t> newest_for(const StreamMask& want) const {
        for (std::size_t k = starts_.size(); k-- > 0;) {
            const Entry& e = starts_[k];
            if (e.streams.none() || want.none()) return e.seq;
            if ((e.streams & want).none()) continue;
            StreamMask seen;
            std::uint64_t first = e.seq;
            for (const Entry& o : starts_) {
                if (o.group != e.group || (o.streams & want).none()) continue;
                seen |= o.streams & want;
                first = std::min(first, o.seq);
            }
            if ((seen & want) == want) return first;
        }
        return std::nullopt;
    }

private:
    struct Entry {
        std::uint64_t seq;
        std::int64_t group;
        StreamMask streams;
    };
    std::deque<Entry> starts_;  // ascending seq
};

}  // namespace asfcast
