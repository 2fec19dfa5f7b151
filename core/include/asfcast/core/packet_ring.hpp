// A bounded ring of immutable, shared entries in arrival order, with the start points
// (start_points.hpp) of the entries it holds. Readers hold sequence numbers as cursors; nothing is
// copied per reader. Not thread-safe: the owner serializes access (OutputFeed adds a lock; a pull
// mount's ring is touched by its network thread only).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "asfcast/core/start_points.hpp"

namespace asfcast {

template <typename Entry>
class PacketRing {
public:
    using EntryPtr = std::shared_ptr<const Entry>;

    explicit PacketRing(std::size_t capacity) : slots_(capacity) {
        if (capacity == 0) throw std::invalid_argument("PacketRing capacity must be at least 1");
    }

    // Appends an entry; the oldest one leaves when the ring is full. Returns its sequence number.
    std::uint64_t push(EntryPtr entry, const StartPoint& start = {}) {
        const std::uint64_t seq = next_;
        if (size() == slots_.size()) {
            ++oldest_;
            starts_.forget_before(oldest_);
        }
        slots_[seq % slots_.size()] = std::move(entry);
        starts_.add(seq, start);
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
    bool full() const { return size() == slots_.size(); }

    // Where a reader of the video streams in `want` begins (StartIndex::newest_for).
    std::optional<std::uint64_t> newest_start_for(const StreamMask& want) const { return starts_.newest_for(want); }

    // Drops the entries before `seq` (not past next()), as if newer pushes had pushed them out:
    // an owner that bounds the ring by time as well as by count.
    void drop_before(std::uint64_t seq) {
        seq = std::min(seq, next_);
        for (; oldest_ < seq; ++oldest_) slots_[oldest_ % slots_.size()].reset();
        starts_.forget_before(oldest_);
    }

    // Drops every entry (a header change starts a new stream). Sequence numbers keep counting.
    void clear() {
        for (auto& s : slots_) s.reset();
        oldest_ = next_;
        starts_.clear();
    }

private:
    std::vector<EntryPtr> slots_;
    StartIndex starts_;
    std::uint64_t oldest_ = 0;
    std::uint64_t next_ = 0;
};

}  // namespace asfcast
