// The playlist engine: see playlist.hpp.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/start_points.hpp"
#include "asfcast/playlist/playlist.hpp"

namespace asfcast::playlist {
namespace {

// Presentation times of a new entry start this far after the last presentation end on air: the
// payloads right after an entry's first packet may present slightly earlier than it (audio
// interleaved around a key frame).
constexpr std::int64_t kPresentationMarginMs = 100;
// At most this many packets per poll(): one call never runs unbounded.
constexpr int kMaxPacketsPerPoll = 4096;

}  // namespace

PlaylistEngine::PlaylistEngine(EngineConfig config, Sink sink) : config_(std::move(config)), sink_(std::move(sink)) {
    if (config_.entries.empty()) throw PlaylistError("the playlist has no entry");
    if (!config_.open) config_.open = [](const std::string& path) { return open_file_source(path); };
}

std::string PlaylistEngine::describe(std::size_t index) const {
    const Entry& e = config_.entries[index];
    return fmt::format("entry {} '{}' ({})", index + 1, e.name, e.kind == Entry::Kind::live ? "live" : e.path);
}

std::string PlaylistEngine::on_air() const { return current_ ? describe(*current_) : std::string(); }

bool PlaylistEngine::live_on_air() const { return current_ && current_is_live_; }

void PlaylistEngine::live_header(HeaderPtr header) {
    live_header_ = std::move(header);
    // A header change of the live encode while its entry is on air (video.codec copy: the source's
    // picture size changed) goes out at once; its packets follow.
    if (!finished_ && current_ && current_is_live_ && !live_waiting_start_ && live_header_)
        publish_header_if_changed(*live_header_, config_.entries[*current_].name);
}

void PlaylistEngine::refuse(const std::string& why) {
    ++stats_.entries_refused;
    stats_.errors.push_back(why);
    spdlog::error("playlist: {}; refused, the broadcast goes on with the next entry", why);
}

void PlaylistEngine::finish() {
    if (finished_) return;
    finished_ = true;
    current_.reset();
    file_.reset();
    pending_.reset();
    current_is_live_ = false;
    spdlog::info("playlist: ended ({} entries played, {} refused, {} cut short, {} packets)", stats_.entries_started,
                 stats_.entries_refused, stats_.entries_cut, stats_.packets);
    if (sink_.end) sink_.end();
}

void PlaylistEngine::stop() { finish(); }

void PlaylistEngine::publish_header_if_changed(const MuxedHeader& h, const std::string& label) {
    if (on_air_header_ && on_air_header_->bytes == h.bytes) return;
    auto c = std::make_shared<MuxedHeader>(h);
    c->version = next_version_++;
    c->label = label;
    on_air_header_ = c;
    if (sink_.header) sink_.header(c);
}

// The delta that puts a segment whose first packet is sent at `first_send_ms` and presents from
// `first_min_pts` (no preroll) after everything on air: its send times after the last one, its
// presentation times after the last presentation end (plus a margin). The first segment of the
// stream starts at send time 0.
std::int64_t PlaylistEngine::delta_for(std::uint32_t first_send_ms, Micros first_min_pts, std::uint32_t) const {
    if (!last_send_ms_) return -static_cast<std::int64_t>(first_send_ms);
    const std::int64_t need_send = static_cast<std::int64_t>(*last_send_ms_) + 1 - first_send_ms;
    const std::int64_t need_pts =
        last_pts_end_us_ < 0 ? need_send : last_pts_end_us_ / 1000 + kPresentationMarginMs - first_min_pts / 1000;
    return std::max(need_send, need_pts);
}

void PlaylistEngine::publish(const DataPacket& packet, bool copy_needed, const PacketPtr& original) {
    PacketPtr out;
    if (!copy_needed && delta_ms_ == 0 && original && original->number == next_number_) {
        out = original;
    } else {
        auto c = std::make_shared<DataPacket>(packet);
        if (delta_ms_ != 0) {
            // ASF-notes §16: the Send Time of the payload parsing information and every payload's
            // presentation time, in both forms.
            asfmux::retime_packet(c->bytes, on_air_header_->packet_size, false, delta_ms_);
            if (!c->wire.empty()) asfmux::retime_packet(c->wire, on_air_header_->packet_size, true, delta_ms_);
            c->send_time_ms = static_cast<std::uint32_t>(static_cast<std::int64_t>(c->send_time_ms) + delta_ms_);
            c->min_pts += delta_ms_ * 1000;
            c->max_pts += delta_ms_ * 1000;
            for (auto& k : c->key_frames) k.pts += delta_ms_ * 1000;
        }
        c->number = next_number_;
        out = std::move(c);
    }
    if (last_send_ms_ && out->send_time_ms < *last_send_ms_)
        throw ParseError(fmt::format("send time {} ms goes back before {} ms", out->send_time_ms, *last_send_ms_));
    ++next_number_;
    last_send_ms_ = out->send_time_ms;
    last_pts_end_us_ = std::max(last_pts_end_us_, out->max_pts);
    ++stats_.packets;
    if (sink_.packet) sink_.packet(out);
}

bool PlaylistEngine::start_entry(std::size_t index, Micros now) {
    const Entry& e = config_.entries[index];
    if (e.kind == Entry::Kind::live) {
        if (live_ended_ || !live_header_) {
            spdlog::warn("playlist: {} skipped: the live source has ended", describe(index));
            return false;
        }
        current_ = index;
        current_is_live_ = true;
        live_waiting_start_ = true;  // on air from the live encode's next start point
        entry_started_us_ = now;
        ++stats_.entries_started;
        spdlog::info("playlist: on air: {}{}", describe(index),
                     e.duration ? fmt::format(" for {:.1f} s", static_cast<double>(*e.duration) / 1e6) : "");
        return true;
    }
    std::unique_ptr<AsfEntryFile> file;
    try {
        file = std::make_unique<AsfEntryFile>(config_.open(e.path), describe(index), config_.limits);
        pending_ = file->next();
    } catch (const PlaylistError& err) {
        // The opener's errors name the path only: say which entry.
        const std::string what = err.what();
        refuse(what.rfind("entry ", 0) == 0 ? what : describe(index) + ": " + what);
        pending_.reset();
        return false;
    }
    file_ = std::move(file);
    current_ = index;
    current_is_live_ = false;
    repetitions_left_ = std::max(1, e.repeat);
    entry_started_us_ = now;
    ++stats_.entries_started;
    publish_header_if_changed(file_->header(), e.name);
    segment_clock_us_ = now;
    segment_first_send_ms_ = pending_->send_time_ms;
    delta_ms_ = delta_for(pending_->send_time_ms, pending_->min_pts, file_->header().preroll_ms);
    spdlog::info("playlist: on air: {}{}", describe(index),
                 e.repeat > 1 ? fmt::format(", {} times", e.repeat) : std::string());
    return true;
}

void PlaylistEngine::end_entry(Micros) {
    if (current_) spdlog::info("playlist: {} done", describe(*current_));
    current_.reset();
    current_is_live_ = false;
    live_waiting_start_ = false;
    file_.reset();
    pending_.reset();
}

bool PlaylistEngine::replace_entries(std::vector<Entry> entries, bool loop) {
    if (finished_ || entries.empty()) return false;
    pending_entries_ = std::move(entries);
    pending_loop_ = loop;
    spdlog::info("playlist: {} entries from the reload{}, from the end of the entry on air", pending_entries_->size(),
                 loop ? ", looping" : "");
    if (!current_) adopt_pending_entries();
    return true;
}

void PlaylistEngine::adopt_pending_entries() {
    if (!pending_entries_) return;
    // Go on after the entry that was on air (the last one started), if the new list has it.
    const std::optional<std::string> was =
        next_index_ > 0 && next_index_ - 1 < config_.entries.size() ? std::optional(config_.entries[next_index_ - 1].name)
                                                                     : std::nullopt;
    config_.entries = std::move(*pending_entries_);
    config_.loop = pending_loop_;
    pending_entries_.reset();
    next_index_ = 0;
    if (was)
        for (std::size_t i = 0; i < config_.entries.size(); ++i)
            if (config_.entries[i].name == *was) {
                next_index_ = i + 1;
                break;
            }
    pass_start_packets_ = stats_.packets;
}

bool PlaylistEngine::switch_to(std::size_t index, Micros now) {
    if (finished_) return false;
    if (pending_entries_ && index < pending_entries_->size()) {
        end_entry(now);
        adopt_pending_entries();
    }
    if (index >= config_.entries.size()) return false;
    started_ = true;
    spdlog::info("playlist: the operator puts {} on air", describe(index));
    end_entry(now);
    next_index_ = index;
    start_next(now);
    return true;
}

void PlaylistEngine::start_next(Micros now) {
    // Each entry is tried at most once per call, and a pass that put nothing on air does not
    // start over: a loop of refused entries ends instead of spinning.
    adopt_pending_entries();  // a reload's entries take over between entries
    for (std::size_t tries = 0; tries <= config_.entries.size(); ++tries) {
        if (finished_) return;
        if (next_index_ >= config_.entries.size()) {
            if (!config_.loop) break;
            if (stats_.packets == pass_start_packets_) {
                refuse("no entry of the looping playlist put anything on air");
                break;
            }
            next_index_ = 0;
            pass_start_packets_ = stats_.packets;
            spdlog::info("playlist: starting over (loop)");
        }
        if (start_entry(next_index_++, now)) return;
    }
    finish();
}

void PlaylistEngine::live_packet(const PacketPtr& packet, Micros now) {
    if (finished_ || !current_is_live_ || !packet) {
        ++stats_.live_packets_dropped;
        return;
    }
    const Entry& e = config_.entries[*current_];
    if (live_waiting_start_) {
        if (!start_point_of(*packet, *live_header_).is_start) {
            ++stats_.live_packets_dropped;
            return;
        }
        live_waiting_start_ = false;
        publish_header_if_changed(*live_header_, e.name);
        delta_ms_ = std::max<std::int64_t>(0, delta_for(packet->send_time_ms, packet->min_pts, live_header_->preroll_ms));
        segment_clock_us_ = now;
    }
    try {
        publish(*packet, false, packet);
    } catch (const ParseError& err) {
        spdlog::error("playlist: {}: live packet {} not sent: {}", describe(*current_), packet->number, err.what());
        ++stats_.live_packets_dropped;
    }
    if (e.duration && now - segment_clock_us_ >= *e.duration) {
        end_entry(now);
        start_next(now);
    }
}

void PlaylistEngine::live_ended(Micros now) {
    live_ended_ = true;
    if (current_is_live_) {
        end_entry(now);
        start_next(now);
    }
}

std::optional<Micros> PlaylistEngine::next_deadline() const {
    if (finished_ || !current_) return std::nullopt;
    if (!current_is_live_) {
        if (!pending_) return std::nullopt;
        return segment_clock_us_ + (static_cast<Micros>(pending_->send_time_ms) - segment_first_send_ms_) * 1000;
    }
    const Entry& e = config_.entries[*current_];
    if (e.duration && !live_waiting_start_) return segment_clock_us_ + *e.duration;
    return std::nullopt;
}

void PlaylistEngine::poll(Micros now) {
    if (finished_) return;
    if (!started_) {
        started_ = true;
        start_next(now);
    }
    for (int n = 0; n < kMaxPacketsPerPoll && !finished_; ++n) {
        if (!current_) {
            start_next(now);
            if (!current_) return;
        }
        if (current_is_live_) {
            const Entry& e = config_.entries[*current_];
            if (e.duration && !live_waiting_start_ && now - segment_clock_us_ >= *e.duration) {
                end_entry(now);
                start_next(now);
                continue;
            }
            return;  // live packets come through live_packet()
        }
        const auto due = next_deadline();
        if (!due || *due > now) return;
        const std::string what = describe(*current_);
        try {
            publish(*pending_, true, nullptr);
            pending_ = file_->next();
            if (!pending_ && --repetitions_left_ > 0) {
                // The next repetition: same header, times after what is on air.
                file_->rewind();
                pending_ = file_->next();
                if (pending_) {
                    segment_clock_us_ = std::max(now, *due);
                    segment_first_send_ms_ = pending_->send_time_ms;
                    delta_ms_ = delta_for(pending_->send_time_ms, pending_->min_pts, file_->header().preroll_ms);
                }
            }
        } catch (const std::exception& err) {  // PlaylistError (unreadable), ParseError (a time out of range)
            ++stats_.entries_cut;
            const std::string msg = err.what();
            stats_.errors.push_back(msg.rfind("entry ", 0) == 0 ? msg : what + ": " + msg);
            spdlog::error("playlist: {}; the entry ends here, the broadcast goes on with the next entry", stats_.errors.back());
            pending_.reset();
        }
        if (!pending_) {
            end_entry(now);
            start_next(now);
        }
    }
}

}  // namespace asfcast::playlist
