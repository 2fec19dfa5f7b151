// Client side of HTTP access authentication for the push client: Basic and Digest (RFC 2617:
// MD5 and MD5-sess, qop=auth or none, nonce counting, stale nonces), and NTLMv2 (MS-NLMP, also
// answered to "Negotiate" challenges with raw NTLM tokens as Windows Media Services accepts).
// Credentials stay in this object; nothing here logs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asfcast::push {

struct AuthChallenge {
    std::string scheme;  // as sent ("Digest", "Basic", "NTLM", "Negotiate", ...)
    std::vector<std::pair<std::string, std::string>> params;  // names lowercased, values unquoted
    std::string token;   // token68 form ("NTLM TlRMTVNT...")

    const std::string* param(std::string_view name) const;
};

// Every challenge in the WWW-Authenticate values (several per value allowed, RFC 7235 4.1).
// Malformed parts are skipped.
std::vector<AuthChallenge> parse_challenges(const std::vector<std::string_view>& values);

class NtlmClient;

class HttpAuthClient {
public:
    enum class Outcome {
        retry_new_connection,   // resend on a new TCP connection (MS-WMHTTP 3.1.5.1)
        retry_same_connection,  // connection-based scheme mid-handshake (NTLM): resend on this one
        bad_credentials,        // our credentials were refused, or none are configured
        unsupported,            // no scheme we can answer
    };
    struct Decision {
        Outcome outcome = Outcome::unsupported;
        std::string detail;     // for the operator; never holds credentials
        bool stale = false;     // a Digest stale nonce: not a failure
    };

    HttpAuthClient(std::string user, std::string password, std::string domain = {},
                   std::string workstation = {});
    ~HttpAuthClient();
    HttpAuthClient(HttpAuthClient&&) noexcept;
    HttpAuthClient& operator=(HttpAuthClient&&) noexcept;

    bool has_credentials() const { return !user_.empty(); }

    // A 401 arrived for the last request. `connection_kept` says whether the server keeps the
    // connection open (NTLM needs it).
    Decision on_unauthorized(const std::vector<std::string_view>& www_authenticate, bool connection_kept);

    // Authorization header value for the next request, empty when none is to be sent. Digest:
    // counts the nonce (nc) on every call; reuses the last nonce preemptively on later requests.
    std::string authorization(std::string_view method, std::string_view uri);

    // A new TCP connection starts: an NTLM handshake in progress cannot continue on it.
    void on_new_connection();
    // The request was accepted: the next 401 is a fresh challenge again.
    void on_success();

    std::string scheme() const { return scheme_name(); }

    // For tests: fixed client nonces (Digest cnonce, NTLM client challenge) and NTLM time.
    void set_random_source(std::function<std::string(std::size_t bytes)> random);
    void set_ntlm_time(std::function<std::uint64_t()> filetime_now);

    // Exposed for tests (RFC 2617 3.5): the Digest header for explicit values.
    static std::string digest_header(std::string_view user, std::string_view password, std::string_view realm,
                                     std::string_view nonce, std::string_view opaque, std::string_view algorithm,
                                     std::string_view qop, std::uint32_t nc, std::string_view cnonce,
                                     std::string_view method, std::string_view uri);

private:
    enum class Scheme { none, basic, digest, ntlm };
    enum class Sent { none, fresh, reused };
    std::string scheme_name() const;
    // "DOMAIN\\user" selects the NTLM domain; Basic and Digest send the name as written.
    std::string ntlm_user() const;
    std::string ntlm_domain() const;
    std::string random_hex(std::size_t bytes);

    std::string user_, password_, domain_, workstation_;
    Scheme scheme_ = Scheme::none;
    Sent last_sent_ = Sent::none;
    bool fresh_pending_ = false;  // a new challenge/nonce not used yet
    int failed_rounds_ = 0;        // consecutive 401s without success

    // Digest
    std::string realm_, nonce_, opaque_, algorithm_, qop_;
    std::uint32_t nc_ = 0;

    // NTLM
    std::string ntlm_prefix_;  // "NTLM" or "Negotiate"
    std::unique_ptr<NtlmClient> ntlm_;
    int ntlm_step_ = 0;        // 0 none, 1 negotiate to send, 2 negotiate sent, 3 authenticate to send, 4 sent
    std::string ntlm_challenge_;

    std::function<std::string(std::size_t)> random_;
    std::function<std::uint64_t()> filetime_now_;
};

}  // namespace asfcast::push
