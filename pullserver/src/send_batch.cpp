#include "send_batch.hpp"

#include <cerrno>
#include <cstring>
#include <vector>

#ifdef ASFCAST_HAVE_LIBURING
#include <liburing.h>
#endif

namespace asfcast::pull {

#ifdef ASFCAST_HAVE_LIBURING
namespace {

class UringSendBatch final : public SendBatch {
public:
    ~UringSendBatch() override {
        if (ring_ok_) io_uring_queue_exit(&ring_);
    }

    bool init(unsigned entries, std::string& why) {
        entries_ = entries;
        // SUBMIT_ALL: one bad write does not stop the rest of the submission. SINGLE_ISSUER and
        // COOP_TASKRUN (one thread submits, and it is the one that waits): less kernel work per
        // write where the kernel knows them (6.0+); older kernels take the plain ring.
        int ret = -EINVAL;
        for (unsigned flags : {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
                               IORING_SETUP_SUBMIT_ALL, 0u}) {
            io_uring_params p{};
            p.flags = flags;
            ret = io_uring_queue_init_params(entries, &ring_, &p);
            if (ret != -EINVAL) break;
        }
        if (ret < 0) {
            why = std::string("io_uring_setup: ") + std::strerror(-ret);
            return false;
        }
        ring_ok_ = true;
        slots_.resize(entries);
        return true;
    }

    bool queue(int fd, const msghdr& msg, std::uint64_t tag) override {
        if (queued_ >= entries_) return false;
        Slot& s = slots_[queued_];
        s.fd = fd;
        s.msg = msg;
        s.tag = tag;
        s.result = 0;
        s.done = false;
        io_uring_sqe* sqe = broken_ ? nullptr : io_uring_get_sqe(&ring_);
        if (!sqe) {
            // Cannot happen while at most `entries` are queued; if it does, write it directly.
            s.result = direct(s);
            s.done = true;
        } else {
            io_uring_prep_sendmsg(sqe, fd, &s.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            io_uring_sqe_set_data64(sqe, queued_);
        }
        ++queued_;
        return true;
    }

    std::size_t flush() override {
        if (queued_ == 0) return 0;
        const std::size_t n = queued_;
        std::size_t pending = 0;
        for (std::size_t i = 0; i < n; ++i) pending += !slots_[i].done;
        if (pending > 0 && !broken_) {
            int ret = -EINTR;
            for (int attempt = 0; attempt < 100 && (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY); ++attempt)
                ret = io_uring_submit(&ring_);
            if (ret >= 0) reap(pending);
            if (ret < 0 || pending > 0) {
                // The ring failed us: stop using it (closing it drops what it did not take) and
                // write what did not complete with sendmsg. Nothing is sent twice: a write is
                // only done once its completion was seen.
                io_uring_queue_exit(&ring_);
                ring_ok_ = false;
                broken_ = true;
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            if (!slots_[i].done) {
                slots_[i].result = direct(slots_[i]);
                slots_[i].done = true;
            }
        queued_ = 0;
        // Completions are handed out after the queue is empty again: `done` may queue new writes
        // (and even flush them: this call's results are its own).
        std::vector<std::pair<std::uint64_t, long>> results;
        results.swap(results_);
        results.clear();
        for (std::size_t i = 0; i < n; ++i) results.push_back({slots_[i].tag, slots_[i].result});
        for (const auto& [tag, result] : results) done_(tag, result);
        if (results_.capacity() < results.capacity()) results_.swap(results);  // keep the larger buffer
        return n;
    }

    std::size_t queued() const override { return queued_; }
    bool full() const override { return queued_ >= entries_; }

private:
    struct Slot {
        int fd = -1;
        msghdr msg{};
        std::uint64_t tag = 0;
        long result = 0;
        bool done = false;
    };

    // Collects completions until `pending` is 0, waiting at most about a second in all: the
    // writes are non-blocking, so the kernel completes them during the submission.
    void reap(std::size_t& pending) {
        for (int waits = 0; pending > 0 && waits < 10;) {
            io_uring_cqe* cqe = nullptr;
            unsigned head = 0, seen = 0;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                const std::uint64_t i = io_uring_cqe_get_data64(cqe);
                if (i < slots_.size() && !slots_[i].done) {
                    slots_[i].result = cqe->res;
                    slots_[i].done = true;
                    --pending;
                }
                ++seen;
            }
            io_uring_cq_advance(&ring_, seen);
            if (pending == 0 || seen > 0) continue;
            __kernel_timespec ts{0, 100'000'000};
            io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);  // a completion, a timeout or a signal
            ++waits;
        }
    }

    static long direct(const Slot& s) {
        for (int attempt = 0; attempt < 8; ++attempt) {
            const ssize_t r = ::sendmsg(s.fd, &s.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r >= 0) return static_cast<long>(r);
            if (errno != EINTR) return -errno;
        }
        return -EINTR;
    }

    io_uring ring_{};
    bool ring_ok_ = false;
    bool broken_ = false;
    unsigned entries_ = 0;
    std::size_t queued_ = 0;
    std::vector<Slot> slots_;
    std::vector<std::pair<std::uint64_t, long>> results_;
};

}  // namespace

std::unique_ptr<SendBatch> SendBatch::create(unsigned entries, std::string& why) {
    auto b = std::make_unique<UringSendBatch>();
    if (!b->init(entries, why)) return nullptr;
    return b;
}

#else

std::unique_ptr<SendBatch> SendBatch::create(unsigned, std::string& why) {
    why = "built without liburing";
    return nullptr;
}

#endif

}  // namespace asfcast::pull
