// The muxer's output: one header and a stream of data packets. Every output (archive, pull
// server, push targets, multicast) reads this one stream through its OutputFeed (muxed_bus.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/media.hpp"

namespace asfcast {

// Header Object followed by the first 50 bytes of the Data Object: what MS-WMSP 2.2.3.5 ($H),
// MS-WMHTTP 2.2.3.6 and MS-MSB 2.2.1.4 call "the ASF header".
struct MuxedHeader {
    Bytes bytes;
    std::uint32_t packet_size = 0;
    std::uint32_t preroll_ms = 0;
    std::uint32_t max_bitrate = 0;      // File Properties Maximum Bitrate, bits/s
    std::vector<int> video_streams;     // ASF stream numbers
    std::vector<int> audio_streams;
    std::vector<int> command_streams;   // script commands (ASF Command Media), none or one
    bool protected_content = false;     // a packager protects every payload under this header (asfmux/packager.hpp)
    std::uint32_t version = 0;          // bumps on every header change ($C + new $H)
    std::string label;                  // what this header begins (a playlist entry's name), for file names and logs; may be empty
};

struct KeyFrameStart {
    int stream = 0;
    Micros pts = 0;  // presentation time without preroll
};

// One ASF data packet, made once by the muxer in its two forms (ASF-notes §16):
// - the file form `bytes`: exactly MuxedHeader::packet_size bytes, padding declared in a Padding
//   Length field and present as zeros (archive; MS-MSBD 2.2.10 keeps padding);
// - the wire form `wire_form()`: the same packet with the Padding Length field and the Padding
//   Data removed and the Length Type Flags saying neither exists, no Packet Length field
//   (MS-WMSP 2.2.3.3, MS-WMHTTP 2.2.3.3, MS-MSB 2.2.4). A packet that carries padding is always in
//   the multiple-payloads layout, where every payload has its own length, so a client that pads
//   the wire form back to the packet size reads the same payloads. A packet its payloads fill
//   completely has no padding: both forms are the same bytes.
struct DataPacket {
    Bytes bytes;                        // file form
    Bytes wire;                         // wire form when it differs from `bytes`, else empty
    ByteView wire_form() const { return wire.empty() ? ByteView(bytes) : ByteView(wire); }
    std::uint64_t number = 0;           // 0 for the first packet after the header
    std::uint32_t send_time_ms = 0;
    std::uint32_t padding = 0;          // Padding Data bytes at the end of `bytes` (field not counted)
    // Video key frames whose first byte (offset 0) is in this packet. A packet whose first
    // payload starts a key frame is where a late joiner can start.
    std::vector<KeyFrameStart> key_frames;
    bool starts_with_key_frame = false;
    Micros max_pts = 0;                 // latest presentation end time of any payload (no preroll)
    Micros min_pts = 0;                 // earliest presentation time of any payload (no preroll)
    // monotonic_us() when the oldest media in this packet was captured; 0 when unknown (a file
    // source). Outputs use it to measure capture-to-network latency.
    Micros capture_us = 0;
    Micros oldest_capture_us = 0;       // monotonic_us() when the oldest payload entered the muxer
};

using HeaderPtr = std::shared_ptr<const MuxedHeader>;
using PacketPtr = std::shared_ptr<const DataPacket>;

}  // namespace asfcast
