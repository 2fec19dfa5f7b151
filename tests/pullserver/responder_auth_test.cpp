// WmspResponder's authentication (MS-WMSP 3.2.5.1) without sockets: the scheme of the 401 chosen
// from the client's X-Accept-Authentication, one challenge per configured scheme when it sends
// none, a 403 naming both lists when nothing matches, a 404 for an unknown mount only after
// authentication, and NTLM's three steps binding one connection (and no other). Requests are the
// MS-WMSP 4.11 distribution server's; the NTLM client is core's (the one push uses).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "asfcast/core/http_digest.hpp"
#include "asfcast/core/ntlm.hpp"
#include "wmsp_requests.hpp"
#include "wmsp_responder.hpp"

namespace asfcast::pull {
namespace {

constexpr std::int64_t kT0 = 9'000'000'000;  // an arbitrary monotonic time, us

ByteView view_of(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

http::HttpHead parse_request(const std::string& text) {
    http::HttpHeadParser p(http::HttpHeadParser::Kind::Request, 16384);
    p.feed(view_of(text));
    EXPECT_EQ(p.status(), http::HeadStatus::Complete) << p.error() << "\n" << text;
    return p.head();
}

http::HttpHead parse_reply(const WmspReply& r) {
    http::HttpHeadParser p(http::HttpHeadParser::Kind::Response, 65536);
    p.feed(view_of(r.head));
    EXPECT_EQ(p.status(), http::HeadStatus::Complete) << p.error() << "\n" << r.head;
    return p.head();
}

// A request text with one more header line.
std::string with_line(std::string text, const std::string& line) {
    text.insert(text.size() - 2, line + "\r\n");
    return text;
}

// The request without its X-Accept-Authentication line (a client that sends none).
std::string without_accept(std::string text) {
    const std::size_t at = text.find("X-Accept-Authentication:");
    if (at != std::string::npos) text.erase(at, text.find("\r\n", at) + 2 - at);
    return text;
}

std::string body_text(const WmspReply& r) { return std::string(r.body.begin(), r.body.end()); }

std::string base64(ByteView in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
        for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
    }
    if (in.size() - i == 1) {
        const unsigned v = in[i] << 16;
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
    } else if (in.size() - i == 2) {
        const unsigned v = in[i] << 16 | in[i + 1] << 8;
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
    }
    return out;
}

Bytes unbase64(std::string_view s) {
    Bytes out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : s) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        if (v < 0) break;
        acc = acc << 6 | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
        }
    }
    return out;
}

class ResponderAuth : public ::testing::Test {
protected:
    ResponderAuth() {
        header_ = {'$', 'H', 0x0C, 0x00, 0x30, 0x00, 0x2C, 0x00};
        for (int i = 0; i < 40; ++i) header_.push_back(static_cast<std::uint8_t>(0x41 + i));
        view_.header_frames = &header_;
        view_.streams = {1, 2};
        config_.realm = "asfcast";
        config_.users = {{"alice", "s3cret pass"}};
    }

    WmspResponder& responder() {
        if (!responder_)
            responder_.emplace(
                config_,
                [this](std::string_view path) -> const MountView* { return path == "/" ? &view_ : nullptr; }, stats_);
        return *responder_;
    }

    WmspReply send(const std::string& text, std::uint64_t connection, std::int64_t now_us = kT0) {
        return responder().respond(parse_request(text), {}, "192.0.2.9", connection, now_us);
    }

