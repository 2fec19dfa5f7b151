#include "asfcast/push/wmhttp_wire.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "asfcast/core/http_head.hpp"

namespace asfcast::push {
namespace {

void set_error(std::string* error, std::string text) {
    if (error) *error = std::move(text);
}

bool has_ctl_or_space(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_unreserved_or_path(char c) {
    // RFC 3986 pchar minus pct-encoded, plus '/': unreserved / sub-delims / ":" / "@" / "/"
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
        case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
        case '@': case '/': case '%':
            return true;
        default:
            return false;
    }
}

std::string percent_encode_path(std::string_view p) {
    std::string out;
    for (char c : p) {
        if (is_unreserved_or_path(c)) {
            out.push_back(c);
        } else {
            out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    return out;
}

// Percent-decodes for validation of userinfo (user:pass@); invalid escapes are kept as is.
std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto hexv = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        if (s[i] == '%' && i + 2 < s.size() && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

}  // namespace

std::string PushUrl::display() const { return "http://" + host_header() + path; }

std::string PushUrl::host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 80) h += ":" + std::to_string(port);
    return h;
}

std::optional<PushUrl> parse_push_url(std::string_view text, std::string* error) {
    text = trim(text);
    if (text.empty()) {
        set_error(error, "empty URL");
        return std::nullopt;
    }
    if (has_ctl_or_space(text)) {
        set_error(error, "URL contains spaces or control characters");
        return std::nullopt;
    }
    std::string_view rest = text;
    const auto scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos) {
        const std::string_view scheme = rest.substr(0, scheme_end);
        if (!http::iequals(scheme, "http")) {
            set_error(error, fmt::format("unsupported scheme '{}' (push uses http://)", scheme));
            return std::nullopt;
        }
        rest.remove_prefix(scheme_end + 3);
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    // Fragments are never sent.
    if (auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);

    PushUrl url;
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        const auto colon = userinfo.find(':');
        url.user = percent_decode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos) url.password = percent_decode(userinfo.substr(colon + 1));
    }
    std::string_view host, port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            set_error(error, "unterminated IPv6 address");
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                set_error(error, "unexpected characters after the IPv6 address");
                return std::nullopt;
            }
            port = after.substr(1);
            if (port.empty()) {
                set_error(error, "empty port");
                return std::nullopt;
            }
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) {
                set_error(error, "empty port");
                return std::nullopt;
            }
        }
    }
    if (host.empty()) {
        set_error(error, "no server name in URL");
        return std::nullopt;
    }
    for (char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '.' || c == '_' || c == ':' || c == '%';
        if (!ok) {
            set_error(error, fmt::format("invalid character '{}' in server name", c));
            return std::nullopt;
        }
    }
    url.host = std::string(host);
    if (!port.empty()) {
        unsigned long v = 0;
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            set_error(error, fmt::format("invalid port '{}'", port));
            return std::nullopt;
        }
        v = std::stoul(std::string(port));
        if (v == 0 || v > 65535) {
            set_error(error, fmt::format("port {} out of range", v));
            return std::nullopt;
        }
        url.port = static_cast<std::uint16_t>(v);
    }
    if (path.empty() || path == "/") {
        set_error(error, "no publishing point in URL (expected server[:port]/pubpoint)");
        return std::nullopt;
    }
    url.path = percent_encode_path(path.substr(0, path.find('?')));
    if (auto q = path.find('?'); q != std::string_view::npos) url.path += std::string(path.substr(q));
    return url;
}

std::optional<std::string> template_path(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    std::string_view path = text;
    if (text.find("://") != std::string_view::npos || (text.front() != '/' && text.find('/') != std::string_view::npos &&
                                                       text.find(':') != std::string_view::npos)) {
        auto url = parse_push_url(text);
        if (!url) return std::nullopt;
        return url->path;
    }
    std::string p = path.front() == '/' ? std::string(path) : "/" + std::string(path);
    if (p.size() < 2) return std::nullopt;
    for (char c : p)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '"') return std::nullopt;
    return percent_encode_path(p);
}

std::string pushsetup_body(std::string_view template_path, bool auto_destroy) {
    std::string body;
    if (!template_path.empty()) {
        body += fmt::format("Template-URL: \"{}\"\r\n", template_path);
        body += fmt::format("AutoDestroy: {}\r\n", auto_destroy ? 1 : 0);
    } else if (auto_destroy) {
        body += "AutoDestroy: 1\r\n";
    }
    return body;
}

