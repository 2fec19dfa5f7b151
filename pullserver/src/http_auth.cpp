#include "http_auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "asfcast/core/http_digest.hpp"

namespace asfcast::pull {
namespace {

using http::iequals;

constexpr std::size_t kMaxCredentialChars = 4096;  // bounds the work done on hostile input
constexpr std::size_t kMaxParams = 32;

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        s.push_back(kDigits[p[i] >> 4]);
        s.push_back(kDigits[p[i] & 15]);
    }
    return s;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL SHA-256 failed");
    return to_hex(md, len);
}

// Equal-length digests compared in constant time, so neither content nor length of the password leaks.
bool same_secret(std::string_view a, std::string_view b) {
    return http::constant_time_equal(sha256_hex(a), sha256_hex(b));
}

// RFC 4648 base64 (Basic credentials); missing '=' padding is tolerated.
std::optional<std::string> base64_decode(std::string_view in) {
    in = trim(in);
    if (in.empty() || in.size() > kMaxCredentialChars || in.size() % 4 == 1) return std::nullopt;
    std::string padded(in);
    while (padded.size() % 4) padded.push_back('=');
    std::size_t pad = 0;
    while (pad < 2 && padded[padded.size() - 1 - pad] == '=') ++pad;
    for (std::size_t i = 0; i < padded.size() - pad; ++i) {
        const char c = padded[i];
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return std::nullopt;
    }
    std::string out(padded.size() / 4 * 3, '\0');
    // EVP_DecodeBlock counts the bytes that padding stands for as zeros; drop them.
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
    if (n < 0 || static_cast<std::size_t>(n) < pad) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

// auth-param list of RFC 7235 2.1: name=token or name="quoted \" string", comma separated, any
// order and spacing. Duplicate names are refused (which one would count is ambiguous).
using Params = std::vector<std::pair<std::string, std::string>>;

std::optional<Params> parse_params(std::string_view s) {
    Params out;
    std::size_t i = 0;
    auto skip_space = [&] { while (i < s.size() && is_space(s[i])) ++i; };
    while (true) {
        while (i < s.size() && (is_space(s[i]) || s[i] == ',')) ++i;
        if (i >= s.size()) break;
        const std::size_t name_start = i;
        while (i < s.size() && http::is_token_char(s[i])) ++i;
        const std::string_view name = s.substr(name_start, i - name_start);
        if (name.empty()) return std::nullopt;
        skip_space();
        if (i >= s.size() || s[i] != '=') return std::nullopt;
        ++i;
        skip_space();
        std::string value;
        if (i < s.size() && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i >= s.size()) break;
                    c = s[i++];
                }
                value.push_back(c);
            }
            if (!closed) return std::nullopt;
        } else {
            const std::size_t v_start = i;
            while (i < s.size() && s[i] != ',' && !is_space(s[i])) ++i;
            value.assign(s.substr(v_start, i - v_start));
            if (value.empty()) return std::nullopt;
        }
        for (const auto& p : out)
            if (iequals(p.first, name)) return std::nullopt;
        if (out.size() >= kMaxParams) return std::nullopt;
        out.emplace_back(std::string(name), std::move(value));
        skip_space();
        if (i < s.size() && s[i] != ',') return std::nullopt;
    }
    return out;
}

const std::string* param(const Params& ps, std::string_view name) {
    for (const auto& p : ps)
        if (iequals(p.first, name)) return &p.second;
    return nullptr;
}

// The path part of an absolute-form target ("http://host:8080/live" -> "/live"), else the target.
std::string_view origin_form(std::string_view t) {
    const std::size_t scheme = t.find("://");
    if (scheme == std::string_view::npos || t.empty() || t.front() == '/') return t;
    const std::size_t path = t.find('/', scheme + 3);
    return path == std::string_view::npos ? std::string_view("/") : t.substr(path);
}

