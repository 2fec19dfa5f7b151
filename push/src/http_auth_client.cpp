#include "asfcast/push/http_auth_client.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "asfcast/core/http_digest.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/push/wmhttp_wire.hpp"
#include "ntlm.hpp"

namespace asfcast::push {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t'; }

bool is_token68_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

struct Cursor {
    std::string_view s;
    std::size_t i = 0;
    bool end() const { return i >= s.size(); }
    char peek() const { return end() ? '\0' : s[i]; }
    void skip_ws() {
        while (!end() && is_ws(s[i])) ++i;
    }
    std::string_view token() {
        const std::size_t b = i;
        while (!end() && http::is_token_char(s[i])) ++i;
        return s.substr(b, i - b);
    }
};

// name ws* "=" follows at the cursor (without consuming it).
bool param_follows(Cursor c) {
    c.skip_ws();
    if (c.token().empty()) return false;
    c.skip_ws();
    return c.peek() == '=';
}

void parse_value(std::string_view v, std::vector<AuthChallenge>& out) {
    Cursor c{v};
    while (true) {
        while (!c.end() && (is_ws(c.peek()) || c.peek() == ',')) ++c.i;
        if (c.end()) break;
        const std::string_view scheme = c.token();
        if (scheme.empty()) {
            // Not a challenge: skip to the next comma.
            while (!c.end() && c.peek() != ',') ++c.i;
            continue;
        }
        AuthChallenge ch;
        ch.scheme = std::string(scheme);
        c.skip_ws();
        // token68 ("NTLM TlRMTVNT...==")?
        {
            Cursor t = c;
            const std::size_t b = t.i;
            while (!t.end() && is_token68_char(t.peek())) ++t.i;
            const bool had_chars = t.i > b;
            while (!t.end() && t.peek() == '=') ++t.i;
            const std::size_t e = t.i;
            t.skip_ws();
            if (had_chars && (t.end() || t.peek() == ',')) {
                ch.token = std::string(c.s.substr(b, e - b));
                c = t;
                out.push_back(std::move(ch));
                continue;
            }
        }
        while (true) {
            c.skip_ws();
            if (!param_follows(c)) break;
            const std::string name = lower(c.token());
            c.skip_ws();
            ++c.i;  // '='
            c.skip_ws();
            std::string value;
            if (c.peek() == '"') {
                ++c.i;
                while (!c.end() && c.peek() != '"') {
                    if (c.peek() == '\\' && c.i + 1 < c.s.size()) ++c.i;
                    value.push_back(c.s[c.i++]);
                }
                if (!c.end()) ++c.i;  // closing quote
            } else {
                value = std::string(c.token());
            }
            ch.params.emplace_back(name, std::move(value));
            c.skip_ws();
            if (c.peek() != ',') break;
            while (!c.end() && (is_ws(c.peek()) || c.peek() == ',')) ++c.i;
        }
        out.push_back(std::move(ch));
        // Anything unexpected up to the next comma is dropped.
        c.skip_ws();
        if (!c.end() && c.peek() != ',' && !http::is_token_char(c.peek())) {
            while (!c.end() && c.peek() != ',') ++c.i;
        }
    }
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

bool iequal(std::string_view a, std::string_view b) { return http::iequals(a, b); }

// "auth" when offered, "" when the challenge has no qop (RFC 2069 compatibility), nullopt when
// only auth-int is offered.
std::optional<std::string> choose_qop(const std::string* qop) {
    if (!qop) return std::string();
    std::string_view rest = *qop;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        while (!item.empty() && is_ws(item.front())) item.remove_prefix(1);
        while (!item.empty() && is_ws(item.back())) item.remove_suffix(1);
        if (iequal(item, "auth")) return std::string("auth");
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return std::nullopt;
}

std::string default_random(std::size_t bytes) {
    std::string out(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    return out;
}

std::uint64_t default_filetime() {
    using namespace std::chrono;
    const auto unix_100ns = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count() / 100;
    return static_cast<std::uint64_t>(unix_100ns) + 116444736000000000ULL;
}

}  // namespace

const std::string* AuthChallenge::param(std::string_view name) const {
    for (const auto& [k, v] : params)
        if (iequal(k, name)) return &v;
    return nullptr;
}

std::vector<AuthChallenge> parse_challenges(const std::vector<std::string_view>& values) {
    std::vector<AuthChallenge> out;
    for (auto v : values) parse_value(v, out);
    return out;
}

HttpAuthClient::HttpAuthClient(std::string user, std::string password, std::string domain, std::string workstation)
    : user_(std::move(user)),
      password_(std::move(password)),
      domain_(std::move(domain)),
      workstation_(std::move(workstation)),
      random_(default_random),
      filetime_now_(default_filetime) {}

HttpAuthClient::~HttpAuthClient() = default;
HttpAuthClient::HttpAuthClient(HttpAuthClient&&) noexcept = default;
HttpAuthClient& HttpAuthClient::operator=(HttpAuthClient&&) noexcept = default;

void HttpAuthClient::set_random_source(std::function<std::string(std::size_t)> random) { random_ = std::move(random); }
void HttpAuthClient::set_ntlm_time(std::function<std::uint64_t()> filetime_now) {
    filetime_now_ = std::move(filetime_now);
}

std::string HttpAuthClient::random_hex(std::size_t bytes) {
    const std::string r = random_(bytes);
    std::string out;
    for (unsigned char c : r) out += fmt::format("{:02x}", c);
    return out;
}

std::string HttpAuthClient::scheme_name() const {
    switch (scheme_) {
        case Scheme::basic: return "Basic";
        case Scheme::digest: return "Digest";
        case Scheme::ntlm: return ntlm_prefix_.empty() ? "NTLM" : ntlm_prefix_;
        default: return "";
    }
}

HttpAuthClient::Decision HttpAuthClient::on_unauthorized(const std::vector<std::string_view>& www_authenticate,
                                                         bool connection_kept) {
    Decision d;
    const auto challenges = parse_challenges(www_authenticate);
    const AuthChallenge* digest = nullptr;
    const AuthChallenge* basic = nullptr;
    const AuthChallenge* ntlm = nullptr;
    for (const auto& c : challenges) {
        if (!digest && iequal(c.scheme, "Digest")) digest = &c;
        if (!basic && iequal(c.scheme, "Basic")) basic = &c;
        if (iequal(c.scheme, "NTLM") || iequal(c.scheme, "Negotiate")) {
            // Prefer NTLM over Negotiate; keep the one carrying a token when mid-handshake.
            if (!ntlm || (!c.token.empty() && ntlm->token.empty()) || (iequal(c.scheme, "NTLM") && ntlm->token.empty()))
                ntlm = &c;
        }
    }
    if (!has_credentials()) {
        d.outcome = Outcome::bad_credentials;
        d.detail = "the server requires authentication and no user is configured";
        return d;
    }
    if (++failed_rounds_ > 6) {
        d.outcome = Outcome::bad_credentials;
        d.detail = "authentication did not complete after several attempts";
        return d;
    }
    const Sent sent = last_sent_;
    last_sent_ = Sent::none;

    // An NTLM handshake in progress continues with the server's CHALLENGE_MESSAGE.
    if (scheme_ == Scheme::ntlm && ntlm_step_ == 2 && ntlm && !ntlm->token.empty()) {
        auto raw = base64_decode(ntlm->token);
        if (!raw) {
            d.outcome = Outcome::unsupported;
            d.detail = "malformed NTLM challenge";
            return d;
        }
        if (!connection_kept) {
            d.outcome = Outcome::unsupported;
            d.detail = "the server closed the connection during the NTLM handshake";
            return d;
        }
        ntlm_challenge_ = std::move(*raw);
        ntlm_step_ = 3;
        d.outcome = Outcome::retry_same_connection;
        return d;
    }

    if (digest) {
        const std::string* nonce = digest->param("nonce");
        const std::string* algorithm = digest->param("algorithm");
        const auto qop = choose_qop(digest->param("qop"));
        const bool md5 = !algorithm || iequal(*algorithm, "MD5") || iequal(*algorithm, "MD5-sess");
        if (nonce && qop && md5) {
            const std::string* stale = digest->param("stale");
            d.stale = stale && iequal(*stale, "true");
            if (scheme_ == Scheme::digest && sent == Sent::fresh && !d.stale) {
                d.outcome = Outcome::bad_credentials;
                d.detail = "Digest credentials refused";
                return d;
            }
            scheme_ = Scheme::digest;
            const std::string* realm = digest->param("realm");
            const std::string* opaque = digest->param("opaque");
            realm_ = realm ? *realm : std::string();
            nonce_ = *nonce;
            opaque_ = opaque ? *opaque : std::string();
            algorithm_ = algorithm ? *algorithm : std::string();
            qop_ = *qop;
            nc_ = 0;
            fresh_pending_ = true;
            d.outcome = Outcome::retry_new_connection;
            return d;
        }
    }
    if (ntlm) {
        if (scheme_ == Scheme::ntlm && sent != Sent::none && ntlm_step_ == 4) {
            d.outcome = Outcome::bad_credentials;
            d.detail = "NTLM credentials refused";
            return d;
        }
        scheme_ = Scheme::ntlm;
        ntlm_prefix_ = iequal(ntlm->scheme, "Negotiate") ? "Negotiate" : "NTLM";
        ntlm_step_ = 1;
        ntlm_challenge_.clear();
        d.outcome = connection_kept ? Outcome::retry_same_connection : Outcome::retry_new_connection;
        return d;
    }
    if (basic) {
        if (scheme_ == Scheme::basic && sent != Sent::none) {
            d.outcome = Outcome::bad_credentials;
            d.detail = "Basic credentials refused";
            return d;
        }
        scheme_ = Scheme::basic;
        fresh_pending_ = true;
        d.outcome = Outcome::retry_new_connection;
        return d;
    }
    d.outcome = Outcome::unsupported;
    std::string offered;
    for (const auto& c : challenges) offered += (offered.empty() ? "" : ", ") + c.scheme;
    d.detail = offered.empty() ? "401 without a usable WWW-Authenticate challenge"
                               : "no supported authentication scheme offered (" + offered + ")";
    return d;
}

std::string HttpAuthClient::digest_header(std::string_view user, std::string_view password, std::string_view realm,
                                          std::string_view nonce, std::string_view opaque, std::string_view algorithm,
                                          std::string_view qop, std::uint32_t nc, std::string_view cnonce,
                                          std::string_view method, std::string_view uri) {
    std::string ha1 = http::digest_ha1(user, realm, password);
    if (iequal(algorithm, "MD5-sess")) ha1 = http::md5_hex(ha1 + ":" + std::string(nonce) + ":" + std::string(cnonce));
    const std::string ha2 = http::digest_ha2(method, uri);
    const std::string ncs = fmt::format("{:08x}", nc);
    const std::string response = http::digest_response(ha1, nonce, ncs, cnonce, qop, ha2);
    std::string h = "Digest username=" + quote(user) + ", realm=" + quote(realm) + ", nonce=" + quote(nonce) +
                    ", uri=" + quote(uri);
    if (!algorithm.empty()) h += ", algorithm=" + std::string(algorithm);
    h += ", response=" + quote(response);
    if (!opaque.empty()) h += ", opaque=" + quote(opaque);
    if (!qop.empty()) h += ", qop=" + std::string(qop) + ", nc=" + ncs + ", cnonce=" + quote(cnonce);
    return h;
}

std::string HttpAuthClient::authorization(std::string_view method, std::string_view uri) {
    switch (scheme_) {
        case Scheme::basic:
            last_sent_ = fresh_pending_ ? Sent::fresh : Sent::reused;
            fresh_pending_ = false;
            return "Basic " + base64_encode(user_ + ":" + password_);
        case Scheme::digest: {
            last_sent_ = fresh_pending_ ? Sent::fresh : Sent::reused;
            fresh_pending_ = false;
            ++nc_;
            const std::string cnonce = qop_.empty() && !iequal(algorithm_, "MD5-sess") ? std::string() : random_hex(8);
            return digest_header(user_, password_, realm_, nonce_, opaque_, algorithm_, qop_, nc_, cnonce, method, uri);
        }
        case Scheme::ntlm: {
            if (ntlm_step_ == 1) {
                ntlm_ = std::make_unique<NtlmClient>(ntlm_user(), password_, ntlm_domain(), workstation_, random_,
                                                     filetime_now_);
                ntlm_step_ = 2;
                last_sent_ = Sent::fresh;
                return ntlm_prefix_ + " " + base64_encode(ntlm_->negotiate_message());
            }
            if (ntlm_step_ == 3 && ntlm_) {
                std::string error;
                auto msg = ntlm_->authenticate_message(ntlm_challenge_, &error);
                ntlm_step_ = 4;
                last_sent_ = Sent::fresh;
                if (!msg) return std::string();  // the 401 that follows reports the failure
                return ntlm_prefix_ + " " + base64_encode(*msg);
            }
            last_sent_ = Sent::none;
            return std::string();  // an authenticated connection needs no header (MS-WMHTTP 1.7)
        }
        default:
            last_sent_ = Sent::none;
            return std::string();
    }
}

void HttpAuthClient::on_new_connection() {
    if (scheme_ == Scheme::ntlm) {
        ntlm_step_ = 1;  // every connection authenticates itself
        ntlm_challenge_.clear();
    }
}

void HttpAuthClient::on_success() { failed_rounds_ = 0; }

std::string HttpAuthClient::ntlm_user() const {
    if (domain_.empty()) {
        if (auto bs = user_.find('\\'); bs != std::string::npos) return user_.substr(bs + 1);
    }
    return user_;
}

std::string HttpAuthClient::ntlm_domain() const {
    if (domain_.empty()) {
        if (auto bs = user_.find('\\'); bs != std::string::npos) return user_.substr(0, bs);
    }
    return domain_;
}

}  // namespace asfcast::push
