// Prometheus text exposition format 0.0.4 from the same StatusSnapshot the JSON status shows:
// one family per metric name (# HELP, # TYPE, then its samples), the asfcast_ prefix, base units
// (bytes, seconds, bits per second), _total for counters.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "asfcast/control/control.hpp"

namespace asfcast::control {
namespace {

// Label values escape backslash, double quote and line feed (the format's rules).
std::string label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

class Writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        name_ = fmt::format("asfcast_{}", name);
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help, name_, type);
    }
    void sample(double value, std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {}) {
        out_ += name_;
        if (labels.size()) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += fmt::format("{}=\"{}\"", k, label_value(v));
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += number(value);
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_, name_;
};

double d(std::uint64_t v) { return static_cast<double>(v); }

}  // namespace

std::string metrics_text(const StatusSnapshot& s) {
    Writer w;
    w.family("info", "gauge", "Always 1; the labels name the version and the preset.");
    w.sample(1, {{"version", s.version}, {"preset", s.preset}});
    w.family("start_time_seconds", "gauge", "When the job started, in seconds since the Unix epoch.");
    w.sample(static_cast<double>(s.started_unix_ms) / 1000.0);
    w.family("media_time_seconds", "gauge", "Media time of the newest encoded frame.");
    w.sample(s.media_time_s);
    w.family("source_up", "gauge", "1 while the source delivers (live), 0 while it is late or lost.");
    w.sample(s.source.state == "live" || s.source.state == "file" ? 1 : 0);
    w.family("source_losses_total", "counter", "Times the source was lost and the slate went on air.");
    w.sample(d(s.source.losses));
    w.family("source_filler_frames_total", "counter", "Held or slate video frames sent while the source was late or lost.");
    w.sample(d(s.source.filler_frames));
    w.family("video_frames_captured_total", "counter", "Raw video frames captured.");
    w.sample(d(s.video_frames_captured));
    w.family("video_frames_dropped_total", "counter", "Raw video frames dropped because the encoder fell behind.");
    w.sample(d(s.video_frames_dropped));
    w.family("audio_blocks_captured_total", "counter", "Raw audio blocks captured.");
    w.sample(d(s.audio_blocks_captured));
    w.family("audio_blocks_dropped_total", "counter", "Raw audio blocks dropped because the encoder fell behind.");
    w.sample(d(s.audio_blocks_dropped));
    w.family("encoded_frames_total", "counter", "Media objects encoded, per ASF stream.");
    for (const auto& r : s.renditions) {
        const std::string stream = std::to_string(r.stream);
        w.sample(d(r.frames), {{"stream", stream}, {"kind", r.kind}, {"rendition", r.name}});
    }
    w.family("encoded_bytes_total", "counter", "Bytes of encoded media objects, per ASF stream.");
    for (const auto& r : s.renditions) {
        const std::string stream = std::to_string(r.stream);
        w.sample(d(r.bytes), {{"stream", stream}, {"kind", r.kind}, {"rendition", r.name}});
    }
    w.family("encoded_bitrate_bits_per_second", "gauge", "Encoded bit rate over the last seconds, per ASF stream.");
    for (const auto& r : s.renditions) {
        const std::string stream = std::to_string(r.stream);
        w.sample(r.bitrate_bps, {{"stream", stream}, {"kind", r.kind}, {"rendition", r.name}});
    }
    w.family("mux_packets_total", "counter", "ASF data packets made by the muxer.");
    w.sample(d(s.packets));
    w.family("mux_bytes_total", "counter", "Bytes of ASF data packets made by the muxer (file form).");
    w.sample(d(s.bytes));
    w.family("mux_bitrate_bits_per_second", "gauge", "Bit rate of the muxed stream over the last seconds.");
    w.sample(s.bitrate_bps);
    w.family("output_up", "gauge", "1 while the output runs (a push target: streaming), 0 otherwise.");
    for (const auto& o : s.outputs)
        w.sample(o.state == "running" || o.state == "streaming" ? 1 : 0, {{"output", o.id}, {"kind", o.kind}});
    w.family("pull_clients", "gauge", "Open pull (MS-WMSP) connections.");
    w.sample(d(s.pull.clients_now));
    w.family("pull_streaming_clients", "gauge", "Pull connections receiving the stream.");
    w.sample(d(s.pull.streaming_now));
    w.family("pull_connections_total", "counter", "Pull connections accepted.");
    w.sample(d(s.pull.connections_total));
    w.family("pull_plays_total", "counter", "Pull Play requests that started streaming.");
    w.sample(d(s.pull.plays_total));
    w.family("pull_refused_total", "counter", "Pull connections refused by limits or address rules.");
    w.sample(d(s.pull.refused_total));
    w.family("pull_auth_failures_total", "counter", "Pull requests refused for their credentials.");
    w.sample(d(s.pull.auth_failures_total));
    w.family("pull_sent_bytes_total", "counter", "Bytes sent to pull clients.");
    w.sample(d(s.pull.bytes_sent_total));
    w.family("push_target_up", "gauge", "1 while the push target is streaming, 0 otherwise.");
    for (const auto& t : s.push_targets) w.sample(t.state == "streaming" ? 1 : 0, {{"target", t.id}, {"url", t.url}});
    w.family("push_sent_packets_total", "counter", "ASF packets sent to the push target.");
    for (const auto& t : s.push_targets) w.sample(d(t.packets_sent), {{"target", t.id}, {"url", t.url}});
    w.family("push_skipped_packets_total", "counter", "ASF packets the push target skipped (queue overflow, waiting for a key frame).");
    for (const auto& t : s.push_targets) w.sample(d(t.packets_skipped), {{"target", t.id}, {"url", t.url}});
    w.family("push_sent_bytes_total", "counter", "PushStart body bytes sent to the push target.");
    for (const auto& t : s.push_targets) w.sample(d(t.bytes_sent), {{"target", t.id}, {"url", t.url}});
    w.family("push_reconnects_total", "counter", "Connection attempts to the push target after a failure or a close.");
    for (const auto& t : s.push_targets) w.sample(d(t.reconnects), {{"target", t.id}, {"url", t.url}});
    w.family("script_commands_total", "counter", "Script commands sent in the command stream.");
    w.sample(d(s.script.commands_sent));
    w.family("markers_total", "counter", "Markers recorded for the archive's Marker Object.");
    w.sample(d(s.script.markers));
    return w.take();
}

}  // namespace asfcast::control
