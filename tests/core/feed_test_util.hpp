// Synthetic muxed packets for the core tests: numbered packets with the key-frame marks the muxer
// sets, and headers with the video streams a start rule needs. No bytes: the hand-off and the start
// rule only look at the marks.
#pragma once

#include <initializer_list>
#include <memory>

#include "asfcast/core/muxed.hpp"

namespace asfcast::coretest {

inline HeaderPtr header(std::initializer_list<int> video, std::initializer_list<int> audio = {2},
                        std::uint32_t version = 0) {
    auto h = std::make_shared<MuxedHeader>();
    h->packet_size = 1000;
    h->video_streams = video;
    h->audio_streams = audio;
    h->version = version;
    h->bytes.assign(80, static_cast<std::uint8_t>(version));
    return h;
}

// Packet `number`; `keys`: the video streams whose key frames start in it (at presentation time
// `pts`), first payload first.
inline PacketPtr packet(std::uint64_t number, std::initializer_list<int> keys = {}, Micros pts = 0) {
    auto p = std::make_shared<DataPacket>();
    p->number = number;
    p->send_time_ms = static_cast<std::uint32_t>(number * 10);
    for (int k : keys) p->key_frames.push_back({k, pts});
    p->starts_with_key_frame = keys.size() > 0;
    p->bytes.assign(16, static_cast<std::uint8_t>(number));
    return p;
}

}  // namespace asfcast::coretest
