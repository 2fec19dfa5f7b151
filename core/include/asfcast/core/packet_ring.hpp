// The fan-out point of the muxed stream: a bounded ring of immutable, shared entries in arrival
// order, with an index of the entries where a late joiner can start (video key frames). Readers
// hold sequence numbers as cursors; nothing is copied per reader. Not thread-safe: the owner
// (one network thread) serializes access.
#pragma once

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace asfcast {

template <typename Entry>
class PacketRing {
public:
    using EntryPtr = std::shared_ptr<const Entry>;
    // The streams (ASF numbers 1..127) that may start at a start point: with several video streams
    // (MBR renditions) each has its own key frames, and a reader of one stream must start at one
    // of that stream's. Empty: any stream (a single video stream, audio-only rings).
    using StreamSet = std::bitset<128>;

    explicit PacketRing(std::size_t capacity) : slots_(capacity) {
        if (capacity == 0) throw std::invalid_argument("PacketRing capacity must be at least 1");
    }

    // Appends an entry; the oldest one leaves when the ring is full. Returns its sequence number.
    std::uint64_t push(EntryPtr entry, bool start_point, StreamSet streams = {}, std::int64_t group = 0) {
        const std::uint64_t seq = next_;
        if (size() == slots_.size()) {
            ++oldest_;
            while (!starts_.empty() && starts_.front() < oldest_) {
                starts_.pop_front();
                start_streams_.pop_front();
                start_groups_.pop_front();
            }
        }
        slots_[seq % slots_.size()] = std::move(entry);
        if (start_point) {
            starts_.push_back(seq);
            start_streams_.push_back(streams);
            start_groups_.push_back(group);
        }
        ++next_;
        return seq;
    }

    // The entry at `seq`, or nullptr when it has left the ring or is not written yet.
    const EntryPtr* at(std::uint64_t seq) const {
        if (seq < oldest_ || seq >= next_) return nullptr;
        return &slots_[seq % slots_.size()];
    }

    std::uint64_t oldest() const { return oldest_; }  // first sequence still held
    std::uint64_t next() const { return next_; }      // sequence the next push gets
    std::size_t size() const { return static_cast<std::size_t>(next_ - oldest_); }
    std::size_t capacity() const { return slots_.size(); }

    // The newest start point, where a new reader begins.
    std::optional<std::uint64_t> newest_start() const {
        if (starts_.empty()) return std::nullopt;
        return starts_.back();
    }
    // The first start point at or after `seq` (a lagging reader skips to it).
    std::optional<std::uint64_t> start_at_or_after(std::uint64_t seq) const {
        for (std::uint64_t s : starts_)
            if (s >= seq) return s;
        return std::nullopt;
    }

    // Where a reader of the streams in `want` begins: the first packet of the newest group of
    // start points (same `group`, e.g. the key frames' capture time: MBR renditions put theirs at
    // the same times) that starts every wanted stream, so each wanted stream's first object is a
    // key frame. Empty `want`: newest_start(). Start points pushed without streams serve any.
    std::optional<std::uint64_t> newest_start_for(const StreamSet& want) const {
        if (want.none()) return newest_start();
        for (std::size_t k = starts_.size(); k-- > 0;) {
            if (start_streams_[k].none()) return starts_[k];
            if ((start_streams_[k] & want).none()) continue;
            StreamSet seen;
            std::uint64_t first = starts_[k];
            for (std::size_t j = 0; j < starts_.size(); ++j) {
                if (start_groups_[j] != start_groups_[k] || (start_streams_[j] & want).none()) continue;
                seen |= start_streams_[j] & want;
                first = std::min(first, starts_[j]);
            }
            if (seen == want) return first;
        }
        return std::nullopt;
    }

    // Drops every entry (a header change starts a new stream). Sequence numbers keep counting.
    void clear() {
        for (auto& s : slots_) s.reset();
        oldest_ = next_;
        starts_.clear();
        start_streams_.clear();
        start_groups_.clear();
    }

private:
    std::vector<EntryPtr> slots_;
    std::deque<std::uint64_t> starts_;  // sequence numbers of start points, ascending
    std::deque<StreamSet> start_streams_;  // the streams each start point starts
    std::deque<std::int64_t> start_groups_;
    std::uint64_t oldest_ = 0;
    std::uint64_t next_ = 0;
};

}  // namespace asfcast
