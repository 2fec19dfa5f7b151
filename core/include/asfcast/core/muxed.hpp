// The muxer's output: one header and a stream of fixed-size data packets. Every output
// (archive, pull server, push targets, multicast) subscribes to this one stream.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
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
    std::uint32_t version = 0;          // bumps on every header change ($C + new $H)
};

struct KeyFrameStart {
    int stream = 0;
    Micros pts = 0;  // presentation time without preroll
};

// One ASF data packet of exactly MuxedHeader::packet_size bytes (padding included).
struct DataPacket {
    Bytes bytes;
    std::uint64_t number = 0;           // 0 for the first packet after the header
    std::uint32_t send_time_ms = 0;
    std::uint32_t padding = 0;          // padding bytes at the end of `bytes`
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

// An output that subscribes to the muxed stream. Calls come from the muxer thread and must not
// block for long: an output with slow I/O queues internally.
class MuxedStreamSink {
public:
    virtual ~MuxedStreamSink() = default;
    virtual void on_header(HeaderPtr header) = 0;
    virtual void on_packet(PacketPtr packet) = 0;
    virtual void on_end() = 0;  // normal end of the broadcast
};

// Fan-out of the muxed stream to every subscribed output; outputs never know each other.
class MuxedStreamBus {
public:
    void subscribe(std::shared_ptr<MuxedStreamSink> sink);
    void publish_header(HeaderPtr h);
    void publish_packet(PacketPtr p);
    void publish_end();
    HeaderPtr current_header() const;

private:
    mutable std::mutex m_;
    std::vector<std::shared_ptr<MuxedStreamSink>> sinks_;
    HeaderPtr header_;
};

}  // namespace asfcast