void append_frame(Bytes& out, char id, ByteView payload) {
    if (payload.size() > kMaxFrameLength) throw std::length_error("WMHTTP frame payload over 65535 bytes");
    ByteWriter w(out);
    w.u8('$');
    w.u8(static_cast<std::uint8_t>(id));
    w.u16(static_cast<std::uint16_t>(payload.size()));
    w.bytes(payload);
}

void append_stream_change(Bytes& out, ByteView header) {
    // MS-WMHTTP 2.2.3.2: framing header, Reason 0, the ASF file header (at most 65,527 bytes).
    if (header.size() > kMaxStreamChangeHeader) throw std::length_error("WMHTTP $C header over 65527 bytes");
    ByteWriter w(out);
    w.u8('$');
    w.u8('C');
    w.u16(static_cast<std::uint16_t>(header.size() + 4));
    w.u32(0);
    w.bytes(header);
}

void append_end(Bytes& out, std::uint32_t reason) {
    ByteWriter w(out);
    w.u8('$');
    w.u8('E');
    w.u16(4);
    w.u32(reason);
}

void append_filler(Bytes& out, std::uint64_t total, std::size_t max_length) {
    if (total < kFrameHeaderBytes) throw std::invalid_argument("filler shorter than a framing header");
    max_length = std::clamp<std::size_t>(max_length, 4, kMaxFrameLength);
    const std::uint64_t max_packet = kFrameHeaderBytes + max_length;
    while (total > 0) {
        std::uint64_t packet = total;
        if (packet > max_packet) {
            packet = max_packet;
            // Never leave a remainder too short for a framing header of its own.
            if (total - packet < kFrameHeaderBytes) packet = total - kFrameHeaderBytes;
        }
        const auto len = static_cast<std::uint16_t>(packet - kFrameHeaderBytes);
        ByteWriter w(out);
        w.u8('$');
        w.u8('F');
        w.u16(len);
        w.zeros(len);
        total -= packet;
    }
}

std::optional<std::string> find_push_id(const std::vector<std::string_view>& set_cookie_values) {
    std::optional<std::string> found;
    for (std::string_view value : set_cookie_values) {
        // Cookies are separated by ',' (folded lists) and attributes by ';'. A comma inside an
        // Expires date only splits the date, which never looks like "push-id=".
        std::size_t pos = 0;
        while (pos <= value.size()) {
            std::size_t end = value.find_first_of(",;", pos);
            if (end == std::string_view::npos) end = value.size();
            std::string_view item = trim(value.substr(pos, end - pos));
            const auto eq = item.find('=');
            if (eq != std::string_view::npos && http::iequals(trim(item.substr(0, eq)), "push-id")) {
                std::string_view v = trim(item.substr(eq + 1));
                if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
                const bool ok = !v.empty() && v.size() <= 255 &&
                                std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7F; });
                if (ok) found = std::string(v);
            }
            pos = end + 1;
        }
    }
    return found;
}

std::string base64_encode(std::string_view data) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t v = static_cast<std::uint8_t>(data[i]) << 16 |
                                static_cast<std::uint8_t>(data[i + 1]) << 8 | static_cast<std::uint8_t>(data[i + 2]);
        out.push_back(k[v >> 18 & 63]);
        out.push_back(k[v >> 12 & 63]);
        out.push_back(k[v >> 6 & 63]);
        out.push_back(k[v & 63]);
    }
    const std::size_t rest = data.size() - i;
    if (rest == 1) {
        const std::uint32_t v = static_cast<std::uint8_t>(data[i]) << 16;
        out.push_back(k[v >> 18 & 63]);
        out.push_back(k[v >> 12 & 63]);
        out += "==";
    } else if (rest == 2) {
        const std::uint32_t v = static_cast<std::uint8_t>(data[i]) << 16 | static_cast<std::uint8_t>(data[i + 1]) << 8;
        out.push_back(k[v >> 18 & 63]);
        out.push_back(k[v >> 12 & 63]);
        out.push_back(k[v >> 6 & 63]);
        out.push_back('=');
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; ++j) {
            const char c = text[i + static_cast<std::size_t>(j)];
            if (c == '=') {
                if (i + 4 != text.size() || j < 2) return std::nullopt;
                v[j] = 0;
                ++pad;
            } else {
                if (pad) return std::nullopt;  // data after padding
                v[j] = val(c);
                if (v[j] < 0) return std::nullopt;
            }
        }
        const std::uint32_t n = static_cast<std::uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        out.push_back(static_cast<char>(n >> 16 & 0xFF));
        if (pad < 2) out.push_back(static_cast<char>(n >> 8 & 0xFF));
        if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
    }
    return out;
}

}  // namespace asfcast::push
