// Simple Index Object (ASF-notes §17) for one video stream.
//
// Entry i stands for presentation time i × interval (times in the object include the preroll, as
// the payloads' presentation times do; a reader maps entry i to i × interval − preroll). It names
// the packet where the latest key frame of the stream with presentation time ≤ i × interval
// starts, and how many packets that key frame spans. Entries before the first key frame name the
// first key frame; entries run up to the latest presentation time seen in any packet.
//
// The packets are read back (parse_packet) to find key-frame starts and the packets their
// fragments continue into, so the packet count is exact for packets from our Packetizer.
#include <algorithm>
#include <limits>
#include <stdexcept>

#include "objects.hpp"

namespace asfcast::asfmux {

SimpleIndexBuilder::SimpleIndexBuilder(int stream, std::uint32_t preroll_ms, Micros interval)
    : stream_(stream), preroll_ms_(preroll_ms), interval_(interval) {
    if (interval_ <= 0) throw std::invalid_argument("SimpleIndexBuilder: interval must be positive");
}

void SimpleIndexBuilder::add_packet(const DataPacket& packet, std::uint64_t file_number) {
    const std::uint32_t number = file_number > std::numeric_limits<std::uint32_t>::max()
                                     ? std::numeric_limits<std::uint32_t>::max()
                                     : static_cast<std::uint32_t>(file_number);
    extent_us_ = std::max(extent_us_, packet.max_pts + Micros{preroll_ms_} * 1000);

    PacketInfo info;
    try {
        info = parse_packet(packet.bytes, static_cast<std::uint32_t>(packet.bytes.size()));
    } catch (const ParseError&) {
        // Not readable: fall back to what the muxer reported, one packet per key frame.
        key_open_ = false;
        for (const auto& k : packet.key_frames) {
            if (k.stream != stream_) continue;
            Micros t = (k.pts / 1000 + preroll_ms_) * 1000;
            if (!keys_.empty()) t = std::max(t, keys_.back().time_us);
            keys_.push_back({t, number, 1});
            extent_us_ = std::max(extent_us_, t);
        }
        return;
    }

    if (key_open_) {
        bool continues = false, ends = false;
        for (const auto& p : info.payloads) {
            if (p.stream != stream_ || p.compressed || p.object_number != key_object_ || p.offset == 0) continue;
            continues = true;
            if (std::uint64_t{p.offset} + p.length >= p.object_size) ends = true;
        }
        if (continues) {
            const std::uint64_t span = std::uint64_t{number} - keys_.back().packet + 1;
            keys_.back().count = static_cast<std::uint16_t>(std::min<std::uint64_t>(span, 0xFFFF));
        }
        if (!continues || ends) key_open_ = false;
    }

    for (const auto& p : info.payloads) {
        if (p.stream != stream_ || p.compressed || !p.keyframe || p.offset != 0) continue;
        Micros t = Micros{p.pts_ms} * 1000;  // already includes the preroll
        if (!keys_.empty()) t = std::max(t, keys_.back().time_us);
        keys_.push_back({t, number, 1});
        extent_us_ = std::max(extent_us_, t);
        key_object_ = p.object_number;
        key_open_ = p.length < p.object_size;
    }
}

std::size_t SimpleIndexBuilder::entries() const {
    if (keys_.empty()) return 0;
    const Micros extent = std::max(extent_us_, keys_.back().time_us);
    return static_cast<std::size_t>(extent / interval_) + 1;
}

Bytes SimpleIndexBuilder::build(const Guid& file_id) const {
    const std::size_t n = entries();
    std::uint16_t max_count = 0;
    for (const auto& k : keys_) max_count = std::max(max_count, k.count);

    Bytes out;
    out.reserve(56 + 6 * n);
    ByteWriter w(out);
    w.bytes(detail::guids::simple_index.data(), 16);              // Object ID
    w.u64(56 + 6 * std::uint64_t{n});                              // Object Size
    w.bytes(file_id.data(), file_id.size());                      // File ID
    w.u64(static_cast<std::uint64_t>(interval_) * 10);            // Index Entry Time Interval (100 ns)
    w.u32(max_count);                                             // Maximum Packet Count
    w.u32(static_cast<std::uint32_t>(n));                         // Index Entries Count
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const Micros t = static_cast<Micros>(i) * interval_;
        while (k + 1 < keys_.size() && keys_[k + 1].time_us <= t) ++k;
        w.u32(keys_[k].packet);  // Packet Number
        w.u16(keys_[k].count);   // Packet Count
    }
    return out;
}

}  // namespace asfcast::asfmux
