// Authenticator: Basic and Digest (RFC 2617) round trips through check(), stale and foreign
// nonces, and failure reasons that never carry a secret; the scheme offered from a list and the
// client's X-Accept-Authentication (MS-WMSP 3.2.5.1); NTLMv2 on a connection (MS-NLMP 3.2.5.1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "asfcast/core/http_digest.hpp"
#include "asfcast/core/ntlm.hpp"
#include "http_auth.hpp"

namespace asfcast::pull {
namespace {

constexpr const char* kRealm = "testrealm@host.com";
constexpr const char* kPassword = "Circle Of Life";
constexpr std::int64_t kT0 = 1'000'000'000;  // an arbitrary monotonic time, us

std::string base64(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8 |
                           static_cast<unsigned char>(in[i + 2]);
        for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
    } else if (in.size() - i == 2) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16 | static_cast<unsigned char>(in[i + 1]) << 8;
        out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
    }
    return out;
}

http::HttpHead request(std::string target, std::string authorization = {}, std::string method = "GET") {
    http::HttpHead h;
    h.method = std::move(method);
    h.target = std::move(target);
    h.version = "HTTP/1.1";
    h.headers.push_back({"Host", "host.com"});
    if (!authorization.empty()) h.headers.push_back({"Authorization", std::move(authorization)});
    return h;
}

// The nonce from a "WWW-Authenticate: Digest ..." line.
std::string nonce_of(const std::string& challenge) {
    const std::size_t at = challenge.find("nonce=\"");
    if (at == std::string::npos) return {};
    const std::size_t end = challenge.find('"', at + 7);
    return challenge.substr(at + 7, end - at - 7);
}

std::string digest_header(const std::string& user, const std::string& password, const std::string& nonce,
                          const std::string& uri, bool with_qop = true, const std::string& realm = kRealm) {
    const std::string ha1 = http::digest_ha1(user, realm, password);
    const std::string ha2 = http::digest_ha2("GET", uri);
    if (!with_qop)
        return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce + "\", uri=\"" + uri +
               "\", response=\"" + http::digest_response(ha1, nonce, "", "", "", ha2) + "\"";
    return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce + "\", uri=\"" + uri +
           "\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"" +
           http::digest_response(ha1, nonce, "00000001", "0a4f113b", "auth", ha2) + "\", opaque=\"5ccc069c\"";
}

// Requests of these tests arrive on one connection (only NTLM cares).
constexpr std::uint64_t kConnection = 1;
Authenticator::Result check_on(Authenticator& a, const http::HttpHead& request, std::int64_t now_us) {
    return a.check(request, kConnection, now_us);
}

Authenticator digest_auth() { return Authenticator({"digest"}, kRealm, {{"Mufasa", kPassword}, {"other", "pw2"}}); }

// A fresh nonce handed out by `a` at time t.
std::string fresh_nonce(Authenticator& a, std::int64_t t) {
    const auto r = check_on(a, request("/dir/index.html"), t);
    return nonce_of(r.challenge_headers);
}

void expect_no_secret(const Authenticator::Result& r) {
    EXPECT_EQ(r.failure.find("Circle"), std::string::npos);
    EXPECT_EQ(r.challenge_headers.find("Circle"), std::string::npos);
}

TEST(Digest, Rfc2617Example) {
    // RFC 2617 3.5.
    const std::string ha1 = http::digest_ha1("Mufasa", kRealm, kPassword);
    const std::string ha2 = http::digest_ha2("GET", "/dir/index.html");
    EXPECT_EQ(http::digest_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", ha2),
              "6629fae49393a05397450978507c4ef1");
}

TEST(Digest, ChallengeWithoutCredentials) {
    auto a = digest_auth();
    const auto r = check_on(a, request("/dir/index.html"), kT0);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "no credentials");
    EXPECT_EQ(r.challenge_headers.rfind("WWW-Authenticate: Digest realm=\"testrealm@host.com\", nonce=\"", 0), 0u)
        << r.challenge_headers;
    EXPECT_NE(r.challenge_headers.find(", qop=\"auth\""), std::string::npos);
    EXPECT_EQ(r.challenge_headers.find("stale"), std::string::npos);
    EXPECT_EQ(r.challenge_headers.substr(r.challenge_headers.size() - 2), "\r\n");
    EXPECT_EQ(nonce_of(r.challenge_headers).size(), 48u);
    EXPECT_NE(fresh_nonce(a, kT0), fresh_nonce(a, kT0 + 1));
}

