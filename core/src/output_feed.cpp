#include "asfcast/core/output_feed.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace asfcast {

OutputFeed::OutputFeed(Config config) : config_(std::move(config)) {
    if (config_.capacity == 0) throw std::invalid_argument("OutputFeed " + config_.name + ": capacity must be at least 1");
    MutexLock lk(m_);
    slots_.resize(config_.capacity);
}

bool OutputFeed::notify_locked() {
    output_cv_.notify_one();
    if (!wake_ || wake_pending_) return false;
    wake_pending_ = true;
    return true;
}

void OutputFeed::publish_header(HeaderPtr header) {
    bool wake = false;
    {
        MutexLock lk(m_);
        if (closed_ || !header) return;
        header_ = std::move(header);
        header_news_ = true;
        wake = notify_locked();
    }
    if (wake) wake_();
}

void OutputFeed::publish_packet(PacketPtr packet) {
    bool wake = false;
    {
        MutexLock lk(m_);
        if (closed_ || !packet || !header_) return;
        if (config_.overflow == Overflow::wait) {
            // Offline only: wait for the output rather than lose a packet.
            space_cv_.wait(lk.native(), [&]() REQUIRES(m_) { return closed_ || next_ - cursor_ < slots_.size(); });
            if (closed_) return;
        }
        if (next_ - oldest_ == slots_.size()) {
            slots_[oldest_ % slots_.size()] = Entry{};
            ++oldest_;
            starts_.forget_before(oldest_);
        }
        starts_.add(next_, start_point_of(*packet, *header_));
        slots_[next_ % slots_.size()] = Entry{header_, std::move(packet)};
        ++next_;
        wake = notify_locked();
    }
    if (wake) wake_();
}

void OutputFeed::publish_end() {
    bool wake = false;
    {
        MutexLock lk(m_);
        if (closed_ || ended_) return;
        ended_ = true;
        wake = notify_locked();
    }
    if (wake) wake_();
}

void OutputFeed::skip_lost_locked() {
    // Packets the ring overwrote before the output took them are lost to it; it then resumes at
    // the newest start point for the streams it takes, at or after where it was (the packets it
    // skips to get there are lost too). Until such a start point arrives it gets nothing.
    std::uint64_t lost = 0;
    if (cursor_ < oldest_) {
        lost += oldest_ - cursor_;
        cursor_ = oldest_;
        resyncing_ = true;
    }
    if (resyncing_) {
        const StreamMask want =
            taken_streams_ ? *taken_streams_ : header_ ? video_streams_taken(*header_) : StreamMask{};
        const auto start = starts_.newest_for(want);
        if (start && *start >= cursor_) {
            lost += *start - cursor_;
            cursor_ = *start;
            resyncing_ = false;
        }
    }
    if (lost == 0) return;
    discarded_ += lost;
    unlogged_loss_ += lost;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_loss_log_ >= std::chrono::seconds(10)) {
        spdlog::warn("{}: fell behind the broadcast; {} packets skipped, it resumes at a key frame ({} in all)",
                     config_.name, unlogged_loss_, discarded_);
        last_loss_log_ = now;
        unlogged_loss_ = 0;
    }
}

bool OutputFeed::take(Batch& out, std::size_t max_entries) {
    out.entries.clear();
    MutexLock lk(m_);
    wake_pending_ = false;
    if (closed_) return false;
    skip_lost_locked();
    while (!resyncing_ && cursor_ < next_ && out.entries.size() < max_entries) {
        Entry& e = slots_[cursor_ % slots_.size()];
        out.entries.push_back(config_.keep_taken ? e : std::move(e));
        ++cursor_;
    }
    if (config_.overflow == Overflow::wait && !out.entries.empty()) space_cv_.notify_one();
    out.header = header_;
    out.discarded = discarded_;
    const bool news = !out.entries.empty() || header_news_ || (ended_ && (cursor_ == next_ || resyncing_) && !end_reported_);
    header_news_ = false;
    out.ended = ended_ && (cursor_ == next_ || resyncing_);
    if (out.ended) end_reported_ = true;
    return news;
}

void OutputFeed::wait(std::chrono::milliseconds timeout) {
    MutexLock lk(m_);
    output_cv_.wait_for(lk.native(), timeout, [&]() REQUIRES(m_) {
        return closed_ || cursor_ < next_ || header_news_ || (ended_ && !end_reported_) || cursor_ < oldest_;
    });
}

void OutputFeed::set_wake(std::function<void()> wake) {
    MutexLock lk(m_);
    wake_ = std::move(wake);
}

void OutputFeed::set_taken_streams(std::optional<StreamMask> streams) {
    MutexLock lk(m_);
    taken_streams_ = streams;
}

void OutputFeed::close() {
    MutexLock lk(m_);
    closed_ = true;
    for (auto& s : slots_) s = Entry{};
    oldest_ = cursor_ = next_;
    starts_.clear();
    output_cv_.notify_all();
    space_cv_.notify_all();
}

std::vector<OutputFeed::Entry> OutputFeed::recent_from_start(const StreamMask& want) const {
    MutexLock lk(m_);
    std::vector<Entry> out;
    const auto start = starts_.newest_for(want);
    if (!start || *start < oldest_ || *start >= cursor_) return out;
    for (std::uint64_t s = *start; s < cursor_; ++s) {
        const Entry& e = slots_[s % slots_.size()];
        if (!e.packet) return {};  // taken without keep_taken
        out.push_back(e);
    }
    return out;
}

bool OutputFeed::closed() const {
    MutexLock lk(m_);
    return closed_;
}

std::uint64_t OutputFeed::discarded() const {
    MutexLock lk(m_);
    return discarded_;
}

std::uint64_t OutputFeed::published() const {
    MutexLock lk(m_);
    return next_;
}

std::size_t OutputFeed::backlog() const {
    MutexLock lk(m_);
    return static_cast<std::size_t>(next_ - std::max(cursor_, oldest_));
}

}  // namespace asfcast
