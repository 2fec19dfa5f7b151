#include "job_source.hpp"

#include <fmt/format.h>

namespace asfcast::app {

JobSource::JobSource(const presets::SourcePreset& preset, capture::SourceConfig source,
                     capture::RawFormat raw, capture::CaptureCallbacks callbacks) {
    if (source.fast) {
        direct_ = std::make_unique<capture::CapturePipeline>(std::move(source), raw, std::move(callbacks));
        return;
    }
    const bool file = source.type == capture::SourceType::file;
    capture::LossPolicy policy;
    policy.slate = preset.on_loss == "slate" || (preset.on_loss == "auto" && !file);
    policy.loss_timeout_us = Micros{preset.loss_timeout_ms} * 1000;
    policy.reattach_interval_us = Micros{preset.reattach_interval_ms} * 1000;
    policy.slate_image = preset.slate_image;
    policy.slate_text = preset.slate_text;
    policy.drift_correction = preset.drift_correction;
    policy.av_offset_us = Micros{preset.av_offset_ms} * 1000;
    auto factory = [source, raw](capture::CaptureCallbacks cb) -> std::unique_ptr<capture::MediaSource> {
        return std::make_unique<capture::CapturePipeline>(source, raw, std::move(cb));
    };
    // A file is paced by the system clock it is played against: nothing drifts.
    live_ = std::make_unique<capture::LiveSource>(raw, policy, factory, std::move(callbacks), !file);
}

void JobSource::start() {
    if (direct_) direct_->start();
    else live_->start();
}

void JobSource::stop() {
    if (direct_) direct_->stop();
    else live_->stop();
}

std::string JobSource::description() const { return direct_ ? direct_->description() : live_->description(); }

std::optional<capture::LiveSourceStatus> JobSource::status() const {
    if (!live_) return std::nullopt;
    return live_->status();
}

std::string describe_source(const capture::LiveSourceStatus& s) {
    std::string out;
    switch (s.state) {
        case capture::SourceState::lost: out = "LOST (slate on air)"; break;
        case capture::SourceState::holding: out = "late (holding)"; break;
        default: out = to_string(s.state); break;
    }
    if (s.losses) out += fmt::format(", lost {}x, back {}x", s.losses, s.reattaches);
    return out;
}

}  // namespace asfcast::app