TEST(Digest, RoundTripWithAndWithoutQop) {
    auto a = digest_auth();
    const std::string nonce = fresh_nonce(a, kT0);
    auto r = check_on(a, request("/dir/index.html", digest_header("Mufasa", kPassword, nonce, "/dir/index.html")),
                     kT0 + 1'000'000);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.user, "Mufasa");
    EXPECT_TRUE(r.challenge_headers.empty());
    EXPECT_TRUE(r.failure.empty());
    r = check_on(a, request("/dir/index.html", digest_header("Mufasa", kPassword, nonce, "/dir/index.html", false)),
                kT0 + 2'000'000);
    EXPECT_TRUE(r.ok) << r.failure;
    // nc is accepted as sent: nonces are stateless, so no replay counter is kept.
    r = check_on(a, request("/dir/index.html", digest_header("other", "pw2", nonce, "/dir/index.html")), kT0);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.user, "other");
}

TEST(Digest, ParametersInAnyOrderAndSpacing) {
    auto a = digest_auth();
    const std::string nonce = fresh_nonce(a, kT0);
    const std::string uri = "/dir/index.html";
    const std::string resp = http::digest_response(http::digest_ha1("Mufasa", kRealm, kPassword), nonce, "00000002",
                                                   "xyz", "auth", http::digest_ha2("GET", uri));
    std::string upper = resp;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string header = "digest   response=\"" + upper + "\" ,nc=00000002,cnonce=xyz,  qop=\"auth\"," +
                               "uri=\"" + uri + "\",algorithm=md5, nonce=\"" + nonce +
                               "\",realm=\"testrealm@host.com\",  username=\"Mu\\fasa\"";
    const auto r = check_on(a, request(uri, header), kT0);
    EXPECT_TRUE(r.ok) << r.failure;
}

TEST(Digest, Failures) {
    auto a = digest_auth();
    const std::string nonce = fresh_nonce(a, kT0);
    const std::string uri = "/dir/index.html";
    auto fail = [&](const std::string& authorization, const std::string& target = "/dir/index.html") {
        const auto r = check_on(a, request(target, authorization), kT0 + 1000);
        EXPECT_FALSE(r.ok);
        EXPECT_FALSE(r.challenge_headers.empty());
        expect_no_secret(r);
        return r;
    };
    auto r = fail(digest_header("Mufasa", "circle of life", nonce, uri));
    EXPECT_EQ(r.failure, "wrong password");
    EXPECT_EQ(r.challenge_headers.find("stale"), std::string::npos);
    EXPECT_EQ(fail(digest_header("Simba", kPassword, nonce, uri)).failure, "unknown user");
    EXPECT_EQ(fail(digest_header("Mufasa", kPassword, nonce, uri), "/other").failure, "uri mismatch");
    EXPECT_EQ(fail(digest_header("Mufasa", kPassword, nonce, uri, true, "elsewhere")).failure, "wrong realm");
    EXPECT_EQ(fail("Digest username=\"Mufasa\", realm=\"testrealm@host.com\"").failure, "malformed Authorization");
    EXPECT_EQ(fail("Digest username=\"Mufasa").failure, "malformed Authorization");  // unterminated quote
    EXPECT_EQ(fail("Digest username=\"a\", username=\"b\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\"").failure,
              "malformed Authorization");  // duplicate parameter
    EXPECT_EQ(fail("Digest =x").failure, "malformed Authorization");
    EXPECT_EQ(fail("Digest").failure, "malformed Authorization");
    std::string h = digest_header("Mufasa", kPassword, nonce, uri);
    EXPECT_EQ(fail(h + ", algorithm=SHA-256").failure, "unsupported algorithm");
    h.replace(h.find("qop=auth"), 8, "qop=auth-int");
    EXPECT_EQ(fail(h).failure, "unsupported qop");
    h = digest_header("Mufasa", kPassword, nonce, uri);
    h.erase(h.find("nc=00000001, "), 13);
    EXPECT_EQ(fail(h).failure, "malformed Authorization");  // qop without nc
    EXPECT_EQ(fail("Basic " + base64(std::string("Mufasa:") + kPassword)).failure, "unsupported scheme");
    EXPECT_EQ(fail("Negotiate abc").failure, "unsupported scheme");
}

