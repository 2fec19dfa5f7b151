#include "wmsp_responder.hpp"

#include <algorithm>
#include <chrono>

#include "asfcast/core/log.hpp"

namespace asfcast::pull {

namespace {

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
    if (req.method == "GET") {
        if (pragmas.get("xPlayStrm") == "1" || pragmas.get("xPlayNextEntry") == "1") return RequestKind::Play;
        return RequestKind::Describe;
    }
    if (req.method == "OPTIONS") return RequestKind::KeepAlive;
    if (req.method == "POST") {
        const std::string* type = req.find("Content-Type");
        if (pragmas.has("pipeline-request")) return RequestKind::Pipeline;
        if (pragmas.get("xStopStrm") == "1") return RequestKind::Stop;
        if (pragmas.has("stream-switch-entry") || pragmas.has("switch-stream-entry")) return RequestKind::SelectStream;
        if (pragmas.has("xKeepAliveInPause")) return RequestKind::KeepAlive;
        if (type && icontains(*type, "application/x-wms-sendevent")) return RequestKind::SendEvent;
        if (pragmas.has("log-line") || (type && icontains(*type, "application/x-wms-LogStats")))
            return RequestKind::Log;
        return RequestKind::KeepAlive;  // §2.2.2.3.2: a POST with nothing else is a KeepAlive
    }
    return RequestKind::Unknown;
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
    // §3.2.5.2: sswitch MUST be supported; we also select streams for the player (predstrm).
    h += "Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm\r\n";
    return h;
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

WmspReply WmspResponder::document(const http::HttpHead& req, const PullDocument& doc, const std::string& path,
                                  const std::string& peer, std::int64_t now_us) {
    if (config_.auth != "none") {
        const Authenticator::Result auth = auth_.check(req, now_us);
        if (!auth.ok) {
            ++stats_.auth_failures;
            spdlog::info("pull: {} refused for {}: {}", peer, path, auth.failure);
            return error(401, status_reason(401), "authentication required", !req.keep_alive(), auth.challenge_header);
        }
    }
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

void WmspResponder::expire_sessions(std::int64_t now_us) {
    const std::int64_t idle_us = std::int64_t{config_.idle_timeout_ms} * 1000;
    std::erase_if(sessions_, [&](const auto& kv) {
        return kv.second.state != SessionState::Streaming && now_us - kv.second.last_request_us > idle_us;
    });
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
    // Documents (.nsc, .asx) are plain HTTP: looked up before the request is read as MS-WMSP.
    if (documents_ && (req.method == "GET" || req.method == "HEAD")) {
        const std::string path = target_path(req.target);
        if (std::optional<PullDocument> doc = documents_(path)) return document(req, *doc, path, peer, now_us);
    }
    const RequestKind kind = classify(req);
    if (kind == RequestKind::Unknown) {
        ++stats_.bad_requests;
        return error(405, status_reason(405), "asfcast serves MS-WMSP: GET, POST and OPTIONS only", true,
                     "Allow: GET, POST, OPTIONS\r\n");
    }
    const std::string path = target_path(req.target);
    const MountView* mount = mounts_(path);
    // Only Describe and Play name a stream. The others act on a session, whatever their path:
    // the OPTIONS KeepAlive names none ("OPTIONS *", §2.2.2.3.2) and logs go to paths like
    // /log2 (§2.2.2.4).
    const bool needs_mount = kind == RequestKind::Describe || kind == RequestKind::Play;
    if (!mount && needs_mount) {
        ++stats_.bad_requests;
        return error(404, status_reason(404), "no stream is served at " + path);
    }

    // §3.2.5.1: authenticate before anything else is revealed.
    if (config_.auth != "none") {
        const Authenticator::Result auth = auth_.check(req, now_us);
        if (!auth.ok) {
            ++stats_.auth_failures;
            spdlog::info("pull: {} refused for {}: {}", peer, path, auth.failure);
            return error(401, status_reason(401), "authentication required", !req.keep_alive(),
                         auth.challenge_header);
        }
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
        } else {
            unknown_id = true;
        }
    }

    switch (kind) {
        case RequestKind::Describe:
            return describe(req, pragmas, session, id, unknown_id, *mount, now_us);
        case RequestKind::Play:
            return play(req, pragmas, session, id, unknown_id, path, *mount, connection_id, now_us);
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
        case RequestKind::KeepAlive:
        case RequestKind::Stop:
        case RequestKind::SelectStream: {
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
            // §3.2.5.8: in non-pipelined mode the server SHOULD close after a KeepAlive response.
            r.close_after = !req.keep_alive() || kind == RequestKind::KeepAlive;
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
    if (!session) session = &new_session(id, now_us);
    session->state = SessionState::Init;

    WmspReply r;
    r.client_id = id;
    r.close_after = !req.keep_alive();
    r.body = *mount.header_frames;
    r.head = std::string(http_version(req)) + " 200 OK\r\n" + common_headers(id) +
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

    // Stream selection (§2.2.1.4.27). Thinning level 1 (key frames only) is served as level 0.
    // A script command stream (captions, URL flips) stays on unless an entry turns it off
    // (level 2): a player that picks one rendition of a multiple bit rate stream by listing its
    // audio and video keeps its captions.
    StreamMask selected{};
    for (int s : mount.command_streams) selected[static_cast<std::size_t>(s)] = true;
    const auto in_header = [&](int s) {
        return std::find(mount.streams.begin(), mount.streams.end(), s) != mount.streams.end() ||
               std::find(mount.command_streams.begin(), mount.command_streams.end(), s) != mount.command_streams.end();
    };
    bool any_entry = false;
    bool any_media = false;
    for (const StreamSwitchEntry& e : pragmas.stream_switch_entries()) {
        any_entry = true;
        if (e.to_stream <= 0 || e.to_stream >= 128 || !in_header(e.to_stream)) continue;
        selected[static_cast<std::size_t>(e.to_stream)] = e.thinning != 2;
    }
    for (int s : mount.streams) any_media = any_media || selected[static_cast<std::size_t>(s)];
    // §3.2.5.6 says a Play without entries selects nothing, which would stream empty packets;
    // clients that send none (old servers, simple tools) get every stream instead.
    bool all = true;
    if (!any_entry) {
        for (int s : mount.streams) selected[static_cast<std::size_t>(s)] = true;
    } else {
        for (int s : mount.streams) all = all && selected[static_cast<std::size_t>(s)];
        for (int s : mount.command_streams) all = all && selected[static_cast<std::size_t>(s)];
        if (!any_media) {
            ++stats_.bad_requests;
            return error(400, status_reason(400), "the Play request selects none of the audio and video streams in the header");
        }
    }

    if (!session) session = &new_session(id, now_us);
    session->state = SessionState::Streaming;
    session->data_connection = connection_id;

    WmspReply r;
    r.client_id = id;
    r.start_streaming = true;
    r.mount = path;
    r.selected = selected;
    r.all_selected = all;
    // §3.2.5.6: chunked transfer coding only when the client sent version11-enabled=1.
    r.chunked = pragmas.get("version11-enabled") == "1" && req.version == "HTTP/1.1";
    r.close_after = !r.chunked;  // without chunking the body ends when the connection closes
    r.head = std::string(r.chunked ? "HTTP/1.1" : "HTTP/1.0") + " 200 OK\r\n" + common_headers(id) +
             "Pragma: features=\"broadcast,playlist\"\r\n" + (reset ? "Pragma: xResetStrm=1\r\n" : "") +
             "Content-Type: application/x-mms-framed\r\n" +
             (r.chunked ? "Transfer-Encoding: chunked\r\nConnection: Keep-Alive\r\n" : "Connection: close\r\n") + "\r\n";
    return r;
}

}  // namespace asfcast::pull