    // NTLM steps 1-3 on `connection` with a request text; returns the reply to the AUTHENTICATE.
    WmspReply ntlm_login(const std::string& text, std::uint64_t connection, const std::string& password) {
        const Bytes negotiate = ntlm::negotiate_message();
        const WmspReply challenge_reply = send(with_line(text, "Authorization: NTLM " + base64(negotiate)), connection);
        EXPECT_EQ(challenge_reply.status, 401) << challenge_reply.head;
        EXPECT_FALSE(challenge_reply.close_after) << "NTLM needs the same connection for step 3";
        const http::HttpHead reply_head = parse_reply(challenge_reply);
        const auto challenge_headers = reply_head.find_all("WWW-Authenticate");
        EXPECT_EQ(challenge_headers.size(), 1u);
        if (challenge_headers.size() != 1 || challenge_headers[0].rfind("NTLM ", 0) != 0) return challenge_reply;
        const Bytes challenge = unbase64(challenge_headers[0].substr(5));
        ntlm::AuthInputs in;
        in.user = "alice";
        in.password = password;
        in.domain = "WORKGROUP";
        in.workstation = "DIST";
        in.client_challenge.fill(0x5a);
        std::string error;
        const auto authenticate = ntlm::authenticate_message(negotiate, challenge, in, &error);
        EXPECT_TRUE(authenticate) << error;
        if (!authenticate) return challenge_reply;
        return send(with_line(text, "Authorization: NTLM " + base64(*authenticate)), connection, kT0 + 1000);
    }

    PullConfig config_;
    PullStats stats_;
    Bytes header_;
    MountView view_;
    std::optional<WmspResponder> responder_;
};

TEST_F(ResponderAuth, TheChallengeIsTheDistributionServersPreferredSchemeAmongOurs) {
    // §4.11: "X-Accept-Authentication: Negotiate, NTLM, Digest"; we offer basic, digest and ntlm.
    config_.auth = {"basic", "digest", "ntlm"};
    WmspReply r = send(testreq::kSpecDescribe, 1);
    ASSERT_EQ(r.status, 401) << r.head;
    http::HttpHead h = parse_reply(r);
    ASSERT_EQ(h.find_all("WWW-Authenticate").size(), 1u) << r.head;
    EXPECT_EQ(h.find_all("WWW-Authenticate")[0], "NTLM");
    EXPECT_FALSE(r.close_after) << "MS-WMSP 3.2.5.1: not closed after an NTLM challenge";
    EXPECT_TRUE(h.keep_alive());
    EXPECT_EQ(stats_.auth_failures, 1u);

    // Without NTLM configured, the client's next choice: Digest.
    config_.auth = {"basic", "digest"};
    responder_.reset();
    r = send(testreq::kSpecDescribe, 1);
    h = parse_reply(r);
    ASSERT_EQ(h.find_all("WWW-Authenticate").size(), 1u) << r.head;
    EXPECT_EQ(h.find_all("WWW-Authenticate")[0].rfind("Digest realm=\"asfcast\"", 0), 0u) << r.head;
}

TEST_F(ResponderAuth, WithoutXAcceptEveryConfiguredSchemeIsChallenged) {
    config_.auth = {"digest", "ntlm", "basic"};
    const WmspReply r = send(without_accept(testreq::kSpecDescribe), 1);
    ASSERT_EQ(r.status, 401);
    const http::HttpHead h = parse_reply(r);
    const auto challenges = h.find_all("WWW-Authenticate");
    ASSERT_EQ(challenges.size(), 3u) << r.head;
    EXPECT_EQ(challenges[0].rfind("Digest ", 0), 0u);
    EXPECT_EQ(challenges[1], "NTLM");
    EXPECT_EQ(challenges[2], "Basic realm=\"asfcast\"");
}

TEST_F(ResponderAuth, AClientAcceptingNoneOfOurSchemesGetsAClearRefusal) {
    config_.auth = {"basic"};
    const WmspReply r = send(testreq::kSpecDescribe, 1);
    EXPECT_EQ(r.status, 403) << r.head;
    const http::HttpHead h = parse_reply(r);
    EXPECT_TRUE(h.find_all("WWW-Authenticate").empty()) << "no challenge the client cannot answer";
    EXPECT_EQ(body_text(r),
              "authentication required: this server accepts Basic; the client accepts only Negotiate, NTLM, "
              "Digest (X-Accept-Authentication)\n");
    EXPECT_EQ(stats_.auth_refusals, 1u);
    EXPECT_EQ(stats_.auth_failures, 1u);
    EXPECT_EQ(responder().session_count(), 0u);
    EXPECT_TRUE(r.close_after);
}

