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
// - Stream selection (MS-WMSP 2.2.1.4.27, 3.2.5.7): payloads are filtered per stream (shared per
//   filter and packet): level 0 everything, level 1 key-frame payloads only, level 2 nothing. A
//   SelectStream applies from the next packet: a video stream turned on starts on a key-frame
//   payload (held back until then), a stream it replaces goes on until that payload has been sent,
//   another stream turned on starts at a media object's first payload, a stream turned off stops.
// - Batching: up to kMaxBatch $D packets per write, each a 12-byte prefix of the client's own
//   (LocationId, AFFlags sequence) in front of the packet bytes shared with every client.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "mount_state.hpp"
#include "payload_filter.hpp"
#include "stream_selection.hpp"

namespace asfcast::pull {

struct CursorConfig {
    std::uint32_t max_lag_ms = 4000;
    bool disconnect_on_lag = false;  // lag_policy "disconnect"; else "skip"
    bool chunked = false;            // HTTP/1.1 chunked transfer coding (MS-WMSP 3.2.5.6)
    // The client supports predictive stream selection (MS-WMSP 2.2.1.7.2 predstrm): after a header
    // change its selection goes on into the new entry. Without it, the $D wait for a SelectStream
    // (3.2.4.2, Session-State WAITING; 3.2.5.7 starts them again).
    bool predictive_selection = true;
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
    // `selection`: what the client's Play selected (2.2.1.4.27).
    ClientCursor(CursorConfig config, std::uint32_t header_version, const StreamSelection& selection);

    // What to write next. `step` is reused by the caller (no allocation per call in the steady
    // state); its previous contents are dropped.
    void next(const MountState& mount, CursorStep& step);

    // A new selection (SelectStream, MS-WMSP 3.2.5.7), applied from the next packet this cursor
    // writes: see the switching rules at the top.
    void select(const StreamSelection& selection, const MountState& mount);
    const StreamSelection& selection() const { return selection_; }
    // Video streams turned on by a selection and waiting for their first key-frame payload.
    bool switching() const { return held_.any(); }
    // After a header change, a client without predstrm waits for a SelectStream (3.2.4.2).
    bool waiting_for_selection() const { return waiting_for_selection_; }

    // After a header change, packets of the header this client has are still to be sent: they go
    // before the $C (MS-WMSP 3.2.4.2).
    bool draining(const MountState& mount) const;
    bool started() const { return started_; }
    std::uint32_t header_version() const { return header_version_; }  // the header it has sent
    bool at_live_edge() const { return at_live_edge_; }  // caught up with the ring once
    std::uint64_t lag_skips() const { return lag_skips_; }
    std::uint64_t position() const { return cursor_; }   // next ring sequence
    bool lagging(const MountState& mount) const;

private:
    asfcast::StreamMask wanted_video(const MountState& mount) const;
    // The packet as this client gets it: nullptr for the wire form as it is, &kNothing when no
    // payload is left, else a shared filtered variant. Moves pending switches forward.
    const Bytes* payload_for(const MountPacket& p, const MountState& mount);
    // The filter for packets without a switch in them, from the selection and the switches pending.
    void update_filter(const MountState& mount);
    // Pending switches end: at a start point every wanted video stream starts on a key frame.
    void clear_switches();
    static bool is_video(const MountState& mount, int stream);
    std::size_t chunk_line(std::uint8_t* out, std::size_t size) const;
    void append_chunked(Bytes& out, ByteView frame) const;
    void finish(CursorStep& step) const;
    static inline const Bytes kNothing{};  // payload_for: no payload of the packet is selected

    CursorConfig config_;
    std::uint32_t header_version_;
    StreamSelection selection_;
    asfcast::StreamMask held_;          // video streams waiting for their first key-frame payload
    PayloadFilter held_keep_{};         // what a held stream sends while it waits (none, or key frames
                                        // for a stream going from level 1 to 0)
    std::array<std::uint8_t, 128> until_{};  // until_[old] = new: `old` goes on until `new` starts
    PayloadFilter until_keep_{};        // what such an old stream sends meanwhile
    asfcast::StreamMask starting_;      // non-video streams turned on: from the next object start
    PayloadFilter filter_{};            // the filter in use between switches
    bool filter_all_ = true;            // filter_ keeps every payload: send the wire form as it is
    std::uint64_t cursor_ = 0;
    bool started_ = false;
    bool waiting_for_selection_ = false;
    bool at_live_edge_ = false;
    std::uint8_t afflags_ = 0;  // MS-WMSP 2.2.3.1.2: $D sequence number
    std::uint64_t lag_skips_ = 0;
};

}  // namespace asfcast::pull
