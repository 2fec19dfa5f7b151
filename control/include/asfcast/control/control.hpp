// control: the operator's view of a running job over HTTP, on a port of its own: the JSON status
// (/api/status), actions (POST /api/actions), Prometheus metrics (/metrics), a status page (/)
// with a live preview (/api/preview.jpg) and graphs drawn from a ring of samples (/api/history).
//
// control/ never reaches into the other libraries: the job (app/) gives it a StatusSnapshot and
// carries out Actions through the ControlBackend interface below. ControlApi is the request
// handling as a plain class fed parsed requests (tested without sockets); ControlServer is the
// Asio edge (bounded heads and bodies, a deadline per request, a connection limit).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace asfcast::control {

// ---- What the job reports ----

struct RenditionStatus {
    int stream = 0;             // ASF stream number
    std::string kind;           // "video" | "audio" | "command"
    std::string name;           // rendition name, e.g. "720p"
    std::uint64_t frames = 0;   // media objects encoded
    std::uint64_t bytes = 0;    // their bytes
    double bitrate_bps = 0;     // over the last seconds
};

struct OutputStatus {
    std::string id;          // "archive", "pull", "msbd", "multicast", "push:2"
    std::string kind;        // "archive" | "pull" | "msbd" | "multicast" | "push"
    std::string state;       // "running" | "stopped" | "failed" | "streaming" | "retrying" | ...
    std::string detail;      // e.g. "mmsh://127.0.0.1:8080/", a path, a URL
    std::string last_error;  // empty when none
    bool can_start = false;  // a start_output action would do something now
    bool can_stop = false;
};

struct PullClientStatus {
    std::string address;
    std::string user_agent;
    std::uint64_t bytes_sent = 0;
    std::int64_t started_unix_ms = 0;  // when the connection was accepted
    bool streaming = false;
};

struct PushTargetStatus {
    std::string id;           // "push:N", stable for the job's life
    std::string url;          // as displayed: no credentials
    std::string state;        // push::TargetState names, or "stopped"
    std::string last_error;
    bool from_preset = false;
    std::uint64_t packets_sent = 0, packets_skipped = 0, bytes_sent = 0, reconnects = 0;
};

struct StatusSnapshot {
    std::string version, preset;
    std::int64_t started_unix_ms = 0;
    double uptime_s = 0;
    double media_time_s = 0;
    struct Source {
        std::string state = "live";   // "live" | "late" | "lost" | "ended" | "file"
        std::string description;      // the status line's text
        std::uint64_t losses = 0;
        std::uint64_t filler_frames = 0;
    } source;
    std::uint64_t video_frames_captured = 0, video_frames_dropped = 0;
    std::uint64_t audio_blocks_captured = 0, audio_blocks_dropped = 0;
    std::uint64_t packets = 0, bytes = 0;  // the muxed stream
    double bitrate_bps = 0;                // the muxed stream over the last seconds
    std::vector<RenditionStatus> renditions;
    std::vector<OutputStatus> outputs;
    struct Pull {
        bool running = false;
        std::uint64_t connections_total = 0, plays_total = 0, refused_total = 0, auth_failures_total = 0;
        std::uint64_t bytes_sent_total = 0;
        std::uint64_t clients_now = 0;     // open connections
        std::uint64_t streaming_now = 0;   // receiving $D
        std::vector<PullClientStatus> clients;
    } pull;
    std::vector<PushTargetStatus> push_targets;
    struct Script {
        bool enabled = false;
        std::uint64_t commands_sent = 0, markers = 0;
    } script;
    struct Playlist {
        bool enabled = false;               // the job has a playlist
        std::string on_air;                 // "entry 2 'show' (live)", or "" between entries
        std::vector<std::string> entries;   // the entries' names, in order (entry 1 first)
        std::uint64_t entries_started = 0, entries_refused = 0;
    } playlist;
};

// ---- What the operator asks ----

struct StartOutput { std::string output; };
struct StopOutput { std::string output; };
struct AddPushTarget { std::string url, user, password; };  // password never logged
struct RemovePushTarget { std::string id; };
struct SendScriptCommand { std::string type, parameter; };
struct AddMarker { std::string name; };
// Puts a playlist entry on air now: `entry` is its number (1 = the first) or its name.
struct SwitchPlaylistEntry { std::string entry; };
// Reads the preset again and applies what can change live, as SIGHUP does (issue 14, point 5).
struct ReloadPreset {};
using Action = std::variant<StartOutput, StopOutput, AddPushTarget, RemovePushTarget, SendScriptCommand, AddMarker,
                            SwitchPlaylistEntry, ReloadPreset>;