// quoted-string for a challenge parameter; control bytes are dropped so nothing can end the header.
std::string quote(std::string_view s) {
    std::string q = "\"";
    for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) continue;
        if (c == '"' || c == '\\') q.push_back('\\');
        q.push_back(c);
    }
    q.push_back('"');
    return q;
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string base64_encode(ByteView in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), in.data(), static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// A NetBIOS name for the NTLM CHALLENGE_MESSAGE: upper case, letters, digits and '-', at most 15
// characters; `fallback` when nothing is left.
std::string netbios_name(std::string_view s, std::string_view fallback) {
    std::string out;
    for (char c : s) {
        if (out.size() == 15) break;
        if (c >= 'a' && c <= 'z') out.push_back(static_cast<char>(c - 'a' + 'A'));
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') out.push_back(c);
        else if (c == '.' || c == '@') break;  // the host part of "host.example.org" or "realm@host"
    }
    return out.empty() ? std::string(fallback) : out;
}

std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

// The schemes an X-Accept-Authentication list names (MS-WMSP 2.2.1.9: auth-scheme *("," auth-scheme)),
// every header in order, tokens only and a bounded number of them.
std::vector<std::string> accepted_schemes(const http::HttpHead& request, bool* present) {
    std::vector<std::string> out;
    *present = false;
    for (std::string_view v : request.find_all("X-Accept-Authentication")) {
        while (!v.empty()) {
            const std::size_t comma = v.find(',');
            const std::string_view item = trim(v.substr(0, comma));
            v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
            if (item.empty() || item.size() > 32 || out.size() >= 16) continue;
            bool token = true;
            for (char c : item) token = token && http::is_token_char(c);
            if (!token) continue;
            out.emplace_back(item);
            *present = true;
        }
    }
    return out;
}

}  // namespace

std::optional<AuthScheme> auth_scheme_from_name(std::string_view name) {
    if (name == "basic") return AuthScheme::Basic;
    if (name == "digest") return AuthScheme::Digest;
    if (name == "ntlm") return AuthScheme::Ntlm;
    return std::nullopt;
}

std::string_view auth_scheme_token(AuthScheme scheme) {
    switch (scheme) {
        case AuthScheme::Basic: return "Basic";
        case AuthScheme::Digest: return "Digest";
        case AuthScheme::Ntlm: return "NTLM";
    }
    return "Basic";
}

std::uint64_t filetime_now() {
    // MS-DTYP 2.3.3 FILETIME: 100 ns intervals since 1601-01-01; the Unix epoch is 11644473600 s later.
    const auto since_unix = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    return static_cast<std::uint64_t>(since_unix / 100) + 116444736000000000ull;
}

Authenticator::Authenticator(const std::vector<std::string>& schemes, std::string realm, std::vector<PullUser> users,
                             std::function<std::uint64_t()> clock)
    : realm_(std::move(realm)), users_(std::move(users)), clock_(std::move(clock)) {
    for (const std::string& name : schemes) {
        if (name == "none") {
            if (schemes.size() != 1) throw std::invalid_argument("pull.auth: 'none' cannot be listed with other schemes");
            continue;
        }
        const auto scheme = auth_scheme_from_name(name);
        if (!scheme) throw std::invalid_argument("pull.auth: '" + name + "' is not one of none, basic, digest, ntlm");
        if (offers(*scheme)) throw std::invalid_argument("pull.auth: '" + name + "' is listed twice");
        schemes_.push_back(*scheme);
    }
    if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed: no nonce secret for Digest authentication");
    const std::string host = host_name();
    ntlm_names_.nb_computer = netbios_name(host, "ASFCAST");
    ntlm_names_.nb_domain = netbios_name(realm_, "ASFCAST");
    ntlm_names_.dns_computer = host;
}

bool Authenticator::offers(AuthScheme s) const {
    for (AuthScheme x : schemes_)
        if (x == s) return true;
    return false;
}

const PullUser* Authenticator::find_user(std::string_view name) const {
    for (const auto& u : users_)
        if (u.name == name) return &u;
    return nullptr;
}

// MS-NLMP 3.2.5.1.2: "User names MUST be case-insensitive" (ASCII letters compared here).
const PullUser* Authenticator::find_user_ignoring_case(std::string_view name) const {
    if (const PullUser* exact = find_user(name)) return exact;
    for (const auto& u : users_)
        if (iequals(u.name, name)) return &u;
    return nullptr;
}

