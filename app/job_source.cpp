#include "job_source.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "asfcast/capture/network.hpp"

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
    // A network source that is off is tried again less and less often, up to every 10 s (or the
    // preset's cap); devices and files keep the plain interval.
    const int max_ms = preset.reattach_max_interval_ms
                           ? preset.reattach_max_interval_ms
                           : (capture::is_network(source.type) ? std::max(10'000, preset.reattach_interval_ms) : 0);
    policy.reattach_max_interval_us = Micros{max_ms} * 1000;
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

namespace {

// The first line of a secret file, which must be private to the user running asfcast.
std::string read_secret_file(const std::string& origin, const std::string& key, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(fmt::format("{}: {} {}: {}", origin, key, path, std::strerror(errno)));
    if (st.st_mode & 077)
        throw std::runtime_error(fmt::format("{}: {} {} can be read or written by group or others (mode {:03o}); "
                                             "run chmod 600 on it",
                                             origin, key, path, st.st_mode & 0777));
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line) || line.empty())
        throw std::runtime_error(fmt::format("{}: {} {} cannot be read or is empty", origin, key, path));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

}  // namespace

void apply_network_source(const presets::Preset& preset, capture::SourceConfig& source) {
    const presets::SourcePreset& s = preset.source;
    if (s.type == "rtsp") source.type = capture::SourceType::rtsp;
    else if (s.type == "srt") source.type = capture::SourceType::srt;
    else if (s.type == "uri") source.type = capture::SourceType::uri;
    else return;
    source.url = s.url;
    source.rtsp_transport = s.transport;
    source.user = s.user;
    source.password = s.password_file.empty() ? s.password
                                              : read_secret_file(preset.origin, "source.password_file", s.password_file);
    source.srt_mode = s.mode;
    source.srt_address = s.address;
    source.srt_port = s.port;
    source.passphrase = s.passphrase;
    source.streamid = s.streamid;
    source.latency_ms = s.latency_ms;
    try {
        (void)capture::network_uri(source);  // a bad URL is reported now, by key
    } catch (const capture::CaptureError& e) {
        throw std::runtime_error(preset.origin + ": " + e.what());
    }
}

void apply_input(const std::string& input, presets::SourcePreset& source) {
    static const std::regex scheme_re(R"(^([A-Za-z][A-Za-z0-9+.-]*)://)");
    std::smatch m;
    std::string scheme;
    if (std::regex_search(input, m, scheme_re)) scheme = m[1].str();
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme.empty() || scheme == "file") {
        source.type = "file";
        source.path = input;
        return;
    }
    source.url = input;
    if (scheme == "rtsp" || scheme == "rtsps" || scheme == "rtspt") {
        source.type = "rtsp";
    } else if (scheme == "srt") {
        source.type = "srt";
        static const std::regex listener_re(R"(^srt://\[?([^\]/?]*?)\]?:([0-9]+)/?\?(?:.*&)?mode=listener)",
                                            std::regex::icase);
        if (std::regex_search(input, m, listener_re)) {
            source.mode = "listener";
            source.address = m[1].str().empty() ? "0.0.0.0" : m[1].str();
            source.port = std::stoi(m[2].str());
        } else {
            source.mode = "caller";
        }
    } else {
        source.type = "uri";
    }
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
