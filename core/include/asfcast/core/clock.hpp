// One monotonic clock for the whole appliance (status, flush deadlines, latency).
#pragma once

#include <chrono>
#include <cstdint>

namespace asfcast {

using SteadyClock = std::chrono::steady_clock;

inline std::int64_t monotonic_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch()).count();
}

}  // namespace asfcast
