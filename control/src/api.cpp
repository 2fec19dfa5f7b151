// ControlApi: routes a parsed request to the backend and answers in JSON (or text, HTML, JPEG).
// Every error is a JSON object {"error": MESSAGE} with a 4xx/5xx status.
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "asfcast/control/control.hpp"

namespace asfcast::control {
namespace {

using nlohmann::json;

// Strings from outside (a client's User-Agent, a URL) may not be UTF-8: replaced, never a throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiResponse json_response(int status, const json& body) {
    ApiResponse r;
    r.status = status;
    r.body = dump(body);
    return r;
}

ApiResponse error_response(int status, const std::string& message) {
    return json_response(status, json{{"error", message}});
}

// Constant-time: both sides are hashed first, so neither the length nor the first difference of
// the token shows in the time taken.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
    SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
    return CRYPTO_memcmp(ha, hb, sizeof ha) == 0;
}

// Fields an action accepts, and which of them it needs.
struct ActionSpec {
    std::string_view name;
    std::vector<std::string_view> required, optional;
};
const std::vector<ActionSpec>& action_specs() {
    static const std::vector<ActionSpec> specs = {
        {"start_output", {"output"}, {}},
        {"stop_output", {"output"}, {}},
        {"add_push_target", {"url"}, {"user", "password"}},
        {"remove_push_target", {"id"}, {}},
        {"script_command", {"type"}, {"parameter"}},
        {"marker", {"name"}, {}},
        {"playlist_entry", {"entry"}, {}},
        {"reload", {}, {}},
    };
    return specs;
}

constexpr std::size_t kMaxFieldBytes = 4096;

int status_for(ActionResult::Outcome o) {
    switch (o) {
        case ActionResult::Outcome::done: return 200;
        case ActionResult::Outcome::unknown_target: return 404;
        case ActionResult::Outcome::not_possible: return 409;
        case ActionResult::Outcome::invalid: return 422;
        case ActionResult::Outcome::unavailable: return 503;
    }
    return 500;
}

}  // namespace

std::variant<Action, std::string> parse_action(std::string_view body) {
    json doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) return std::string("the body is not JSON");
    if (!doc.is_object()) return std::string("the body must be a JSON object {\"action\": ..., ...}");
    const auto action_it = doc.find("action");
    if (action_it == doc.end() || !action_it->is_string())
        return std::string("\"action\" (a string) is missing; actions: start_output, stop_output, add_push_target, "
                           "remove_push_target, script_command, marker, playlist_entry, reload");
    const std::string name = action_it->get<std::string>();
    const auto spec = std::find_if(action_specs().begin(), action_specs().end(),
                                   [&](const ActionSpec& s) { return s.name == name; });
    if (spec == action_specs().end())
        return "unknown action \"" + name.substr(0, 64) +
               "\"; actions: start_output, stop_output, add_push_target, remove_push_target, script_command, marker, "
               "playlist_entry, reload";
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& [key, value] : doc.items()) {
        if (key == "action") continue;
        const bool known = std::find(spec->required.begin(), spec->required.end(), key) != spec->required.end() ||
                           std::find(spec->optional.begin(), spec->optional.end(), key) != spec->optional.end();
        if (!known) return "action " + name + ": unknown field \"" + key.substr(0, 64) + "\"";
        if (!value.is_string()) return "action " + name + ": field \"" + key + "\" must be a string";
        std::string text = value.get<std::string>();
        if (text.size() > kMaxFieldBytes)
            return "action " + name + ": field \"" + key + "\" is longer than " + std::to_string(kMaxFieldBytes) + " bytes";
        fields.emplace_back(key, std::move(text));
    }
    auto get = [&](std::string_view key) -> std::optional<std::string> {
        for (const auto& [k, v] : fields)
            if (k == key) return v;
        return std::nullopt;
    };
    for (auto key : spec->required)
        if (!get(key) || get(key)->empty())
            return "action " + name + ": field \"" + std::string(key) + "\" is missing or empty";
    if (name == "start_output") return Action{StartOutput{*get("output")}};
    if (name == "stop_output") return Action{StopOutput{*get("output")}};
    if (name == "add_push_target") return Action{AddPushTarget{*get("url"), get("user").value_or(""), get("password").value_or("")}};
    if (name == "remove_push_target") return Action{RemovePushTarget{*get("id")}};
    if (name == "script_command") return Action{SendScriptCommand{*get("type"), get("parameter").value_or("")}};
    if (name == "playlist_entry") return Action{SwitchPlaylistEntry{*get("entry")}};
    if (name == "reload") return Action{ReloadPreset{}};
    return Action{AddMarker{*get("name")}};
}

