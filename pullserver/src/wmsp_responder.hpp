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
#include "stream_selection.hpp"

namespace asfcast::pull {

using StreamMask = std::array<bool, 128>;  // indexed by ASF stream number (1..127)

// What the responder needs to know about a mount point; owned by the network edge.
struct MountView {
    const Bytes* header_frames = nullptr;  // the current ASF header as $H packets; null before the first
    std::vector<int> streams;              // ASF stream numbers in the header (video, audio)
    std::vector<int> video_streams;        // the video ones among them
    std::vector<int> command_streams;      // script command streams (ASF Command Media)
    bool ended = false;                    // the broadcast is over
    // MS-WMSP 3.2.1 Playlist-gen-id: 0 with the first header; the server "MUST change" it at every
    // new header (3.2.4.2), and responses carry it when it is not 0 (3.2.5.2).
    std::uint32_t playlist_gen_id = 0;
};

enum class RequestKind {
    Describe,
    GetContentInfo,
    Play,
    KeepAlive,
    Log,
    Stop,
    SelectStream,
    Pipeline,
    SendEvent,
    Unknown
};

// The features a client lists on its Supported header (MS-WMSP 2.2.1.7, the Client-features
// variable of 3.2.1). Until a request carries the header: predstrm and sswitch (3.2.3).
struct ClientFeatures {
    bool fastcache = false;
    bool predstrm = true;
    bool srvppair = false;
    bool sswitch = true;
    bool startupprofile = false;
};
// The tokens of one Supported header value; a header lists every feature the client has (3.2.5.1).
ClientFeatures parse_supported(std::string_view value);

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
    bool predictive_selection = true;  // the client supports predstrm (§2.2.1.7.2, §3.2.4.2)
    std::string mount;           // mount path of a Play
    StreamMask selected{};       // streams the Play selected (any thinning level but 2)
    bool all_selected = true;    // every stream of the header: packets go out unfiltered
    StreamSelection selection;   // Play, SelectStream: each stream's thinning level
    std::uint32_t client_id = 0;
    // A SelectStream for a session that is streaming (MS-WMSP 3.2.5.7): the edge hands `selection`
    // to the ClientCursor of that session's data connection, wherever the request arrived.
    std::uint32_t select_streams_of = 0;
    // The SelectStream arrived on the data connection itself, streaming with chunked transfer
    // coding (pipelined mode, 3.2.5.7): the edge ends the Play response with a zero-length chunk,
    // sends the pending responses, then `head` (a chunked response) and goes on with $D in it.
    bool continues_stream = false;
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
    // The edge closed a connection: what was bound to it goes (its NTLM authentication).
    void connection_closed(std::uint64_t connection_id);
    // Reload: authentication for requests from now on (NTLM connections authenticate again).
    void set_authenticator(Authenticator auth) { auth_ = std::move(auth); }

    // The edge stopped streaming to this session (end of broadcast, client gone, lag policy):
    // the session turns IDLE and its Idle-Timeout starts (§3.2.4.1, §3.2.7.1).
    void streaming_ended(std::uint32_t client_id, std::int64_t now_us);
    // Deletes sessions idle for longer than the Idle-Timeout and returns the connections that
    // carried their requests, which the edge closes if they are still open (§3.2.6.2).
    std::vector<std::uint64_t> expire_sessions(std::int64_t now_us);

    // How long to hold back the $C of a header change for this session (MS-WMSP 3.2.4.2): the
    // smaller of the client-lag of its most recent SelectStream and 15 s, and whatever makes 8 s
    // since that SelectStream; 0 without one.
    std::int64_t stream_change_delay_us(std::uint32_t client_id, std::int64_t now_us) const;
    // The Client-features of a session (tests, the edge); nullopt for an unknown session.
    std::optional<ClientFeatures> client_features(std::uint32_t client_id) const;

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
        ClientFeatures features;             // §3.2.1 Client-features
        std::string mount;                   // path of its Play
        bool chunked = false;                // its Play response uses chunked transfer coding
        StreamSelection selection;           // what its Play and SelectStreams selected
        std::int64_t select_stream_time_us = 0;  // §3.2.1 SelectStream-Time, 0: none received
        std::optional<std::uint32_t> client_lag_ms;  // client-lag of the latest SelectStream (2.2.1.4.6)
        std::vector<std::uint64_t> connections;  // connections that carried its requests (newest last)
    };

    WmspReply describe(const http::HttpHead& req, const Pragmas& pragmas, Session*& session, std::uint32_t& id,
                       bool reset, const MountView& mount, std::int64_t now_us);
    WmspReply play(const http::HttpHead& req, const Pragmas& pragmas, Session*& session, std::uint32_t& id,
                   bool reset, const std::string& path, const MountView& mount, std::uint64_t connection_id,
                   std::int64_t now_us);
    WmspReply select_stream(const http::HttpHead& req, const Pragmas& pragmas, Session& session, std::uint32_t id,
                            const MountView* request_mount, std::int64_t now_us);
    WmspReply get_content_info(const http::HttpHead& req, Session* session, std::uint32_t id,
                               const MountView& mount);
    // Applies stream-switch entries (2.2.1.4.27) to a selection; entries naming a stream that is
    // not in the header are skipped.
    static StreamSelection apply_entries(StreamSelection from, const std::vector<StreamSwitchEntry>& entries,
                                         const MountView& mount);
    // §3.2.5.1 for a request of a known session: its Supported header, its connection.
    void note_request(Session& session, const http::HttpHead& req);
    WmspReply unauthenticated(const http::HttpHead& req, const Authenticator::Result& auth, const std::string& peer);
    WmspReply document(const http::HttpHead& req, const PullDocument& doc, const std::string& path,
                       const std::string& peer);
    WmspReply error(int status, std::string_view reason, std::string_view text, bool close = true,
                    std::string_view extra_headers = {}) const;
    std::string common_headers(std::uint32_t client_id) const;
    // The Supported header (2.2.1.7) for the client being answered: what this server implements.
    std::string supported_header() const;
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
    // The request being answered: §3.2.1 Request-Connection, and its User-Agent (Client-Version).
    std::uint64_t request_connection_ = 0;
    UserAgent requester_;
};

// Status line text for the codes the pull server sends.
std::string_view status_reason(int status);

}  // namespace asfcast::pull