TEST(Digest, StaleNonce) {
    auto a = digest_auth();
    const std::string nonce = fresh_nonce(a, kT0);
    const std::string h = digest_header("Mufasa", kPassword, nonce, "/dir/index.html");
    EXPECT_TRUE(check_on(a, request("/dir/index.html", h), kT0 + Authenticator::kNonceLifetimeUs).ok);
    const auto r = check_on(a, request("/dir/index.html", h), kT0 + Authenticator::kNonceLifetimeUs + 1);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "stale nonce");
    EXPECT_NE(r.challenge_headers.find(", stale=true\r\n"), std::string::npos) << r.challenge_headers;
    EXPECT_NE(nonce_of(r.challenge_headers), nonce);  // a new one to retry with
    // A nonce dated after "now" is not accepted either.
    EXPECT_EQ(check_on(a, request("/dir/index.html", h), kT0 - 1).failure, "stale nonce");
    // Stale but with a wrong password: no stale=true, the user must be asked again.
    const auto w = check_on(a, request("/dir/index.html", digest_header("Mufasa", "x", nonce, "/dir/index.html")),
                           kT0 + Authenticator::kNonceLifetimeUs + 1);
    EXPECT_EQ(w.failure, "wrong password");
    EXPECT_EQ(w.challenge_headers.find("stale"), std::string::npos);
}

TEST(Digest, ForeignOrForgedNonce) {
    auto a = digest_auth();
    auto b = digest_auth();  // another process: another secret
    std::string tampered = fresh_nonce(a, kT0);
    tampered[30] = tampered[30] == '0' ? '1' : '0';  // one MAC digit changed
    std::string moved = fresh_nonce(a, kT0);
    moved[15] = moved[15] == '0' ? '1' : '0';  // the timestamp changed, MAC kept
    for (const std::string& nonce : {fresh_nonce(b, kT0), std::string("dcd98b7102dd2f0e8b11d0f600bfb0c093"), tampered,
                                     moved}) {
        const auto r = check_on(a, request("/dir/index.html", digest_header("Mufasa", kPassword, nonce, "/dir/index.html")),
                               kT0 + 10);
        EXPECT_FALSE(r.ok) << nonce;
        EXPECT_EQ(r.failure, "unknown nonce");
        // The digest itself was right (e.g. a nonce from before a restart): retry without re-prompting.
        EXPECT_NE(r.challenge_headers.find("stale=true"), std::string::npos);
    }
}

TEST(Digest, AbsoluteFormTarget) {
    auto a = digest_auth();
    const std::string nonce = fresh_nonce(a, kT0);
    auto r = check_on(a, request("http://host.com:8080/dir/index.html",
                             digest_header("Mufasa", kPassword, nonce, "/dir/index.html")),
                     kT0);
    EXPECT_TRUE(r.ok) << r.failure;
    r = check_on(a, request("/dir/index.html", digest_header("Mufasa", kPassword, nonce, "http://host.com/dir/index.html")),
                kT0);
    EXPECT_TRUE(r.ok) << r.failure;
}

TEST(Basic, RoundTripAndFailures) {
    Authenticator a({"basic"}, "asfcast", {{"Mufasa", kPassword}, {"user", "pw"}});
    auto r = check_on(a, request("/"), kT0);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "no credentials");
    EXPECT_EQ(r.challenge_headers, "WWW-Authenticate: Basic realm=\"asfcast\"\r\n");

    r = check_on(a, request("/", "Basic " + base64(std::string("Mufasa:") + kPassword)), kT0);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_EQ(r.user, "Mufasa");
    EXPECT_TRUE(r.challenge_headers.empty());

    const std::string padded = base64("user:pw");  // 7 bytes: one '=' of padding
    ASSERT_EQ(padded.back(), '=');
    EXPECT_TRUE(check_on(a, request("/", "basic  " + padded + " "), kT0).ok);
    EXPECT_TRUE(check_on(a, request("/", "BASIC " + padded.substr(0, padded.size() - 1)), kT0).ok);  // padding left out

    auto fail = [&](const std::string& authorization) {
        const auto f = check_on(a, request("/", authorization), kT0);
        EXPECT_FALSE(f.ok);
        EXPECT_EQ(f.challenge_headers, "WWW-Authenticate: Basic realm=\"asfcast\"\r\n");
        expect_no_secret(f);
        return f.failure;
    };
    EXPECT_EQ(fail("Basic " + base64("Mufasa:Circle of life")), "wrong password");
    EXPECT_EQ(fail("Basic " + base64("Mufasa:")), "wrong password");
    EXPECT_EQ(fail("Basic " + base64("Scar:Circle Of Life")), "unknown user");
    EXPECT_EQ(fail("Basic " + base64("no colon")), "malformed Authorization");
    EXPECT_EQ(fail("Basic !!!!"), "malformed Authorization");
    EXPECT_EQ(fail("Basic a"), "malformed Authorization");
    EXPECT_EQ(fail("Basic ab=c"), "malformed Authorization");
    EXPECT_EQ(fail("Basic"), "malformed Authorization");
    EXPECT_EQ(fail("Basic " + std::string(5000, 'A')), "malformed Authorization");
    EXPECT_EQ(fail("Digest username=\"Mufasa\""), "unsupported scheme");
}

