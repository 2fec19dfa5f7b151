// The job's side of the control API (control::ControlBackend). The control server's thread reads
// the newest status snapshot, which the job's main loop publishes once a second and after every
// action; actions are queued here and carried out by the main loop (the only thread that starts,
// stops, adds and removes outputs), and the control thread waits for their results.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <mutex>

#include "asfcast/control/control.hpp"
#include "job_preview.hpp"

namespace asfcast::app {

class JobControl : public control::ControlBackend {
public:
    using Performer = std::function<control::ActionResult(const control::Action&)>;

    explicit JobControl(PreviewGrabber* preview, std::chrono::milliseconds action_timeout = std::chrono::seconds(15))
        : preview_(preview), action_timeout_(action_timeout) {}

    // ---- The job's main loop ----
    void publish(control::StatusSnapshot snapshot);
    // Carries out the actions queued since the last call; true when there was one.
    bool run_pending(const Performer& perform);
    // The job is ending: queued and later actions are answered "unavailable".
    void close();

    // ---- The control server's thread ----
    control::StatusSnapshot status() override;
    control::ActionResult perform(const control::Action& action) override;
    std::optional<std::string> preview_jpeg() override;

private:
    struct Pending {
        control::Action action;
        std::promise<control::ActionResult> result;
    };
    PreviewGrabber* preview_;
    const std::chrono::milliseconds action_timeout_;
    std::mutex mutex_;
    control::StatusSnapshot snapshot_;  // under mutex_
    std::deque<Pending> pending_;       // under mutex_
    bool closed_ = false;               // under mutex_
};

}  // namespace asfcast::app
