// Many connections' non-blocking sendmsg calls in one system call: the pull server's network thread
// queues the $D gather writes of one wake (one per streaming client) and submits them together
// through io_uring, where the kernel runs each one at once (MSG_DONTWAIT: never parked, a full socket
// completes with -EAGAIN) and posts its result. The TCP work is the same as with sendmsg; what goes
// is the system call entry and exit, the descriptor lookup's slow path and the msghdr copy of each
// write, which at thousands of clients are a large part of the network thread's time.
//
// Not every kernel offers io_uring (it may be disabled by sysctl kernel.io_uring_disabled, refused by
// a seccomp filter, or asfcast built without liburing): SendBatch::create() returns nullptr and the
// caller writes with sendmsg, one call each, with the same results.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace asfcast::pull {

class SendBatch {
public:
    // `entries`: writes per submission (the queue flushes by itself when it is full). Returns
    // nullptr when io_uring cannot be used; `why` says why.
    static std::unique_ptr<SendBatch> create(unsigned entries, std::string& why);
    virtual ~SendBatch() = default;

    // Called once per queued write, in queue order, by flush(): `result` is what sendmsg would
    // have returned (bytes written) or -errno.
    using Done = std::function<void(std::uint64_t tag, long result)>;

    // Queues sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT). `msg->msg_iov` and the bytes it
    // points to must stay valid until `done` ran for this write; `msg` itself is copied. Returns
    // false, queuing nothing, when the queue is full: flush first, or write directly.
    virtual bool queue(int fd, const msghdr& msg, std::uint64_t tag) = 0;
    // Submits what is queued and runs `done` for every write, after the queue is empty again (so
    // `done` may queue new writes: the next flush sends them). Returns the writes completed.
    virtual std::size_t flush() = 0;
    virtual std::size_t queued() const = 0;
    virtual bool full() const = 0;
    void on_done(Done d) { done_ = std::move(d); }

protected:
    Done done_;
};

}  // namespace asfcast::pull
