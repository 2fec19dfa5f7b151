// WmspResponder, the MS-WMSP server role (§3.2) without sockets: request texts (the spec's §4.11
// examples and requests shaped like real clients') go through HttpHeadParser into the responder,
// with a mount the test controls; the reply heads are parsed back and checked against §2.2.2,
// §3.2.5 and the brief. Every time is passed explicitly: nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "asfcast/core/http_digest.hpp"
#include "wmsp_requests.hpp"
#include "wmsp_responder.hpp"

namespace asfcast::pull {
namespace {

constexpr std::int64_t kT0 = 7'000'000'000;  // an arbitrary monotonic time, us
constexpr std::int64_t kSecond = 1'000'000;
constexpr const char* kGuid = "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}";  // ffmpeg-style constant
constexpr const char* kPlayer = "User-Agent: NSPlayer/12.0.7680.0";

ByteView view_of(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

http::HttpHead request_of(const std::string& text) {
    http::HttpHeadParser p(http::HttpHeadParser::Kind::Request, 8192);
    const std::size_t used = p.feed(view_of(text));
    EXPECT_EQ(p.status(), http::HeadStatus::Complete) << p.error() << "\n" << text;
    EXPECT_EQ(used, text.size());
    return p.head();
}

// "START\r\nline\r\nline\r\n\r\n"
std::string request(const std::string& start_line, const std::vector<std::string>& lines) {
    std::string s = start_line + "\r\n";
    for (const auto& l : lines) s += l + "\r\n";
    return s + "\r\n";
}

std::string with_client_id(std::string text, std::uint32_t id) {
    const std::string from = "client-id=1543854732";
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos);
    return text.replace(at, from.size(), "client-id=" + std::to_string(id));
}

std::string describe_text(const std::string& path = "/", const std::string& version = "HTTP/1.0",
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> lines = {"Accept: */*", kPlayer, "Host: 127.0.0.1",
                                      "Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,"
                                      "request-context=1,max-duration=0",
                                      kGuid};
    lines.insert(lines.end(), extra.begin(), extra.end());
    return request("GET " + path + " " + version, lines);
}

std::string play_text(std::optional<std::uint32_t> client_id, const std::string& entries = "ffff:1:0 ffff:2:0",
                      const std::string& version = "HTTP/1.0", std::vector<std::string> extra = {},
                      const std::string& path = "/") {
    std::vector<std::string> lines = {"Accept: */*", kPlayer, "Host: 127.0.0.1",
                                      "Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=4294967295:4294967295,"
                                      "request-context=2,max-duration=0",
                                      "Pragma: xPlayStrm=1", kGuid};
    if (client_id) lines.push_back("Pragma: client-id=" + std::to_string(*client_id));
    if (!entries.empty()) {
        lines.push_back("Pragma: stream-switch-count=2");
        lines.push_back("Pragma: stream-switch-entry=" + entries);
    }
    lines.insert(lines.end(), extra.begin(), extra.end());
    return request("GET " + path + " " + version, lines);
}

std::string post_text(std::optional<std::uint32_t> client_id, std::vector<std::string> extra,
                      const std::string& version = "HTTP/1.1", const std::string& target = "/") {
    std::vector<std::string> lines = {kPlayer, "Host: 127.0.0.1"};
    if (client_id) lines.push_back("Pragma: client-id=" + std::to_string(*client_id));
    lines.insert(lines.end(), extra.begin(), extra.end());
    return request("POST " + target + " " + version, lines);
}

// A reply head parsed back, with its Pragma tokens.
struct Parsed {
    http::HttpHead head;
    Pragmas pragmas;
    std::string header(std::string_view name) const {
        const std::string* v = head.find(name);
        return v ? *v : std::string();
    }
    bool has(std::string_view name) const { return head.find(name) != nullptr; }
    std::uint32_t client_id() const {
        const auto v = pragmas.get_uint("client-id");
        return v ? static_cast<std::uint32_t>(*v) : 0;
    }
};

// Parses a reply's head and checks what every reply must get right (§3.2.5.2, RFC 7230).
Parsed parse(const WmspReply& r) {
    http::HttpHeadParser p(http::HttpHeadParser::Kind::Response, 65536);
    const std::size_t used = p.feed(view_of(r.head));
    EXPECT_EQ(p.status(), http::HeadStatus::Complete) << p.error() << "\n" << r.head;
    EXPECT_EQ(used, r.head.size()) << "the head holds exactly one message head:\n" << r.head;
    Parsed out{p.head(), Pragmas(p.head())};
    EXPECT_EQ(out.head.status, r.status) << r.head;
    EXPECT_EQ(out.header("Server").rfind("Rex/", 0), 0u) << "a live encoder says Rex (§3.2.5.2)\n" << r.head;
    EXPECT_TRUE(out.pragmas.has("no-cache")) << r.head;
    if (!r.start_streaming && !r.continues_stream) {
        // A non-streaming reply is delimited by its Content-Length.
        EXPECT_EQ(out.head.content_length(), r.body.size()) << r.head;
        EXPECT_FALSE(out.head.chunked()) << r.head;
    }
    // The Connection header tells the client what the edge will do.
    const std::string* connection = out.head.find("Connection");
    if (r.close_after) {
        EXPECT_FALSE(out.head.keep_alive()) << "closes after a reply that says keep-alive:\n" << r.head;
    } else {
        EXPECT_TRUE(out.head.keep_alive()) << "keeps a connection the reply says is closing:\n" << r.head;
        if (out.head.version == "HTTP/1.0") {
            EXPECT_NE(connection, nullptr) << r.head;
        }
    }
    // A client-id always comes with a timeout no longer than the Idle-Timeout (§3.2.5.2).
    if (out.pragmas.has("client-id")) {
        EXPECT_NE(out.client_id(), 0u) << r.head;
        EXPECT_TRUE(out.pragmas.has("timeout")) << r.head;
    }
    return out;
}

bool contains(const Bytes& haystack, const Bytes& needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

class Responder : public ::testing::Test {
protected:
    Responder() {
        // Stands for the mount's $H packets; only its identity matters here.
        header_ = {'$', 'H', 0x0C, 0x00, 0x30, 0x00, 0x2C, 0x00};
        for (int i = 0; i < 40; ++i) header_.push_back(static_cast<std::uint8_t>(0x30 + i * 7));
        view_.header_frames = &header_;
        view_.streams = {1, 2};
    }

    WmspResponder& responder() {
        if (!responder_)
            responder_.emplace(
                config_,
                [this](std::string_view path) -> const MountView* {
                    return path == "/" || path == "/live" ? &view_ : nullptr;
                },
                stats_,
                [this](std::string_view path) -> std::optional<PullDocument> {
                    if (path != "/stream.nsc") return std::nullopt;
                    return PullDocument{"application/x-netshow-channel", [this](std::string_view host) {
                                            last_host_ = std::string(host);
                                            return document_text_;
                                        }};
                });
        return *responder_;
    }

    WmspReply send(const std::string& text, std::uint64_t connection = 1, std::int64_t now_us = kT0,
                   const std::string& body = {}) {
        return responder().respond(request_of(text), view_of(body), "192.0.2.7", connection, now_us);
    }

    RequestKind kind(const std::string& text) { return responder().classify(request_of(text)); }

    // A Describe that succeeded; returns its client-id.
    std::uint32_t describe(std::uint64_t connection = 1, std::int64_t now_us = kT0) {
        const WmspReply r = send(describe_text(), connection, now_us);
        EXPECT_EQ(r.status, 200) << r.head;
        const std::uint32_t id = parse(r).client_id();
        EXPECT_NE(id, 0u);
        return id;
    }

    PullConfig config_;
    PullStats stats_;
    std::string document_text_ = "[Address]\r\nIP Address=02...\r\n";
    std::string last_host_;
    Bytes header_;
    MountView view_;
    std::optional<WmspResponder> responder_;
};

// ---------------------------------------------------------------------------------------------
// classify (§2.2.2)

TEST_F(Responder, GetWithoutPlayStrmIsDescribe) {
    EXPECT_EQ(kind(testreq::kSpecDescribe), RequestKind::Describe);
    EXPECT_EQ(kind(describe_text()), RequestKind::Describe);
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {"Host: x"})), RequestKind::Describe);
    // §2.2.2.1: xPlayStrm with the value 0 is still a Describe.
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "Pragma: xPlayStrm=0"})), RequestKind::Describe);
}