struct ActionResult {
    enum class Outcome {
        done,
        unknown_target,  // no such output or target: 404
        not_possible,    // not in this state or this job (e.g. script commands are off): 409
        invalid,         // the job refused the value (a URL it cannot parse, ...): 422
        unavailable,     // the job did not answer in time or is ending: 503
    };
    Outcome outcome = Outcome::done;
    std::string message;  // what was done, or why not, for the operator
    std::string id;       // add_push_target: the new target's id
};

// The job's side (app/ implements it). Called on the control server's thread.
class ControlBackend {
public:
    virtual ~ControlBackend() = default;
    virtual StatusSnapshot status() = 0;
    virtual ActionResult perform(const Action& action) = 0;
    // A small JPEG of the encoder's input; nullopt when none yet (a job without video).
    virtual std::optional<std::string> preview_jpeg() = 0;
};

// Parses a POST /api/actions body: {"action": NAME, ...fields}. Unknown actions, unknown or
// missing fields and wrong types are refused with a message naming them. Bounded by its input.
std::variant<Action, std::string> parse_action(std::string_view json_body);
std::string action_name(const Action& action);

// ---- History (the page's graphs) ----

struct HistorySample {
    std::int64_t unix_ms = 0;
    double bitrate_bps = 0;
    std::uint64_t pull_clients = 0;
    std::uint64_t push_streaming = 0;
    std::uint64_t video_frames_dropped = 0;
};

// ---- The request handling, without sockets ----

struct ApiConfig {
    // Empty: no token (only allowed on a loopback address; ControlServer checks). Never logged.
    std::string token;
    std::size_t history_samples = 600;  // one a second: the last 10 minutes
};

struct ApiRequest {
    std::string method;  // "GET", "POST", ...
    std::string target;  // "/api/status?x=1"
    std::string authorization;  // the Authorization header, empty when absent
    std::string content_type;
    std::string body;
};

struct ApiResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra header fields
};

class ControlApi {
public:
    ControlApi(ControlBackend& backend, ApiConfig config);
    ApiResponse handle(const ApiRequest& request);
    // One history sample from the backend's status (the server calls it once a second).
    void sample(std::int64_t unix_ms);
    std::vector<HistorySample> history() const;

private:
    bool authorized(const ApiRequest& request) const;

    ControlBackend& backend_;
    ApiConfig config_;
    std::vector<HistorySample> ring_;  // circular, at most config_.history_samples
    std::size_t ring_next_ = 0;
};

// The JSON and text forms (also used by `asfcast status`).
std::string status_json(const StatusSnapshot& s);
std::string metrics_text(const StatusSnapshot& s);
std::string history_json(const std::vector<HistorySample>& samples);
// The page and its script and style, embedded in the binary.
std::string_view page_html();
std::string_view page_js();
std::string_view page_css();

// ---- The network edge ----

class ControlError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ControlConfig {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8090;  // 0: any free port (tests)
    std::string token;           // required unless `address` is a loopback address
    std::size_t max_connections = 32;
    std::size_t max_head_bytes = 8192;
    std::size_t max_body_bytes = 16384;
    std::uint32_t request_timeout_ms = 10000;  // the whole request must arrive within this
};

// True for 127.0.0.0/8, ::1 and v4-mapped 127/8; false for anything else, "0.0.0.0" and "::"
// included. Throws ControlError when `address` is not an IP address.
bool is_loopback_address(const std::string& address);

class ControlServer {
public:
    // Throws ControlError: a non-loopback address without a token, an address that is not one.
    ControlServer(ControlConfig config, ControlBackend& backend);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Binds and starts the thread "asfcast-ctl". Throws ControlError naming the address.
    void start();
    void stop();  // idempotent
    std::uint16_t port() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// ---- A client, for `asfcast status` ----

struct FetchResult {
    int status = 0;
    std::string content_type;
    std::string body;
};
// GET `path` from a control port (IP address and port), sending the token when not empty; the
// answer within `timeout_ms`, at most 16 MiB. Throws ControlError saying what failed (connection
// refused, timeout, not HTTP).
FetchResult fetch(const std::string& address, std::uint16_t port, const std::string& path, const std::string& token,
                  std::uint32_t timeout_ms = 5000);

}  // namespace asfcast::control
