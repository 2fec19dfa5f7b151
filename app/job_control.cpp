#include "job_control.hpp"

#include <spdlog/spdlog.h>

namespace asfcast::app {

namespace {
constexpr std::size_t kMaxPendingActions = 16;
}

void JobControl::publish(control::StatusSnapshot snapshot) {
    std::lock_guard lk(mutex_);
    snapshot_ = std::move(snapshot);
}

bool JobControl::run_pending(const Performer& perform) {
    std::deque<Pending> taken;
    {
        std::lock_guard lk(mutex_);
        taken.swap(pending_);
    }
    for (auto& p : taken) {
        control::ActionResult r;
        try {
            r = perform(p.action);
        } catch (const std::exception& e) {
            r = {control::ActionResult::Outcome::invalid, e.what(), ""};
        }
        // The log names the action and its result, never its fields (a password may be among them).
        spdlog::info("control: {}: {}", control::action_name(p.action), r.message);
        p.result.set_value(std::move(r));
    }
    return !taken.empty();
}

void JobControl::close() {
    std::deque<Pending> taken;
    {
        std::lock_guard lk(mutex_);
        closed_ = true;
        taken.swap(pending_);
    }
    for (auto& p : taken)
        p.result.set_value({control::ActionResult::Outcome::unavailable, "the broadcast is ending", ""});
}

control::StatusSnapshot JobControl::status() {
    std::lock_guard lk(mutex_);
    return snapshot_;
}

control::ActionResult JobControl::perform(const control::Action& action) {
    std::future<control::ActionResult> result;
    {
        std::lock_guard lk(mutex_);
        if (closed_) return {control::ActionResult::Outcome::unavailable, "the broadcast is ending", ""};
        if (pending_.size() >= kMaxPendingActions)
            return {control::ActionResult::Outcome::unavailable, "too many actions waiting; try again", ""};
        pending_.push_back({action, {}});
        result = pending_.back().result.get_future();
    }
    if (result.wait_for(action_timeout_) != std::future_status::ready)
        return {control::ActionResult::Outcome::unavailable,
                "the job did not carry out the action within " + std::to_string(action_timeout_.count() / 1000) + " s",
                ""};
    return result.get();
}

std::optional<std::string> JobControl::preview_jpeg() {
    if (!preview_) return std::nullopt;
    return preview_->jpeg();
}

}  // namespace asfcast::app