std::string Authenticator::make_nonce(std::int64_t now_us) const {
    // nonce = hex(timestamp, 8 bytes) + hex(first 16 bytes of HMAC-SHA256(secret, timestamp)).
    unsigned char ts[8];
    const auto t = static_cast<std::uint64_t>(now_us);
    for (int i = 0; i < 8; ++i) ts[i] = static_cast<unsigned char>(t >> (8 * (7 - i)));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), ts, sizeof ts, mac, &mac_len))
        throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return to_hex(ts, sizeof ts) + to_hex(mac, 16);
}

std::string Authenticator::challenge_line(AuthScheme s, std::int64_t now_us, bool digest_stale) const {
    switch (s) {
        case AuthScheme::Basic: return "WWW-Authenticate: Basic realm=" + quote(realm_) + "\r\n";
        case AuthScheme::Digest: {
            std::string h = "WWW-Authenticate: Digest realm=" + quote(realm_) + ", nonce=\"" + make_nonce(now_us) +
                            "\", qop=\"auth\", algorithm=MD5";
            if (digest_stale) h += ", stale=true";
            return h + "\r\n";
        }
        case AuthScheme::Ntlm: return "WWW-Authenticate: NTLM\r\n";  // the client starts with its NEGOTIATE_MESSAGE
    }
    return {};
}

void Authenticator::challenge(Result& r, const http::HttpHead& request, std::int64_t now_us, bool digest_stale) const {
    // MS-WMSP 3.2.5.1: the challenge SHOULD use a scheme the client listed in
    // X-Accept-Authentication, whose list is in the client's order of preference. Without that
    // header, every scheme we offer, one WWW-Authenticate header each (RFC 7235 4.1).
    bool listed = false;
    const std::vector<std::string> accepted = accepted_schemes(request, &listed);
    std::vector<AuthScheme> offered;
    if (!listed) {
        offered = schemes_;
    } else {
        for (const std::string& token : accepted) {
            for (AuthScheme s : schemes_)
                if (iequals(token, auth_scheme_token(s))) offered.push_back(s);
            if (!offered.empty()) break;
        }
    }
    if (offered.empty()) {
        std::string ours, theirs;
        for (AuthScheme s : schemes_) ours += (ours.empty() ? "" : ", ") + std::string(auth_scheme_token(s));
        for (const std::string& t : accepted) theirs += (theirs.empty() ? "" : ", ") + t;
        r.refusal = "authentication required: this server accepts " + ours +
                    "; the client accepts only " + theirs + " (X-Accept-Authentication)";
        return;
    }
    for (AuthScheme s : offered) {
        r.challenge_headers += challenge_line(s, now_us, digest_stale);
        if (s == AuthScheme::Ntlm) r.keep_connection = true;
    }
}

Authenticator::Result Authenticator::check(const http::HttpHead& request, std::uint64_t connection_id,
                                           std::int64_t now_us) {
    Result r;
    if (!enabled()) {
        r.ok = true;
        return r;
    }
    bool any = false;
    for (std::string_view v : request.find_all("Authorization")) {
        any = true;
        v = trim(v);
        const std::size_t sp = v.find_first_of(" \t");
        const std::string_view scheme = v.substr(0, sp);
        const std::string_view credentials = sp == std::string_view::npos ? std::string_view{} : trim(v.substr(sp + 1));
        if (iequals(scheme, "Basic") && offers(AuthScheme::Basic)) {
            r = check_basic(credentials);
            if (!r.ok) challenge(r, request, now_us, false);
            return r;
        }
        if (iequals(scheme, "Digest") && offers(AuthScheme::Digest)) {
            r = check_digest(credentials, request, now_us);
            // A right digest over an old or foreign nonce (e.g. issued before a restart) gets
            // stale=true: the client retries with the new nonce without asking the user again
            // (RFC 2617 3.2.1).
            if (!r.ok) challenge(r, request, now_us, r.failure == "stale nonce" || r.failure == "unknown nonce");
            return r;
        }
        // "Negotiate" carrying a raw NTLMSSP token is how Windows' SSPI falls back to NTLM.
        if ((iequals(scheme, "NTLM") || iequals(scheme, "Negotiate")) && offers(AuthScheme::Ntlm))
            return check_ntlm(credentials, iequals(scheme, "NTLM") ? "NTLM" : "Negotiate", request, connection_id,
                              now_us);
    }
    // No usable Authorization: a connection that NTLM authenticated stays authenticated.
    if (offers(AuthScheme::Ntlm)) {
        if (auto it = ntlm_.find(connection_id); it != ntlm_.end() && it->second.authenticated) {
            r.ok = true;
            r.user = it->second.user;
            r.scheme = "NTLM";
            return r;
        }
    }
    r.failure = any ? "unsupported scheme" : "no credentials";
    challenge(r, request, now_us, false);
    return r;
}

