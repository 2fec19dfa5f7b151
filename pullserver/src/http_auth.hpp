// Pull-client authentication: HTTP Basic (RFC 7617) and Digest (RFC 2617, MD5, qop=auth or none).
// Digest nonces are stateless: a timestamp and its HMAC under a per-process secret, so nothing is
// stored per client and a nonce from before a restart is simply refused with a fresh challenge.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "asfcast/core/http_head.hpp"
#include "asfcast/pullserver/pullserver.hpp"

namespace asfcast::pull {

class Authenticator {
public:
    static constexpr std::int64_t kNonceLifetimeUs = 5 * 60 * 1'000'000LL;

    // mode: "none", "basic" or "digest"; throws std::invalid_argument for anything else.
    Authenticator(std::string mode, std::string realm, std::vector<PullUser> users);

    struct Result {
        bool ok = false;
        std::string user;              // the authenticated user name
        std::string challenge_header;  // "WWW-Authenticate: ...\r\n" to send with a 401 (empty when ok)
        std::string failure;           // short reason for logs; never holds a secret
    };
    // Checks the request's Authorization header. `now_us` is a monotonic clock in microseconds
    // (it dates the nonces).
    Result check(const http::HttpHead& request, std::int64_t now_us) const;

    bool enabled() const { return mode_ != Mode::None; }
    // A fresh nonce for `now_us` (exposed for tests).
    std::string make_nonce(std::int64_t now_us) const;

private:
    enum class Mode { None, Basic, Digest };
    Result check_basic(std::string_view credentials) const;
    Result check_digest(std::string_view credentials, const http::HttpHead& request, std::int64_t now_us) const;
    std::string challenge(std::int64_t now_us, bool stale) const;
    const PullUser* find_user(std::string_view name) const;

    Mode mode_;
    std::string realm_;
    std::vector<PullUser> users_;
    std::array<std::uint8_t, 32> secret_{};  // nonce HMAC key, from RAND_bytes
};

}  // namespace asfcast::pull
