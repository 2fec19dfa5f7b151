#include "pragma.hpp"

namespace asfcast::pull {
namespace {

using http::iequals;

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// True when `s` at `i` starts "Pragma:" in any case: the previous header ran into this one
// without a line break (seen from ffmpeg: "stream-time=0Pragma: xPlayStrm=1").
bool embedded_pragma_at(std::string_view s, std::size_t i) {
    constexpr std::string_view kName = "pragma:";
    return s.size() - i >= kName.size() && iequals(s.substr(i, kName.size()), kName);
}

// One token: name[=value], value optionally a quoted-string (RFC 7230 3.2.6) whose quotes and
// backslash escapes are removed. A token without a valid name is dropped.
void add_token(std::string_view raw, std::vector<PragmaToken>& out) {
    raw = trim(raw);
    const std::size_t eq = raw.find('=');
    const std::string_view name = trim(raw.substr(0, eq));
    if (name.empty()) return;
    for (char c : name)
        if (!http::is_token_char(c)) return;
    PragmaToken t{std::string(name), std::nullopt};
    if (eq != std::string_view::npos) {
        const std::string_view v = trim(raw.substr(eq + 1));
        std::string value;
        if (!v.empty() && v.front() == '"') {
            for (std::size_t i = 1; i < v.size(); ++i) {
                if (v[i] == '"') break;
                if (v[i] == '\\' && i + 1 < v.size()) ++i;
                value.push_back(v[i]);
            }
        } else {
            value.assign(v);
        }
        t.value = std::move(value);
    }
    out.push_back(std::move(t));
}

// "1*4HEXDIG" (MS-WMSP 2.2.1.4.27).
std::optional<int> parse_hex16(std::string_view s) {
    if (s.empty() || s.size() > 4) return std::nullopt;
    int v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return std::nullopt;
        v = v * 16 + d;
    }
    return v;
}

std::optional<int> parse_small_decimal(std::string_view s) {
    if (s.empty() || s.size() > 6) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

Pragmas::Pragmas(const http::HttpHead& head) {
    for (std::string_view v : head.find_all("Pragma")) add(v);
}

void Pragmas::add(std::string_view value) {
    // Tokens end at commas outside double quotes, and where a run-in "Pragma:" begins.
    bool quoted = false;
    std::size_t start = 0;
    std::size_t i = 0;
    while (i < value.size()) {
        const char c = value[i];
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
            ++i;
            continue;
        }
        if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            add_token(value.substr(start, i - start), tokens);
            start = i + 1;
        } else if (embedded_pragma_at(value, i)) {
            add_token(value.substr(start, i - start), tokens);
            i += 7;
            start = i;
            continue;
        }
        ++i;
    }
    if (start < value.size()) add_token(value.substr(start), tokens);
}

std::optional<std::string> Pragmas::get(std::string_view name) const {
    // The last one wins: ffmpeg repeats "stream-time" on a later line to override the first.
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it)
        if (iequals(it->name, name)) return it->value.value_or(std::string());
    return std::nullopt;
}

bool Pragmas::has(std::string_view name) const {
    for (const auto& t : tokens)
        if (iequals(t.name, name)) return true;
    return false;
}

std::optional<std::uint64_t> Pragmas::get_uint(std::string_view name) const {
    const auto v = get(name);
    if (!v || v->empty() || v->size() > 19) return std::nullopt;  // 19 digits cannot overflow
    std::uint64_t n = 0;
    for (char c : *v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

std::vector<StreamSwitchEntry> Pragmas::stream_switch_entries() const {
    std::vector<StreamSwitchEntry> out;
    for (const auto& t : tokens) {
        if (!t.value || !(iequals(t.name, "stream-switch-entry") || iequals(t.name, "switch-stream-entry"))) continue;
        // Entries are separated by spaces: "ffff:1:0 ffff:2:0" (VLC leaves a trailing space).
        std::string_view rest = *t.value;
        while (!rest.empty()) {
            while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
            std::size_t end = 0;
            while (end < rest.size() && !is_space(rest[end])) ++end;
            const std::string_view entry = rest.substr(0, end);
            rest.remove_prefix(end);
            if (entry.empty()) continue;
            const std::size_t c1 = entry.find(':');
            const std::size_t c2 = c1 == std::string_view::npos ? c1 : entry.find(':', c1 + 1);
            if (c2 == std::string_view::npos) continue;
            const auto from = parse_hex16(entry.substr(0, c1));
            const auto to = parse_hex16(entry.substr(c1 + 1, c2 - c1 - 1));
            const auto thin = parse_hex16(entry.substr(c2 + 1));
            if (!from || !to || !thin || *thin > 2) continue;
            out.push_back({*from == 0xFFFF ? -1 : *from, *to, *thin});
        }
    }
    return out;
}

bool UserAgent::is_wmsp_client() const {
    return (iequals(token, "NSPlayer") || iequals(token, "NSServer") || iequals(token, "WMCacheProxy")) && major > 0;
}

UserAgent parse_user_agent(std::string_view ua) {
    // user-agent-data = client-token "/" major "." minor ["." build "." rev]
    //                   [";" SP "via" SP "WMCacheProxy"] *(SP product)      (MS-WMSP 2.2.1.8)
    UserAgent out;
    ua = trim(ua);
    std::size_t end = 0;
    while (end < ua.size() && ua[end] != '/' && ua[end] != ' ' && ua[end] != ';') ++end;
    out.token = std::string(ua.substr(0, end));
    for (char c : out.token)
        if (!http::is_token_char(c)) {
            out.token.clear();
            return out;
        }
    if (ua.find("; via WMCacheProxy") != std::string_view::npos) out.via_cache_proxy = true;
    if (end >= ua.size() || ua[end] != '/') return out;
    std::string_view version = ua.substr(end + 1);
    std::size_t vend = 0;
    while (vend < version.size() && !is_space(version[vend]) && version[vend] != ';') ++vend;
    version = version.substr(0, vend);
    const std::size_t dot = version.find('.');
    const auto major = parse_small_decimal(version.substr(0, dot));
    if (!major) return out;
    out.major = *major;
    if (dot == std::string_view::npos) return out;
    std::string_view minor = version.substr(dot + 1);
    minor = minor.substr(0, minor.find('.'));
    if (const auto m = parse_small_decimal(minor)) out.minor = *m;
    return out;
}

}  // namespace asfcast::pull
