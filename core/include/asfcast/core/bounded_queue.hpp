// A bounded, closable multi-producer queue used between threads of the pipeline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace asfcast {

template <typename T>
class BoundedQueue {
public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

    // Blocks while full; returns false when the queue is closed.
    bool push(T v) {
        std::unique_lock lk(m_);
        not_full_.wait(lk, [&] { return closed_ || q_.size() < capacity_; });
        if (closed_) return false;
        q_.push_back(std::move(v));
        not_empty_.notify_one();
        return true;
    }

    // Never blocks; returns false (and drops v) when full or closed. Live sources use this so a
    // slow consumer costs frames, not memory or capture timing.
    bool try_push(T v) {
        std::lock_guard lk(m_);
        if (closed_ || q_.size() >= capacity_) return false;
        q_.push_back(std::move(v));
        not_empty_.notify_one();
        return true;
    }

    // Blocks until an item is available or the queue is closed and drained.
    std::optional<T> pop() {
        std::unique_lock lk(m_);
        not_empty_.wait(lk, [&] { return closed_ || !q_.empty(); });
        return take(lk);
    }

    template <class Rep, class Period>
    std::optional<T> pop_for(std::chrono::duration<Rep, Period> d) {
        std::unique_lock lk(m_);
        not_empty_.wait_for(lk, d, [&] { return closed_ || !q_.empty(); });
        return take(lk);
    }

    std::optional<T> try_pop() {
        std::unique_lock lk(m_);
        return take(lk);
    }

    void close() {
        std::lock_guard lk(m_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

    bool closed_and_empty() const {
        std::lock_guard lk(m_);
        return closed_ && q_.empty();
    }
    std::size_t size() const {
        std::lock_guard lk(m_);
        return q_.size();
    }

private:
    std::optional<T> take(std::unique_lock<std::mutex>&) {
        if (q_.empty()) return std::nullopt;
        T v = std::move(q_.front());
        q_.pop_front();
        not_full_.notify_one();
        return v;
    }

    mutable std::mutex m_;
    std::condition_variable not_empty_, not_full_;
    std::deque<T> q_;
    std::size_t capacity_;
    bool closed_ = false;
};

}  // namespace asfcast
