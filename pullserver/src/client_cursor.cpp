#include "client_cursor.hpp"

#include "asfcast/asfmux/asfmux.hpp"
#include "wmsp_framing.hpp"

namespace asfcast::pull {

ClientCursor::ClientCursor(CursorConfig config, std::uint32_t header_version, bool all_selected,
                           const StreamMask& selected)
    : config_(config),
      header_version_(header_version),
      all_selected_(all_selected),
      selected_(selected),
      effective_(selected),
      effective_all_(all_selected) {}

asfcast::StreamMask ClientCursor::wanted_video(const MountState& mount) const {
    if (!mount.header) return {};
    if (all_selected_) return video_streams_taken(*mount.header);
    asfcast::StreamMask sel;
    for (std::size_t s = 1; s < selected_.size(); ++s)
        if (selected_[s]) sel.set(s);
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

void ClientCursor::select(bool all_selected, const StreamMask& selected, const MountState& mount) {
    if (started_ && mount.header) {
        // Video streams the client did not take until now start at their next key frame.
        for (int v : mount.header->video_streams) {
            const auto s = static_cast<std::size_t>(v);
            if (v <= 0 || v >= 128) continue;
            const bool had = all_selected_ || selected_[s];
            const bool has = all_selected || selected[s];
            if (has && !had) held_.set(s);
            if (!has) held_.reset(s);
        }
    }
    all_selected_ = all_selected;
    selected_ = selected;
    if (all_selected_ && mount.header) {
        selected_.fill(false);
        for (int v : mount.header->video_streams)
            if (v > 0 && v < 128) selected_[static_cast<std::size_t>(v)] = true;
        for (int a : mount.header->audio_streams)
            if (a > 0 && a < 128) selected_[static_cast<std::size_t>(a)] = true;
    }
    effective_all_ = all_selected_ && held_.none();
    effective_ = selected_;
    for (std::size_t s = 1; s < effective_.size(); ++s)
        if (held_.test(s)) effective_[s] = false;
}

const Bytes* ClientCursor::payload_for(const MountPacket& p) {
    const DataPacket& d = *p.packet;
    if (held_.any() && d.starts_with_key_frame) {
        bool changed = false;
        for (const auto& k : d.key_frames)
            if (k.stream > 0 && k.stream < 128 && held_.test(static_cast<std::size_t>(k.stream))) {
                held_.reset(static_cast<std::size_t>(k.stream));
                effective_[static_cast<std::size_t>(k.stream)] = selected_[static_cast<std::size_t>(k.stream)];
                changed = true;
            }
        if (changed && held_.none() && all_selected_) effective_all_ = true;
    }
    if (effective_all_) return nullptr;  // the caller takes the wire form as it is
    for (const auto& [mask, bytes] : p.filtered)
        if (mask == effective_) return bytes.get() ? bytes.get() : &kNothing;
    auto filtered = asfmux::filter_packet_streams(d.bytes, static_cast<std::uint32_t>(d.bytes.size()), effective_);
    std::shared_ptr<const Bytes> keep = filtered ? std::make_shared<const Bytes>(std::move(*filtered)) : nullptr;
    p.filtered.emplace_back(effective_, keep);
    return keep ? keep.get() : &kNothing;
}

void ClientCursor::next(const MountState& mount, CursorStep& step) {
    for (std::size_t i = 0; i < step.data_count; ++i) step.data[i].keep.reset();
    step.kind = CursorStep::Kind::wait;
    step.control.clear();
    step.data_count = 0;
    step.reason.clear();
    step.skipped = false;
    const auto& ring = mount.ring;

    // A new header: $C, then the new $H, before any packet made with it (MS-WMSP 3.2.4.2). The
    // ring holds only the new header's packets; the client starts again at a start point.
    if (header_version_ != mount.header_version && mount.header) {
        header_version_ = mount.header_version;
        started_ = false;
        at_live_edge_ = false;
        const auto c = stream_change_packet(0);
        append_chunked(step.control, c);
        append_chunked(step.control, mount.header_frames);
        step.kind = CursorStep::Kind::send;
        return;
    }

    if (!started_) {
        // A new client starts at the newest start point for its streams (MS-WMSP 3.2.5.6 leaves the
        // position to the server); never before where it already was.
        const auto start = ring.newest_start_for(wanted_video(mount));
        if (!start || *start < cursor_) {
            if (mount.ended) {
                finish(step);
            }
            return;
        }
        cursor_ = *start;
        started_ = true;
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
        const Bytes* filtered = payload_for(*p);
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