TEST_F(Responder, GetWithPlayStrmIsPlay) {
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "Pragma: xPlayStrm=1"})), RequestKind::Play);
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "Pragma: no-cache,xPlayStrm=1,rate=1.000"})),
              RequestKind::Play);
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "Pragma: no-cache, XPLAYSTRM=1"})), RequestKind::Play);
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "pragma: xplaystrm=1"})), RequestKind::Play);
    EXPECT_EQ(kind(testreq::kSpecPlay), RequestKind::Play);
    EXPECT_EQ(kind(testreq::kRunInPlay), RequestKind::Play);
}

TEST_F(Responder, PostKinds) {
    EXPECT_EQ(kind(post_text(5, {"Content-Type: application/x-wms-LogStats", "Content-Length: 10"})),
              RequestKind::Log);
    EXPECT_EQ(kind(post_text(5, {"content-type: application/x-wms-logstats;charset=UTF-8"})), RequestKind::Log);
    EXPECT_EQ(kind(post_text(5, {"Pragma: log-line=no-cache,xxx"})), RequestKind::Log);
    EXPECT_EQ(kind(post_text(5, {"Pragma: xStopStrm=1"})), RequestKind::Stop);
    EXPECT_EQ(kind(post_text(5, {"Pragma: stream-switch-count=1", "Pragma: stream-switch-entry=ffff:1:0"})),
              RequestKind::SelectStream);
    EXPECT_EQ(kind(post_text(5, {"Pragma: xKeepAliveInPause=1"})), RequestKind::KeepAlive);
    EXPECT_EQ(kind(request("OPTIONS * HTTP/1.1", {kPlayer, "Pragma: client-id=5"})), RequestKind::KeepAlive);
    EXPECT_EQ(kind(request("PUT / HTTP/1.1", {kPlayer})), RequestKind::Unknown);
    EXPECT_EQ(kind(request("DELETE / HTTP/1.1", {kPlayer})), RequestKind::Unknown);
}

TEST_F(Responder, UnknownMethodIs405WithAllow) {
    const WmspReply r = send(request("PUT / HTTP/1.1", {kPlayer, "Content-Length: 0"}));
    EXPECT_EQ(r.status, 405);
    const Parsed p = parse(r);
    const std::string allow = p.header("Allow");
    for (const char* m : {"GET", "POST", "OPTIONS"}) EXPECT_NE(allow.find(m), std::string::npos) << allow;
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(responder().session_count(), 0u);
    EXPECT_EQ(stats_.bad_requests, 1u);
}

// ---------------------------------------------------------------------------------------------
// Describe (§3.2.5.4, §2.2.2.1, §4.11)

TEST_F(Responder, DescribeSpecRequest) {
    const WmspReply r = send(testreq::kSpecDescribe);
    ASSERT_EQ(r.status, 200) << r.head;
    const Parsed p = parse(r);
    EXPECT_EQ(p.head.reason, "OK");
    EXPECT_EQ(p.header("Server"), WmspResponder::kServer);
    EXPECT_EQ(p.header("Content-Type"), "application/vnd.ms.wms-hdr.asfv1");
    EXPECT_EQ(p.head.content_length(), header_.size());
    EXPECT_EQ(r.body, header_);
    EXPECT_NE(p.header("Cache-Control").find("no-cache"), std::string::npos);
    EXPECT_NE(r.head.find("\r\nPragma: no-cache\r\n"), std::string::npos) << r.head;
    EXPECT_NE(r.head.find("\r\nPragma: features=\"broadcast,playlist\"\r\n"), std::string::npos) << r.head;
    EXPECT_EQ(p.pragmas.get("features"), "broadcast,playlist");
    EXPECT_NE(p.client_id(), 0u);
    EXPECT_EQ(p.client_id(), r.client_id);
    const auto timeout = p.pragmas.get_uint("timeout");
    ASSERT_TRUE(timeout);
    EXPECT_GE(*timeout, 1000u);
    EXPECT_LE(*timeout, config_.idle_timeout_ms);
    EXPECT_FALSE(p.pragmas.has("xResetStrm"));  // no client-id was sent
    EXPECT_NE(p.header("Supported").find("com.microsoft.wm.sswitch"), std::string::npos);  // MUST (§3.2.5.2)
    EXPECT_FALSE(r.start_streaming);
    EXPECT_FALSE(r.chunked);
    EXPECT_FALSE(r.close_after);  // HTTP/1.1 without "Connection: close"
    EXPECT_EQ(responder().session_count(), 1u);
    EXPECT_EQ(stats_.describes, 1u);
}

TEST_F(Responder, DescribeConnectionFollowsTheRequest) {
    // HTTP/1.0 without keep-alive (ffmpeg, VLC): the server closes.
    WmspReply r = send(describe_text("/", "HTTP/1.0"));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.close_after);
    EXPECT_EQ(parse(r).header("Connection"), "close");
    // HTTP/1.0 with keep-alive: the connection stays, and the reply says so.
    r = send(describe_text("/", "HTTP/1.0", {"Connection: Keep-Alive"}));
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.close_after);
    EXPECT_EQ(parse(r).header("Connection"), "Keep-Alive");
    // HTTP/1.1 closing.
    r = send(describe_text("/", "HTTP/1.1", {"Connection: close"}));
    EXPECT_TRUE(r.close_after);
    parse(r);
    // The Describe response never uses chunked coding, whatever the client offers (§2.2.2.1).
    r = send(describe_text("/", "HTTP/1.1", {"Pragma: version11-enabled=1"}));
    EXPECT_FALSE(r.chunked);
    EXPECT_FALSE(parse(r).has("Transfer-Encoding"));
}

TEST_F(Responder, DescribeBeforeAnyHeaderIs503WithRetryAfter) {
    view_.header_frames = nullptr;
    const WmspReply r = send(describe_text());
    EXPECT_EQ(r.status, 503);
    const Parsed p = parse(r);
    EXPECT_TRUE(p.has("Retry-After"));
    EXPECT_NE(p.header("Content-Type"), "application/vnd.ms.wms-hdr.asfv1");
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(responder().session_count(), 0u);
    // Once the header exists the same request succeeds.
    view_.header_frames = &header_;
    EXPECT_EQ(send(describe_text()).status, 200);
}

