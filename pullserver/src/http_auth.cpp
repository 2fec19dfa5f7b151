#include "http_auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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

}  // namespace

Authenticator::Authenticator(std::string mode, std::string realm, std::vector<PullUser> users)
    : realm_(std::move(realm)), users_(std::move(users)) {
    if (mode == "none") mode_ = Mode::None;
    else if (mode == "basic") mode_ = Mode::Basic;
    else if (mode == "digest") mode_ = Mode::Digest;
    else throw std::invalid_argument("pull.auth: '" + mode + "' is not one of none, basic, digest");
    if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed: no nonce secret for Digest authentication");
}

const PullUser* Authenticator::find_user(std::string_view name) const {
    for (const auto& u : users_)
        if (u.name == name) return &u;
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

std::string Authenticator::challenge(std::int64_t now_us, bool stale) const {
    if (mode_ == Mode::Basic) return "WWW-Authenticate: Basic realm=" + quote(realm_) + "\r\n";
    std::string h = "WWW-Authenticate: Digest realm=" + quote(realm_) + ", nonce=\"" + make_nonce(now_us) +
                    "\", qop=\"auth\", algorithm=MD5";
    if (stale) h += ", stale=true";
    return h + "\r\n";
}

Authenticator::Result Authenticator::check(const http::HttpHead& request, std::int64_t now_us) const {
    if (mode_ == Mode::None) return {true, {}, {}, {}};
    const std::string_view wanted = mode_ == Mode::Basic ? "Basic" : "Digest";
    Result r;
    bool any = false;
    for (std::string_view v : request.find_all("Authorization")) {
        any = true;
        v = trim(v);
        const std::size_t sp = v.find_first_of(" \t");
        if (!iequals(v.substr(0, sp), wanted)) continue;
        const std::string_view credentials = sp == std::string_view::npos ? std::string_view{} : v.substr(sp + 1);
        r = mode_ == Mode::Basic ? check_basic(credentials) : check_digest(credentials, request, now_us);
        if (!r.ok && r.challenge_header.empty()) r.challenge_header = challenge(now_us, false);
        return r;
    }
    r.failure = any ? "unsupported scheme" : "no credentials";
    r.challenge_header = challenge(now_us, false);
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

    // The digest is right; now whether the nonce is ours and still young. A right digest over an
    // old or foreign nonce (e.g. issued before a restart) gets stale=true: the client retries with
    // the new nonce without asking the user again (RFC 2617 3.2.1).
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
        r.challenge_header = challenge(now_us, true);
        return r;
    }
    r.ok = true;
    r.failure.clear();
    r.user = u->name;
    return r;
}

}  // namespace asfcast::pull