void Authenticator::connection_closed(std::uint64_t connection_id) { ntlm_.erase(connection_id); }

void Authenticator::forget_expired_challenges(std::int64_t now_us) {
    std::erase_if(ntlm_, [&](const auto& kv) {
        return !kv.second.authenticated && now_us - kv.second.challenged_at_us > kNtlmChallengeLifetimeUs;
    });
}

Authenticator::Result Authenticator::check_ntlm(std::string_view token, std::string_view wire_scheme,
                                                const http::HttpHead& request, std::uint64_t connection_id,
                                                std::int64_t now_us) {
    Result r;
    auto fail = [&](std::string why) {
        r.failure = std::move(why);
        challenge(r, request, now_us, false);
        return r;
    };
    const auto decoded = base64_decode(token);
    const ByteView msg = decoded ? ByteView(reinterpret_cast<const std::uint8_t*>(decoded->data()), decoded->size())
                                 : ByteView{};
    const auto type = ntlm::message_type(msg);
    if (!type) {
        ntlm_.erase(connection_id);
        return fail("malformed NTLM token");
    }
    std::string error;
    if (*type == ntlm::kNegotiateMessage) {
        // MS-NLMP 3.2.5.1.1: a NEGOTIATE starts (or restarts) the handshake on this connection.
        ntlm_.erase(connection_id);
        const auto negotiate = ntlm::parse_negotiate(msg, &error);
        if (!negotiate) return fail("malformed NEGOTIATE_MESSAGE: " + error);
        forget_expired_challenges(now_us);
        if (ntlm_.size() >= kMaxNtlmConnections) return fail("too many NTLM handshakes in progress");
        NtlmConnection c;
        if (RAND_bytes(c.server_challenge.data(), static_cast<int>(c.server_challenge.size())) != 1)
            throw std::runtime_error("OpenSSL RAND_bytes failed: no NTLM server challenge");
        c.negotiate.assign(msg.begin(), msg.end());
        c.challenge = ntlm::challenge_message(negotiate->flags, c.server_challenge, clock_(), ntlm_names_);
        c.challenged_at_us = now_us;
        r.challenge_headers =
            "WWW-Authenticate: " + std::string(wire_scheme) + " " + base64_encode(c.challenge) + "\r\n";
        r.keep_connection = true;
        ntlm_[connection_id] = std::move(c);
        return r;  // no failure: the handshake goes on
    }
    if (*type != ntlm::kAuthenticateMessage) {
        ntlm_.erase(connection_id);
        return fail("unexpected NTLM message type");
    }
    // MS-NLMP 3.2.5.1.2. A challenge is answered once, on the connection it was sent on.
    const auto it = ntlm_.find(connection_id);
    if (it == ntlm_.end() || it->second.challenge.empty()) {
        ntlm_.erase(connection_id);  // also ends an earlier login of this connection
        return fail("AUTHENTICATE_MESSAGE without a CHALLENGE_MESSAGE on this connection");
    }
    const NtlmConnection exchange = std::move(it->second);
    ntlm_.erase(it);
    if (now_us - exchange.challenged_at_us > kNtlmChallengeLifetimeUs) return fail("NTLM challenge expired");
    const auto message = ntlm::parse_authenticate(msg, &error);
    if (!message) return fail("malformed AUTHENTICATE_MESSAGE: " + error);
    const PullUser* u = find_user_ignoring_case(message->user);
    // An unknown user costs the same computation as a known one.
    const ntlm::Verification v = ntlm::verify_authenticate(
        *message, msg, {exchange.negotiate, exchange.challenge, exchange.server_challenge},
        u ? std::string_view(u->password) : std::string_view{});
    if (!u) return fail("unknown user");
    if (!v.ok) return fail(v.failure);
    const std::uint64_t now_ft = clock_();
    const std::uint64_t skew = now_ft > v.timestamp ? now_ft - v.timestamp : v.timestamp - now_ft;
    if (skew > kNtlmMaxLifetime) return fail("NTLMv2 timestamp too far from the server's clock");
    NtlmConnection& done = ntlm_[connection_id];
    done.authenticated = true;
    done.user = u->name;
    r.ok = true;
    r.user = u->name;
    r.scheme = "NTLM";
    return r;
}

