#include "asfcast/core/failpoints.hpp"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace asfcast {
namespace {

struct Armed {
    std::map<std::string, long, std::less<>> remaining;  // passes left before the point fires
    std::mutex m;
    std::atomic<bool> any{false};

    Armed() {
        const char* env = std::getenv("ASFCAST_FAILPOINTS");
        if (env && *env) parse(env);
    }

    void parse(const std::string& spec) {
        remaining.clear();
        std::size_t at = 0;
        while (at < spec.size()) {
            std::size_t end = spec.find(',', at);
            if (end == std::string::npos) end = spec.size();
            const std::string item = spec.substr(at, end - at);
            const std::size_t eq = item.find('=');
            const std::string name = item.substr(0, eq);
            const long count = eq == std::string::npos ? 1 : std::atol(item.c_str() + eq + 1);
            if (!name.empty() && count > 0) remaining[name] = count;
            at = end + 1;
        }
        any = !remaining.empty();
        if (any) spdlog::warn("failpoints armed: faults will be injected ({})", spec);
    }
};

Armed& armed() {
    static Armed a;
    return a;
}

}  // namespace

void failpoint(std::string_view name) {
    Armed& a = armed();
    if (!a.any.load(std::memory_order_relaxed)) return;
    std::lock_guard lk(a.m);
    auto it = a.remaining.find(name);
    if (it == a.remaining.end() || it->second <= 0) return;
    if (--it->second == 0) throw std::runtime_error("failpoint " + std::string(name));
}

void set_failpoints(std::string_view spec) {
    Armed& a = armed();
    std::lock_guard lk(a.m);
    a.parse(std::string(spec));
}

void failpoint(std::string_view name, int index) {
    if (!armed().any.load(std::memory_order_relaxed)) return;
    failpoint(std::string(name) + "." + std::to_string(index));
}

}  // namespace asfcast
