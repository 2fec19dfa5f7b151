#include "wmsp_responder.hpp"

#include <algorithm>
#include <chrono>

#include "asfcast/core/log.hpp"

namespace asfcast::pull {

namespace {

// MS-WMSP 3.2.5.2: "If the Playlist-gen-id variable ... has a nonzero value, the server MUST specify
// a playlist-gen-id token on a Pragma header in the response" (2.2.1.4.18).
std::string playlist_gen_id(const MountView& mount) {
    if (mount.playlist_gen_id == 0) return {};
    return "Pragma: playlist-gen-id=" + std::to_string(mount.playlist_gen_id) + "\r\n";
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool icontains(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}

// The path of a request target: "/live?x=1" -> "/live"; an absolute URI keeps only its path.
std::string target_path(const std::string& target) {
    std::string_view t = target;
    if (auto scheme = t.find("://"); scheme != std::string_view::npos && scheme < 8) {
        auto slash = t.find('/', scheme + 3);
        t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    }
    if (auto q = t.find_first_of("?#"); q != std::string_view::npos) t = t.substr(0, q);
    if (t.empty()) return "/";
    std::string path(t);
    // "/live/" and "/live" name the same mount.
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

const char* http_version(const http::HttpHead& req) { return req.version == "HTTP/1.1" ? "HTTP/1.1" : "HTTP/1.0"; }

}  // namespace

std::string_view status_reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

WmspResponder::WmspResponder(const PullConfig& config, MountLookup mounts, PullStats& stats,
                             DocumentLookup documents)
    : config_(config),
      mounts_(std::move(mounts)),
      documents_(std::move(documents)),
      stats_(stats),
      auth_(config.auth, config.realm, config.users),
      random_(std::random_device{}()) {}

// MS-WMSP 2.2.2: the request type follows from the method and the Pragma tokens.
RequestKind WmspResponder::classify(const http::HttpHead& req) const {
    const Pragmas pragmas(req);
    const bool switch_entry = pragmas.has("stream-switch-entry") || pragmas.has("switch-stream-entry");
    if (req.method == "GET") {
        if (pragmas.get("xPlayStrm") == "1" || pragmas.get("xPlayNextEntry") == "1") return RequestKind::Play;
        // §2.2.2.5: a GET with pipeline-request (and neither xPlayStrm nor xPlayNextEntry).
        if (pragmas.has("pipeline-request")) return RequestKind::Pipeline;
        // §2.2.2.8, pipelined mode: a GET with stream-switch-entry and none of pipeline-request,
        // xKeepAliveInPause, xPlayNextEntry, xPlayStrm, xStopStrm.
        if (switch_entry && !pragmas.has("xKeepAliveInPause") && pragmas.get("xStopStrm") != "1")
            return RequestKind::SelectStream;
        return RequestKind::Describe;
    }
    if (req.method == "OPTIONS") return RequestKind::KeepAlive;
    if (req.method == "POST") {
        const std::string* type = req.find("Content-Type");
        // Every POST request type of §2.2.2 excludes pipeline-request: a Pipeline request is a GET.
        if (pragmas.has("pipeline-request")) return RequestKind::Unknown;
        if (pragmas.get("xStopStrm") == "1") return RequestKind::Stop;
        // §2.2.2.8, non-pipelined mode: a POST with stream-switch-entry (and an empty body).
        if (switch_entry) return RequestKind::SelectStream;
        if (pragmas.has("xKeepAliveInPause")) return RequestKind::KeepAlive;
        // §2.2.2.2: Content-Type application/x-wms-getcontentinfo, no log-line.
        if (type && icontains(*type, "application/x-wms-getcontentinfo") && !pragmas.has("log-line"))
            return RequestKind::GetContentInfo;
        if (type && icontains(*type, "application/x-wms-sendevent")) return RequestKind::SendEvent;
        if (pragmas.has("log-line") || (type && icontains(*type, "application/x-wms-LogStats")))
            return RequestKind::Log;
        return RequestKind::KeepAlive;  // §2.2.2.3.2: a POST with nothing else is a KeepAlive
    }
    return RequestKind::Unknown;
}

ClientFeatures parse_supported(std::string_view value) {
    // §2.2.1.7: feature tokens separated by commas (and spaces, and lines wrapped between them).
    ClientFeatures f;
    f.predstrm = f.sswitch = false;
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        std::string_view token = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
        if (iequals(token, "com.microsoft.wm.fastcache")) f.fastcache = true;
        else if (iequals(token, "com.microsoft.wm.predstrm")) f.predstrm = true;
        else if (iequals(token, "com.microsoft.wm.srvppair")) f.srvppair = true;
        else if (iequals(token, "com.microsoft.wm.sswitch")) f.sswitch = true;
        else if (iequals(token, "com.microsoft.wm.startupprofile")) f.startupprofile = true;
    }
    return f;
}

// MS-WMSP 3.2.5.2: headers every response carries.
std::string WmspResponder::common_headers(std::uint32_t client_id) const {
    std::string h;
    h += "Server: ";
    h += kServer;
    h += "\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n";
    if (client_id != 0) {
        h += "Pragma: client-id=" + std::to_string(client_id) + "\r\n";
        // A little under the Idle-Timeout, so the client's KeepAlive arrives in time (§3.2.5.2):
        // never above it (short timeouts must not wrap around) and never below 1000 (§2.2.1.4.29).
        const std::uint32_t idle = config_.idle_timeout_ms;
        const std::uint32_t timeout = std::max<std::uint32_t>(1000, idle - std::min<std::uint32_t>(5000, idle / 2));
        h += "Pragma: timeout=" + std::to_string(timeout) + "\r\n";
    }
    h += supported_header();
    return h;
}

// MS-WMSP 2.2.1.7, 3.2.5.2: the Supported header is defined for clients of version 9.0 and later
// only, and lists what this server does: sswitch (SelectStream, 3.2.5.7; a MUST) and predstrm
// (after a header change a client's selection goes on into the new entry, 3.2.4.2). Not srvppair:
// no $P packets are sent (3.2.5.4); not fastcache (Speed) nor startupprofile (X-StartupProfile).
std::string WmspResponder::supported_header() const {
    if (!requester_.is_wmsp_client() || requester_.major < 9) return {};
    return "Supported: com.microsoft.wm.sswitch, com.microsoft.wm.predstrm\r\n";
}

WmspReply WmspResponder::error(int status, std::string_view reason, std::string_view text, bool close,
                               std::string_view extra_headers) const {
    WmspReply r;
    r.status = status;
    const std::string body = std::string(text) + "\n";
    r.head = "HTTP/1.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n" + common_headers(0) +
             std::string(extra_headers) + "Content-Type: text/plain\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n") +
             "\r\n";
    r.body.assign(body.begin(), body.end());
    r.close_after = close;
    return r;
}

// The answer to a request that did not authenticate (MS-WMSP 3.2.5.1): 401 with the challenge,
// the connection kept open when NTLM is offered or under way (NTLM authenticates the connection);
// 403 naming both sides when the client's X-Accept-Authentication lists none of our schemes.
WmspReply WmspResponder::unauthenticated(const http::HttpHead& req, const Authenticator::Result& auth,
                                         const std::string& peer) {
    const std::string path = target_path(req.target);
    if (!auth.refusal.empty()) {
        ++stats_.auth_failures;
        ++stats_.auth_refusals;
        spdlog::info("pull: {} refused for {}: {}", peer, path, auth.refusal);
        return error(403, status_reason(403), auth.refusal);
    }
    if (auth.failure.empty()) {
        spdlog::debug("pull: {} NTLM challenge for {}", peer, path);  // a step of the handshake
    } else {
        ++stats_.auth_failures;
        spdlog::info("pull: {} refused for {}: {}", peer, path, auth.failure);
    }
    return error(401, status_reason(401), "authentication required", !req.keep_alive() && !auth.keep_connection,
                 auth.challenge_headers);
}

void WmspResponder::connection_closed(std::uint64_t connection_id) { auth_.connection_closed(connection_id); }

WmspReply WmspResponder::document(const http::HttpHead& req, const PullDocument& doc, const std::string& path,
                                  const std::string& peer) {
    const std::string* host = req.find("Host");
    std::string text;
    try {
        text = doc.body ? doc.body(host && !host->empty() ? std::string_view(*host) : std::string_view{}) : std::string();
    } catch (const std::exception& e) {
        spdlog::warn("pull: cannot make {} for {}: {}", path, peer, e.what());
        return error(500, status_reason(500), "cannot make " + path + ": " + e.what(), !req.keep_alive());
    }
    if (text.empty())
        return error(503, status_reason(503), path + " is not available yet (the stream has not started)",
                     !req.keep_alive(), "Retry-After: 1\r\n");
    ++stats_.documents_served;
    WmspReply r;
    r.status = 200;
    r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(0) + "Content-Type: " + doc.content_type +
             "\r\nContent-Length: " + std::to_string(text.size()) + "\r\n" +
             (req.keep_alive() ? "Connection: Keep-Alive\r\n" : "Connection: close\r\n") + "\r\n";
    if (req.method == "GET") r.body.assign(text.begin(), text.end());
    r.close_after = !req.keep_alive();
    return r;
}

WmspResponder::Session& WmspResponder::new_session(std::uint32_t& id, std::int64_t now_us) {
    keep_session_table_bounded(now_us);
    // §3.2.3: Client-ID SHOULD be random and MUST differ between sessions.
    do {
        id = static_cast<std::uint32_t>(random_());
    } while (id == 0 || sessions_.contains(id));
    Session& s = sessions_[id];
    s.last_request_us = now_us;
    s.connections.push_back(request_connection_);
    return s;
}

void WmspResponder::keep_session_table_bounded(std::int64_t now_us) {
    // Sessions outlive connections until their Idle-Timeout; a flood of Describes must not grow
    // the table without bound, so beyond a limit the longest-idle non-streaming session goes.
    const std::size_t limit = config_.max_clients * 2 + 64;
    if (sessions_.size() < limit) return;
    expire_sessions(now_us);
    while (sessions_.size() >= limit) {
        auto oldest = sessions_.end();
        for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
            if (it->second.state == SessionState::Streaming) continue;
            if (oldest == sessions_.end() || it->second.last_request_us < oldest->second.last_request_us) oldest = it;
        }
        if (oldest == sessions_.end()) return;  // all streaming: bounded by max_clients already
        sessions_.erase(oldest);
    }
}