Authenticator::Result Authenticator::check_basic(std::string_view credentials) const {
    Result r;
    const auto decoded = base64_decode(credentials);
    const std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
        r.failure = "malformed Authorization";
        return r;
    }
    const std::string_view user = std::string_view(*decoded).substr(0, colon);
    const std::string_view password = std::string_view(*decoded).substr(colon + 1);
    const PullUser* u = find_user(user);
    // An unknown user costs the same comparison as a known one.
    const bool match = same_secret(password, u ? std::string_view(u->password) : password);
    if (!u) r.failure = "unknown user";
    else if (!match) r.failure = "wrong password";
    else {
        r.ok = true;
        r.user = u->name;
        r.scheme = "Basic";
    }
    return r;
}

Authenticator::Result Authenticator::check_digest(std::string_view credentials, const http::HttpHead& request,
                                                  std::int64_t now_us) const {
    Result r;
    r.failure = "malformed Authorization";
    if (credentials.size() > kMaxCredentialChars) return r;
    const auto ps = parse_params(credentials);
    if (!ps) return r;
    const std::string* username = param(*ps, "username");
    const std::string* realm = param(*ps, "realm");
    const std::string* nonce = param(*ps, "nonce");
    const std::string* uri = param(*ps, "uri");
    const std::string* response = param(*ps, "response");
    const std::string* qop = param(*ps, "qop");
    const std::string* nc = param(*ps, "nc");
    const std::string* cnonce = param(*ps, "cnonce");
    const std::string* algorithm = param(*ps, "algorithm");
    if (!username || !realm || !nonce || !uri || !response) return r;
    if (qop && (!nc || !cnonce)) return r;  // RFC 2617 3.2.2: qop requires nc and cnonce
    if (algorithm && !iequals(*algorithm, "MD5")) {
        r.failure = "unsupported algorithm";
        return r;
    }
    if (qop && !iequals(*qop, "auth")) {
        r.failure = "unsupported qop";
        return r;
    }
    if (*realm != realm_) {
        r.failure = "wrong realm";
        return r;
    }
    // RFC 2617 3.2.2.5: the digest must be for the resource actually requested.
    if (origin_form(*uri) != origin_form(request.target)) {
        r.failure = "uri mismatch";
        return r;
    }

    const PullUser* u = find_user(*username);
    const std::string ha1 = http::digest_ha1(*username, realm_, u ? std::string_view(u->password) : std::string_view{});
    const std::string ha2 = http::digest_ha2(request.method, *uri);
    const std::string expected = http::digest_response(ha1, *nonce, qop ? *nc : std::string_view{},
                                                       qop ? *cnonce : std::string_view{},
                                                       qop ? std::string_view("auth") : std::string_view{}, ha2);
    const bool digest_ok = http::constant_time_equal(expected, lowercase(*response));
    if (!u) {
        r.failure = "unknown user";
        return r;
    }
    if (!digest_ok) {
        r.failure = "wrong password";
        return r;
    }

    // The digest is right; now whether the nonce is ours and still young (check() answers an old
    // or foreign one with stale=true).
    bool authentic = false;
    std::int64_t issued = 0;
    if (nonce->size() == 48) {
        std::uint64_t t = 0;
        bool hex = true;
        for (std::size_t i = 0; i < 16; ++i) {
            const char c = (*nonce)[i];
            int d = -1;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            if (d < 0) {
                hex = false;
                break;
            }
            t = t << 4 | static_cast<std::uint64_t>(d);
        }
        if (hex) {
            issued = static_cast<std::int64_t>(t);
            authentic = http::constant_time_equal(*nonce, make_nonce(issued));
        }
    }
    if (!authentic || issued > now_us || now_us - issued > kNonceLifetimeUs) {
        r.failure = authentic ? "stale nonce" : "unknown nonce";
        return r;
    }
    r.ok = true;
    r.failure.clear();
    r.user = u->name;
    r.scheme = "Digest";
    return r;
}

}  // namespace asfcast::pull
