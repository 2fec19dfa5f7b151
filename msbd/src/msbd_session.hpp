// The MS-MSBD server role (3.1) for one client connection as a plain class, fed the client's
// messages (cut out by MsbdMessageReader), the time, and the stream the server holds; it decides
// every byte the connection writes and when it closes. No sockets, no clock of its own: the Asio
// edge (msbd_server.cpp) only moves bytes, and tests drive it directly (tests/msbd/session_test).
//
// Sequence (3.1.3, 3.1.5, 4.1): wait for MSB_MSG_REQ_CONNECT; refuse multicast delivery and
// malformed requests with MSB_MSG_RES_CONNECT carrying a failure hr, then close; otherwise
// MSB_MSG_RES_CONNECT (hr 0) followed at once by MSB_MSG_IND_STREAMINFO with the ASF header, then
// one MSB_MSG_IND_PACKET per ASF packet (the file form, padding kept: 2.2.10), MSB_MSG_REQ_PING on
// the ping timer (2.2.3, 3.1.6; no MSB_MSG_RES_PING within the timeout closes), MSB_MSG_RES_STREAMINFO
// for each MSB_MSG_REQ_STREAMINFO (3.1.5.2), and at the end MSB_MSG_IND_EOS followed by the empty
// MSB_MSG_IND_STREAMINFO (3.1.5.3); the client then closes (4.1). A new ASF header ends the current
// stream the same way, but the IND_STREAMINFO after the IND_EOS describes the new stream with a new
// wStreamId (2.2.6, 4.2).
//
// Streaming follows the pull server's rules (pullserver/src/client_cursor.hpp): a new client starts
// at the newest group of key frames of every video stream (core/start_points.hpp, MSBD has no
// stream selection); a client more than max_lag_ms behind while a newer start point exists skips
// forward to it or is disconnected (policy), never backwards. dwPacketId counts the IND_PACKET
// messages of this connection (2.2.10), so it stays consecutive across skips. No FEC over TCP:
// every ASF packet is a data packet, none a parity packet (2.2.10, MS-MSB 2.2.2).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/packet_ring.hpp"
#include "msbd_message.hpp"

namespace asfcast::msbd {

struct SessionConfig {
    std::uint32_t connect_timeout_ms = 10000;  // MSB_MSG_REQ_CONNECT must arrive within this (3.1.3)
    std::uint32_t ping_interval_ms = 120000;   // MSB_MSG_REQ_PING "approximately every 2 minutes" (2.2.3); 0: none
    std::uint32_t ping_timeout_ms = 120000;    // no MSB_MSG_RES_PING within this ends the session (3.1.6)
    std::uint32_t end_linger_ms = 3000;        // after IND_EOS + the empty IND_STREAMINFO, the client closes (4.1)
    std::uint32_t max_lag_ms = 4000;           // a client further behind than this is lagging
    bool disconnect_on_lag = false;            // lag policy "disconnect"; else "skip"
};

// What the server holds for every session, on its network thread: the current ASF header as the
// STREAMINFO messages (made once per header) and a ring of the muxer's packets made with it.
struct StreamState {
    explicit StreamState(std::size_t ring_packets) : ring(ring_packets) {}

    // A new header: builds the STREAMINFO messages with a new wStreamId and empties the ring (the
    // old header's packets are of no use with the new one). A header MSBD cannot carry (2.2.6,
    // 2.2.10 limits) leaves `unservable` saying why.
    void set_header(HeaderPtr header);
    // Bounds the ring by time as well as by count: keeps the last `keep_ms` of send time and
    // everything from the newest start point on (where a new or a lagging client begins is never
    // dropped). Older packets are of use to no client: one that far behind skips ahead anyway.
    void trim(std::uint32_t keep_ms);

    HeaderPtr header;
    std::uint32_t header_version = 0;  // counts set_header calls; 0: no header yet
    std::uint16_t stream_id = 0;       // wStreamId of the current stream (2.2.6)
    Bytes ind_stream_info;             // MSB_MSG_IND_STREAMINFO of the current stream
    Bytes res_stream_info;             // MSB_MSG_RES_STREAMINFO, the same fields (2.2.5)
    std::string unservable;            // why the current header cannot go over MSBD; empty: it can
    PacketRing<DataPacket> ring;       // the muxer's packets, shared: the file form is sent as it is
    bool ended = false;                // the broadcast is over: sessions send what is left, then IND_EOS
};

// The StreamInfo fields for a header (2.2.6): dwBitRate = File Properties Maximum Bitrate,
// msDuration 0xFFFFFFFF and cTotalPackets 0 (a live stream: not known), cbPacketSize = the ASF
// packet size, the header = Header Object + the 50-byte Data Object start.
StreamInfo stream_info_for(const MuxedHeader& header, std::uint16_t stream_id);

struct SessionStep {
    static constexpr std::size_t kMaxBatch = 8;
    enum class Kind {
        wait,   // nothing to write until the stream, the client or the time changes something
        send,   // write `control`, then the data messages
        close,  // close the connection now: `reason`
    };
    enum class CloseKind {
        normal,           // the client closed, the stream ended, the server stops
        refused,          // RES_CONNECT with a failure hr was sent (3.1.5.1)
        protocol_error,   // a message out of sequence, from the server role, or with bad lengths
        connect_timeout,  // no REQ_CONNECT in time (3.1.3)
        ping_timeout,     // no RES_PING in time (3.1.6)
        lagged,           // fell behind the live stream (lag policy "disconnect") or stopped reading
        malformed,        // (the edge's) bytes MsbdMessageReader cannot cut into messages
    };
    struct Data {
        std::array<std::uint8_t, kPacketPrefixSize> prefix{};  // MSB_MSG_IND_PACKET's 24 bytes, this client's
        ByteView payload;  // the ASF packet, shared with every client
        PacketPtr keep;    // keeps `payload` alive while it is written
    };