std::vector<std::uint64_t> WmspResponder::expire_sessions(std::int64_t now_us) {
    // §3.2.6.2: "the server MUST close any TCP connections that are still open to the client. After
    // that, the server MUST delete the session state".
    const std::int64_t idle_us = std::int64_t{config_.idle_timeout_ms} * 1000;
    std::vector<std::uint64_t> to_close;
    std::erase_if(sessions_, [&](const auto& kv) {
        const Session& s = kv.second;
        if (s.state == SessionState::Streaming || now_us - s.last_request_us <= idle_us) return false;
        to_close.insert(to_close.end(), s.connections.begin(), s.connections.end());
        return true;
    });
    return to_close;
}

std::int64_t WmspResponder::stream_change_delay_us(std::uint32_t client_id, std::int64_t now_us) const {
    auto it = sessions_.find(client_id);
    if (it == sessions_.end() || it->second.select_stream_time_us == 0) return 0;
    const Session& s = it->second;
    // MS-WMSP 3.2.4.2: delay the $C "by the smallest time amount specified by the client-lag token
    // and 15000 milliseconds", and until 8 s have passed since the SelectStream.
    std::int64_t delay_us = 0;
    if (s.client_lag_ms) delay_us = std::int64_t{std::min<std::uint32_t>(*s.client_lag_ms, 15000)} * 1000;
    const std::int64_t since_us = now_us - s.select_stream_time_us;
    constexpr std::int64_t kSelectStreamQuietUs = 8'000'000;
    if (since_us < kSelectStreamQuietUs) delay_us = std::max(delay_us, kSelectStreamQuietUs - since_us);
    return delay_us;
}