TEST_F(Responder, UnknownPathIs404AndPathsAreNormalised) {
    WmspReply r = send(describe_text("/nothing-here"));
    EXPECT_EQ(r.status, 404);
    parse(r);
    EXPECT_FALSE(contains(r.body, header_));
    EXPECT_EQ(send(play_text(std::nullopt, "", "HTTP/1.0", {}, "/other")).status, 404);
    EXPECT_EQ(responder().session_count(), 0u);

    for (const char* path : {"/live", "/live/", "/live?WMCache=0", "http://127.0.0.1:8080/live"}) {
        r = send(describe_text(path));
        EXPECT_EQ(r.status, 200) << path;
        EXPECT_EQ(r.body, header_) << path;
    }
    r = send(play_text(std::nullopt, "", "HTTP/1.0", {}, "/live/"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.mount, "/live");
}

TEST_F(Responder, RequestHeaderNamesAreCaseInsensitive) {
    WmspReply r = send(request("GET / HTTP/1.0", {"user-agent: NSPlayer/9.0.0.2980", "PRAGMA: no-cache",
                                                  "connection: keep-alive"}));
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.close_after);
    const std::uint32_t id = parse(r).client_id();
    r = send(request("GET / HTTP/1.0", {"USER-AGENT: NSPlayer/9.0.0.2980", "pragma: XPlayStrm=1",
                                        "pRaGmA: CLIENT-ID=" + std::to_string(id),
                                        "pragma: stream-switch-entry=ffff:1:0"}),
             2);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.start_streaming);
    EXPECT_EQ(r.client_id, id);
    EXPECT_TRUE(r.selected[1]);
    EXPECT_FALSE(r.selected[2]);
    EXPECT_EQ(responder().session_count(), 1u);
}

TEST_F(Responder, TimeoutTokenNeverExceedsTheIdleTimeout) {
    for (std::uint32_t idle : {60000u, 30000u, 10000u, 5000u, 2000u}) {
        config_.idle_timeout_ms = idle;
        responder_.reset();
        const WmspReply r = send(describe_text());
        const auto timeout = parse(r).pragmas.get_uint("timeout");
        ASSERT_TRUE(timeout) << idle;
        EXPECT_LE(*timeout, idle) << r.head;
        EXPECT_GE(*timeout, 1000u) << r.head;  // §2.2.1.4.29
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions: keyed by client-id (§3.2.3, §3.2.5.1), never by xClientGUID

TEST_F(Responder, ConstantGuidGetsDifferentClientIds) {
    std::set<std::uint32_t> ids;
    for (int i = 0; i < 20; ++i) ids.insert(describe(static_cast<std::uint64_t>(i + 1)));
    EXPECT_EQ(ids.size(), 20u);
    EXPECT_EQ(ids.count(0), 0u);
    EXPECT_EQ(responder().session_count(), 20u);
}

TEST_F(Responder, PlayReusesTheClientIdOfTheDescribe) {
    const std::uint32_t id = describe(1);
    const WmspReply r = send(with_client_id(testreq::kSpecPlay, id), 2, kT0 + kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    const Parsed p = parse(r);
    EXPECT_EQ(r.client_id, id);
    EXPECT_EQ(p.client_id(), id);
    EXPECT_FALSE(p.pragmas.has("xResetStrm"));
    EXPECT_EQ(responder().session_count(), 1u);
}

TEST_F(Responder, UnknownClientIdGetsANewIdAndXResetStrm) {
    // The §4.11 Play carries client-id=1543854732, which this responder never issued.
    WmspReply r = send(testreq::kSpecPlay, 2);
    ASSERT_EQ(r.status, 200) << r.head;
    Parsed p = parse(r);
    EXPECT_NE(r.client_id, 0u);
    EXPECT_NE(r.client_id, 1543854732u);
    EXPECT_EQ(p.client_id(), r.client_id);
    EXPECT_EQ(p.pragmas.get("xResetStrm"), "1");
    EXPECT_EQ(responder().session_count(), 1u);

    // §3.2.5.4: the same for a Describe.
    r = send(testreq::kSpecDescribe.substr(0, testreq::kSpecDescribe.size() - 2) + "Pragma: client-id=424242\r\n\r\n",
             3);
    ASSERT_EQ(r.status, 200) << r.head;
    p = parse(r);
    EXPECT_NE(p.client_id(), 424242u);
    EXPECT_EQ(p.pragmas.get("xResetStrm"), "1");
    EXPECT_EQ(responder().session_count(), 2u);
}

TEST_F(Responder, SecondPlayOfAStreamingSessionIsRefused) {
    const std::uint32_t id = describe(1);
    WmspReply r = send(play_text(id), 2);
    ASSERT_EQ(r.status, 200);
    // §3.2.5.6: a Play for a session already streaming (elsewhere) could be a hijack.
    r = send(play_text(id), 3, kT0 + kSecond);
    EXPECT_EQ(r.status, 409) << r.head;
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(r.stop_streaming_of, 0u);
    parse(r);
    // A Describe for it too (§3.2.5.4: Session-State must be INIT or IDLE).
    r = send(play_text(id), 4);  // still streaming on 2
    EXPECT_EQ(r.status, 409);
    r = send(describe_text("/", "HTTP/1.0", {"Pragma: client-id=" + std::to_string(id)}), 5);
    EXPECT_GE(r.status, 400);
    EXPECT_FALSE(contains(r.body, header_));
    EXPECT_EQ(responder().session_count(), 1u);

    // Once the edge reports the stream over, the client may play again with the same id.
    responder().streaming_ended(id, kT0 + 2 * kSecond);
    r = send(play_text(id), 6, kT0 + 3 * kSecond);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.client_id, id);
    EXPECT_FALSE(parse(r).pragmas.has("xResetStrm"));
}

TEST_F(Responder, IdleSessionsExpireAfterTheIdleTimeout) {
    const std::int64_t idle = std::int64_t{config_.idle_timeout_ms} * 1000;
    const std::uint32_t id = describe(1);
    ASSERT_EQ(send(play_text(id), 2, kT0 + kSecond).status, 200);

    // Streaming sessions never expire, however long they run.
    responder().expire_sessions(kT0 + 100 * idle);
    EXPECT_EQ(responder().session_count(), 1u);

    const std::int64_t ended = kT0 + 100 * idle;
    responder().streaming_ended(id, ended);
    responder().expire_sessions(ended + idle);  // exactly the Idle-Timeout: not yet
    EXPECT_EQ(responder().session_count(), 1u);
    responder().expire_sessions(ended + idle + 1);
    EXPECT_EQ(responder().session_count(), 0u);

    // The id is gone: a KeepAlive for it fails, a Play gets a new session with xResetStrm.
    WmspReply r = send(post_text(id, {"Pragma: xKeepAliveInPause=1"}), 3, ended + idle + 2);
    EXPECT_GE(r.status, 400);
    parse(r);
    r = send(play_text(id), 4, ended + idle + 3);
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.client_id, id);
    EXPECT_EQ(parse(r).pragmas.get("xResetStrm"), "1");
}

TEST_F(Responder, RequestsRestartTheIdleTimeout) {
    const std::int64_t idle = std::int64_t{config_.idle_timeout_ms} * 1000;
    const std::uint32_t id = describe(1, kT0);
    const WmspReply r = send(post_text(id, {"Pragma: xKeepAliveInPause=1"}), 2, kT0 + idle / 2);
    ASSERT_EQ(r.status, 200);
    responder().expire_sessions(kT0 + idle + 1);
    EXPECT_EQ(responder().session_count(), 1u);  // refreshed by the KeepAlive
    responder().expire_sessions(kT0 + idle / 2 + idle + 1);
    EXPECT_EQ(responder().session_count(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Play (§3.2.5.6, §2.2.2.6)

TEST_F(Responder, PlaySpecRequest) {
    const std::uint32_t id = describe(1);
    const WmspReply r = send(with_client_id(testreq::kSpecPlay, id), 2);
    ASSERT_EQ(r.status, 200) << r.head;
    const Parsed p = parse(r);
    EXPECT_EQ(p.header("Content-Type"), "application/x-mms-framed");
    EXPECT_EQ(p.header("Server"), WmspResponder::kServer);
    EXPECT_TRUE(r.start_streaming);
    EXPECT_TRUE(r.body.empty());  // $H and $D come from the edge
    EXPECT_EQ(r.mount, "/");
    EXPECT_TRUE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
    EXPECT_TRUE(r.all_selected);
    EXPECT_EQ(std::count(r.selected.begin(), r.selected.end(), true), 2);
    // HTTP/1.0 and no version11-enabled: no chunking, the body ends when the connection closes.
    EXPECT_FALSE(r.chunked);
    EXPECT_TRUE(r.close_after);
    EXPECT_EQ(p.head.version, "HTTP/1.0");
    EXPECT_FALSE(p.has("Transfer-Encoding"));
    EXPECT_FALSE(p.has("Content-Length"));
    EXPECT_EQ(p.pragmas.get("features"), "broadcast,playlist");
    EXPECT_EQ(stats_.plays, 1u);
}

TEST_F(Responder, PlaySelectsStreamsFromStreamSwitchEntries) {
    WmspReply r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:2"));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.selected[1]);
    EXPECT_FALSE(r.selected[2]);
    EXPECT_FALSE(r.all_selected);
    parse(r);

    // The run-in request from a player: same selection, on /live.
    r = send(testreq::kRunInPlay, 2);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.mount, "/live");
    EXPECT_TRUE(r.selected[1]);
    EXPECT_FALSE(r.selected[2]);
    EXPECT_FALSE(r.all_selected);
    EXPECT_TRUE(r.close_after);  // "Connection: Close"
    parse(r);

    // Thinning level 1 (key frames only) still selects the stream.
    r = send(play_text(std::nullopt, "ffff:1:1 ffff:2:0"), 3);
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
}

TEST_F(Responder, PlayIgnoresEntriesForStreamsNotInTheHeader) {
    // Stream numbers are hex (§2.2.1.4.27): "a" is stream 10, which the header lacks.
    WmspReply r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0 ffff:5:0 ffff:a:0 ffff:7f:0"));
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
    EXPECT_FALSE(r.selected[5]);
    EXPECT_FALSE(r.selected[10]);
    EXPECT_FALSE(r.selected[127]);
    EXPECT_TRUE(r.all_selected);

    r = send(play_text(std::nullopt, "ffff:2:0 ffff:9:0"), 2);
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
    EXPECT_FALSE(r.selected[9]);
    EXPECT_FALSE(r.all_selected);
}

TEST_F(Responder, CommandStreamStaysOnUnlessTurnedOff) {
    // Two video renditions (1, 3), audio 2, script commands 4.
    view_.streams = {1, 3, 2};
    view_.command_streams = {4};
    // A player picking one rendition lists its video and audio: captions still come.
    WmspReply r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0"));
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
    EXPECT_FALSE(r.selected[3]);
    EXPECT_TRUE(r.selected[4]);
    EXPECT_FALSE(r.all_selected);

    // Listing every stream, the command stream included, is "all".
    r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0 ffff:3:0 ffff:4:0"), 2);
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.all_selected);
    // Every media stream but the command stream turned off: not "all".
    r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0 ffff:3:0 ffff:4:2"), 3);
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.selected[4]);
    EXPECT_FALSE(r.all_selected);
    // The command stream alone is no stream to play.
    r = send(play_text(std::nullopt, "ffff:4:0"), 4);
    EXPECT_EQ(r.status, 400);
}

TEST_F(Responder, PlaySelectingNothingIs400) {
    for (const char* entries : {"ffff:1:2 ffff:2:2", "ffff:7:0", "ffff:0:0 ffff:80:0"}) {
        const WmspReply r = send(play_text(std::nullopt, entries));
        EXPECT_EQ(r.status, 400) << entries;
        EXPECT_FALSE(r.start_streaming) << entries;
        parse(r);
    }
    EXPECT_EQ(responder().session_count(), 0u);
}

TEST_F(Responder, PlayWithoutEntriesGetsEveryStream) {
    const WmspReply r = send(play_text(std::nullopt, ""));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.selected[1]);
    EXPECT_TRUE(r.selected[2]);
    EXPECT_TRUE(r.all_selected);
    EXPECT_EQ(std::count(r.selected.begin(), r.selected.end(), true), 2);
}

