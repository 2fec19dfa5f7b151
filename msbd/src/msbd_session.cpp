#include "msbd_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "asfcast/core/start_points.hpp"

namespace asfcast::msbd {
namespace {

Micros ms(std::uint32_t v) { return Micros{v} * 1000; }

void append(Bytes& out, const Bytes& message) { out.insert(out.end(), message.begin(), message.end()); }

}  // namespace

StreamInfo stream_info_for(const MuxedHeader& header, std::uint16_t stream_id) {
    StreamInfo info;
    info.stream_id = stream_id;
    info.packet_size = static_cast<std::uint16_t>(header.packet_size);
    info.total_packets = 0;  // 2.2.6: not known for a live stream
    // 2.2.6: dwBitRate corresponds to the File Properties Object's Maximum Bitrate.
    info.bit_rate = header.max_bitrate;
    // 2.2.6: msDuration is the Play Duration "if this information is known", else 0xFFFFFFFF. A live
    // (broadcast) header's Play Duration is 0, meaning not known.
    info.duration_ms = kUnknownDuration;
    // 2.2.6 cbHeader: the whole ASF Header Object plus the 50-byte start of the Data Object.
    info.header = header.bytes;
    return info;
}

void StreamState::set_header(HeaderPtr h) {
    header = std::move(h);
    ++header_version;
    // 2.2.6: each stream gets a wStreamId of its own, in 0x0000..0x07FF.
    stream_id = static_cast<std::uint16_t>(header_version % 0x800);
    ended = false;
    ring.clear();
    unservable.clear();
    ind_stream_info.clear();
    res_stream_info.clear();
    if (header->packet_size > kMaxPacketPayload) {
        unservable = fmt::format("the ASF packet size is {} bytes; MSB_MSG_IND_PACKET carries at most {} "
                                 "(MS-MSBD 2.2.10)", header->packet_size, kMaxPacketPayload);
        return;
    }
    try {
        const StreamInfo info = stream_info_for(*header, stream_id);
        ind_stream_info = stream_info_message(MessageId::ind_streaminfo, info);
        res_stream_info = stream_info_message(MessageId::res_streaminfo, info);
    } catch (const std::invalid_argument& e) {
        unservable = e.what();
    }
}

void StreamState::trim(std::uint32_t keep_ms) {
    if (ring.size() < 2 || !header) return;
    std::uint64_t keep_from = ring.next() - 1;
    if (const auto start = ring.newest_start_for(video_streams_taken(*header))) keep_from = std::min(keep_from, *start);
    const std::uint32_t newest = (*ring.at(ring.next() - 1))->send_time_ms;
    std::uint64_t drop = ring.oldest();
    for (; drop < keep_from; ++drop) {
        const std::uint32_t t = (*ring.at(drop))->send_time_ms;
        if (!(newest > t && newest - t > keep_ms)) break;
    }
    if (drop > ring.oldest()) ring.drop_before(drop);
}

MsbdSession::MsbdSession(SessionConfig config, Micros now)
    : config_(config), connect_deadline_(now + ms(config.connect_timeout_ms)) {}

void MsbdSession::close(std::string reason) {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    close_reason_ = std::move(reason);
    close_kind_ = SessionStep::CloseKind::normal;
}

void MsbdSession::refuse(std::uint32_t hr, std::string reason) {
    phase_ = Phase::refusing;
    refusal_hr_ = hr;
    close_reason_ = "refused: " + reason;
    close_kind_ = SessionStep::CloseKind::refused;
}

void MsbdSession::close_with(std::string reason, SessionStep::CloseKind kind) {
    phase_ = Phase::closed;
    close_reason_ = std::move(reason);
    close_kind_ = kind;
}

void MsbdSession::on_message(const MsbdMessage& m, Micros now) {
    if (phase_ == Phase::closed || phase_ == Phase::refusing) return;
    const bool connected = phase_ != Phase::awaiting_connect;
    const std::string name = message_name(m.id);
    try {
        switch (m.id) {
            case MessageId::req_connect: {
                if (connected) return protocol_error("a second MSB_MSG_REQ_CONNECT on the connection (MS-MSBD 3.1.3)");
                const ConnectRequest c = parse_connect_request(m);
                // 3.1.5.1: a request for multicast delivery is refused with a failure hr; this server
                // delivers IND_PACKET on the TCP connection only (1.7).
                if (c.flags == kConnectMulticast)
                    return refuse(hresult::multicast_not_offered,
                                  "asks for multicast delivery (dwFlags 0x0002), which this server does not offer "
                                  "(MS-MSBD 3.1.5.1)");
                if (c.flags != kConnectOverTcp)
                    return refuse(hresult::invalid_argument,
                                  fmt::format("dwFlags 0x{:08X} is neither 0x0001 nor 0x0002 (MS-MSBD 2.2.7)", c.flags));
                if (!c.channel_is_unicode())
                    return refuse(hresult::invalid_argument,
                                  fmt::format("szChannel has {} bytes, not a Unicode string (MS-MSBD 2.2.7)",
                                              c.channel.size()));
                // szChannel SHOULD be "NetShow"; this server has one stream and serves it to any channel.
                channel_ = c.channel_text();
                phase_ = Phase::accepted;
                return;
            }
            case MessageId::req_streaminfo:
                expect_header_only(m);
                if (!connected) break;
                // 3.1.5.2: answered with RES_STREAMINFO (in next(), after what is already queued).
                if (++streaminfo_requests_ > kMaxOwedAnswers)
                    return protocol_error("sends MSB_MSG_REQ_STREAMINFO faster than it reads the answers");
                return;
            case MessageId::res_ping:
                expect_header_only(m);
                if (!connected) break;
                if (ping_outstanding_) {
                    ping_outstanding_ = false;
                    ++pings_answered_;
                    if (config_.ping_interval_ms > 0) next_ping_ = now + ms(config_.ping_interval_ms);
                }
                return;  // an unsolicited RES_PING is harmless
            case MessageId::req_ping:
                // Only the server pings (2.2.3); a client that does gets its RES_PING all the same.
                expect_header_only(m);
                if (!connected) break;
                if (++res_pings_owed_ > kMaxOwedAnswers)
                    return protocol_error("sends MSB_MSG_REQ_PING faster than it reads the answers");
                return;
            case MessageId::res_streaminfo:
            case MessageId::ind_streaminfo:
            case MessageId::res_connect:
            case MessageId::ind_eos:
            case MessageId::ind_packet:
                return protocol_error(name + " is a message only a server sends (MS-MSBD 2.2)");
        }
    } catch (const ParseError& e) {
        return protocol_error(e.what());
    }
    protocol_error(name + " before MSB_MSG_REQ_CONNECT (MS-MSBD 3.1.3: the client's first message is MSB_MSG_REQ_CONNECT)");
}

bool MsbdSession::on_time(Micros now) {
    switch (phase_) {
        case Phase::awaiting_connect:
            if (now < connect_deadline_) return false;
            close_with(fmt::format("no MSB_MSG_REQ_CONNECT within {} ms of connecting (MS-MSBD 3.1.3)",
                                       config_.connect_timeout_ms),
                           SessionStep::CloseKind::connect_timeout);
            return true;
        case Phase::streaming:
            // 3.1.6: no RES_PING within the timeout after a REQ_PING ends the session.
            if (ping_outstanding_ && now - ping_sent_at_ >= ms(config_.ping_timeout_ms)) {
                close_with(fmt::format("no MSB_MSG_RES_PING within {} ms of MSB_MSG_REQ_PING (MS-MSBD 3.1.6)",
                                           config_.ping_timeout_ms),
                               SessionStep::CloseKind::ping_timeout);
                return true;
            }
            if (config_.ping_interval_ms > 0 && !ping_outstanding_ && !ping_due_ && now >= next_ping_) {
                ping_due_ = true;
                return true;
            }
            return false;
        case Phase::ended:
            if (now < end_deadline_) return false;
            close(fmt::format("the stream ended (IND_EOS sent) and the client did not close within {} ms",
                              config_.end_linger_ms));
            return true;
        case Phase::closed:
            return true;
        default:
            return false;
    }
}

bool MsbdSession::lagging(const StreamState& stream) const {
    const auto& ring = stream.ring;
    if (phase_ != Phase::streaming || !started_ || cursor_ >= ring.next() || !stream.header) return false;
    if (cursor_ < ring.oldest()) return true;  // what it was to get next is gone
    // Only a client that a newer start point could help is lagging: one that started on an old key
    // frame and reads faster than the stream is catching up (the pull server's rule).
    const auto start = ring.newest_start_for(video_streams_taken(*stream.header));
    if (!start || *start <= cursor_) return false;
    const auto* at = ring.at(cursor_);
    const auto* newest = ring.at(ring.next() - 1);
    if (!at || !newest) return true;
    const std::uint32_t a = (*at)->send_time_ms, b = (*newest)->send_time_ms;
    return b > a && b - a > config_.max_lag_ms;
}

void MsbdSession::next(const StreamState& stream, SessionStep& step, Micros now) {
    for (std::size_t i = 0; i < step.data_count; ++i) step.data[i].keep.reset();
    step.kind = SessionStep::Kind::wait;
    step.control.clear();
    step.data_count = 0;
    step.close_after = false;
    step.ends_stream = false;
    step.close_kind = SessionStep::CloseKind::normal;
    step.reason.clear();
    step.skipped = false;

    switch (phase_) {
        case Phase::closed:
            step.kind = SessionStep::Kind::close;
            step.close_kind = close_kind_;
            step.reason = close_reason_;
            return;
        case Phase::awaiting_connect:
            return;
        case Phase::refusing:
            if (refusal_written_) return;
            // 3.1.5.1: RES_CONNECT with the failure hr, then the server closes the connection.
            refusal_written_ = true;
            step.control = connect_response(refusal_hr_);
            step.close_after = true;
            step.close_kind = close_kind_;
            step.reason = close_reason_;
            step.kind = SessionStep::Kind::send;
            return;
        case Phase::accepted:
            if (!stream.header) {
                if (stream.ended) {
                    refuse(hresult::fail, "the broadcast ended before it had an ASF header");
                    return next(stream, step, now);
                }
                return;  // RES_CONNECT waits for the header: IND_STREAMINFO must follow it at once
            }
            if (!stream.unservable.empty()) {
                refuse(hresult::fail, stream.unservable);
                return next(stream, step, now);
            }
            // 3.1.5.1: RES_CONNECT with hr 0, followed by IND_STREAMINFO describing the stream.
            append(step.control, connect_response(hresult::ok));
            append(step.control, stream.ind_stream_info);
            header_version_ = stream.header_version;
            stream_id_ = stream.stream_id;
            phase_ = Phase::streaming;
            // 3.1.3: the ping timer was not running until now.
            if (config_.ping_interval_ms > 0) next_ping_ = now + ms(config_.ping_interval_ms);
            break;
        case Phase::streaming:
        case Phase::ended:
            break;
    }

    for (; res_pings_owed_ > 0; --res_pings_owed_) append(step.control, header_only_message(MessageId::res_ping));
    if (ping_due_ && phase_ == Phase::streaming) {
        // 2.2.3, 3.1.6
        append(step.control, header_only_message(MessageId::req_ping));
        ping_due_ = false;
        ping_outstanding_ = true;
        ping_sent_at_ = now;
        ++pings_sent_;
    }
    if (phase_ == Phase::streaming) stream_step(stream, step, now);
    if (phase_ == Phase::closed) return next(stream, step, now);  // a lag disconnect
    // 3.1.5.2: RES_STREAMINFO describes the current stream (after a stream change in this step);
    // after the end there is none: the empty one.
    for (; streaminfo_requests_ > 0; --streaminfo_requests_)
        append(step.control, phase_ == Phase::ended ? empty_stream_info(MessageId::res_streaminfo) : stream.res_stream_info);
    if (!step.control.empty() || step.data_count > 0) step.kind = SessionStep::Kind::send;
}

void MsbdSession::stream_step(const StreamState& stream, SessionStep& step, Micros now) {
    const auto& ring = stream.ring;
    if (stream.header_version != header_version_) {
        // A new ASF header: the stream made with the old one is over. 3.1.5.3: IND_EOS, then the
        // IND_STREAMINFO of the next stream (new wStreamId, 2.2.6); its packets start at a start
        // point of the new header.
        header_version_ = stream.header_version;
        if (!stream.unservable.empty()) return finish(step, now);
        append(step.control, header_only_message(MessageId::ind_eos));
        append(step.control, stream.ind_stream_info);
        stream_id_ = stream.stream_id;
        started_ = false;
    }
    if (!started_) {
        const auto start = ring.newest_start_for(video_streams_taken(*stream.header));
        if (!start || *start < cursor_) {
            if (stream.ended) finish(step, now);
            return;
        }
        cursor_ = *start;
        started_ = true;
    }
    if (lagging(stream)) {
        if (config_.disconnect_on_lag) return close_with("fell behind the live stream", SessionStep::CloseKind::lagged);
        ++lag_skips_;
        step.skipped = true;
        const auto start = ring.newest_start_for(video_streams_taken(*stream.header));
        if (start && *start > cursor_) {
            cursor_ = *start;
        } else {
            // Fell out of the ring and no start point is left: wait for the next one.
            cursor_ = ring.next();
            started_ = false;
            return;
        }
    }
    while (step.data_count < SessionStep::kMaxBatch && cursor_ < ring.next()) {
        const PacketPtr& p = *ring.at(cursor_);
        ++cursor_;
        SessionStep::Data& d = step.data[step.data_count++];
        // 2.2.10: the ASF packet as the file has it (padding included), one per message.
        d.prefix = packet_message_prefix(packet_id_++, stream_id_, p->bytes.size());
        d.payload = p->bytes;
        d.keep = p;
        ++packets_sent_;
    }
    if (step.data_count == 0 && stream.ended && cursor_ >= ring.next()) finish(step, now);
}

void MsbdSession::finish(SessionStep& step, Micros now) {
    // 3.1.5.3: after the last IND_PACKET, IND_EOS and the empty IND_STREAMINFO (no next stream).
    append(step.control, header_only_message(MessageId::ind_eos));
    append(step.control, empty_stream_info(MessageId::ind_streaminfo));
    step.ends_stream = true;
    phase_ = Phase::ended;
    ping_due_ = false;
    ping_outstanding_ = false;
    end_deadline_ = now + ms(config_.end_linger_ms);
}

}  // namespace asfcast::msbd
