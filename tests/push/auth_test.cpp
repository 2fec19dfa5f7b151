// HTTP authentication for the push client: RFC 2617 3.5 example, challenge parsing, the
// decisions on 401 (stale nonces, refused credentials), Basic.
#include <gtest/gtest.h>

#include "asfcast/core/http_digest.hpp"
#include "asfcast/push/http_auth_client.hpp"
#include "asfcast/push/wmhttp_wire.hpp"

namespace asfcast::push {
namespace {

using V = std::vector<std::string_view>;

std::string param_of(const std::string& header, const std::string& name) {
    auto ch = parse_challenges(V{header});
    if (ch.empty()) return "<none>";
    const std::string* v = ch[0].param(name);
    return v ? *v : "<missing>";
}

TEST(Digest, Rfc2617Example) {
    // RFC 2617 3.5: Mufasa / "Circle Of Life", GET /dir/index.html.
    const std::string h = HttpAuthClient::digest_header("Mufasa", "Circle Of Life", "testrealm@host.com",
                                                        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                                        "5ccc069c403ebaf9f0171e9517f40e41", "", "auth", 1, "0a4f113b",
                                                        "GET", "/dir/index.html");
    EXPECT_EQ(param_of(h, "response"), "6629fae49393a05397450978507c4ef1");
    EXPECT_EQ(param_of(h, "nc"), "00000001");
    EXPECT_EQ(param_of(h, "cnonce"), "0a4f113b");
    EXPECT_EQ(param_of(h, "qop"), "auth");
    EXPECT_EQ(param_of(h, "username"), "Mufasa");
    EXPECT_EQ(param_of(h, "uri"), "/dir/index.html");
    EXPECT_EQ(param_of(h, "opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
    EXPECT_EQ(param_of(h, "algorithm"), "<missing>");  // only echoed when the server sent one
    // The shared core computations give the same.
    EXPECT_EQ(http::digest_response(http::digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
                                    "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth",
                                    http::digest_ha2("GET", "/dir/index.html")),
              "6629fae49393a05397450978507c4ef1");
}

TEST(Digest, Md5SessAndNoQop) {
    const std::string sess = HttpAuthClient::digest_header("u", "p", "r", "n", "", "MD5-sess", "auth", 2, "c", "POST", "/x");
    const std::string ha1 = http::md5_hex(http::digest_ha1("u", "r", "p") + ":n:c");
    EXPECT_EQ(param_of(sess, "response"),
              http::digest_response(ha1, "n", "00000002", "c", "auth", http::digest_ha2("POST", "/x")));
    EXPECT_EQ(param_of(sess, "algorithm"), "MD5-sess");
    // RFC 2069 compatibility: no qop, no nc, no cnonce.
    const std::string old = HttpAuthClient::digest_header("u", "p", "r", "n", "", "", "", 1, "", "POST", "/x");
    EXPECT_EQ(param_of(old, "response"),
              http::md5_hex(http::digest_ha1("u", "r", "p") + ":n:" + http::digest_ha2("POST", "/x")));
    EXPECT_EQ(param_of(old, "nc"), "<missing>");
}

TEST(Challenges, SeveralInOneValue) {
    auto c = parse_challenges(V{"Digest realm=\"a b\", qop=\"auth,auth-int\", nonce=\"n\\\"1\", Basic realm=\"x\"",
                                "NTLM", "Negotiate TlRMTVNTUAACAAAA==", "Bearer"});
    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].scheme, "Digest");
    EXPECT_EQ(*c[0].param("realm"), "a b");
    EXPECT_EQ(*c[0].param("QOP"), "auth,auth-int");
    EXPECT_EQ(*c[0].param("nonce"), "n\"1");
    EXPECT_EQ(c[1].scheme, "Basic");
    EXPECT_EQ(*c[1].param("realm"), "x");
    EXPECT_EQ(c[2].scheme, "NTLM");
    EXPECT_TRUE(c[2].token.empty());
    EXPECT_EQ(c[3].scheme, "Negotiate");
    EXPECT_EQ(c[3].token, "TlRMTVNTUAACAAAA==");
    EXPECT_EQ(c[4].scheme, "Bearer");
}

TEST(Challenges, Garbage) {
    auto c = parse_challenges(V{",,, =x, \"q\", Digest nonce=, realm", "   ", "Digest realm=\"unterminated"});
    // No crash; whatever parses is reported.
    for (const auto& ch : c) EXPECT_FALSE(ch.scheme.empty());
}

std::string fixed_random(std::size_t n) { return std::string(n, '\x11'); }

TEST(AuthClient, DigestRoundTripWithNonceCounting) {
    HttpAuthClient a("enc", "secret");
    a.set_random_source(fixed_random);
    EXPECT_EQ(a.authorization("POST", "/live"), "");  // nothing before a challenge
    auto d = a.on_unauthorized(V{"Digest realm=\"r\", nonce=\"N1\", qop=\"auth\", opaque=\"O\""}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_new_connection);
    EXPECT_FALSE(d.stale);
    const std::string h1 = a.authorization("POST", "/live");
    EXPECT_EQ(param_of(h1, "nc"), "00000001");
    EXPECT_EQ(param_of(h1, "cnonce"), "1111111111111111");
    EXPECT_EQ(param_of(h1, "response"),
              http::digest_response(http::digest_ha1("enc", "r", "secret"), "N1", "00000001", "1111111111111111",
                                    "auth", http::digest_ha2("POST", "/live")));
    a.on_success();
    const std::string h2 = a.authorization("POST", "/live");
    EXPECT_EQ(param_of(h2, "nc"), "00000002");
    // Stale nonce: retried with the new nonce, nc starts again, not a credentials failure.
    d = a.on_unauthorized(V{"Digest realm=\"r\", nonce=\"N2\", qop=auth, stale=TRUE"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_new_connection);
    EXPECT_TRUE(d.stale);
    const std::string h3 = a.authorization("POST", "/live");
    EXPECT_EQ(param_of(h3, "nonce"), "N2");
    EXPECT_EQ(param_of(h3, "nc"), "00000001");
    // The fresh nonce refused without stale: bad credentials.
    d = a.on_unauthorized(V{"Digest realm=\"r\", nonce=\"N3\", qop=auth"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::bad_credentials);
}

TEST(AuthClient, ReusedNonceRefusedIsAFreshChallenge) {
    HttpAuthClient a("enc", "secret");
    a.set_random_source(fixed_random);
    (void)a.on_unauthorized(V{"Digest realm=\"r\", nonce=\"N1\", qop=auth"}, true);
    (void)a.authorization("POST", "/p");
    a.on_success();
    (void)a.authorization("POST", "/p");  // preemptive, old nonce (e.g. after a server restart)
    auto d = a.on_unauthorized(V{"Digest realm=\"r\", nonce=\"N9\", qop=auth"}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_new_connection);
}

TEST(AuthClient, BasicAndPreference) {
    HttpAuthClient a("Aladdin", "open sesame");
    auto d = a.on_unauthorized(V{"Basic realm=\"x\""}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_new_connection);
    EXPECT_EQ(a.authorization("POST", "/p"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    d = a.on_unauthorized(V{"Basic realm=\"x\""}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::bad_credentials);

    HttpAuthClient b("u", "p");
    b.set_random_source(fixed_random);
    d = b.on_unauthorized(V{"Basic realm=\"x\"", "Digest realm=\"r\", nonce=\"n\""}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::retry_new_connection);
    EXPECT_EQ(b.scheme(), "Digest");  // Digest preferred over Basic
}

TEST(AuthClient, NoCredentialsOrScheme) {
    HttpAuthClient a("", "");
    EXPECT_EQ(a.on_unauthorized(V{"Basic realm=\"x\""}, true).outcome, HttpAuthClient::Outcome::bad_credentials);
    HttpAuthClient b("u", "p");
    auto d = b.on_unauthorized(V{"Bearer realm=\"x\""}, true);
    EXPECT_EQ(d.outcome, HttpAuthClient::Outcome::unsupported);
    EXPECT_NE(d.detail.find("Bearer"), std::string::npos);
    EXPECT_EQ(b.on_unauthorized(V{"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""}, true).outcome,
              HttpAuthClient::Outcome::unsupported);
}

TEST(AuthClient, CredentialsNeverInDetails) {
    HttpAuthClient a("someuser", "hunter2-password");
    for (const auto* ch : {"Basic realm=\"x\"", "Digest realm=\"r\", nonce=\"n\"", "Bearer"}) {
        auto d = a.on_unauthorized(V{ch}, true);
        (void)a.authorization("POST", "/p");
        EXPECT_EQ(d.detail.find("hunter2"), std::string::npos);
    }
}

}  // namespace
}  // namespace asfcast::push