TEST(Authenticator, SchemeLists) {
    for (const std::vector<std::string>& off : {std::vector<std::string>{}, std::vector<std::string>{"none"}}) {
        Authenticator none(off, "r", {});
        EXPECT_FALSE(none.enabled());
        const auto r = check_on(none, request("/"), 0);
        EXPECT_TRUE(r.ok);
        EXPECT_TRUE(r.challenge_headers.empty());
    }
    EXPECT_THROW(Authenticator({"kerberos"}, "r", {}), std::invalid_argument);
    EXPECT_THROW(Authenticator({"Basic"}, "r", {}), std::invalid_argument);
    EXPECT_THROW(Authenticator({"none", "basic"}, "r", {}), std::invalid_argument);
    EXPECT_THROW(Authenticator({"digest", "digest"}, "r", {}), std::invalid_argument);
    const Authenticator a({"ntlm", "digest", "basic"}, "r", {});
    EXPECT_TRUE(a.enabled());
    EXPECT_EQ(a.schemes(), (std::vector<AuthScheme>{AuthScheme::Ntlm, AuthScheme::Digest, AuthScheme::Basic}));
}

TEST(Authenticator, RealmIsQuotedSafely) {
    Authenticator a({"basic"}, "my \"realm\"\r\nX-Injected: 1", {});
    EXPECT_EQ(check_on(a, request("/"), 0).challenge_headers,
              "WWW-Authenticate: Basic realm=\"my \\\"realm\\\"X-Injected: 1\"\r\n");
}

// ---------------------------------------------------------------------------------------------
// Scheme choice (MS-WMSP 2.2.1.9, 3.2.5.1)

http::HttpHead with_header(http::HttpHead h, std::string name, std::string value) {
    h.headers.push_back({std::move(name), std::move(value)});
    return h;
}

std::vector<std::string> lines_of(const std::string& headers) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < headers.size()) {
        const std::size_t end = headers.find("\r\n", at);
        EXPECT_NE(end, std::string::npos) << headers;
        if (end == std::string::npos) break;
        out.push_back(headers.substr(at, end - at));
        at = end + 2;
    }
    return out;
}

TEST(SchemeChoice, WithoutXAcceptEveryConfiguredSchemeIsOffered) {
    Authenticator a({"ntlm", "digest", "basic"}, "asfcast", {{"alice", "pw"}});
    const auto r = check_on(a, request("/"), kT0);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "no credentials");
    EXPECT_TRUE(r.refusal.empty());
    const auto lines = lines_of(r.challenge_headers);
    ASSERT_EQ(lines.size(), 3u) << r.challenge_headers;
    EXPECT_EQ(lines[0], "WWW-Authenticate: NTLM");
    EXPECT_EQ(lines[1].rfind("WWW-Authenticate: Digest realm=\"asfcast\", nonce=\"", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2], "WWW-Authenticate: Basic realm=\"asfcast\"");
    EXPECT_TRUE(r.keep_connection) << "NTLM offered: the 401 keeps the connection (MS-WMSP 3.2.5.1)";

    Authenticator d({"digest", "basic"}, "asfcast", {{"alice", "pw"}});
    const auto rd = check_on(d, request("/"), kT0);
    EXPECT_EQ(lines_of(rd.challenge_headers).size(), 2u);
    EXPECT_FALSE(rd.keep_connection);
}

