#include "client_cursor.hpp"

#include <algorithm>

#include "asfcast/asfmux/asfmux.hpp"
#include "wmsp_framing.hpp"

namespace asfcast::pull {

ClientCursor::ClientCursor(CursorConfig config, std::uint32_t header_version, const StreamSelection& selection)
    : config_(config), header_version_(header_version), selection_(selection) {
    filter_.fill(PayloadKeep::none);
}

bool ClientCursor::is_video(const MountState& mount, int stream) {
    if (!mount.header) return false;
    const auto& v = mount.header->video_streams;
    return std::find(v.begin(), v.end(), stream) != v.end();
}

asfcast::StreamMask ClientCursor::wanted_video(const MountState& mount) const {
    if (!mount.header) return {};
    if (selection_.all) return video_streams_taken(*mount.header);
    asfcast::StreamMask sel;
    for (std::size_t s = 1; s < selection_.thinning.size(); ++s)
        if (selection_.thinning[s] != Thinning::off) sel.set(s);
    return video_streams_taken(*mount.header, &sel);
}

bool ClientCursor::lagging(const MountState& mount) const {
    const auto& ring = mount.ring;
    if (!started_ || cursor_ >= ring.next()) return false;
    if (cursor_ < ring.oldest()) return true;  // what it was to get next is gone
    // The time test first: it is two ring reads, and false for every client at the live edge (a
    // server asks each streaming client on every wake).
    const MountPacketPtr* at = ring.at(cursor_);
    const MountPacketPtr* newest = ring.at(ring.next() - 1);
    if (at && newest) {
        const std::uint32_t a = (*at)->send_time_ms(), b = (*newest)->send_time_ms();
        if (!(b > a && b - a > config_.max_lag_ms)) return false;
    }
    // Only a client that a newer start point could help is lagging: one that started on an old
    // key frame and reads faster than the stream is catching up, not falling behind.
    const auto start = ring.newest_start_for(wanted_video(mount));
    return start && *start > cursor_;
}

std::size_t ClientCursor::chunk_line(std::uint8_t* out, std::size_t size) const {
    static const char* hex = "0123456789abcdef";
    char tmp[16];
    std::size_t n = 0;
    do {
        tmp[n++] = hex[size & 15];
        size >>= 4;
    } while (size);
    std::size_t used = 0;
    while (n) out[used++] = static_cast<std::uint8_t>(tmp[--n]);
    out[used++] = '\r';
    out[used++] = '\n';
    return used;
}

void ClientCursor::append_chunked(Bytes& out, ByteView frame) const {
    if (config_.chunked) {
        std::uint8_t line[24];
        const std::size_t used = chunk_line(line, frame.size());
        out.insert(out.end(), line, line + used);
    }
    out.insert(out.end(), frame.begin(), frame.end());
    if (config_.chunked) out.insert(out.end(), {'\r', '\n'});
}

void ClientCursor::update_filter(const MountState& mount) {
    filter_.fill(PayloadKeep::none);
    filter_all_ = true;
    if (!mount.header) return;
    const auto set = [&](int s, bool video) {
        if (s <= 0 || s >= 128) return;
        const auto i = static_cast<std::size_t>(s);
        PayloadKeep keep = PayloadKeep::none;
        switch (selection_.level(s)) {
            case Thinning::all: keep = PayloadKeep::all; break;
            // MS-WMSP 2.2.1.4.27 level 1: key-frame media objects only. Only video has objects that
            // depend on others: every audio or command object is one by itself (Windows Media
            // writers set the key-frame bit on all of them; our Packetizer marks video only).
            case Thinning::key_frames: keep = video ? PayloadKeep::key_frames : PayloadKeep::all; break;
            case Thinning::off: keep = PayloadKeep::none; break;
        }
        if (held_.test(i)) keep = held_keep_[i];
        if (until_[i]) keep = until_keep_[i];
        filter_[i] = keep;
        if (keep != PayloadKeep::all) filter_all_ = false;
    };
    for (int v : mount.header->video_streams) set(v, true);
    for (int a : mount.header->audio_streams) set(a, false);
    for (int c : mount.header->command_streams) set(c, false);
}

void ClientCursor::clear_switches() {
    held_.reset();
    until_.fill(0);
    starting_.reset();
}

// MS-WMSP 3.2.5.7: "Any new streams that are transmitted as a result of the stream-switch-entry
// token MUST be transmitted beginning with an ASF key-frame payload. Any streams that are replaced
// by different streams MUST continue to be transmitted until the first ASF key-frame payload of the
// new stream is transmitted."
void ClientCursor::select(const StreamSelection& selection, const MountState& mount) {
    waiting_for_selection_ = false;
    if (!started_ || !mount.header) {
        // Not streaming yet: the start point covers every video stream of the new selection.
        selection_ = selection;
        clear_switches();
        update_filter(mount);
        return;
    }
    const StreamSelection before = selection_;
    // What a stream sends now, a held one counting as what it sends while it waits.
    const auto sending = [&](int s) {
        const auto i = static_cast<std::size_t>(s);
        if (held_.test(i)) return held_keep_[i] == PayloadKeep::none ? Thinning::off : Thinning::key_frames;
        return before.level(s);
    };
    asfcast::StreamMask newly_held;
    for (int v : mount.header->video_streams) {
        if (v <= 0 || v >= 128) continue;
        const auto i = static_cast<std::size_t>(v);
        const Thinning was = sending(v), now = selection.level(v);
        if (now == Thinning::off) {
            held_.reset(i);
        } else if (was == Thinning::off) {
            held_.set(i);  // starts on its next key-frame payload
            held_keep_[i] = PayloadKeep::none;
            newly_held.set(i);
        } else if (was == Thinning::key_frames && now == Thinning::all) {
            // Level 1 to 0: the frames after the next key frame only decode from it on.
            held_.set(i);
            held_keep_[i] = PayloadKeep::key_frames;
        }
        // Otherwise (level 0 to 0 or 1, 1 to 1, or still waiting): from the next packet.
    }
    const auto start_at_objects = [&](int s) {
        if (s <= 0 || s >= 128) return;
        const auto i = static_cast<std::size_t>(s);
        if (selection.level(s) == Thinning::off) starting_.reset(i);
        else if (before.level(s) == Thinning::off) starting_.set(i);
    };
    for (int a : mount.header->audio_streams) start_at_objects(a);
    for (int c : mount.header->command_streams) start_at_objects(c);

    // Old streams already going on until a new one starts: not if they are selected again, nor
    // once their replacement is no longer waiting (turned off again).
    for (std::size_t old = 1; old < until_.size(); ++old)
        if (until_[old] && (selection.on(static_cast<int>(old)) || !held_.test(until_[old]))) until_[old] = 0;
    // A video stream turned on in place of one turned off: the old one goes on until then.
    for (std::size_t s = 1; s < 128; ++s) {
        if (!newly_held.test(s)) continue;
        const int old = selection.replaces[s];
        if (old <= 0 || old >= 128 || !is_video(mount, old) || selection.on(old)) continue;
        const Thinning old_level = sending(old);
        if (old_level == Thinning::off) continue;  // it was not being sent either
        const auto o = static_cast<std::size_t>(old);
        until_[o] = static_cast<std::uint8_t>(s);
        until_keep_[o] = old_level == Thinning::key_frames ? PayloadKeep::key_frames : PayloadKeep::all;
    }
    selection_ = selection;
    update_filter(mount);
}

const Bytes* ClientCursor::payload_for(const MountPacket& p, const MountState& mount) {
    const DataPacket& d = *p.packet;
    // A packet where a switch happens gets a filter of its own; the filter in use changes after it.
    PayloadFilter switching{};
    bool switched = false;
    if (starting_.any()) {
        switching = filter_;
        for (std::size_t s = 1; s < 128; ++s)
            if (starting_.test(s)) switching[s] = PayloadKeep::from_object_start;
        starting_.reset();
        switched = true;
    }
    if (held_.any() && !d.key_frames.empty()) {
        for (const KeyFrameStart& k : d.key_frames) {
            if (k.stream <= 0 || k.stream >= 128 || !held_.test(static_cast<std::size_t>(k.stream))) continue;
            const auto i = static_cast<std::size_t>(k.stream);
            if (!switched) switching = filter_;
            switched = true;
            // The new stream from its key-frame payload on; the streams it replaces go on through
            // this packet (they keep their filter_ entry here) and stop after it.
            switching[i] = selection_.level(k.stream) == Thinning::key_frames ? PayloadKeep::key_frames
                                                                                : PayloadKeep::from_key_frame;
            held_.reset(i);
            for (auto& u : until_)
                if (u == k.stream) u = 0;
        }
    }
    if (switched) update_filter(mount);
    const PayloadFilter& use = switched ? switching : filter_;
    if (!switched && filter_all_) return nullptr;  // the caller takes the wire form as it is
    for (const auto& [filter, bytes] : p.filtered)
        if (filter == use) return bytes.get() ? bytes.get() : &kNothing;
    auto filtered = filter_payloads(d.bytes, static_cast<std::uint32_t>(d.bytes.size()), use);
    std::shared_ptr<const Bytes> keep = filtered ? std::make_shared<const Bytes>(std::move(*filtered)) : nullptr;
    p.filtered.emplace_back(use, keep);
    return keep ? keep.get() : &kNothing;
}

bool ClientCursor::draining(const MountState& mount) const {
    if (!started_ || header_version_ == mount.header_version || cursor_ >= mount.ring.next()) return false;
    const MountPacketPtr* p = mount.ring.at(cursor_);
    return p && (*p)->header_version == header_version_;
}

void ClientCursor::next(const MountState& mount, CursorStep& step) {
    for (std::size_t i = 0; i < step.data_count; ++i) step.data[i].keep.reset();
    step.kind = CursorStep::Kind::wait;
    step.control.clear();
    step.data_count = 0;
    step.reason.clear();
    step.skipped = false;
    const auto& ring = mount.ring;

    // A new header: $C, then the new $H, before any packet made with it (MS-WMSP 3.2.4.2), and
    // after the packets of the entry the client is in (the ring keeps them; the data loop below
    // stops at the first packet of another header). The client then starts again at a start point
    // of the new header. No $E (Reason 1) before the $C: 3.2.4.1 lets the server send one ("MAY"),
    // but ffmpeg's mmsh client ends the stream at any $E whatever its Reason. $C Reason 0: not a
    // reverse playlist (2.2.3.2). No $M: the server is "Rex", not "Cougar" (3.2.4.2).
    if (header_version_ != mount.header_version && mount.header && !draining(mount)) {
        header_version_ = mount.header_version;
        started_ = false;
        at_live_edge_ = false;
        waiting_for_selection_ = !config_.predictive_selection;
        const auto c = stream_change_packet(0);
        append_chunked(step.control, c);
        append_chunked(step.control, mount.header_frames);
        step.kind = CursorStep::Kind::send;
        return;
    }

    // MS-WMSP 3.2.4.2: a client without predstrm picks the new entry's streams itself; its
    // SelectStream (3.2.5.7: WAITING, non-pipelined mode) starts the $D again.
    if (waiting_for_selection_) {
        if (mount.ended) finish(step);
        return;
    }

    if (!started_) {
        // A new client starts at the newest start point for its streams (MS-WMSP 3.2.5.6 leaves the
        // position to the server); never before where it already was.
        const auto start = ring.newest_start_for(wanted_video(mount));
        // Only a start point of the header this client has (after a header change the newest
        // may still be one of the entry before, until the new entry's first key frame).
        const MountPacketPtr* first = start ? ring.at(*start) : nullptr;
        if (!start || *start < cursor_ || !first || (*first)->header_version != header_version_) {
            if (mount.ended) {
                finish(step);
            }
            return;
        }
        cursor_ = *start;
        started_ = true;
        // A start point begins with a key frame of every wanted video stream: no switch is pending.
        clear_switches();
        update_filter(mount);
    }

    if (lagging(mount)) {
        if (config_.disconnect_on_lag) {
            step.kind = CursorStep::Kind::disconnect;
            step.reason = "fell behind the live stream";
            return;
        }
        ++lag_skips_;
        step.skipped = true;
        at_live_edge_ = false;
        const auto start = ring.newest_start_for(wanted_video(mount));
        if (start && *start > cursor_) {
            cursor_ = *start;
            clear_switches();
            update_filter(mount);
        } else {
            // Fell out of the ring and no start point is left: wait for the next one.
            cursor_ = ring.next();
            started_ = false;
            return;
        }
    }

    const bool live_edge = at_live_edge_;
    while (step.data_count < CursorStep::kMaxBatch && cursor_ < ring.next()) {
        const MountPacketPtr& p = *ring.at(cursor_);
        if (p->header_version != header_version_) break;
        ++cursor_;
        const Bytes* filtered = payload_for(*p, mount);
        if (filtered == &kNothing) continue;  // none of its streams is selected
        const ByteView payload = filtered ? ByteView(*filtered) : p->wire();
        CursorStep::Data& d = step.data[step.data_count++];
        d.prefix_size = 0;
        if (config_.chunked) d.prefix_size = chunk_line(d.prefix.data(), payload.size() + 12);
        const auto framing = data_packet_prefix(p->location_id(), 0, afflags_++, static_cast<std::uint16_t>(payload.size()));
        std::copy(framing.begin(), framing.end(), d.prefix.begin() + static_cast<std::ptrdiff_t>(d.prefix_size));
        d.prefix_size += framing.size();
        d.payload = payload;
        d.chunk_end = config_.chunked;
        d.keep = p;
        d.capture_us = live_edge ? p->packet->capture_us : 0;
    }
    if (cursor_ >= ring.next()) at_live_edge_ = true;
    if (step.data_count > 0) {
        step.kind = CursorStep::Kind::send;
    } else if (mount.ended && cursor_ >= ring.next()) {
        finish(step);
    }
}

void ClientCursor::finish(CursorStep& step) const {
    // MS-WMSP 3.2.4.1: $E with reason 0; with chunked transfer coding, the last chunk follows.
    const auto e = end_of_stream_packet(0);
    append_chunked(step.control, e);
    if (config_.chunked) step.control.insert(step.control.end(), {'0', '\r', '\n', '\r', '\n'});
    step.kind = CursorStep::Kind::finish;
}

}  // namespace asfcast::pull