TEST_F(Responder, PlayChunkedOnlyWithVersion11AndHttp11) {
    // version11-enabled=1 over HTTP/1.1: chunked transfer coding, connection kept.
    WmspReply r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0", "HTTP/1.1", {"Pragma: version11-enabled=1"}));
    ASSERT_EQ(r.status, 200);
    Parsed p = parse(r);
    EXPECT_TRUE(r.chunked);
    EXPECT_FALSE(r.close_after);
    EXPECT_EQ(p.head.version, "HTTP/1.1");
    EXPECT_EQ(p.header("Transfer-Encoding"), "chunked");
    EXPECT_TRUE(p.head.chunked());

    // version11-enabled=1 over HTTP/1.0: no chunking.
    r = send(play_text(std::nullopt, "ffff:1:0", "HTTP/1.0", {"Pragma: version11-enabled=1"}), 2);
    ASSERT_EQ(r.status, 200);
    p = parse(r);
    EXPECT_FALSE(r.chunked);
    EXPECT_TRUE(r.close_after);
    EXPECT_FALSE(p.has("Transfer-Encoding"));

    // HTTP/1.1 without the token (or with 0): chunking MUST NOT be used.
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{}, std::vector<std::string>{"Pragma: version11-enabled=0"}}) {
        r = send(play_text(std::nullopt, "ffff:1:0", "HTTP/1.1", extra), 3);
        ASSERT_EQ(r.status, 200);
        p = parse(r);
        EXPECT_FALSE(r.chunked);
        EXPECT_TRUE(r.close_after);
        EXPECT_FALSE(p.has("Transfer-Encoding"));
    }
}

TEST_F(Responder, PlayAfterTheBroadcastEndedIs503) {
    const std::uint32_t id = describe(1);
    view_.ended = true;
    const WmspReply r = send(play_text(id), 2);
    EXPECT_EQ(r.status, 503);
    EXPECT_FALSE(r.start_streaming);
    parse(r);
}

TEST_F(Responder, PlayBeforeAnyHeaderIs503WithRetryAfter) {
    view_.header_frames = nullptr;
    const WmspReply r = send(play_text(std::nullopt));
    EXPECT_EQ(r.status, 503);
    EXPECT_FALSE(r.start_streaming);
    EXPECT_TRUE(parse(r).has("Retry-After"));
}

// ---------------------------------------------------------------------------------------------
// KeepAlive (§3.2.5.8), Stop (§3.2.5.10), Log (§3.2.5.11)

TEST_F(Responder, KeepAlive) {
    const std::uint32_t id = describe(1);
    // Non-pipelined KeepAlive: POST with xKeepAliveInPause.
    WmspReply r = send(post_text(id, {"Pragma: xKeepAliveInPause=1", "Content-Length: 0"}), 2);
    EXPECT_EQ(r.status, 200);
    Parsed p = parse(r);
    EXPECT_EQ(p.head.content_length(), 0u);
    EXPECT_EQ(p.client_id(), id);
    EXPECT_TRUE(r.body.empty());

    // POST without a client-id: an error (§3.2.5.1).
    r = send(post_text(std::nullopt, {"Pragma: xKeepAliveInPause=1"}), 3);
    EXPECT_EQ(r.status, 400);
    parse(r);
    // POST with an id we never issued: an error too.
    r = send(post_text(id + 1, {"Pragma: xKeepAliveInPause=1"}), 3);
    EXPECT_GE(r.status, 400);
    parse(r);

    // OPTIONS without a client-id is fine (§3.2.5.1).
    r = send(request("OPTIONS / HTTP/1.1", {kPlayer, "Host: 127.0.0.1"}), 4);
    EXPECT_EQ(r.status, 200);
    p = parse(r);
    EXPECT_EQ(p.head.content_length(), 0u);

    // The spec's OPTIONS KeepAlive targets "*" (§2.2.2.3.2).
    r = send(request("OPTIONS * HTTP/1.1",
                     {"User-Agent: NSPlayer/9.0.0.1234", "Host: SampleServer",
                      "Pragma: client-id=" + std::to_string(id)}),
             5);
    EXPECT_EQ(r.status, 200) << r.head;
    p = parse(r);
    EXPECT_EQ(p.client_id(), id);
    EXPECT_EQ(responder().session_count(), 1u);
}