TEST(SchemeChoice, TheClientsMostPreferredSchemeAmongOurs) {
    // Our order is not the client's: the client's preference decides (3.2.5.1).
    Authenticator a({"basic", "digest", "ntlm"}, "asfcast", {{"alice", "pw"}});
    const auto spec = with_header(request("/"), "X-Accept-Authentication", "Negotiate, NTLM, Digest");  // §4.11
    auto r = check_on(a, spec, kT0);
    EXPECT_EQ(r.challenge_headers, "WWW-Authenticate: NTLM\r\n");
    EXPECT_TRUE(r.keep_connection);

    Authenticator d({"basic", "digest"}, "asfcast", {{"alice", "pw"}});
    r = check_on(d, spec, kT0);
    ASSERT_EQ(lines_of(r.challenge_headers).size(), 1u) << r.challenge_headers;
    EXPECT_EQ(r.challenge_headers.rfind("WWW-Authenticate: Digest ", 0), 0u);
    EXPECT_FALSE(r.keep_connection);

    // Several headers are one list in order; tokens are case-insensitive.
    auto two = with_header(with_header(request("/"), "X-Accept-Authentication", "Negotiate"),
                           "X-Accept-Authentication", "basic , DIGEST");
    r = check_on(d, two, kT0);
    EXPECT_EQ(r.challenge_headers, "WWW-Authenticate: Basic realm=\"asfcast\"\r\n");
}

TEST(SchemeChoice, AClientAcceptingNoneOfOursIsRefusedNotChallenged) {
    Authenticator b({"basic"}, "asfcast", {{"alice", "pw"}});
    const auto spec = with_header(request("/"), "X-Accept-Authentication", "Negotiate, NTLM, Digest");
    auto r = check_on(b, spec, kT0);
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.challenge_headers.empty()) << "a challenge the client cannot answer";
    EXPECT_EQ(r.refusal,
              "authentication required: this server accepts Basic; the client accepts only Negotiate, NTLM, Digest "
              "(X-Accept-Authentication)");
    // Credentials it sends anyway still count.
    EXPECT_TRUE(check_on(b, with_header(spec, "Authorization", "Basic " + base64("alice:pw")), kT0).ok);
    // Only tokens of the client's list are repeated.
    r = check_on(b, with_header(request("/"), "X-Accept-Authentication", "<b>x</b>, Kerberos"), kT0);
    EXPECT_EQ(r.refusal.find('<'), std::string::npos) << r.refusal;
    EXPECT_NE(r.refusal.find("Kerberos"), std::string::npos) << r.refusal;
}

// ---------------------------------------------------------------------------------------------
// NTLM (MS-NLMP 3.2.5.1): connection-oriented, NTLMv2

constexpr std::uint64_t kFiletime = 133'444'736'000'000'000ull;  // 2023-11-16, as a FILETIME
constexpr std::uint64_t kHour = 36'000'000'000ull;                // FILETIME units

std::string b64(ByteView b) { return base64(std::string(b.begin(), b.end())); }

