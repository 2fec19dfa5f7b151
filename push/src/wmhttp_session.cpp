#include "asfcast/push/wmhttp_session.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "asfcast/asfmux/asfmux.hpp"

namespace asfcast::push {
namespace {

using std::chrono::milliseconds;

constexpr std::uint64_t kMaxBudget = 2147483647u;

bool is_2xx(int s) { return s >= 200 && s < 300; }

std::string status_text(const http::HttpHead& h) {
    return h.reason.empty() ? std::to_string(h.status) : fmt::format("{} {}", h.status, h.reason);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::optional<SessionConfig> make_session_config(const PushTarget& target, const PushConfig& tuning,
                                                 std::string* error) {
    auto url = parse_push_url(target.url, error);
    if (!url) return std::nullopt;
    SessionConfig c;
    c.url = *url;
    c.user = target.user.empty() ? url->user : target.user;
    c.password = target.user.empty() ? url->password : target.password;
    c.url.user.clear();
    c.url.password.clear();
    if (!target.template_url.empty()) {
        auto t = template_path(target.template_url);
        if (!t) {
            if (error) *error = "unusable template publishing point '" + target.template_url + "'";
            return std::nullopt;
        }
        c.template_path = *t;
    }
    c.auto_remove = target.auto_remove;
    c.tuning = tuning;
    c.tuning.targets.clear();
    return c;
}

WmhttpSession::WmhttpSession(SessionConfig config)
    : cfg_(std::move(config)),
      url_(cfg_.url),
      display_(cfg_.url.display()),
      auth_(cfg_.user, cfg_.password),
      rng_(cfg_.seed ? cfg_.seed : std::random_device{}()) {
    counters_.url = display_;
}

// ---------------------------------------------------------------------------------------------
// Higher layer

void WmhttpSession::on_header(HeaderPtr header, TimePoint now) {
    if (!header || phase_ == Phase::finished) return;
    if (phase_ == Phase::failed && error_ == TargetError::config) return;
    const std::size_t max_chunk = std::min(cfg_.tuning.max_chunk, kMaxFrameLength);
    // The first header goes out in $H (its PacketLength is the header's size, at most 65,531
    // bytes: MS-WMHTTP 2.2.3.6); a later one in $C, after a 4-byte Reason (at most 65,527 bytes:
    // 2.2.3.2). Either way within the chunk limit; a $D carries a whole packet (2.2.3.3).
    const bool in_c = header_ != nullptr;
    const std::size_t max_header =
        in_c ? std::min(max_chunk - 4, kMaxStreamChangeHeader) : std::min(max_chunk, kMaxHeaderPacket);
    if (header->bytes.size() > max_header || header->packet_size > max_chunk) {
        fail_permanent(TargetError::config,
                       fmt::format("ASF header ({} bytes, at most {} in a {}) or packet size ({} bytes) exceeds the "
                                   "{}-byte chunk limit",
                                   header->bytes.size(), max_header, in_c ? "$C" : "$H", header->packet_size, max_chunk),
                       now, true);
        return;
    }
    if (latest_header_ && latest_header_->bytes == header->bytes) return;
    latest_header_ = header;
    if (!header_) {
        header_ = header;
        if (phase_ == Phase::wait_header) start_connect(now, false);
        return;
    }
    enqueue(Item{Item::Kind::header, nullptr, std::move(header)}, now);
}

void WmhttpSession::on_packet(PushPacketPtr packet, TimePoint now) {
    if (!packet) return;
    switch (phase_) {
        case Phase::wait_header:
        case Phase::failed:
        case Phase::finished:
            return;
        default:
            break;
    }
    if (!first_offered_number_) first_offered_number_ = packet->source->number;
    if (end_queued_ || need_start_) return;  // start_from() brings what it needs
    enqueue(Item{Item::Kind::packet, std::move(packet), nullptr}, now);
}

void WmhttpSession::need_start() {
    drop_queued_packets();
    need_start_ = true;
}

bool WmhttpSession::wants_start() const {
    return need_start_ && phase_ != Phase::failed && phase_ != Phase::finished && phase_ != Phase::wait_header;
}

void WmhttpSession::start_from(std::vector<PushPacketPtr> packets, TimePoint now) {
    (void)now;
    if (!wants_start() || packets.empty()) return;
    const PushPacket& first = *packets.front();
    // A start point this target has sent already: it waits for the next one (never sends a
    // packet twice, never moves back in time).
    if (last_sent_number_ && first.source->number <= *last_sent_number_) return;
    need_start_ = false;
    // Packets between the last one sent (or the first offered) and the start point are skipped.
    // Every packet offered is either sent or counted skipped, once: the ones before the start
    // point that were neither (never sent, or queued and dropped since the last resume).
    const std::uint64_t from = next_unaccounted_.value_or(first_offered_number_.value_or(first.source->number));
    if (first.source->number > from) counters_.packets_skipped += first.source->number - from;
    next_unaccounted_ = first.source->number;
    // Pending header changes stay first, then the header these packets were made with if it is
    // not the last one known, the packets, and the end if it is queued.
    std::deque<Item> q;
    bool end = false;
    HeaderPtr last = header_;
    for (auto& it : queue_) {
        if (it.kind == Item::Kind::header) {
            last = it.header;
            q.push_back(std::move(it));
        } else if (it.kind == Item::Kind::end) {
            end = true;
        }
    }
    if (first.header && (!last || last->bytes != first.header->bytes)) {
        q.push_back(Item{Item::Kind::header, nullptr, first.header});
        latest_header_ = first.header;
    }
    queue_bytes_ = 0;
    for (auto& p : packets) {
        queue_bytes_ += p->payload().size();
        q.push_back(Item{Item::Kind::packet, std::move(p), nullptr});
    }
    if (end) q.push_back(Item{Item::Kind::end, nullptr, nullptr});
    queue_ = std::move(q);
    spdlog::debug("push[{}] {}: resuming at a key frame ({} packets queued)", cfg_.index, display_, packets.size());
}

void WmhttpSession::enqueue(Item item, TimePoint now) {
    if (item.kind != Item::Kind::packet) {
        queue_.push_back(std::move(item));
        return;
    }
    const std::size_t size = item.packet->payload().size();
    if (queue_bytes_ + size > cfg_.tuning.queue_bytes) {
        // The target fell behind: it resumes at the newest start point (start_from), and what it
        // did not send is counted as skipped then.
        const std::size_t dropped = drop_queued_packets();
        need_start_ = true;
        if (now - last_overflow_log_ > std::chrono::seconds(10)) {
            last_overflow_log_ = now;
            spdlog::warn("push[{}] {}: queue full ({} bytes), {} queued packets dropped, resuming at a key frame",
                         cfg_.index, display_, cfg_.tuning.queue_bytes, dropped);
        }
        return;
    }
    queue_bytes_ += size;
    queue_.push_back(std::move(item));
}

std::size_t WmhttpSession::drop_queued_packets() {
    std::size_t n = 0;
    std::deque<Item> kept;
    for (auto& it : queue_) {
        if (it.kind == Item::Kind::packet) {
            ++n;
        } else {
            kept.push_back(std::move(it));
        }
    }
    queue_ = std::move(kept);
    queue_bytes_ = 0;
    return n;
}

void WmhttpSession::on_end(TimePoint now) {
    if (phase_ == Phase::finished) return;
    switch (phase_) {
        case Phase::connecting:
        case Phase::setup_sent:
        case Phase::streaming:
        case Phase::await_reply:
            if (!end_queued_) {
                end_queued_ = true;
                queue_.push_back(Item{Item::Kind::end, nullptr, nullptr});
            }
            break;
        case Phase::ending:
            break;
        default:
            finish(now);
            break;
    }
}

void WmhttpSession::stop(TimePoint now) {
    if (phase_ == Phase::finished) return;
    finish(now);
}

void WmhttpSession::finish(TimePoint now) {
    (void)now;
    close_connection();
    connect_pending_ = false;
    phase_ = Phase::finished;
    queue_.clear();
    queue_bytes_ = 0;
    retry_at_.reset();
    spdlog::info("push[{}] {}: finished ({} packets sent, {} skipped, {} reconnects)", cfg_.index, display_,
                 counters_.packets_sent, counters_.packets_skipped, counters_.reconnects);
}

// ---------------------------------------------------------------------------------------------
// Connections

void WmhttpSession::start_connect(TimePoint now, bool counts_as_reconnect) {
    close_connection();
    if (counts_as_reconnect) ++counters_.reconnects;
    phase_ = Phase::connecting;
    connect_pending_ = true;
    connect_deadline_ = now + cfg_.tuning.connect_timeout;
    retry_at_.reset();
    auth_.on_new_connection();
    spdlog::debug("push[{}] {}: connecting", cfg_.index, display_);
}

void WmhttpSession::close_connection() {
    if (conn_open_ || connect_pending_ || connect_in_flight_) close_pending_ = true;
    conn_open_ = false;
    connect_in_flight_ = false;
    connect_pending_ = false;
    shutdown_pending_ = false;
    parser_.reset();
    body_skip_ = 0;
    body_until_close_ = false;
    outstanding_ = Request::none;
    out_.clear();
    write_pending_ = false;
    connect_deadline_.reset();
    reply_deadline_.reset();
    linger_deadline_.reset();
    streaming_since_.reset();
}

void WmhttpSession::on_connected(TimePoint now) {
    if (phase_ != Phase::connecting || !connect_in_flight_) return;
    connect_in_flight_ = false;
    conn_open_ = true;
    close_pending_ = false;
    connect_deadline_.reset();
    if (start_on_connect_) {
        start_on_connect_ = false;
        send_start(now);
    } else {
        send_setup(now);
    }
}

void WmhttpSession::on_connect_failed(std::string_view why, TimePoint now) {
    if (phase_ != Phase::connecting || !connect_in_flight_) return;
    connect_in_flight_ = false;
    connect_pending_ = false;
    close_pending_ = false;
    fail_transient(TargetError::network, fmt::format("network error: cannot connect to {}: {}", url_.host_header(), why),
                   now);
}

void WmhttpSession::lost_connection(std::string text, TimePoint now) {
    switch (phase_) {
        case Phase::ending:
            conn_open_ = false;
            finish(now);
            return;
        case Phase::await_reply:
            // Some receivers never answer a PushStart and close when its body is complete:
            // that is their way of ending the POST, not a failure. Start over at once.
            spdlog::info("push[{}] {}: server closed after the POST body; starting a new session", cfg_.index,
                         display_);
            push_id_ = "0";
            start_connect(now, true);
            return;
        case Phase::connecting:
        case Phase::setup_sent:
        case Phase::streaming:
            fail_transient(TargetError::network, std::move(text), now);
            return;
        default:
            conn_open_ = false;
            return;
    }
}

void WmhttpSession::on_peer_closed(TimePoint now) {
    if (!conn_open_) return;
    const char* when = phase_ == Phase::setup_sent ? " before answering PushSetup"
                       : phase_ == Phase::streaming ? " during PushStart"
                                                    : "";
    lost_connection(fmt::format("network error: server closed the connection{}", when), now);
}

void WmhttpSession::on_transport_error(std::string_view why, TimePoint now) {
    if (!conn_open_) return;
    lost_connection(fmt::format("network error: {}", why), now);
}

void WmhttpSession::on_write_progress(TimePoint now) { write_progress_ = now; }

void WmhttpSession::on_write_done(TimePoint now) {
    write_pending_ = false;
    if (phase_ == Phase::ending && out_.empty() && conn_open_ && !linger_deadline_) {
        // $E is out: half-close and give the server a moment to close its side.
        shutdown_pending_ = true;
        linger_deadline_ = now + std::min<milliseconds>(cfg_.tuning.end_timeout, milliseconds(3000));
    }
}

void WmhttpSession::on_timer(TimePoint now) {
    if (write_pending_ && conn_open_ && now - write_progress_ >= cfg_.tuning.stall_timeout) {
        if (phase_ == Phase::ending) {
            finish(now);
        } else {
            fail_transient(TargetError::network, "network error: server stopped reading (stalled)", now);
        }
        return;
    }
    switch (phase_) {
        case Phase::retry:
            if (retry_at_ && now >= *retry_at_) start_connect(now, true);
            break;
        case Phase::failed:
            if (retry_at_ && now >= *retry_at_) start_connect(now, true);
            break;
        case Phase::connecting:
            if (connect_deadline_ && now >= *connect_deadline_) {
                connect_pending_ = false;
                fail_transient(TargetError::network, "network error: connect timed out", now);
            }
            break;
        case Phase::setup_sent:
            if (reply_deadline_ && now >= *reply_deadline_)
                fail_transient(TargetError::network, "network error: no reply to PushSetup", now);
            break;
        case Phase::await_reply:
            if (reply_deadline_ && now >= *reply_deadline_) {
                spdlog::info("push[{}] {}: no reply to PushStart at the end of its body; starting a new session",
                             cfg_.index, display_);
                push_id_ = "0";
                start_connect(now, true);
            }
            break;
        case Phase::ending:
            if (linger_deadline_ && now >= *linger_deadline_) finish(now);
            break;
        default:
            break;
    }
}

std::optional<PushUrl> WmhttpSession::take_connect() {
    if (!connect_pending_) return std::nullopt;
    connect_pending_ = false;
    connect_in_flight_ = true;
    close_pending_ = false;  // the adapter closes the old socket when it opens the new one
    return url_;
}

bool WmhttpSession::take_close() {
    const bool c = close_pending_;
    close_pending_ = false;
    return c;
}

bool WmhttpSession::take_shutdown() {
    const bool s = shutdown_pending_;
    shutdown_pending_ = false;
    return s;
}

Bytes WmhttpSession::take_output(TimePoint now) {
    if (!conn_open_ || write_pending_) return {};
    if (phase_ == Phase::streaming) fill(now);
    if (out_.empty()) return {};
    write_pending_ = true;
    write_progress_ = now;
    counters_.bytes_sent += out_.size();
    Bytes b;
    b.swap(out_);
    return b;
}

std::optional<WmhttpSession::TimePoint> WmhttpSession::deadline() const {
    std::optional<TimePoint> d;
    auto consider = [&d](std::optional<TimePoint> t) {
        if (t && (!d || *t < *d)) d = t;
    };
    if (write_pending_ && conn_open_) consider(write_progress_ + cfg_.tuning.stall_timeout);
    switch (phase_) {
        case Phase::retry:
        case Phase::failed:
            consider(retry_at_);
            break;
        case Phase::connecting:
            consider(connect_deadline_);
            break;
        case Phase::setup_sent:
        case Phase::await_reply:
            consider(reply_deadline_);
            break;
        case Phase::ending:
            consider(linger_deadline_);
            break;
        default:
            break;
    }
    return d;
}

// ---------------------------------------------------------------------------------------------
// Requests

void WmhttpSession::append_request(std::string_view content_type, std::uint64_t content_length,
                                   std::string_view body) {
    const std::string authorization = auth_.authorization("POST", url_.path);
    std::string req = fmt::format(
        "POST {} HTTP/1.1\r\n"
        "Content-Type: {}\r\n"
        "X-Accept-Authentication: NTLM, Digest\r\n"
        "User-Agent: {}\r\n"
        "Host: {}\r\n"
        "Content-Length: {}\r\n"
        "Cache-Control: no-cache\r\n"
        "Cookie: push-id={}\r\n",
        url_.path, content_type, cfg_.user_agent, url_.host_header(), content_length, push_id_);
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    req += "\r\n";
    req.append(body);
    out_.insert(out_.end(), req.begin(), req.end());
}

void WmhttpSession::send_setup(TimePoint now) {
    const std::string body = pushsetup_body(cfg_.template_path, cfg_.auto_remove);
    append_request("application/x-wms-pushsetup", body.size(), body);
    outstanding_ = Request::setup;
    phase_ = Phase::setup_sent;
    reply_deadline_ = now + cfg_.tuning.response_timeout;
    need_header_ = true;  // a session's first PushStart begins with $H
    entry_ended_ = false;  // a new server session: its first entry begins with $H
    spdlog::debug("push[{}] {}: PushSetup sent (push-id {})", cfg_.index, display_, push_id_);
}

std::uint64_t WmhttpSession::effective_budget() const {
    // 3.1.4.2.1: never less than three maximum-size $D packets or the largest $H/$C + 4. We
    // also keep room for $C + $H together and a final $E.
    std::uint64_t h = 0, ps = 0, rate = 0;
    for (const auto& hp : {header_, latest_header_}) {
        if (!hp) continue;
        h = std::max<std::uint64_t>(h, hp->bytes.size());
        ps = std::max<std::uint64_t>(ps, hp->packet_size);
        rate = std::max<std::uint64_t>(rate, hp->max_bitrate);
    }
    // A header change takes $E(1) (8 bytes) + $C (8 + header) + 4 (3.1.4.5), all in one PushStart.
    const std::uint64_t minimum = std::max({3 * (kFrameHeaderBytes + ps) + 8, 8 + (8 + h) + 4 + 8, (4 + h) + 8});
    std::uint64_t budget = cfg_.tuning.post_budget;
    if (using_proxy_ && rate > 0) budget = std::min<std::uint64_t>(budget, rate / 8 * 60);  // ~60 s through a proxy
    return std::clamp<std::uint64_t>(budget, std::min(minimum, kMaxBudget), kMaxBudget);
}

void WmhttpSession::send_start(TimePoint now) {
    remaining_ = effective_budget();
    append_request("application/x-wms-pushstart", remaining_, {});
    outstanding_ = Request::start;
    phase_ = Phase::streaming;
    reply_deadline_.reset();
    ++counters_.posts;
    if (!streaming_since_) streaming_since_ = now;
    if (need_header_) {
        // Headers that arrived before anything was sent in this session are simply the header.
        while (!queue_.empty() && queue_.front().kind == Item::Kind::header) {
            header_ = queue_.front().header;
            queue_.pop_front();
        }
        append_frame(out_, 'H', header_->bytes);
        remaining_ -= kFrameHeaderBytes + header_->bytes.size();
        need_header_ = false;
        // A new session after a reconnect resumes at a start point; the first session of the
        // broadcast sends it from its first packet (audio may come before the first key frame).
        if (counters_.packets_sent > 0) need_start();
        spdlog::info("push[{}] {}: streaming (push-id {})", cfg_.index, display_, push_id_);
        authenticating_ = false;
    }
    fill(now);
}

void WmhttpSession::send_filler_and_wait(TimePoint now) {
    // 3.1.4.3: what does not fit is sent in the next PushStart; $F uses up this one exactly.
    if (remaining_ > 0) append_filler(out_, remaining_, std::min(cfg_.tuning.max_chunk, kMaxFrameLength));
    remaining_ = 0;
    phase_ = Phase::await_reply;
    reply_deadline_ = now + cfg_.tuning.response_timeout;
}

void WmhttpSession::fill(TimePoint now) {
    while (phase_ == Phase::streaming && out_.size() < kOutputWatermark && !queue_.empty()) {
        Item& item = queue_.front();
        switch (item.kind) {
            case Item::Kind::packet: {
                const PushPacket& p = *item.packet;
                const std::size_t size = p.payload().size();
                const std::uint64_t d = kFrameHeaderBytes + size;
                if (remaining_ > d + kFrameHeaderBytes) {
                    append_frame(out_, 'D', p.payload());
                    remaining_ -= d;
                    last_sent_number_ = p.source->number;
                    next_unaccounted_ = p.source->number + 1;
                    ++counters_.packets_sent;
                    queue_bytes_ -= size;
                    queue_.pop_front();
                } else {
                    send_filler_and_wait(now);
                }
                break;
            }
            case Item::Kind::header: {
                const HeaderPtr h = item.header;
                if (header_ && header_->bytes == h->bytes && !entry_ended_) {
                    queue_.pop_front();
                    continue;
                }
                // A new playlist entry (MS-WMHTTP 2.2.2.2: Playlist-Entry = *$D (1*$E / 1*$F), and
                // entries are separated by $C): first the current entry ends with $E, Reason
                // S_FALSE (1): "other playlist entries still remain to be streamed" (2.2.3.4,
                // 3.1.4.4); then $C carries the new header (2.2.3.2, 3.1.4.5); then its $D. The
                // server expects $D, $E or $F after $C (3.2.5.6), never $H.
                if (!entry_ended_) {
                    // 3.1.4.4: $E needs 8 bytes of Length-Remaining; with fewer, the rest is
                    // filled and $E goes first in the next PushStart. Also with 9 to 11: the 1 to 3
                    // bytes an $E would leave could be used up by nothing (an $F is 4 bytes at least,
                    // 2.2.3.5), and the $C that follows needs more anyway (3.1.4.5).
                    if (remaining_ < 8 || (remaining_ > 8 && remaining_ < 8 + kFrameHeaderBytes)) {
                        send_filler_and_wait(now);
                        break;
                    }
                    append_end(out_, 1);
                    remaining_ -= 8;
                    entry_ended_ = true;
                }
                // 3.1.4.5: "If the size of the $C packet, in bytes, plus 4, is larger than the
                // value of the Length-Remaining variable", $F uses up the budget and the next
                // PushStart begins with $C (2.2.2.2: "Subsequent PushStart requests can start with
                // either a $C ... or a $D packet").
                const std::uint64_t c = kFrameHeaderBytes + 4 + h->bytes.size();
                if (c + 4 > remaining_) {
                    send_filler_and_wait(now);
                    break;
                }
                append_stream_change(out_, h->bytes);
                remaining_ -= c;
                header_ = h;
                entry_ended_ = false;
                queue_.pop_front();
                ++counters_.header_changes;
                spdlog::info("push[{}] {}: header changed ($E reason 1, $C)", cfg_.index, display_);
                break;
            }
            case Item::Kind::end: {
                if (remaining_ < 8) {
                    send_filler_and_wait(now);
                    break;
                }
                append_end(out_, 0);
                remaining_ -= 8;
                queue_.pop_front();
                phase_ = Phase::ending;
                spdlog::info("push[{}] {}: end of stream sent ($E)", cfg_.index, display_);
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

void WmhttpSession::on_data(ByteView data, TimePoint now) {
    while (!data.empty() && conn_open_) {
        if (body_until_close_) return;  // a reply body running to the end of the connection
        if (body_skip_ > 0) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(body_skip_, data.size()));
            body_skip_ -= n;
            data = data.subspan(n);
            continue;
        }
        const std::size_t used = parser_.feed(data);
        data = data.subspan(used);
        switch (parser_.status()) {
            case http::HeadStatus::NeedMore:
                break;
            case http::HeadStatus::Complete: {
                const http::HttpHead head = parser_.head();
                parser_.reset();
                handle_reply(head, now);
                break;
            }
            case http::HeadStatus::TooLarge:
            case http::HeadStatus::Malformed:
                if (phase_ == Phase::ending) {
                    finish(now);
                } else {
                    fail_transient(TargetError::network,
                                   fmt::format("network error: unusable reply from the server ({})", parser_.error()),
                                   now);
                }
                return;
        }
    }
}

void WmhttpSession::handle_reply(const http::HttpHead& head, TimePoint now) {
    if (head.status >= 100 && head.status < 200) return;  // 100 Continue and friends
    if (auto id = find_push_id(head.find_all("Set-Cookie"))) push_id_ = *id;
    // Where this reply's body ends decides whether the connection can carry the next request.
    body_skip_ = 0;
    body_until_close_ = false;
    const bool no_body = head.status == 204 || head.status == 304;
    if (!no_body) {
        if (head.chunked()) {
            body_until_close_ = true;
        } else if (auto cl = head.content_length()) {
            body_skip_ = *cl;
        } else {
            body_until_close_ = true;
        }
    }
    reply_keeps_connection_ = head.keep_alive() && !body_until_close_;
    const Request req = outstanding_;
    outstanding_ = Request::none;
    reply_deadline_.reset();
    switch (req) {
        case Request::setup:
            on_setup_reply(head, now);
            break;
        case Request::start:
            on_start_reply(head, now);
            break;
        case Request::none:
            // Unsolicited (an idle timeout after $E, a server shutting the session down).
            if (phase_ == Phase::ending) return;
            if (head.status >= 300) on_error_status(head, now);
            break;
    }
}

void WmhttpSession::on_setup_reply(const http::HttpHead& head, TimePoint now) {
    if (is_2xx(head.status)) {
        auth_.on_success();
        redirects_ = 0;
        const std::string* server = head.find("Server");
        if (!warned_server_ && (!server || !(starts_with(*server, "Cougar/") || starts_with(*server, "Rex/")))) {
            warned_server_ = true;
            spdlog::warn("push[{}] {}: the server does not identify as Windows Media Services (Server: {})",
                         cfg_.index, display_, server ? *server : std::string("none"));
        }
        if (head.find("Via")) using_proxy_ = true;
        if (reply_keeps_connection_) {
            send_start(now);
        } else {
            // 3.1.4.2.1: the connection is closed, PushStart goes on a new one.
            start_on_connect_ = true;
            start_connect(now, false);
        }
        return;
    }
    if (head.status == 401) return on_unauthorized(head, Request::setup, now);
    if (head.status >= 300 && head.status < 400 && head.status != 305 && follow_redirect(head, now)) return;
    on_error_status(head, now);
}

void WmhttpSession::on_start_reply(const http::HttpHead& head, TimePoint now) {
    if (is_2xx(head.status)) {
        auth_.on_success();
        if (phase_ == Phase::await_reply && remaining_ == 0) {
            if (reply_keeps_connection_) {
                send_start(now);
            } else {
                start_on_connect_ = true;
                start_connect(now, false);
            }
            return;
        }
        if (phase_ == Phase::ending) return;
        fail_transient(TargetError::network, "network error: the server ended the PushStart request early", now);
        return;
    }
    if (head.status == 401) return on_unauthorized(head, Request::start, now);
    if (phase_ == Phase::ending) return;
    on_error_status(head, now);
}

void WmhttpSession::on_unauthorized(const http::HttpHead& head, Request request, TimePoint now) {
    if (phase_ == Phase::ending) return;
    const bool kept = reply_keeps_connection_ && request == Request::setup;
    const auto d = auth_.on_unauthorized(head.find_all("WWW-Authenticate"), kept);
    switch (d.outcome) {
        case HttpAuthClient::Outcome::retry_new_connection:
            authenticating_ = true;
            spdlog::debug("push[{}] {}: 401, answering the {} challenge{}", cfg_.index, display_, auth_.scheme(),
                          d.stale ? " (stale nonce)" : "");
            start_connect(now, false);  // MS-WMHTTP 3.1.5.1: resubmit on a new connection
            return;
        case HttpAuthClient::Outcome::retry_same_connection:
            authenticating_ = true;
            if (request == Request::setup && kept) {
                send_setup(now);
            } else {
                start_connect(now, false);
            }
            return;
        case HttpAuthClient::Outcome::bad_credentials:
            fail_permanent(TargetError::bad_credentials,
                           fmt::format("bad credentials (401): {}", d.detail), now);
            return;
        case HttpAuthClient::Outcome::unsupported:
            fail_permanent(TargetError::refused, fmt::format("authentication failed (401): {}", d.detail), now);
            return;
    }
}

bool WmhttpSession::follow_redirect(const http::HttpHead& head, TimePoint now) {
    const std::string* location = head.find("Location");
    if (!location || ++redirects_ > 5) return false;
    PushUrl next;
    if (!location->empty() && location->front() == '/') {
        next = url_;
        next.path = *location;
    } else {
        auto u = parse_push_url(*location);
        if (!u) return false;
        next = *u;
    }
    spdlog::info("push[{}] {}: redirected ({}) to {}", cfg_.index, display_, head.status, next.display());
    url_ = next;
    url_.user.clear();
    url_.password.clear();
    start_connect(now, false);
    return true;
}

void WmhttpSession::on_error_status(const http::HttpHead& head, TimePoint now) {
    const int s = head.status;
    const std::string st = status_text(head);
    if (s >= 300 && s < 400) {
        fail_permanent(TargetError::refused, fmt::format("server redirected ({}), not followed", st), now);
        return;
    }
    if (s == 403) {
        fail_permanent(TargetError::forbidden, fmt::format("no right to the publishing point ({})", st), now);
    } else if (s == 404) {
        fail_permanent(TargetError::not_found, fmt::format("no such publishing point ({})", st), now);
    } else if (s >= 500) {
        fail_transient(TargetError::server_error, fmt::format("server error ({})", st), now);
    } else if (s == 408 || s == 429) {
        fail_transient(TargetError::refused, fmt::format("server busy or timed out ({})", st), now);
    } else if (s == 407) {
        fail_permanent(TargetError::refused, fmt::format("proxy authentication is not supported ({})", st), now);
    } else {
        fail_permanent(TargetError::refused, fmt::format("server refused the request ({})", st), now);
    }
}

// ---------------------------------------------------------------------------------------------
// Failures

std::chrono::milliseconds WmhttpSession::backoff_delay() {
    const double initial = static_cast<double>(cfg_.tuning.backoff_initial.count());
    const double max = static_cast<double>(std::max(cfg_.tuning.backoff_max, cfg_.tuning.backoff_initial).count());
    const int exp = std::clamp(failures_ - 1, 0, 30);
    double base = std::min(max, initial * std::pow(2.0, exp));
    const double j = std::clamp(cfg_.tuning.backoff_jitter, 0.0, 1.0);
    if (j > 0) {
        std::uniform_real_distribution<double> dist(-j, j);
        base *= 1.0 + dist(rng_);
    }
    return milliseconds(static_cast<std::int64_t>(std::max(0.0, base)));
}

void WmhttpSession::fail_transient(TargetError kind, std::string text, TimePoint now) {
    if (end_queued_) {
        // The broadcast is over: nothing left to deliver.
        error_ = kind;
        last_error_ = std::move(text);
        finish(now);
        return;
    }
    if (streaming_since_ && now - *streaming_since_ >= cfg_.tuning.stable_after) failures_ = 0;
    close_connection();
    ++failures_;
    error_ = kind;
    last_error_ = std::move(text);
    authenticating_ = false;
    start_on_connect_ = false;
    push_id_ = "0";  // the next attempt starts a new server session with PushSetup and $H
    url_ = cfg_.url;  // redirects are not remembered across failures
    redirects_ = 0;
    phase_ = Phase::retry;
    const auto delay = backoff_delay();
    retry_at_ = now + delay;
    spdlog::warn("push[{}] {}: {}; retrying in {:.1f} s", cfg_.index, display_, last_error_,
                 static_cast<double>(delay.count()) / 1000.0);
}

void WmhttpSession::fail_permanent(TargetError kind, std::string text, TimePoint now, bool never_retry) {
    if (end_queued_) never_retry = true;
    close_connection();
    error_ = kind;
    last_error_ = std::move(text);
    authenticating_ = false;
    start_on_connect_ = false;
    push_id_ = "0";
    url_ = cfg_.url;
    redirects_ = 0;
    phase_ = Phase::failed;
    queue_.clear();
    queue_bytes_ = 0;
    end_queued_ = false;
    retry_at_.reset();
    if (!never_retry && cfg_.tuning.permanent_retry.count() > 0) retry_at_ = now + cfg_.tuning.permanent_retry;
    if (retry_at_) {
        spdlog::error("push[{}] {}: {}; trying again in {} s", cfg_.index, display_, last_error_,
                      std::chrono::duration_cast<std::chrono::seconds>(cfg_.tuning.permanent_retry).count());
    } else {
        spdlog::error("push[{}] {}: {}", cfg_.index, display_, last_error_);
    }
}

TargetStatus WmhttpSession::status(TimePoint now) const {
    TargetStatus s = counters_;
    s.url = display_;
    s.error = error_;
    s.last_error = last_error_;
    s.push_id = push_id_;
    switch (phase_) {
        case Phase::wait_header: s.state = TargetState::idle; break;
        case Phase::retry: s.state = TargetState::retrying; break;
        case Phase::connecting:
        case Phase::setup_sent:
            s.state = authenticating_ ? TargetState::authenticating : TargetState::connecting;
            break;
        case Phase::streaming:
        case Phase::await_reply:
        case Phase::ending:
            s.state = TargetState::streaming;
            break;
        case Phase::failed: s.state = TargetState::failed; break;
        case Phase::finished: s.state = TargetState::finished; break;
    }
    if (retry_at_ && (phase_ == Phase::retry || phase_ == Phase::failed)) {
        s.retry_in_ms = std::max<std::int64_t>(
            0, std::chrono::duration_cast<milliseconds>(*retry_at_ - now).count());
    }
    return s;
}

}  // namespace asfcast::push