TEST_F(ResponderAuth, AnUnknownMountIsNamedOnlyAfterAuthentication) {
    config_.auth = {"digest"};
    const std::string secret = "GET /secret-name HTTP/1.0\r\nUser-Agent: NSPlayer/12.0\r\nHost: h\r\n\r\n";
    const std::string known = "GET / HTTP/1.0\r\nUser-Agent: NSPlayer/12.0\r\nHost: h\r\n\r\n";
    WmspReply unknown_reply = send(secret, 1);
    const WmspReply known_reply = send(known, 2);
    EXPECT_EQ(unknown_reply.status, 401);
    EXPECT_EQ(known_reply.status, 401);
    EXPECT_EQ(body_text(unknown_reply), body_text(known_reply)) << "both answers look the same";
    EXPECT_EQ(body_text(unknown_reply).find("secret"), std::string::npos);
    EXPECT_EQ(stats_.bad_requests, 0u);
    // Authenticated: now the 404.
    const http::HttpHead unknown_head = parse_reply(unknown_reply);
    const std::string challenge(unknown_head.find_all("WWW-Authenticate").at(0));
    const std::size_t at = challenge.find("nonce=\"") + 7;
    const std::string nonce = challenge.substr(at, challenge.find('"', at) - at);
    const std::string ha1 = http::digest_ha1("alice", "asfcast", "s3cret pass");
    const std::string response = http::digest_response(ha1, nonce, "", "", "", http::digest_ha2("GET", "/secret-name"));
    unknown_reply = send(with_line(secret, "Authorization: Digest username=\"alice\", realm=\"asfcast\", nonce=\"" + nonce +
                                               "\", uri=\"/secret-name\", response=\"" + response + "\""),
                         3);
    EXPECT_EQ(unknown_reply.status, 404) << unknown_reply.head;
}

TEST_F(ResponderAuth, NtlmThreeStepsOnOneConnectionThenDescribeAndPlayThere) {
    config_.auth = {"ntlm"};
    // Step 1 without credentials: "WWW-Authenticate: NTLM", connection kept.
    WmspReply r = send(testreq::kSpecDescribe, 7);
    ASSERT_EQ(r.status, 401);
    EXPECT_FALSE(r.close_after);
    // Steps 2 and 3 on connection 7: the Describe is answered with the header.
    r = ntlm_login(testreq::kSpecDescribe, 7, "s3cret pass");
    ASSERT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, header_);
    const auto cid = Pragmas(parse_reply(r)).get_uint("client-id");
    ASSERT_TRUE(cid);
    // The Play on the same connection needs no Authorization.
    std::string play = testreq::kSpecPlay;
    play.replace(play.find("client-id=1543854732"), 20, "client-id=" + std::to_string(*cid));
    r = send(play, 7, kT0 + 2000);
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.start_streaming);
    // A second connection is not authenticated by the first.
    r = send(play, 8, kT0 + 3000);
    EXPECT_EQ(r.status, 401) << r.head;
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(parse_reply(r).find_all("WWW-Authenticate").at(0), "NTLM");
    // Once the edge reports connection 7 closed, its number authenticates nothing.
    responder().connection_closed(7);
    r = send(testreq::kSpecDescribe, 7, kT0 + 4000);
    EXPECT_EQ(r.status, 401);
}

TEST_F(ResponderAuth, NtlmOnHttp10KeepsTheConnectionAndAWrongPasswordIsRefused) {
    config_.auth = {"ntlm", "digest"};
    // §4.11's Play is HTTP/1.0 without Connection: Keep-Alive; NTLM still needs the connection.
    WmspReply r = ntlm_login(testreq::kSpecPlay, 3, "wrong");
    EXPECT_EQ(r.status, 401);
    EXPECT_FALSE(r.start_streaming);
    EXPECT_EQ(r.head.find("wrong"), std::string::npos);
    EXPECT_EQ(r.head.find("s3cret"), std::string::npos);
    EXPECT_EQ(stats_.auth_failures, 1u) << "the CHALLENGE step is not a failure; the wrong password is";
    r = ntlm_login(testreq::kSpecPlay, 4, "s3cret pass");
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_TRUE(r.start_streaming);
}

}  // namespace
}  // namespace asfcast::pull