Bytes unbase64(std::string_view s) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    Bytes out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : s) {
        const int v = value(c);
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

// The CHALLENGE_MESSAGE of a "WWW-Authenticate: NTLM <base64>" line.
Bytes challenge_of(const std::string& headers, std::string_view scheme = "NTLM") {
    const std::string prefix = "WWW-Authenticate: " + std::string(scheme) + " ";
    EXPECT_EQ(headers.rfind(prefix, 0), 0u) << headers;
    if (headers.rfind(prefix, 0) != 0) return {};
    return unbase64(std::string_view(headers).substr(prefix.size()));
}

class Ntlm : public ::testing::Test {
protected:
    std::uint64_t server_time_ = kFiletime;  // the wall clock the Authenticator sees
    Authenticator auth_{std::vector<std::string>{"ntlm"}, "asfcast", {{"Alice", "s3cret pass"}, {"bob", "pw2"}},
                        [this] { return server_time_; }};

    struct Login {
        Bytes negotiate, challenge, authenticate;
        Authenticator::Result step2, step3;
    };
    // NEGOTIATE, then the AUTHENTICATE answering the server's CHALLENGE (the push client's code).
    Login login(std::uint64_t connection, const std::string& user, const std::string& password,
                std::int64_t t = kT0, std::int64_t answer_after_us = 1000) {
        Login l;
        l.negotiate = ntlm::negotiate_message();
        l.step2 = auth_.check(request("/", "NTLM " + b64(l.negotiate)), connection, t);
        l.challenge = challenge_of(l.step2.challenge_headers);
        ntlm::AuthInputs in;
        in.user = user;
        in.password = password;
        in.domain = "WORKGROUP";
        in.workstation = "DIST1";
        in.client_challenge.fill(0x42);
        in.random_session_key.fill(0x17);
        std::string error;
        auto msg = ntlm::authenticate_message(l.negotiate, l.challenge, in, &error);
        EXPECT_TRUE(msg) << error;
        if (!msg) return l;
        l.authenticate = *msg;
        l.step3 = auth_.check(request("/", "NTLM " + b64(l.authenticate)), connection, t + answer_after_us);
        return l;
    }
};

TEST_F(Ntlm, ThreeStepsAuthenticateTheConnection) {
    const Login l = login(1, "Alice", "s3cret pass");
    // Step 2: 401 with the CHALLENGE_MESSAGE; not a failure, and the connection stays open.
    EXPECT_FALSE(l.step2.ok);
    EXPECT_TRUE(l.step2.failure.empty()) << l.step2.failure;
    EXPECT_TRUE(l.step2.keep_connection);
    std::string error;
    const auto c = ntlm::parse_challenge(l.challenge, &error);
    ASSERT_TRUE(c) << error;
    EXPECT_TRUE((c->flags & ntlm::kTargetInfo) != 0u);
    EXPECT_TRUE((c->flags & ntlm::kUnicode) != 0u);
    EXPECT_TRUE((c->flags & ntlm::kNtlm) != 0u);
    ASSERT_TRUE(c->timestamp);
    EXPECT_EQ(*c->timestamp, kFiletime);
    const Bytes domain = ntlm::utf16le("ASFCAST");  // MsvAvNbDomainName from the realm
    EXPECT_NE(std::search(c->target_info.begin(), c->target_info.end(), domain.begin(), domain.end()),
              c->target_info.end());
    // Step 3: authenticated.
    EXPECT_TRUE(l.step3.ok) << l.step3.failure;
    EXPECT_EQ(l.step3.user, "Alice");
    EXPECT_EQ(l.step3.scheme, "NTLM");
    // Later requests on that connection need no Authorization; another connection does.
    auto r = auth_.check(request("/"), 1, kT0 + 5'000'000);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.user, "Alice");
    r = auth_.check(request("/"), 2, kT0 + 5'000'000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "no credentials");
    EXPECT_EQ(r.challenge_headers, "WWW-Authenticate: NTLM\r\n");
    // Closed: forgotten.
    auth_.connection_closed(1);
    EXPECT_FALSE(auth_.check(request("/"), 1, kT0 + 6'000'000).ok);
    EXPECT_EQ(auth_.ntlm_connections(), 0u);
}

TEST_F(Ntlm, UserNamesAreCaseInsensitive) {
    const Login l = login(1, "ALICE", "s3cret pass");
    EXPECT_TRUE(l.step3.ok) << l.step3.failure;
    EXPECT_EQ(l.step3.user, "Alice");
}

TEST_F(Ntlm, WrongPasswordOrUnknownUser) {
    Login l = login(1, "Alice", "s3cret Pass");
    EXPECT_FALSE(l.step3.ok);
    EXPECT_EQ(l.step3.failure, "wrong password");
    EXPECT_EQ(l.step3.challenge_headers, "WWW-Authenticate: NTLM\r\n");
    EXPECT_FALSE(auth_.check(request("/"), 1, kT0 + 5'000'000).ok);
    l = login(2, "mallory", "s3cret pass");
    EXPECT_EQ(l.step3.failure, "unknown user");
    for (const auto* r : {&l.step2, &l.step3}) {
        EXPECT_EQ(r->failure.find("s3cret"), std::string::npos);
        EXPECT_EQ(r->challenge_headers.find("s3cret"), std::string::npos);
    }
}

