// The MS-WMSP server role (§3.2) as a plain class: a parsed request in, a reply and a directive
// for the network edge out. It keeps the session table (keyed by client-id, never by
// xClientGUID) and the bounded store of client logs. No sockets, no threads: tests feed requests.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/pullserver/pullserver.hpp"
#include "http_auth.hpp"
#include "pragma.hpp"

namespace asfcast::pull {

using StreamMask = std::array<bool, 128>;  // indexed by ASF stream number (1..127)

// What the responder needs to know about a mount point; owned by the network edge.
struct MountView {
    const Bytes* header_frames = nullptr;  // the current ASF header as $H packets; null before the first
    std::vector<int> streams;              // ASF stream numbers in the header (video, audio)
    std::vector<int> command_streams;      // script command streams (ASF Command Media)
    bool ended = false;                    // the broadcast is over
};

enum class RequestKind { Describe, Play, KeepAlive, Log, Stop, SelectStream, Pipeline, SendEvent, Unknown };

// A client log submitted with a Log request (MS-WMSP 2.2.2.4), kept for operators.
struct ClientLog {
    std::int64_t time_us = 0;
    std::string peer;
    std::uint32_t client_id = 0;
    std::string user_agent;
    std::string content_type;
    std::string body;  // bounded by PullConfig::max_body_bytes
};

struct WmspReply {
    int status = 200;
    std::string head;            // status line, headers and the blank line
    Bytes body;                  // whole body of a non-streaming reply
    bool close_after = false;    // close the connection once sent
    // Play accepted: after the head, the edge sends the mount's $H then $D from a key frame.
    bool start_streaming = false;
    bool chunked = false;        // the streaming body uses chunked transfer coding (§3.2.5.6)
    std::string mount;           // mount path of a Play
    StreamMask selected{};       // streams the Play selected
    bool all_selected = true;    // every stream of the header: packets go out unfiltered
    std::uint32_t client_id = 0;
    // A Stop for a session streaming on another connection: the edge ends that stream.
    std::uint32_t stop_streaming_of = 0;
};

class WmspResponder {
public:
    using MountLookup = std::function<const MountView*(std::string_view path)>;
    // The document at a path (copied: the table may change on another thread), or nullopt.
    using DocumentLookup = std::function<std::optional<PullDocument>(std::string_view path)>;

    WmspResponder(const PullConfig& config, MountLookup mounts, PullStats& stats, DocumentLookup documents = {});

    RequestKind classify(const http::HttpHead& request) const;
    // Answers one request that arrived on `connection_id` (a number the edge gives every
    // connection) from `peer` (the client's IP address).
    WmspReply respond(const http::HttpHead& request, ByteView body, const std::string& peer,
                      std::uint64_t connection_id, std::int64_t now_us);

    // The edge stopped streaming to this session (end of broadcast, client gone, lag policy):
    // the session turns IDLE and its Idle-Timeout starts (§3.2.4.1, §3.2.7.1).
    void streaming_ended(std::uint32_t client_id, std::int64_t now_us);
    // Deletes sessions idle for longer than the Idle-Timeout (§3.2.6.2).
    void expire_sessions(std::int64_t now_us);

    std::size_t session_count() const { return sessions_.size(); }
    const std::deque<ClientLog>& logs() const { return logs_; }

    // The Server header token: a live encoder says "Rex" (§2.2.1.5, §3.2.5.2).
    static constexpr std::string_view kServer = "Rex/9.0.0.2980";

private:
    enum class SessionState { Init, Streaming, Waiting, Idle };  // §3.2.1 Session-State
    struct Session {
        SessionState state = SessionState::Init;
        std::uint64_t data_connection = 0;  // connection receiving $D, 0 when none
        std::int64_t last_request_us = 0;
        UserAgent client;
    };

    WmspReply describe(const http::HttpHead& req, const Pragmas& pragmas, Session*& session, std::uint32_t& id,
                       bool reset, const MountView& mount, std::int64_t now_us);
    WmspReply play(const http::HttpHead& req, const Pragmas& pragmas, Session*& session, std::uint32_t& id,
                   bool reset, const std::string& path, const MountView& mount, std::uint64_t connection_id,
                   std::int64_t now_us);
    WmspReply document(const http::HttpHead& req, const PullDocument& doc, const std::string& path,
                       const std::string& peer, std::int64_t now_us);
    WmspReply error(int status, std::string_view reason, std::string_view text, bool close = true,
                    std::string_view extra_headers = {}) const;
    std::string common_headers(std::uint32_t client_id) const;
    Session& new_session(std::uint32_t& id, std::int64_t now_us);
    void keep_session_table_bounded(std::int64_t now_us);

    PullConfig config_;
    MountLookup mounts_;
    DocumentLookup documents_;
    PullStats& stats_;
    Authenticator auth_;
    std::unordered_map<std::uint32_t, Session> sessions_;
    std::deque<ClientLog> logs_;
    std::mt19937 random_;
};

// Status line text for the codes the pull server sends.
std::string_view status_reason(int status);

}  // namespace asfcast::pull
