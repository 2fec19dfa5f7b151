// The job's source: a file converted as fast as possible is captured directly; everything that
// runs in real time (test, device, paced file) goes through capture::LiveSource, which keeps the
// broadcast going with a slate when the source is lost and corrects audio clock drift.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "asfcast/capture/capture.hpp"
#include "asfcast/capture/live_source.hpp"
#include "asfcast/presets/presets.hpp"

namespace asfcast::app {

class JobSource {
public:
    JobSource(const presets::SourcePreset& preset, capture::SourceConfig source,
              capture::RawFormat raw, capture::CaptureCallbacks callbacks);
    void start();  // throws capture::CaptureError (or std::runtime_error for a bad slate image)
    void stop();   // drains; downstream on_end follows
    std::string description() const;
    // Supervision status (nullopt for a fast file conversion, which has none).
    std::optional<capture::LiveSourceStatus> status() const;

private:
    std::unique_ptr<capture::CapturePipeline> direct_;
    std::unique_ptr<capture::LiveSource> live_;
};

// Network sources (issue 15): for a preset whose source.type is rtsp, srt or uri, sets the
// capture type and its keys, reading source.password_file (refused unless private to the user:
// mode 600 or stricter). Other types are left as they are. Throws std::runtime_error naming the
// preset, the key and what to do.
void apply_network_source(const presets::Preset& preset, capture::SourceConfig& source);

// `asfcast run --input X`: an rtsp(s)://, srt:// or other scheme:// URL becomes a network source
// (srt://host:port?mode=listener a listener on that port, other srt:// URLs a caller); file:// URLs
// and paths stay a file source. The preset's other source keys (credentials, latency) still apply.
void apply_input(const std::string& input, presets::SourcePreset& source);

// One short line for the status line and systemd STATUS: "live", "LOST (slate) 3 times"...
std::string describe_source(const capture::LiveSourceStatus& s);

}  // namespace asfcast::app
