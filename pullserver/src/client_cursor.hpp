// One streaming client's position in its mount, as a plain class fed the mount and the time: it
// decides what to write next (MS-WMSP 3.2.5.6 Play, 3.2.4.1 end of stream, 3.2.4.2 header change)
// and the connection only writes it. Tested without sockets (tests/pullserver/client_cursor_test).
//
// - Start: a new client begins at the newest group of key frames covering the video streams it
//   takes (core/start_points.hpp).
// - Lag: a client is behind when the newest packet was sent more than max_lag_ms after the one it
//   is at AND a newer start point exists; it then skips forward to the newest start point, or is
//   disconnected (policy). A client that started on an old key frame (key frames far apart) and is
//   catching up is not lagging: there is nothing newer to skip to. LocationIds never go back.
// - Header change: $C then the new header's $H packets, before any packet of the new header.
// - Stream selection: deselected streams' payloads are cut out (shared per selection); a video
//   stream that becomes selected mid-stream is held back until its next key frame.
// - Batching: up to kMaxBatch $D packets per write, each a 12-byte prefix of the client's own
//   (LocationId, AFFlags sequence) in front of the packet bytes shared with every client.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "mount_state.hpp"

namespace asfcast::pull {

struct CursorConfig {
    std::uint32_t max_lag_ms = 4000;
    bool disconnect_on_lag = false;  // lag_policy "disconnect"; else "skip"
    bool chunked = false;            // HTTP/1.1 chunked transfer coding (MS-WMSP 3.2.5.6)
};

struct CursorStep {
    static constexpr std::size_t kMaxBatch = 8;
    enum class Kind {
        wait,        // nothing to send until the mount changes
        send,        // write `control` (if any), then the data packets
        finish,      // write `control` ($E, end of chunks) and the stream is over
        disconnect,  // close the connection: `reason`
    };
    struct Data {
        std::array<std::uint8_t, 24> prefix{};  // chunk line + $D framing (MS-WMSP 2.2.3.3)
        std::size_t prefix_size = 0;
        ByteView payload;
        bool chunk_end = false;   // "\r\n" after the payload (chunked)
        MountPacketPtr keep;      // keeps `payload` alive while it is written
        Micros capture_us = 0;    // the packet's capture time (latency), 0 unknown
    };
    Kind kind = Kind::wait;
    Bytes control;
    std::array<Data, kMaxBatch> data{};
    std::size_t data_count = 0;
    std::string reason;
    bool skipped = false;  // a lag skip happened in this step
};

class ClientCursor {
public:
    // `selected` (with all_selected false): the streams the client's Play selected (2.2.1.4.27).
    ClientCursor(CursorConfig config, std::uint32_t header_version, bool all_selected, const StreamMask& selected);

    // What to write next. `step` is reused by the caller (no allocation per call in the steady
    // state); its previous contents are dropped.
    void next(const MountState& mount, CursorStep& step);

    // A new selection (SelectStream): from the next packet on, only these streams; newly selected
    // video streams wait for their next key frame.
    void select(bool all_selected, const StreamMask& selected, const MountState& mount);

    bool started() const { return started_; }
    bool at_live_edge() const { return at_live_edge_; }  // caught up with the ring once
    std::uint64_t lag_skips() const { return lag_skips_; }
    std::uint64_t position() const { return cursor_; }   // next ring sequence
    bool lagging(const MountState& mount) const;

private:
    asfcast::StreamMask wanted_video(const MountState& mount) const;
    const Bytes* payload_for(const MountPacket& p);  // nullptr: nothing of this packet is selected
    std::size_t chunk_line(std::uint8_t* out, std::size_t size) const;
    void append_chunked(Bytes& out, ByteView frame) const;
    void finish(CursorStep& step) const;
    static inline const Bytes kNothing{};  // payload_for: no payload of the packet is selected

    CursorConfig config_;
    std::uint32_t header_version_;
    bool all_selected_;
    StreamMask selected_;
    asfcast::StreamMask held_;  // selected video streams waiting for a key frame
    StreamMask effective_{};    // selected_ minus held_, the filter mask in use
    bool effective_all_ = true;
    std::uint64_t cursor_ = 0;
    bool started_ = false;
    bool at_live_edge_ = false;
    std::uint8_t afflags_ = 0;  // MS-WMSP 2.2.3.1.2: $D sequence number
    std::uint64_t lag_skips_ = 0;
};

}  // namespace asfcast::pull