TEST_F(Responder, StopAStreamingSession) {
    const std::uint32_t id = describe(1);
    ASSERT_EQ(send(play_text(id), 2).status, 200);
    // Stop on another connection: the edge must end the stream on connection 2.
    WmspReply r = send(post_text(id, {"Pragma: xStopStrm=1"}), 3, kT0 + kSecond);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.stop_streaming_of, id);
    EXPECT_FALSE(r.close_after);
    EXPECT_EQ(parse(r).client_id(), id);
    // The session is IDLE now: a second Stop stops nothing, a new Play on another connection works.
    r = send(post_text(id, {"Pragma: xStopStrm=1"}), 3, kT0 + 2 * kSecond);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.stop_streaming_of, 0u);
    r = send(play_text(id), 4, kT0 + 3 * kSecond);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.client_id, id);
    // A Stop without a client-id is an error.
    r = send(post_text(std::nullopt, {"Pragma: xStopStrm=1"}), 5);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.stop_streaming_of, 0u);
}

TEST_F(Responder, LogIsAcceptedAndKept) {
    const std::uint32_t id = describe(1);
    const std::string body = "<XML><Summary>1.0 ...</Summary></XML>";
    WmspReply r = send(post_text(id,
                                 {"Content-Type: application/x-wms-LogStats;charset=UTF-8",
                                  "Content-Length: " + std::to_string(body.size())}),
                       2, kT0 + kSecond, body);
    EXPECT_EQ(r.status, 204);
    Parsed p = parse(r);
    EXPECT_TRUE(r.body.empty());
    ASSERT_EQ(responder().logs().size(), 1u);
    const ClientLog& log = responder().logs().back();
    EXPECT_EQ(log.body, body);
    EXPECT_EQ(log.client_id, id);
    EXPECT_EQ(log.peer, "192.0.2.7");
    EXPECT_EQ(log.time_us, kT0 + kSecond);
    EXPECT_EQ(log.user_agent, "NSPlayer/12.0.7680.0");
    EXPECT_EQ(log.content_type, "application/x-wms-LogStats;charset=UTF-8");
    EXPECT_EQ(stats_.log_requests, 1u);

    // A log-line Pragma (legacy log, no body).
    r = send(post_text(id, {"Pragma: log-line=legacy-fields"}), 2, kT0 + 2 * kSecond);
    EXPECT_EQ(r.status, 204);
    parse(r);
    ASSERT_EQ(responder().logs().size(), 2u);
    EXPECT_EQ(responder().logs().back().body, "legacy-fields");

    // A log for a session that is gone (a distribution server after the stream ended, §4.11),
    // or with no client-id at all, is still accepted.
    r = send(post_text(99, {"Content-Type: application/x-wms-LogStats"}), 3, kT0 + 3 * kSecond, "late");
    EXPECT_EQ(r.status, 204);
    parse(r);
    r = send(post_text(std::nullopt, {"Content-Type: application/x-wms-LogStats"}), 3, kT0 + 4 * kSecond, "anon");
    EXPECT_EQ(r.status, 204);
    parse(r);
    ASSERT_EQ(responder().logs().size(), 4u);
    EXPECT_EQ(responder().logs()[2].body, "late");
    EXPECT_EQ(responder().logs()[3].body, "anon");
    EXPECT_EQ(responder().session_count(), 1u);  // logs create no sessions
}

TEST_F(Responder, LogStoreIsBounded) {
    config_.log_entries = 3;
    config_.max_body_bytes = 16;
    for (int i = 0; i < 10; ++i) {
        const std::string body = "log" + std::to_string(i) + std::string(100, 'x');
        const WmspReply r =
            send(post_text(std::nullopt, {"Content-Type: application/x-wms-LogStats"}), 1, kT0 + i, body);
        EXPECT_EQ(r.status, 204);
    }
    const auto& logs = responder().logs();
    ASSERT_EQ(logs.size(), 3u);
    for (const auto& l : logs) EXPECT_EQ(l.body.size(), 16u);
    EXPECT_EQ(logs.front().body.substr(0, 4), "log7");  // the newest are kept
    EXPECT_EQ(logs.back().body.substr(0, 4), "log9");
    EXPECT_EQ(stats_.log_requests, 10u);
}

// ---------------------------------------------------------------------------------------------
// Authentication (§3.2.5.1)

std::string nonce_of(const std::string& challenge) {
    const std::size_t at = challenge.find("nonce=\"");
    if (at == std::string::npos) return {};
    const std::size_t end = challenge.find('"', at + 7);
    return challenge.substr(at + 7, end - at - 7);
}

std::string digest_authorization(const std::string& user, const std::string& password, const std::string& realm,
                                 const std::string& nonce, const std::string& method, const std::string& uri) {
    const std::string ha1 = http::digest_ha1(user, realm, password);
    const std::string ha2 = http::digest_ha2(method, uri);
    return "Authorization: Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce +
           "\", uri=\"" + uri + "\", qop=auth, nc=00000001, cnonce=\"c0ffee01\", response=\"" +
           http::digest_response(ha1, nonce, "00000001", "c0ffee01", "auth", ha2) + "\"";
}

TEST_F(Responder, DigestAuthentication) {
    config_.auth = {"digest"};
    config_.realm = "asfcast";
    config_.users = {{"alice", "s3cret pass"}};

    // No Authorization: 401 with a Digest challenge, and nothing of the stream.
    WmspReply r = send(describe_text(), 1, kT0);
    ASSERT_EQ(r.status, 401);
    Parsed p = parse(r);
    const std::string challenge = p.header("WWW-Authenticate");
    EXPECT_EQ(challenge.rfind("Digest ", 0), 0u) << r.head;
    EXPECT_NE(challenge.find("realm=\"asfcast\""), std::string::npos) << challenge;
    EXPECT_FALSE(contains(r.body, header_));
    EXPECT_NE(p.header("Content-Type"), "application/vnd.ms.wms-hdr.asfv1");
    EXPECT_FALSE(p.pragmas.has("client-id"));
    EXPECT_EQ(stats_.auth_failures, 1u);
    EXPECT_EQ(responder().session_count(), 0u);
    EXPECT_EQ(r.head.find("s3cret"), std::string::npos);

    const std::string nonce = nonce_of(challenge);
    ASSERT_FALSE(nonce.empty());

    // A wrong password: 401 again.
    r = send(describe_text("/", "HTTP/1.0",
                           {digest_authorization("alice", "wrong", "asfcast", nonce, "GET", "/")}),
             2, kT0 + kSecond);
    EXPECT_EQ(r.status, 401);
    EXPECT_FALSE(contains(r.body, header_));
    EXPECT_EQ(stats_.auth_failures, 2u);

    // A Play is refused the same way: no streaming without credentials.
    r = send(play_text(std::nullopt), 3, kT0 + kSecond);
    EXPECT_EQ(r.status, 401);
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(stats_.auth_failures, 3u);

    // The right answer to the challenge: the header is served.
    r = send(describe_text("/", "HTTP/1.0",
                           {digest_authorization("alice", "s3cret pass", "asfcast", nonce, "GET", "/")}),
             4, kT0 + 2 * kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    p = parse(r);
    EXPECT_EQ(r.body, header_);
    EXPECT_FALSE(p.has("WWW-Authenticate"));
    const std::uint32_t id = p.client_id();
    EXPECT_NE(id, 0u);
    EXPECT_EQ(stats_.auth_failures, 3u);

    // And the Play with the same credentials streams.
    r = send(play_text(id, "ffff:1:0 ffff:2:0", "HTTP/1.0",
                       {digest_authorization("alice", "s3cret pass", "asfcast", nonce, "GET", "/")}),
             5, kT0 + 3 * kSecond);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.start_streaming);
    EXPECT_EQ(r.client_id, id);
}

