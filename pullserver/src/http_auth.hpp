// Pull-client authentication: HTTP Basic (RFC 7617), Digest (RFC 2617, MD5, qop=auth or none) and
// NTLM (MS-NLMP NTLMv2, connection-oriented, as HTTP carries it: "WWW-Authenticate: NTLM").
// The preset lists the schemes offered; the challenge follows what the client's
// X-Accept-Authentication accepts (MS-WMSP 2.2.1.9, 3.2.5.1), and a client that accepts none of
// them is refused with a text naming both sides instead of a challenge it cannot answer.
// Digest nonces are stateless: a timestamp and its HMAC under a per-process secret, so nothing is
// stored per client and a nonce from before a restart is simply refused with a fresh challenge.
// NTLM authenticates a connection: its state (the challenge sent, then the user) is kept per
// connection id until the edge reports the connection closed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "asfcast/core/http_head.hpp"
#include "asfcast/core/ntlm.hpp"
#include "asfcast/pullserver/pullserver.hpp"

namespace asfcast::pull {

enum class AuthScheme { Basic, Digest, Ntlm };

// "basic", "digest", "ntlm" (as in presets) -> the scheme; nullopt otherwise.
std::optional<AuthScheme> auth_scheme_from_name(std::string_view name);
// The scheme's token on the wire: "Basic", "Digest", "NTLM".
std::string_view auth_scheme_token(AuthScheme scheme);

// Wall-clock time as a FILETIME (100 ns since 1601-01-01 UTC; MS-DTYP 2.3.3): NTLM timestamps.
std::uint64_t filetime_now();

class Authenticator {
public:
    static constexpr std::int64_t kNonceLifetimeUs = 5 * 60 * 1'000'000LL;
    // An NTLM challenge must be answered on its connection within this time.
    static constexpr std::int64_t kNtlmChallengeLifetimeUs = 2 * 60 * 1'000'000LL;
    // MS-NLMP 3.1.1.1 MaxLifetime (36 hours on current Windows): an NTLMv2 answer whose timestamp is
    // further than this from our clock is refused (3.2.5.1.2).
    static constexpr std::uint64_t kNtlmMaxLifetime = 36ull * 3600 * 10'000'000;  // FILETIME units
    // Connections with NTLM state kept at most (the edge limits connections, and reports each close).
    static constexpr std::size_t kMaxNtlmConnections = 100'000;

    // schemes: names from auth_scheme_from_name, in order of preference; empty (or only "none"):
    // no authentication. Throws std::invalid_argument naming an unknown or repeated scheme.
    // `clock` gives the wall-clock FILETIME for NTLM (tests pass a fixed one).
    Authenticator(const std::vector<std::string>& schemes, std::string realm, std::vector<PullUser> users,
                  std::function<std::uint64_t()> clock = filetime_now);

    struct Result {
        bool ok = false;
        std::string user;               // the authenticated user name
        std::string scheme;             // the scheme that authenticated ("Basic", "Digest", "NTLM")
        // "WWW-Authenticate: ...\r\n" lines for a 401, one per scheme offered (empty when ok or refused).
        std::string challenge_headers;
        // The 401 must keep the connection open: NTLM authenticates the connection it runs on
        // (MS-WMSP 3.2.5.1: the server SHOULD NOT close it after an NTLM challenge).
        bool keep_connection = false;
        // The client's X-Accept-Authentication names none of our schemes: no challenge could be
        // answered. Holds the text for a 403 naming what we offer and what the client accepts.
        std::string refusal;
        // Short reason for logs; never holds a secret. Empty for the NTLM CHALLENGE step, which is
        // the handshake going on rather than a failure.
        std::string failure;
    };
    // Checks a request that arrived on `connection_id` (the edge's number for the TCP connection):
    // its Authorization header, or the NTLM authentication of that connection. `now_us` is a
    // monotonic clock in microseconds (it dates Digest nonces and NTLM challenges).
    Result check(const http::HttpHead& request, std::uint64_t connection_id, std::int64_t now_us);
    // The edge closed the connection: its NTLM state goes.
    void connection_closed(std::uint64_t connection_id);

    bool enabled() const { return !schemes_.empty(); }
    const std::vector<AuthScheme>& schemes() const { return schemes_; }
    std::size_t ntlm_connections() const { return ntlm_.size(); }
    // A fresh nonce for `now_us` (exposed for tests).
    std::string make_nonce(std::int64_t now_us) const;

private:
    struct NtlmConnection {
        bool authenticated = false;
        std::string user;                  // when authenticated
        Bytes negotiate, challenge;        // the exchange in progress (for the MIC)
        ntlm::Challenge8 server_challenge{};
        std::int64_t challenged_at_us = 0;
    };
    bool offers(AuthScheme s) const;
    Result check_basic(std::string_view credentials) const;
    Result check_digest(std::string_view credentials, const http::HttpHead& request, std::int64_t now_us) const;
    Result check_ntlm(std::string_view token, std::string_view wire_scheme, const http::HttpHead& request,
                      std::uint64_t connection_id, std::int64_t now_us);
    // The challenge (or the refusal) for a request that did not authenticate.
    void challenge(Result& r, const http::HttpHead& request, std::int64_t now_us, bool digest_stale) const;
    std::string challenge_line(AuthScheme s, std::int64_t now_us, bool digest_stale) const;
    const PullUser* find_user(std::string_view name) const;
    const PullUser* find_user_ignoring_case(std::string_view name) const;
    void forget_expired_challenges(std::int64_t now_us);

    std::vector<AuthScheme> schemes_;
    std::string realm_;
    std::vector<PullUser> users_;
    std::function<std::uint64_t()> clock_;
    ntlm::ServerNames ntlm_names_;
    std::array<std::uint8_t, 32> secret_{};  // nonce HMAC key, from RAND_bytes
    std::unordered_map<std::uint64_t, NtlmConnection> ntlm_;
};

}  // namespace asfcast::pull