std::optional<ClientFeatures> WmspResponder::client_features(std::uint32_t client_id) const {
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second.features;
}

void WmspResponder::note_request(Session& session, const http::HttpHead& req) {
    // §3.2.5.1: Client-features follow the most recent Supported header.
    if (const std::string* supported = req.find("Supported")) session.features = parse_supported(*supported);
    // The connections of a session are closed when it times out (§3.2.6.2); a client uses a few.
    constexpr std::size_t kMaxSessionConnections = 8;
    auto& c = session.connections;
    if (std::find(c.begin(), c.end(), request_connection_) != c.end()) return;
    c.push_back(request_connection_);
    if (c.size() > kMaxSessionConnections) c.erase(c.begin());
}

void WmspResponder::streaming_ended(std::uint32_t client_id, std::int64_t now_us) {
    auto it = sessions_.find(client_id);
    if (it == sessions_.end()) return;
    it->second.state = SessionState::Idle;
    it->second.data_connection = 0;
    it->second.last_request_us = now_us;  // Idle-Timeout starts now
}

WmspReply WmspResponder::respond(const http::HttpHead& req, ByteView body, const std::string& peer,
                                 std::uint64_t connection_id, std::int64_t now_us) {
    // §3.2.5.1: Request-Connection and Client-Version of the request being answered.
    request_connection_ = connection_id;
    const std::string* requester = req.find("User-Agent");
    requester_ = parse_user_agent(requester ? std::string_view(*requester) : std::string_view{});
    // §3.2.5.1: authenticate before anything else is revealed: documents, headers, and whether a
    // path names a mount (an unknown one is answered 404 only to an authenticated client).
    if (auth_.enabled()) {
        const Authenticator::Result auth = auth_.check(req, connection_id, now_us);
        if (!auth.ok) return unauthenticated(req, auth, peer);
    }
    // Documents (.nsc, .asx) are plain HTTP: looked up before the request is read as MS-WMSP.
    if (documents_ && (req.method == "GET" || req.method == "HEAD")) {
        const std::string path = target_path(req.target);
        if (std::optional<PullDocument> doc = documents_(path)) return document(req, *doc, path, peer);
    }
    const RequestKind kind = classify(req);
    if (kind == RequestKind::Unknown) {
        ++stats_.bad_requests;
        if (req.method == "GET" || req.method == "POST")
            return error(400, status_reason(400),
                         "not an MS-WMSP request: a POST with pipeline-request (a Pipeline request is a GET, "
                         "MS-WMSP 2.2.2.5)");
        return error(405, status_reason(405), "asfcast serves MS-WMSP: GET, POST and OPTIONS only", true,
                     "Allow: GET, POST, OPTIONS\r\n");
    }
    const std::string path = target_path(req.target);
    const MountView* mount = mounts_(path);
    // Only Describe and Play name a stream. The others act on a session, whatever their path:
    // the OPTIONS KeepAlive names none ("OPTIONS *", §2.2.2.3.2) and logs go to paths like
    // /log2 (§2.2.2.4).
    const bool needs_mount =
        kind == RequestKind::Describe || kind == RequestKind::Play || kind == RequestKind::GetContentInfo;
    if (!mount && needs_mount) {
        ++stats_.bad_requests;
        return error(404, status_reason(404), "no stream is served at " + path);
    }

    const Pragmas pragmas(req);
    const std::string* ua_text = req.find("User-Agent");
    const UserAgent ua = parse_user_agent(ua_text ? *ua_text : std::string_view{});
    if (!ua.is_wmsp_client())
        spdlog::debug("pull: {} sent User-Agent '{}', not a Windows Media client; serving it anyway", peer,
                          ua_text ? ua_text->substr(0, 100) : std::string("(none)"));

    // §3.2.5.1: sessions are found by client-id only.
    std::uint32_t id = 0;
    Session* session = nullptr;
    bool unknown_id = false;
    if (auto cid = pragmas.get_uint("client-id"); cid && *cid <= 0xFFFFFFFFull) {
        id = static_cast<std::uint32_t>(*cid);
        if (auto it = sessions_.find(id); it != sessions_.end()) {
            session = &it->second;
            session->last_request_us = now_us;
            session->client = ua;
            note_request(*session, req);
        } else {
            unknown_id = true;
        }
    }

    switch (kind) {
        case RequestKind::Describe:
            return describe(req, pragmas, session, id, unknown_id, *mount, now_us);
        case RequestKind::Play:
            return play(req, pragmas, session, id, unknown_id, path, *mount, connection_id, now_us);
        case RequestKind::GetContentInfo:
            return get_content_info(req, session, id, *mount);
        case RequestKind::SendEvent:
        case RequestKind::Log: {
            if (kind == RequestKind::Log) {
                ++stats_.log_requests;
                ClientLog entry;
                entry.time_us = now_us;
                entry.peer = peer;
                entry.client_id = id;
                entry.user_agent = ua_text ? ua_text->substr(0, 256) : std::string();
                if (const std::string* type = req.find("Content-Type")) entry.content_type = type->substr(0, 128);
                if (auto line = pragmas.get("log-line")) entry.body = *line;
                entry.body.append(body.begin(), body.end());
                if (entry.body.size() > config_.max_body_bytes) entry.body.resize(config_.max_body_bytes);
                logs_.push_back(std::move(entry));
                while (logs_.size() > config_.log_entries) logs_.pop_front();
            }
            // A log is accepted even for a session that has expired: it costs nothing and
            // distribution servers send theirs after the stream ended (§4.11).
            WmspReply r;
            r.status = 204;
            r.head = std::string(http_version(req)) + " 204 No Content\r\n" + common_headers(session ? id : 0) +
                     "Content-Length: 0\r\n" + (req.keep_alive() ? "Connection: Keep-Alive\r\n" : "Connection: close\r\n") +
                     "\r\n";
            r.close_after = !req.keep_alive();
            return r;
        }
        case RequestKind::SelectStream:
            if (!session) {
                ++stats_.bad_requests;
                return error(id == 0 ? 400 : 404, status_reason(id == 0 ? 400 : 404),
                             id == 0 ? "a SelectStream needs Pragma: client-id" : "no such session (it expired)");
            }
            return select_stream(req, pragmas, *session, id, mount, now_us);
        case RequestKind::KeepAlive:
        case RequestKind::Stop: {
            // §3.2.5.1: these need a known session, except a KeepAlive sent with OPTIONS.
            if (!session && !(kind == RequestKind::KeepAlive && req.method == "OPTIONS")) {
                ++stats_.bad_requests;
                return error(id == 0 ? 400 : 404, status_reason(id == 0 ? 400 : 404),
                             id == 0 ? "this request needs Pragma: client-id" : "no such session (it expired)");
            }
            WmspReply r;
            r.status = 200;
            if (kind == RequestKind::Stop && session) {
                // §3.2.5.10: stop sending $D; the data connection's edge ends the stream.
                if (session->state == SessionState::Streaming) r.stop_streaming_of = id;
                session->state = SessionState::Idle;
            }
            // §3.2.5.8: in non-pipelined mode the server SHOULD close after a KeepAlive response. One
            // on the data connection of a streaming session (pipelined mode) is a pending response:
            // the connection goes on.
            const bool on_data_connection = session && session->state == SessionState::Streaming &&
                                            session->data_connection == request_connection_;
            r.close_after = !req.keep_alive() || (kind == RequestKind::KeepAlive && !on_data_connection);
            r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(session ? id : 0) +
                     "Content-Length: 0\r\n" + (r.close_after ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n") +
                     "\r\n";
            return r;
        }
        case RequestKind::Pipeline:
            ++stats_.bad_requests;
            // We never offer pipeline-experiment in a Describe response, so clients stay non-pipelined.
            return error(501, status_reason(501), "pipelined mode is not offered by this server");
        case RequestKind::Unknown:
            break;
    }
    return error(400, status_reason(400), "unsupported request");
}

// MS-WMSP 3.2.5.4 and 2.2.2.1.
WmspReply WmspResponder::describe(const http::HttpHead& req, const Pragmas& /*pragmas*/, Session*& session,
                                  std::uint32_t& id, bool reset, const MountView& mount, std::int64_t now_us) {
    ++stats_.describes;
    if (!mount.header_frames)
        return error(503, status_reason(503), "the broadcast has not started yet; try again in a few seconds",
                     true, "Retry-After: 2\r\n");
    if (session && session->state == SessionState::Streaming) {
        ++stats_.bad_requests;
        return error(409, status_reason(409), "this session is streaming; a Describe needs a new session");
    }
    if (!session) {
        session = &new_session(id, now_us);
        note_request(*session, req);
    }
    session->state = SessionState::Init;

    WmspReply r;
    r.client_id = id;
    r.close_after = !req.keep_alive();
    r.body = *mount.header_frames;
    r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(id) + playlist_gen_id(mount) +
             "Pragma: features=\"broadcast,playlist\"\r\n" + (reset ? "Pragma: xResetStrm=1\r\n" : "") +
             "Content-Type: application/vnd.ms.wms-hdr.asfv1\r\nContent-Length: " + std::to_string(r.body.size()) +
             "\r\n" + (r.close_after ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n") + "\r\n";
    return r;
}

// MS-WMSP 3.2.5.6 and 2.2.2.6.
WmspReply WmspResponder::play(const http::HttpHead& req, const Pragmas& pragmas, Session*& session,
                              std::uint32_t& id, bool reset, const std::string& path, const MountView& mount,
                              std::uint64_t connection_id, std::int64_t now_us) {
    ++stats_.plays;
    if (mount.ended) return error(503, status_reason(503), "the broadcast has ended");
    if (!mount.header_frames)
        return error(503, status_reason(503), "the broadcast has not started yet; try again in a few seconds",
                     true, "Retry-After: 2\r\n");
    if (session && session->state == SessionState::Streaming && session->data_connection != connection_id) {
        // §3.2.5.6: a Play for a session already streaming could be a hijack attempt.
        ++stats_.bad_requests;
        return error(409, status_reason(409), "this session is already streaming");
    }

    // Stream selection (§2.2.1.4.27), thinning levels included. A script command stream
    // (captions, URL flips) stays on unless an entry turns it off (level 2): a player that picks one
    // rendition of a multiple bit rate stream by listing its audio and video keeps its captions.
    StreamSelection start;
    for (int s : mount.command_streams)
        if (s > 0 && s < 128) start.thinning[static_cast<std::size_t>(s)] = Thinning::all;
    const std::vector<StreamSwitchEntry> entries = pragmas.stream_switch_entries();
    StreamSelection selection = apply_entries(start, entries, mount);
    selection.replaces.fill(0);  // nothing is being replaced at the start of a stream
    // §3.2.5.6 says a Play without entries selects nothing, which would stream empty packets;
    // clients that send none (old servers, simple tools) get every stream instead.
    if (entries.empty()) selection = StreamSelection::everything();
    StreamMask selected{};
    bool any_media = false;
    for (int s : mount.streams) {
        if (s <= 0 || s >= 128) continue;
        selected[static_cast<std::size_t>(s)] = selection.on(s);
        any_media = any_media || selection.on(s);
    }
    for (int s : mount.command_streams)
        if (s > 0 && s < 128) selected[static_cast<std::size_t>(s)] = selection.on(s);
    if (!any_media) {
        ++stats_.bad_requests;
        return error(400, status_reason(400), "the Play request selects none of the audio and video streams in the header");
    }

    if (!session) {
        session = &new_session(id, now_us);
        note_request(*session, req);
    }
    session->state = SessionState::Streaming;
    session->data_connection = connection_id;
    session->mount = path;
    session->selection = selection;

    WmspReply r;
    r.client_id = id;
    r.start_streaming = true;
    r.mount = path;
    r.selected = selected;
    r.all_selected = selection.all;
    r.selection = selection;
    // §3.2.5.6: chunked transfer coding only when the client sent version11-enabled=1.
    r.chunked = pragmas.get("version11-enabled") == "1" && req.version == "HTTP/1.1";
    session->chunked = r.chunked;
    r.predictive_selection = session->features.predstrm;
    r.close_after = !r.chunked;  // without chunking the body ends when the connection closes
    r.head = std::string(r.chunked ? "HTTP/1.1" : "HTTP/1.0") + " 200 OK\r\n" + common_headers(id) + playlist_gen_id(mount) +
             "Pragma: features=\"broadcast,playlist\"\r\n" + (reset ? "Pragma: xResetStrm=1\r\n" : "") +
             "Content-Type: application/x-mms-framed\r\n" +
             (r.chunked ? "Transfer-Encoding: chunked\r\nConnection: Keep-Alive\r\n" : "Connection: close\r\n") + "\r\n";
    return r;
}

StreamSelection WmspResponder::apply_entries(StreamSelection from, const std::vector<StreamSwitchEntry>& entries,
                                             const MountView& mount) {
    const auto in = [](const std::vector<int>& v, int s) { return std::find(v.begin(), v.end(), s) != v.end(); };
    const auto in_header = [&](int s) {
        return s > 0 && s < 128 && (in(mount.streams, s) || in(mount.command_streams, s));
    };
    StreamSelection sel = from;
    if (sel.all) {  // spelled out, stream by stream
        sel.all = false;
        sel.thinning.fill(Thinning::off);
        for (int s : mount.streams)
            if (in_header(s)) sel.thinning[static_cast<std::size_t>(s)] = Thinning::all;
        for (int s : mount.command_streams)
            if (in_header(s)) sel.thinning[static_cast<std::size_t>(s)] = Thinning::all;
    }
    sel.replaces.fill(0);
    for (const StreamSwitchEntry& e : entries) {
        if (!in_header(e.to_stream)) continue;
        const auto to = static_cast<std::size_t>(e.to_stream);
        sel.thinning[to] = static_cast<Thinning>(e.thinning);
        // "from:to:level" switches from one stream to another ("ffff": no source stream).
        if (e.from_stream != e.to_stream && in_header(e.from_stream) && e.thinning != 2) {
            sel.thinning[static_cast<std::size_t>(e.from_stream)] = Thinning::off;
            sel.replaces[to] = static_cast<std::uint8_t>(e.from_stream);
        }
    }
    // A video stream turned on in the request that turns another video stream off (the renditions
    // of a multiple bit rate stream: "ffff:3:2 ffff:2:0") takes that one's place.
    for (int v : mount.video_streams) {
        if (!in_header(v) || from.on(v) || !sel.on(v) || sel.replaces[static_cast<std::size_t>(v)]) continue;
        for (int w : mount.video_streams) {
            if (w == v || !in_header(w) || !from.on(w) || sel.on(w)) continue;
            if (std::find(sel.replaces.begin(), sel.replaces.end(), w) != sel.replaces.end()) continue;
            sel.replaces[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(w);
            break;
        }
    }
    bool all = true;
    for (int s : mount.streams) all = all && sel.level(s) == Thinning::all;
    for (int s : mount.command_streams) all = all && sel.level(s) == Thinning::all;
    if (all) {
        const auto replaces = sel.replaces;
        sel = StreamSelection::everything();
        sel.replaces = replaces;
    }
    return sel;
}

// MS-WMSP 3.2.5.7 and 2.2.2.8.
WmspReply WmspResponder::select_stream(const http::HttpHead& req, const Pragmas& pragmas, Session& session,
                                       std::uint32_t id, const MountView* request_mount, std::int64_t now_us) {
    // The streams are those of the session's Play; before a Play, those at the request's URL.
    const MountView* mount = session.mount.empty() ? request_mount : mounts_(session.mount);
    if (!mount || !mount->header_frames) {
        ++stats_.bad_requests;
        return error(404, status_reason(404), "no stream to select from: Describe and Play one first");
    }
    const std::vector<StreamSwitchEntry> entries = pragmas.stream_switch_entries();
    if (entries.empty()) {
        ++stats_.bad_requests;
        return error(400, status_reason(400), "a SelectStream needs a well-formed stream-switch-entry (MS-WMSP 2.2.1.4.27)");
    }
    const StreamSelection selection = apply_entries(session.selection, entries, *mount);
    bool any_media = false;
    for (int s : mount->streams) any_media = any_media || selection.on(s);
    if (!any_media) {
        ++stats_.bad_requests;
        return error(400, status_reason(400), "the SelectStream would leave none of the audio and video streams");
    }
    session.selection = selection;
    // SelectStream-Time (3.2.1) and the client-lag of the most recent SelectStream (3.2.4.2).
    session.select_stream_time_us = now_us;
    const auto lag = pragmas.get_uint("client-lag");
    session.client_lag_ms = lag && *lag <= 0xFFFFFFFFull ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*lag))
                                                         : std::nullopt;

    WmspReply r;
    r.status = 200;
    r.client_id = id;
    r.selection = selection;
    r.all_selected = selection.all;
    for (const std::vector<int>* streams : {&mount->streams, &mount->command_streams})
        for (int s : *streams)
            if (s > 0 && s < 128) r.selected[static_cast<std::size_t>(s)] = selection.on(s);
    const bool streaming = session.state == SessionState::Streaming;
    if (streaming) r.select_streams_of = id;
    if (streaming && session.data_connection == request_connection_ && session.chunked) {
        // On the data connection (pipelined mode): the $D packets go on in this response, which
        // therefore uses chunked transfer coding (2.2.2.8: WMS-SelStrmResp-Body = *$D).
        r.continues_stream = true;
        r.head = "HTTP/1.1 200 OK\r\n" + common_headers(id) +
                 "Content-Type: application/x-mms-framed\r\nTransfer-Encoding: chunked\r\nConnection: Keep-Alive\r\n\r\n";
        return r;
    }
    r.close_after = !req.keep_alive();
    r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(id) + "Content-Length: 0\r\n" +
             (r.close_after ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n") + "\r\n";
    return r;
}

// MS-WMSP 3.2.5.3 and 2.2.2.2: the URL is checked as for a Describe; no session state is needed
// (a request without client-id is no error) and none is made; the request body is ignored and the
// response has none. In non-pipelined mode the server SHOULD close the connection after it.
WmspReply WmspResponder::get_content_info(const http::HttpHead& req, Session* session, std::uint32_t id,
                                          const MountView& mount) {
    if (!mount.header_frames)
        return error(503, status_reason(503), "the broadcast has not started yet; try again in a few seconds",
                     true, "Retry-After: 2\r\n");
    WmspReply r;
    r.status = 200;
    r.close_after = true;
    r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(session ? id : 0) +
             "Content-Length: 0\r\nConnection: close\r\n\r\n";
    return r;
}

}  // namespace asfcast::pull