std::string action_name(const Action& action) {
    static constexpr std::string_view names[] = {"start_output", "stop_output", "add_push_target",
                                                 "remove_push_target", "script_command", "marker",
                                                 "playlist_entry", "reload"};
    return std::string(names[action.index()]);
}

ControlApi::ControlApi(ControlBackend& backend, ApiConfig config) : backend_(backend), config_(std::move(config)) {
    if (config_.history_samples == 0) config_.history_samples = 1;
}

bool ControlApi::authorized(const ApiRequest& request) const {
    if (config_.token.empty()) return true;
    constexpr std::string_view kBearer = "Bearer ";
    const std::string& h = request.authorization;
    if (h.size() <= kBearer.size()) return false;
    // The scheme is case-insensitive (RFC 7235 2.1).
    for (std::size_t i = 0; i < kBearer.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(h[i])) != std::tolower(static_cast<unsigned char>(kBearer[i])))
            return false;
    return same_secret(std::string_view(h).substr(kBearer.size()), config_.token);
}

void ControlApi::sample(std::int64_t unix_ms) {
    const StatusSnapshot s = backend_.status();
    HistorySample h;
    h.unix_ms = unix_ms;
    h.bitrate_bps = s.bitrate_bps;
    h.pull_clients = s.pull.streaming_now;
    for (const auto& t : s.push_targets) h.push_streaming += t.state == "streaming";
    h.video_frames_dropped = s.video_frames_dropped;
    if (ring_.size() < config_.history_samples) {
        ring_.push_back(h);
    } else {
        ring_[ring_next_] = h;
        ring_next_ = (ring_next_ + 1) % ring_.size();
    }
}

std::vector<HistorySample> ControlApi::history() const {
    std::vector<HistorySample> out;
    out.reserve(ring_.size());
    for (std::size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(ring_next_ + i) % ring_.size()]);
    return out;
}