TEST_F(Ntlm, TheChallengeBelongsToItsConnectionAndIsAnsweredOnce) {
    // NEGOTIATE on connection 1, AUTHENTICATE on connection 2.
    const Bytes negotiate = ntlm::negotiate_message();
    const auto step2 = auth_.check(request("/", "NTLM " + b64(negotiate)), 1, kT0);
    ntlm::AuthInputs in;
    in.user = "Alice";
    in.password = "s3cret pass";
    std::string error;
    const auto msg = ntlm::authenticate_message(negotiate, challenge_of(step2.challenge_headers), in, &error);
    ASSERT_TRUE(msg) << error;
    auto r = auth_.check(request("/", "NTLM " + b64(*msg)), 2, kT0 + 1000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "AUTHENTICATE_MESSAGE without a CHALLENGE_MESSAGE on this connection");
    // On its own connection it works, once.
    r = auth_.check(request("/", "NTLM " + b64(*msg)), 1, kT0 + 2000);
    EXPECT_TRUE(r.ok) << r.failure;
    r = auth_.check(request("/", "NTLM " + b64(*msg)), 1, kT0 + 3000);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(auth_.check(request("/"), 1, kT0 + 4000).ok) << "a failed AUTHENTICATE ends the connection's login";
    // Replayed after a new challenge on another connection: the proof was for the old challenge.
    const auto again = auth_.check(request("/", "NTLM " + b64(negotiate)), 3, kT0 + 5000);
    EXPECT_FALSE(again.challenge_headers.empty());
    r = auth_.check(request("/", "NTLM " + b64(*msg)), 3, kT0 + 6000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.failure, "wrong password");
}

TEST_F(Ntlm, ExpiredChallengeAndTimestampsFarFromTheClock) {
    Login l = login(1, "Alice", "s3cret pass", kT0, Authenticator::kNtlmChallengeLifetimeUs + 1);
    EXPECT_EQ(l.step3.failure, "NTLM challenge expired");
    // The client echoes our MsvAvTimestamp; a clock that moved 37 h since is beyond MaxLifetime.
    server_time_ = kFiletime;
    const Bytes negotiate = ntlm::negotiate_message();
    const auto step2 = auth_.check(request("/", "NTLM " + b64(negotiate)), 2, kT0);
    ntlm::AuthInputs in;
    in.user = "Alice";
    in.password = "s3cret pass";
    std::string error;
    const auto msg = ntlm::authenticate_message(negotiate, challenge_of(step2.challenge_headers), in, &error);
    ASSERT_TRUE(msg) << error;
    server_time_ = kFiletime + 37 * kHour;
    auto r = auth_.check(request("/", "NTLM " + b64(*msg)), 2, kT0 + 1000);
    EXPECT_EQ(r.failure, "NTLMv2 timestamp too far from the server's clock");
    // 35 h is within it.
    server_time_ = kFiletime;
    const auto step2b = auth_.check(request("/", "NTLM " + b64(negotiate)), 3, kT0);
    const auto msg2 = ntlm::authenticate_message(negotiate, challenge_of(step2b.challenge_headers), in, &error);
    ASSERT_TRUE(msg2) << error;
    server_time_ = kFiletime + 35 * kHour;
    r = auth_.check(request("/", "NTLM " + b64(*msg2)), 3, kT0 + 1000);
    EXPECT_TRUE(r.ok) << r.failure;
}

TEST_F(Ntlm, MalformedTokensGetAFreshChallenge) {
    for (const std::string& authorization :
         {std::string("NTLM"), std::string("NTLM !!!!"), std::string("NTLM ") + base64("NTLMSSP"),
          "NTLM " + base64(std::string("NTLMSSP\0\x09\0\0\0", 12)), "NTLM " + base64(std::string("XTLMSSP\0\x01\0\0\0", 12)),
          "NTLM " + base64(std::string("NTLMSSP\0\x03\0\0\0", 12) + std::string(60, '\xff'))}) {
        const auto r = auth_.check(request("/", authorization), 1, kT0);
        EXPECT_FALSE(r.ok) << authorization;
        EXPECT_FALSE(r.failure.empty()) << authorization;
        EXPECT_EQ(r.challenge_headers, "WWW-Authenticate: NTLM\r\n") << authorization;
    }
    EXPECT_EQ(auth_.ntlm_connections(), 0u);
}

TEST_F(Ntlm, NegotiateSchemeCarryingNtlmIsAnsweredInKind) {
    // Windows' SSPI "Negotiate" falling back to a raw NTLMSSP token.
    const auto r = auth_.check(request("/", "Negotiate " + b64(ntlm::negotiate_message())), 1, kT0);
    EXPECT_FALSE(challenge_of(r.challenge_headers, "Negotiate").empty());
}

}  // namespace
}  // namespace asfcast::pull
