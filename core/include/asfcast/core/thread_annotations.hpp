// Clang's thread-safety annotations (-Wthread-safety) for state shared between threads, and a
// mutex type that carries them (libstdc++'s std::mutex has none). Other compilers see plain code.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define ASFCAST_TSA(x) __attribute__((x))
#else
#define ASFCAST_TSA(x)
#endif

#define CAPABILITY(x) ASFCAST_TSA(capability(x))
#define SCOPED_CAPABILITY ASFCAST_TSA(scoped_lockable)
#define GUARDED_BY(x) ASFCAST_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) ASFCAST_TSA(pt_guarded_by(x))
#define REQUIRES(...) ASFCAST_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) ASFCAST_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) ASFCAST_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) ASFCAST_TSA(release_capability(__VA_ARGS__))

namespace asfcast {

class CAPABILITY("mutex") Mutex {
public:
    void lock() ACQUIRE() { m_.lock(); }
    void unlock() RELEASE() { m_.unlock(); }
    std::mutex& native() { return m_; }

private:
    std::mutex m_;
};

// std::lock_guard / unique_lock for Mutex, visible to the analysis.
class SCOPED_CAPABILITY MutexLock {
public:
    explicit MutexLock(Mutex& m) ACQUIRE(m) : lock_(m.native()) {}
    ~MutexLock() RELEASE() = default;
    // For condition variables: the lock is held again when wait returns.
    std::unique_lock<std::mutex>& native() { return lock_; }

private:
    std::unique_lock<std::mutex> lock_;
};

}  // namespace asfcast