ApiResponse ControlApi::handle(const ApiRequest& request) {
    std::string_view path = request.target;
    if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    const bool get = request.method == "GET" || request.method == "HEAD";

    // The page and its files hold no data: served without the token, which the page then sends
    // with each API request (it asks the operator for it when the API answers 401).
    if (path == "/" || path == "/index.html" || path == "/app.js" || path == "/app.css") {
        if (!get) return error_response(405, "only GET is allowed on " + std::string(path));
        ApiResponse r;
        if (path == "/app.js") {
            r.content_type = "text/javascript; charset=utf-8";
            r.body = page_js();
        } else if (path == "/app.css") {
            r.content_type = "text/css; charset=utf-8";
            r.body = page_css();
        } else {
            r.content_type = "text/html; charset=utf-8";
            r.body = page_html();
        }
        return r;
    }
    const bool known = path == "/api/status" || path == "/api/history" || path == "/api/preview.jpg" ||
                       path == "/api/actions" || path == "/metrics";
    if (!known) return error_response(404, "no such resource: " + std::string(path.substr(0, 128)) +
                                               " (see docs/api.md: /api/status, /api/actions, /api/history, "
                                               "/api/preview.jpg, /metrics)");
    if (!authorized(request)) {
        auto r = error_response(401, request.authorization.empty()
                                         ? "this control port needs a token: send Authorization: Bearer TOKEN"
                                         : "the token is not the one this control port was started with");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"asfcast\"");
        return r;
    }
    if (path == "/api/actions") {
        if (request.method != "POST") {
            auto r = error_response(405, "/api/actions takes POST with a JSON body");
            r.headers.emplace_back("Allow", "POST");
            return r;
        }
        auto parsed = parse_action(request.body);
        if (auto* error = std::get_if<std::string>(&parsed)) return error_response(400, *error);
        const Action& action = std::get<Action>(parsed);
        const ActionResult result = backend_.perform(action);
        const int status = status_for(result.outcome);
        if (status != 200) return error_response(status, result.message);
        json body{{"action", action_name(action)}, {"result", result.message}};
        if (!result.id.empty()) body["id"] = result.id;
        return json_response(200, body);
    }
    if (!get) {
        auto r = error_response(405, std::string(path) + " takes GET");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    if (path == "/api/status") {
        ApiResponse r;
        r.body = status_json(backend_.status());
        return r;
    }
    if (path == "/api/history") {
        ApiResponse r;
        r.body = history_json(history());
        return r;
    }
    if (path == "/metrics") {
        ApiResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics_text(backend_.status());
        return r;
    }
    auto jpeg = backend_.preview_jpeg();
    if (!jpeg) return error_response(404, "no preview: the job has no video, or no frame has been captured yet");
    ApiResponse r;
    r.content_type = "image/jpeg";
    r.body = std::move(*jpeg);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

std::string status_json(const StatusSnapshot& s) {
    json renditions = json::array();
    for (const auto& r : s.renditions)
        renditions.push_back({{"stream", r.stream}, {"kind", r.kind}, {"name", r.name}, {"frames", r.frames},
                              {"bytes", r.bytes}, {"bitrate_bps", r.bitrate_bps}});
    json outputs = json::array();
    for (const auto& o : s.outputs)
        outputs.push_back({{"id", o.id}, {"kind", o.kind}, {"state", o.state}, {"detail", o.detail},
                           {"last_error", o.last_error}, {"can_start", o.can_start}, {"can_stop", o.can_stop}});
    json clients = json::array();
    for (const auto& c : s.pull.clients)
        clients.push_back({{"address", c.address}, {"user_agent", c.user_agent}, {"bytes_sent", c.bytes_sent},
                           {"started_unix_ms", c.started_unix_ms}, {"streaming", c.streaming}});
    json targets = json::array();
    for (const auto& t : s.push_targets)
        targets.push_back({{"id", t.id}, {"url", t.url}, {"state", t.state}, {"last_error", t.last_error},
                           {"from_preset", t.from_preset}, {"packets_sent", t.packets_sent},
                           {"packets_skipped", t.packets_skipped}, {"bytes_sent", t.bytes_sent},
                           {"reconnects", t.reconnects}});
    const json doc{
        {"version", s.version},
        {"preset", s.preset},
        {"started_unix_ms", s.started_unix_ms},
        {"uptime_s", s.uptime_s},
        {"media_time_s", s.media_time_s},
        {"source",
         {{"state", s.source.state}, {"description", s.source.description}, {"losses", s.source.losses},
          {"filler_frames", s.source.filler_frames}}},
        {"frames",
         {{"video_captured", s.video_frames_captured}, {"video_dropped", s.video_frames_dropped},
          {"audio_blocks_captured", s.audio_blocks_captured}, {"audio_blocks_dropped", s.audio_blocks_dropped}}},
        {"stream", {{"packets", s.packets}, {"bytes", s.bytes}, {"bitrate_bps", s.bitrate_bps}}},
        {"renditions", renditions},
        {"outputs", outputs},
        {"pull",
         {{"running", s.pull.running}, {"connections_total", s.pull.connections_total},
          {"plays_total", s.pull.plays_total}, {"refused_total", s.pull.refused_total},
          {"auth_failures_total", s.pull.auth_failures_total}, {"bytes_sent_total", s.pull.bytes_sent_total},
          {"clients_now", s.pull.clients_now}, {"streaming_now", s.pull.streaming_now}, {"clients", clients}}},
        {"push_targets", targets},
        {"script",
         {{"enabled", s.script.enabled}, {"commands_sent", s.script.commands_sent}, {"markers", s.script.markers}}},
        {"playlist",
         {{"enabled", s.playlist.enabled}, {"on_air", s.playlist.on_air}, {"entries", s.playlist.entries},
          {"entries_started", s.playlist.entries_started}, {"entries_refused", s.playlist.entries_refused}}},
    };
    return dump(doc);
}

std::string history_json(const std::vector<HistorySample>& samples) {
    json list = json::array();
    for (const auto& h : samples)
        list.push_back({{"unix_ms", h.unix_ms}, {"bitrate_bps", h.bitrate_bps}, {"pull_clients", h.pull_clients},
                        {"push_streaming", h.push_streaming}, {"video_frames_dropped", h.video_frames_dropped}});
    return dump(json{{"interval_ms", 1000}, {"samples", list}});
}

}  // namespace asfcast::control
