// The fan-out point of the muxed stream: a bounded ring of immutable, shared entries in arrival
// order, with an index of the entries where a late joiner can start (video key frames). Readers
// hold sequence numbers as cursors; nothing is copied per reader. Not thread-safe: the owner
// (one network thread) serializes access.
#pragma once

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

    explicit PacketRing(std::size_t capacity) : slots_(capacity) {
        if (capacity == 0) throw std::invalid_argument("PacketRing capacity must be at least 1");
    }

    // Appends an entry; the oldest one leaves when the ring is full. Returns its sequence number.
    std::uint64_t push(EntryPtr entry, bool start_point) {
        const std::uint64_t seq = next_;
        if (size() == slots_.size()) {
            ++oldest_;
            while (!starts_.empty() && starts_.front() < oldest_) starts_.pop_front();
        }
        slots_[seq % slots_.size()] = std::move(entry);
        if (start_point) starts_.push_back(seq);
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

    // Drops every entry (a header change starts a new stream). Sequence numbers keep counting.
    void clear() {
        for (auto& s : slots_) s.reset();
        oldest_ = next_;
        starts_.clear();
    }

private:
    std::vector<EntryPtr> slots_;
    std::deque<std::uint64_t> starts_;  // sequence numbers of start points, ascending
    std::uint64_t oldest_ = 0;
    std::uint64_t next_ = 0;
};

}  // namespace asfcast