    Kind kind = Kind::wait;
    Bytes control;  // whole control messages, written before the data
    std::array<Data, kMaxBatch> data{};
    std::size_t data_count = 0;
    bool close_after = false;  // close once everything is written (a refused REQ_CONNECT)
    bool ends_stream = false;  // `control` carries the IND_EOS + empty IND_STREAMINFO of the end
    CloseKind close_kind = CloseKind::normal;
    std::string reason;
    bool skipped = false;      // a lag skip happened in this step
};

class MsbdSession {
public:
    enum class Phase {
        awaiting_connect,  // 3.1.3: waiting for MSB_MSG_REQ_CONNECT
        refusing,          // RES_CONNECT with a failure hr, then close (3.1.5.1)
        accepted,          // REQ_CONNECT accepted; RES_CONNECT + IND_STREAMINFO once a header exists
        streaming,         // IND_PACKET messages
        ended,             // IND_EOS + the empty IND_STREAMINFO sent; the client closes (4.1)
        closed,
    };
    static constexpr int kMaxOwedAnswers = 16;  // REQ_STREAMINFO / REQ_PING not answered yet

    MsbdSession(SessionConfig config, Micros now);

    // A message from the client.
    void on_message(const MsbdMessage& message, Micros now);
    // Timers: REQ_CONNECT deadline, ping timer and answer deadline, end linger. True when the
    // session has something to write or wants to close.
    bool on_time(Micros now);
    // What to write next; `step` is reused by the caller (its previous contents are dropped).
    void next(const StreamState& stream, SessionStep& step, Micros now);
    // The connection ended for a reason of the edge's (client closed, server stopping).
    void close(std::string reason);

    Phase phase() const { return phase_; }
    const std::string& close_reason() const { return close_reason_; }
    const std::string& channel() const { return channel_; }  // szChannel of REQ_CONNECT
    bool lagging(const StreamState& stream) const;
    std::uint64_t packets_sent() const { return packets_sent_; }
    std::uint64_t lag_skips() const { return lag_skips_; }
    std::uint64_t pings_sent() const { return pings_sent_; }
    std::uint64_t pings_answered() const { return pings_answered_; }
    std::uint32_t next_packet_id() const { return packet_id_; }

private:
    void refuse(std::uint32_t hr, std::string reason);
    void close_with(std::string reason, SessionStep::CloseKind kind);
    void protocol_error(std::string reason) { close_with(std::move(reason), SessionStep::CloseKind::protocol_error); }
    void stream_step(const StreamState& stream, SessionStep& step, Micros now);
    void finish(SessionStep& step, Micros now);

    SessionConfig config_;
    Phase phase_ = Phase::awaiting_connect;
    std::string close_reason_;
    SessionStep::CloseKind close_kind_ = SessionStep::CloseKind::normal;
    std::uint32_t refusal_hr_ = hresult::ok;
    bool refusal_written_ = false;
    std::string channel_;
    Micros connect_deadline_;
    Micros end_deadline_ = 0;

    // Pings (3.1.2, 3.1.6): the timer starts with the accepted RES_CONNECT (3.1.3: not running
    // initially), one REQ_PING outstanding at a time.
    Micros next_ping_ = 0;
    bool ping_due_ = false;
    bool ping_outstanding_ = false;
    Micros ping_sent_at_ = 0;
    int res_pings_owed_ = 0;       // REQ_PING from the client, answered out of courtesy
    int streaminfo_requests_ = 0;  // REQ_STREAMINFO not answered yet

    // Stream position.
    std::uint32_t header_version_ = 0;
    std::uint16_t stream_id_ = 0;
    std::uint64_t cursor_ = 0;  // next ring sequence
    bool started_ = false;
    std::uint32_t packet_id_ = 0;  // dwPacketId of the next IND_PACKET (2.2.10: starts at 0)

    std::uint64_t packets_sent_ = 0;
    std::uint64_t lag_skips_ = 0;
    std::uint64_t pings_sent_ = 0;
    std::uint64_t pings_answered_ = 0;
};

}  // namespace asfcast::msbd