// ---------------------------------------------------------------------------------------------
// Bounds and leniency

TEST_F(Responder, SessionTableIsBounded) {
    config_.max_clients = 4;
    const std::size_t limit = config_.max_clients * 2 + 64;
    // One session streams and must survive the flood.
    const std::uint32_t streaming = describe(1, kT0);
    ASSERT_EQ(send(play_text(streaming), 2, kT0).status, 200);
    for (std::size_t i = 0; i < 3 * limit; ++i) {
        const WmspReply r = send(describe_text(), 10 + i, kT0 + static_cast<std::int64_t>(i) * 1000);
        ASSERT_EQ(r.status, 200);
        ASSERT_LE(responder().session_count(), limit) << i;
    }
    EXPECT_EQ(responder().session_count(), limit);
    const WmspReply r = send(post_text(streaming, {"Pragma: xStopStrm=1"}), 3, kT0 + 10 * kSecond);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.stop_streaming_of, streaming);
}

TEST_F(Responder, NonWmspUserAgentsAreServed) {
    WmspReply r = send(request("GET / HTTP/1.1", {"User-Agent: curl/8.5.0", "Host: 127.0.0.1", "Accept: */*"}));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, header_);
    parse(r);
    r = send(request("GET /live HTTP/1.0", {"Host: 127.0.0.1"}), 2);  // no User-Agent at all
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, header_);
    parse(r);
    r = send(request("GET / HTTP/1.0", {"User-Agent: Lavf/59.27.100", "Pragma: xPlayStrm=1"}), 3);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.start_streaming);
    parse(r);
}

}  // namespace
}  // namespace asfcast::pull

