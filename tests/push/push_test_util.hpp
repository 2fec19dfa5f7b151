// Helpers shared by the PushOutput tests (push_output_test.cpp, push_memory_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "asfcast/push/push_output.hpp"
#include "strict_receiver.hpp"

namespace asfcast::pushtest {

// Short back-offs and timeouts, so that faults and retries play out in test time.
inline push::PushConfig fast_config() {
    using namespace std::chrono_literals;
    push::PushConfig c;
    c.backoff_initial = 50ms;
    c.backoff_max = 200ms;
    c.backoff_jitter = 0.2;
    c.permanent_retry = 0ms;
    c.connect_timeout = 2000ms;
    c.response_timeout = 2000ms;
    c.stall_timeout = 1000ms;
    c.end_timeout = 4000ms;
    return c;
}

// A port where nothing listens: connections are refused.
inline std::uint16_t refused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// The end of the broadcast as the job does it: the mux thread publishes the end (never waiting),
// then the job waits for every target to finish ($E sent) and closes what is left.
inline bool end_stream(push::PushOutput& out, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    out.feed()->publish_end();
    const bool done = out.wait_finished(timeout);
    if (!done) out.stop();
    return done;
}

inline void expect_no_violations(const StrictReceiver& r) {
    for (const auto& v : r.violations()) ADD_FAILURE() << "receiver: " << v;
}

}  // namespace asfcast::pushtest