namespace asfcast::pull {
namespace {

// ---------------------------------------------------------------------------------------------
// Documents (.nsc, .asx): plain HTTP beside the stream

TEST_F(Responder, DocumentIsServedWithItsTypeAndNoCache) {
    WmspReply r = send(request("GET /stream.nsc HTTP/1.1", {"Host: 10.0.0.1:8080", "User-Agent: curl/7.88"}));
    ASSERT_EQ(r.status, 200) << r.head;
    Parsed p = parse(r);
    EXPECT_EQ(p.header("Content-Type"), "application/x-netshow-channel");
    EXPECT_EQ(p.header("Cache-Control"), "no-cache");
    EXPECT_EQ(p.header("Content-Length"), std::to_string(document_text_.size()));
    EXPECT_EQ(std::string(r.body.begin(), r.body.end()), document_text_);
    EXPECT_FALSE(r.start_streaming);
    EXPECT_FALSE(r.close_after);  // HTTP/1.1 keeps the connection
    EXPECT_EQ(last_host_, "10.0.0.1:8080");
    EXPECT_EQ(responder().session_count(), 0u);  // not an MS-WMSP session
    EXPECT_EQ(stats_.documents_served, 1u);

    // HEAD: the same head, no body; a query string names the same document.
    r = send(request("HEAD /stream.nsc?x=1 HTTP/1.0", {}));
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.body.empty());
    EXPECT_NE(r.head.find("\r\nContent-Length: " + std::to_string(document_text_.size()) + "\r\n"), std::string::npos)
        << r.head;
    EXPECT_TRUE(r.close_after);
    EXPECT_EQ(last_host_, "");  // no Host header
}

TEST_F(Responder, DocumentNotYetAvailableIs503AndOthersStay404) {
    document_text_.clear();
    WmspReply r = send(request("GET /stream.nsc HTTP/1.0", {}));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(parse(r).header("Retry-After"), "1");
    r = send(request("GET /other.nsc HTTP/1.0", {}));
    EXPECT_EQ(r.status, 404);
    // A POST to a document's path is not a document request.
    r = send(request("POST /stream.nsc HTTP/1.0", {"Content-Length: 0"}));
    EXPECT_NE(r.status, 200);
    EXPECT_EQ(stats_.documents_served, 0u);
}

TEST_F(Responder, DocumentNeedsTheSameAuthenticationAsTheStream) {
    config_.auth = {"digest"};
    config_.users = {{"alice", "s3cret pass"}};
    WmspReply r = send(request("GET /stream.nsc HTTP/1.1", {"Host: a"}));
    ASSERT_EQ(r.status, 401);
    EXPECT_EQ(r.head.find("IP Address"), std::string::npos);
    EXPECT_TRUE(r.body.empty() || std::string(r.body.begin(), r.body.end()).find("IP Address") == std::string::npos);
    const std::string nonce = nonce_of(parse(r).header("WWW-Authenticate"));
    ASSERT_FALSE(nonce.empty());
    r = send(request("GET /stream.nsc HTTP/1.1",
                     {"Host: a", digest_authorization("alice", "s3cret pass", "asfcast", nonce, "GET", "/stream.nsc")}),
             2, kT0 + kSecond);
    EXPECT_EQ(r.status, 200) << r.head;
}

// ---------------------------------------------------------------------------------------------
// SelectStream (§2.2.2.8, §3.2.5.7), GetContentInfo (§2.2.2.2, §3.2.5.3), Supported (§2.2.1.7),
// the Idle-Timeout (§3.2.6.2)

std::string select_post(std::uint32_t id, const std::string& entries, std::vector<std::string> extra = {}) {
    std::vector<std::string> lines = {"Pragma: no-cache", "Pragma: stream-switch-count=2",
                                      "Pragma: stream-switch-entry=" + entries};
    lines.insert(lines.end(), extra.begin(), extra.end());
    return post_text(id, lines);
}

std::string select_get(std::uint32_t id, const std::string& entries) {
    return request("GET / HTTP/1.1", {"Accept: */*", kPlayer, "Host: 127.0.0.1", "Pragma: version11-enabled=1",
                                      "Pragma: no-cache", "Pragma: client-id=" + std::to_string(id),
                                      "Pragma: stream-switch-count=2", "Pragma: stream-switch-entry=" + entries});
}

TEST_F(Responder, ClassifiesBothFormsOfSelectStreamAndPipeline) {
    // §2.2.2.8: POST (non-pipelined mode, empty body) and GET (pipelined mode).
    EXPECT_EQ(kind(select_post(5, "ffff:2:0")), RequestKind::SelectStream);
    EXPECT_EQ(kind(select_get(5, "ffff:2:0")), RequestKind::SelectStream);
    EXPECT_EQ(kind(request("GET / HTTP/1.0", {kPlayer, "Pragma: switch-stream-entry=1:1:1"})), RequestKind::SelectStream);
    // With xPlayStrm=1 the GET is a Play selecting streams, not a SelectStream.
    EXPECT_EQ(kind(play_text(5, "ffff:1:0")), RequestKind::Play);
    // §2.2.2.5: a Pipeline request is a GET with pipeline-request (the spec's example).
    EXPECT_EQ(kind(request("GET /audio HTTP/1.1", {"Accept: */*", "User-Agent: NSPlayer/12.0.7680.0",
                                                  "Host: SampleServer", "Pragma: no-cache",
                                                  "Pragma: pipeline-request=1", "Pragma: client-id=297067864",
                                                  "Connection: keep-alive"})),
              RequestKind::Pipeline);
    // A POST with pipeline-request is none of the request types.
    EXPECT_EQ(kind(post_text(5, {"Pragma: pipeline-request=1"})), RequestKind::Unknown);
    const WmspReply r = send(post_text(5, {"Pragma: pipeline-request=1"}));
    EXPECT_EQ(r.status, 400);
    parse(r);
    // §2.2.2.2: GetContentInfo, as in the spec's example.
    EXPECT_EQ(kind(request("POST /Test2 HTTP/1.1",
                           {"User-Agent: WMCacheProxy/9.5.6001.1", "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}",
                            "X-Accept-Authentication: Negotiate, NTLM, Digest",
                            "Content-Type: application/x-wms-getcontentinfo", "Host: SampleServer", "Content-Length: 1",
                            "Connection: Keep-Alive"})),
              RequestKind::GetContentInfo);
}

TEST_F(Responder, GetContentInfoNeedsNoSession) {
    const std::string gci = request("POST / HTTP/1.1", {"User-Agent: WMCacheProxy/9.5.6001.1", "Host: SampleServer",
                                                        "Pragma: xClientGUID={00000000-0000-0000-0000-000000000000}",
                                                        "Content-Type: application/x-wms-getcontentinfo",
                                                        "Content-Length: 1", "Connection: Keep-Alive"});
    // §3.2.5.3: without client-id this MUST NOT be an error; no session is made.
    WmspReply r = send(gci, 1, kT0, "x");
    ASSERT_EQ(r.status, 200) << r.head;
    Parsed p = parse(r);
    EXPECT_TRUE(r.body.empty());  // §2.2.2.2: the response has no body
    EXPECT_EQ(p.head.content_length(), 0u);
    EXPECT_NE(p.header("Cache-Control").find("no-cache"), std::string::npos);
    EXPECT_EQ(p.header("Server"), WmspResponder::kServer);
    EXPECT_FALSE(p.pragmas.has("client-id"));
    EXPECT_FALSE(r.start_streaming);
    EXPECT_TRUE(r.close_after);  // non-pipelined mode: the server SHOULD close (§3.2.5.3)
    EXPECT_EQ(responder().session_count(), 0u);
    EXPECT_EQ(stats_.bad_requests, 0u);

    // With the client-id of a session: answered for it, the session unchanged.
    const std::uint32_t id = describe(2);
    r = send(request("POST / HTTP/1.1", {kPlayer, "Host: x", "Pragma: client-id=" + std::to_string(id),
                                         "Content-Type: application/x-wms-getcontentinfo", "Content-Length: 1"}),
             3, kT0, "x");
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(parse(r).client_id(), id);
    EXPECT_EQ(responder().session_count(), 1u);

    // The URL is checked as for a Describe.
    r = send(request("POST /nothing-here HTTP/1.1", {kPlayer, "Host: x", "Content-Type: application/x-wms-getcontentinfo",
                                                     "Content-Length: 1"}),
             4, kT0, "x");
    EXPECT_EQ(r.status, 404);
    view_.header_frames = nullptr;
    r = send(gci, 5, kT0, "x");
    EXPECT_EQ(r.status, 503);
}

TEST_F(Responder, SupportedListsOnlyWhatIsImplemented) {
    WmspReply r = send(describe_text());
    const std::string supported = parse(r).header("Supported");
    EXPECT_NE(supported.find("com.microsoft.wm.sswitch"), std::string::npos) << supported;  // MUST (§3.2.5.2)
    EXPECT_NE(supported.find("com.microsoft.wm.predstrm"), std::string::npos) << supported;
    // No $P packets are sent, so no srvppair (§2.2.1.7.3); no Speed, no X-StartupProfile.
    EXPECT_EQ(supported.find("srvppair"), std::string::npos) << supported;
    EXPECT_EQ(supported.find("fastcache"), std::string::npos) << supported;
    EXPECT_EQ(supported.find("startupprofile"), std::string::npos) << supported;
    // §2.2.1.7: the header is defined for clients of version 9.0 and later only.
    r = send(testreq::kRunInPlay, 2);  // NSPlayer/4.1
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(parse(r).has("Supported")) << r.head;
    r = send(testreq::kSpecDescribe, 3);  // NSServer/9.0
    EXPECT_TRUE(parse(r).has("Supported")) << r.head;
}

TEST_F(Responder, TheClientsSupportedHeaderIsRead) {
    // §3.2.3: predstrm and sswitch until the client says otherwise.
    const std::uint32_t plain = describe(1);
    ASSERT_TRUE(responder().client_features(plain));
    EXPECT_TRUE(responder().client_features(plain)->predstrm);
    EXPECT_TRUE(responder().client_features(plain)->sswitch);
    // §3.2.5.1: the features on the header replace them, wrapped lines and all.
    WmspReply r = send(testreq::kSpecDescribe, 2);
    const std::uint32_t server = parse(r).client_id();
    auto f = responder().client_features(server);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->srvppair && f->sswitch && f->predstrm);
    EXPECT_FALSE(f->fastcache || f->startupprofile);
    r = send(post_text(server, {"Pragma: xKeepAliveInPause=1", "Supported: com.microsoft.wm.sswitch"}), 3);
    ASSERT_EQ(r.status, 200);
    f = responder().client_features(server);
    EXPECT_TRUE(f->sswitch);
    EXPECT_FALSE(f->predstrm || f->srvppair);
    EXPECT_FALSE(responder().client_features(12345));
}

TEST_F(Responder, PlayTellsTheEdgeWhetherTheClientTakesPredictiveSelection) {
    // The spec's SelectStream example lists no predstrm: after a header change that client waits
    // with its own SelectStream (§3.2.4.2); without a Supported header, predstrm is assumed (§3.2.3).
    WmspReply r = send(play_text(std::nullopt, "ffff:1:0 ffff:2:0", "HTTP/1.0",
                                 {"Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, "
                                  "com.microsoft.wm.startupprofile"}));
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_FALSE(r.predictive_selection);
    r = send(play_text(std::nullopt), 2);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.predictive_selection);
}

TEST_F(Responder, IdleTimeoutClosesTheSessionsConnections) {
    const std::int64_t idle = std::int64_t{config_.idle_timeout_ms} * 1000;
    const std::uint32_t id = describe(11, kT0);
    ASSERT_EQ(send(post_text(id, {"Pragma: xKeepAliveInPause=1"}), 12, kT0 + kSecond).status, 200);
    ASSERT_EQ(send(post_text(id, {"Pragma: xKeepAliveInPause=1"}), 12, kT0 + 2 * kSecond).status, 200);
    const std::uint32_t other = describe(21, kT0 + 2 * kSecond);
    ASSERT_EQ(send(play_text(other), 22, kT0 + 2 * kSecond).status, 200);
    EXPECT_TRUE(responder().expire_sessions(kT0 + 2 * kSecond + idle).empty());  // not yet
    // §3.2.6.2: the connections that carried the idle session's requests, each once; the
    // streaming session and its connections stay.
    std::vector<std::uint64_t> closed = responder().expire_sessions(kT0 + 2 * kSecond + idle + 1);
    std::sort(closed.begin(), closed.end());
    EXPECT_EQ(closed, (std::vector<std::uint64_t>{11, 12}));
    EXPECT_EQ(responder().session_count(), 1u);
    EXPECT_FALSE(responder().client_features(id));
    // Once its stream ends, the other one's connections go too after the Idle-Timeout.
    responder().streaming_ended(other, kT0 + 3 * kSecond);
    closed = responder().expire_sessions(kT0 + 3 * kSecond + idle + 1);
    std::sort(closed.begin(), closed.end());
    EXPECT_EQ(closed, (std::vector<std::uint64_t>{21, 22}));
    EXPECT_EQ(responder().session_count(), 0u);
}

class SelectStreamResponder : public Responder {
protected:
    SelectStreamResponder() {
        // MBR: three video renditions 1..3, audio 4.
        view_.streams = {1, 2, 3, 4};
        view_.video_streams = {1, 2, 3};
    }
    // Describe on connection 1, Play of rendition 3 + audio on connection 2.
    std::uint32_t play_rendition_3(const std::string& version = "HTTP/1.0", std::vector<std::string> extra = {}) {
        const std::uint32_t id = describe(1);
        const WmspReply r = send(play_text(id, "ffff:1:2 ffff:2:2 ffff:3:0 ffff:4:0", version, extra), 2);
        EXPECT_EQ(r.status, 200) << r.head;
        EXPECT_EQ(r.selection.level(3), Thinning::all);
        EXPECT_EQ(r.selection.level(1), Thinning::off);
        return id;
    }
};

TEST_F(SelectStreamResponder, AnotherRenditionReplacesThePlayingOne) {
    const std::uint32_t id = play_rendition_3();
    // On a connection of its own (non-pipelined): "ffff:3:2 ffff:2:0", as a player switching.
    WmspReply r = send(select_post(id, "ffff:3:2 ffff:2:0"), 3, kT0 + kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    Parsed p = parse(r);
    EXPECT_EQ(p.head.content_length(), 0u);
    EXPECT_EQ(p.client_id(), id);
    EXPECT_EQ(r.select_streams_of, id);  // the edge switches the data connection's cursor
    EXPECT_FALSE(r.continues_stream);
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(r.selection.level(2), Thinning::all);
    EXPECT_EQ(r.selection.level(3), Thinning::off);
    EXPECT_EQ(r.selection.level(1), Thinning::off);
    EXPECT_EQ(r.selection.level(4), Thinning::all);  // the audio, not named, stays as it was
    EXPECT_EQ(r.selection.replaces[2], 3);           // 3 goes on until 2's first key frame
    EXPECT_FALSE(r.selection.all);

    // "2:1:0": from 2 to 1, by name.
    r = send(select_post(id, "2:1:0"), 4, kT0 + 2 * kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.selection.level(1), Thinning::all);
    EXPECT_EQ(r.selection.level(2), Thinning::off);
    EXPECT_EQ(r.selection.replaces[1], 2);

    // Thinning: "1:1:1" keeps stream 1 at key frames only; nothing is replaced.
    r = send(select_post(id, "1:1:1"), 5, kT0 + 3 * kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.selection.level(1), Thinning::key_frames);
    EXPECT_EQ(r.selection.replaces[1], 0);
    EXPECT_TRUE(r.selected[1]);

    // Everything on: "all", the wire form unfiltered.
    r = send(select_post(id, "ffff:1:0 ffff:2:0 ffff:3:0"), 6, kT0 + 4 * kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.selection.all);

    // Nothing of the audio and video left: refused, the selection unchanged.
    r = send(select_post(id, "ffff:1:2 ffff:2:2 ffff:3:2 ffff:4:2"), 7, kT0 + 5 * kSecond);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.select_streams_of, 0u);
    parse(r);
}

TEST_F(SelectStreamResponder, GetOnTheChunkedDataConnectionContinuesTheStream) {
    const std::uint32_t id = play_rendition_3("HTTP/1.1", {"Pragma: version11-enabled=1"});
    // §3.2.5.7, pipelined mode: on the data connection itself (2).
    const WmspReply r = send(select_get(id, "ffff:3:2 ffff:2:0"), 2, kT0 + kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.select_streams_of, id);
    EXPECT_TRUE(r.continues_stream);
    EXPECT_FALSE(r.close_after);
    const Parsed p = parse(r);
    EXPECT_EQ(p.head.version, "HTTP/1.1");
    EXPECT_TRUE(p.head.chunked());  // the $D packets go on in this response
    EXPECT_EQ(p.header("Content-Type"), "application/x-mms-framed");
    EXPECT_EQ(r.selection.replaces[2], 3);
    // The same GET on another connection is answered there, with no body.
    const WmspReply other = send(select_get(id, "ffff:2:2 ffff:1:0"), 9, kT0 + 2 * kSecond);
    ASSERT_EQ(other.status, 200);
    EXPECT_FALSE(other.continues_stream);
    EXPECT_EQ(parse(other).head.content_length(), 0u);
}

TEST_F(SelectStreamResponder, KeepAliveOnTheDataConnectionKeepsItOpen) {
    const std::uint32_t id = play_rendition_3("HTTP/1.1", {"Pragma: version11-enabled=1"});
    // §2.2.2.3.2, pipelined mode: OPTIONS on the data connection; its response waits among the
    // Pending-Responses (§3.2.5.8) and must not announce a close.
    WmspReply r = send(request("OPTIONS * HTTP/1.1", {kPlayer, "Host: x", "Pragma: client-id=" + std::to_string(id)}),
                       2, kT0 + kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_FALSE(r.close_after);
    EXPECT_EQ(parse(r).header("Connection"), "Keep-Alive");
    // Elsewhere (non-pipelined mode) the server closes after it (§3.2.5.8 SHOULD).
    r = send(request("OPTIONS * HTTP/1.1", {kPlayer, "Host: x", "Pragma: client-id=" + std::to_string(id)}), 3,
             kT0 + kSecond);
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.close_after);
    parse(r);
}

TEST_F(SelectStreamResponder, SelectStreamNeedsASession) {
    WmspReply r = send(request("POST / HTTP/1.1", {kPlayer, "Host: x", "Pragma: stream-switch-entry=ffff:2:0"}), 1);
    EXPECT_EQ(r.status, 400);
    parse(r);
    r = send(select_post(424242, "ffff:2:0"), 2);
    EXPECT_EQ(r.status, 404);
    parse(r);
    // A session that is not streaming: the selection is kept, nothing for the edge to switch.
    const std::uint32_t id = describe(3);
    r = send(select_post(id, "ffff:2:0 ffff:4:0"), 4);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.select_streams_of, 0u);
}

TEST_F(SelectStreamResponder, StreamChangeWaitsForSelectStreamTimeAndClientLag) {
    const std::uint32_t id = play_rendition_3();
    EXPECT_EQ(responder().stream_change_delay_us(id, kT0 + kSecond), 0);  // no SelectStream yet
    ASSERT_EQ(send(select_post(id, "ffff:3:2 ffff:2:0"), 3, kT0 + 10 * kSecond).status, 200);
    // §3.2.4.2: until 8 s after the SelectStream.
    EXPECT_EQ(responder().stream_change_delay_us(id, kT0 + 13 * kSecond), 5 * kSecond);
    EXPECT_EQ(responder().stream_change_delay_us(id, kT0 + 18 * kSecond), 0);
    // client-lag: its value, at most 15 s.
    ASSERT_EQ(send(select_post(id, "ffff:2:2 ffff:1:0", {"Pragma: client-lag=20000"}), 4, kT0 + 30 * kSecond).status,
              200);
    EXPECT_EQ(responder().stream_change_delay_us(id, kT0 + 31 * kSecond), 15 * kSecond);
    ASSERT_EQ(send(select_post(id, "ffff:1:2 ffff:3:0", {"Pragma: client-lag=250"}), 5, kT0 + 60 * kSecond).status,
              200);
    EXPECT_EQ(responder().stream_change_delay_us(id, kT0 + 69 * kSecond), 250'000);
}

}  // namespace
}  // namespace asfcast::pull
