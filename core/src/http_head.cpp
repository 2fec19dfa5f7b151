#include "asfcast/core/http_head.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstring>

namespace asfcast::http {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Client bytes quoted in error messages are cut short; they are already free of control bytes.
std::string excerpt(std::string_view s) {
    constexpr std::size_t kMax = 40;
    if (s.size() <= kMax) return std::string(s);
    return std::string(s.substr(0, kMax)) + "...";
}

// Calls `fn` with each comma-separated element of every value of `name`, trimmed, empty skipped.
template <class Fn>
void for_each_list_element(const HttpHead& h, std::string_view name, Fn fn) {
    for (std::string_view v : h.find_all(name)) {
        while (!v.empty()) {
            const std::size_t comma = v.find(',');
            const std::string_view item = trim(v.substr(0, comma));
            if (!item.empty()) fn(item);
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
}

struct LengthCheck {
    bool present = false;
    bool valid = true;
    std::size_t value = 0;
    std::string problem;
};

// RFC 7230 3.3.2: digits only; repeated or listed values must all agree.
LengthCheck check_content_length(const HttpHead& h) {
    LengthCheck r;
    for (std::string_view v : h.find_all("Content-Length")) {
        std::string_view rest = v;
        do {
            const std::size_t comma = rest.find(',');
            const std::string_view item = trim(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            std::size_t n = 0;
            bool ok = !item.empty() && item.size() <= 18;  // < 10^18: no overflow
            for (char c : item) {
                if (c < '0' || c > '9') { ok = false; break; }
                n = n * 10 + static_cast<std::size_t>(c - '0');
            }
            if (!ok) {
                r.valid = false;
                r.problem = fmt::format("invalid Content-Length '{}'", excerpt(item));
                return r;
            }
            if (r.present && n != r.value) {
                r.valid = false;
                r.problem = fmt::format("conflicting Content-Length values {} and {}", r.value, n);
                return r;
            }
            r.present = true;
            r.value = n;
        } while (!rest.empty());
    }
    return r;
}

// "HTTP/" DIGIT "." DIGIT (RFC 7230 2.6); only major version 1 is spoken.
bool valid_version(std::string_view v, std::string& problem) {
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
        v[7] > '9') {
        problem = fmt::format("'{}' is not an HTTP version", excerpt(v));
        return false;
    }
    if (v[5] != '1') {
        problem = fmt::format("unsupported HTTP version {}", v);
        return false;
    }
    return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

const std::string* HttpHead::find(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

std::vector<std::string_view> HttpHead::find_all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& h : headers)
        if (iequals(h.name, name)) out.emplace_back(h.value);
    return out;
}

std::optional<std::size_t> HttpHead::content_length() const {
    const LengthCheck c = check_content_length(*this);
    if (!c.present || !c.valid) return std::nullopt;
    return c.value;
}

bool HttpHead::chunked() const {
    std::string_view last;
    for_each_list_element(*this, "Transfer-Encoding", [&](std::string_view item) { last = item; });
    return iequals(last, "chunked");
}

bool HttpHead::keep_alive() const {
    bool close = false, keep = false;
    for_each_list_element(*this, "Connection", [&](std::string_view item) {
        if (iequals(item, "close")) close = true;
        if (iequals(item, "keep-alive")) keep = true;
    });
    if (close) return false;
    return version == "HTTP/1.0" ? keep : true;
}

HttpHeadParser::HttpHeadParser(Kind kind, std::size_t max_head_bytes)
    : kind_(kind), max_head_bytes_(max_head_bytes) {
    head_.is_response = kind == Kind::Response;
}

void HttpHeadParser::reset() {
    status_ = HeadStatus::NeedMore;
    head_ = HttpHead{};
    head_.is_response = kind_ == Kind::Response;
    error_.clear();
    line_.clear();
    seen_ = 0;
    have_start_line_ = false;
    header_lines_ = 0;
}

void HttpHeadParser::fail(HeadStatus status, std::string message) {
    status_ = status;
    error_ = std::move(message);
    line_.clear();
    line_.shrink_to_fit();
}

std::size_t HttpHeadParser::feed(ByteView data) {
    std::size_t used = 0;
    while (status_ == HeadStatus::NeedMore && used < data.size()) {
        const auto* begin = reinterpret_cast<const char*>(data.data() + used);
        const std::size_t avail = data.size() - used;
        const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', avail));
        const std::size_t take = nl ? static_cast<std::size_t>(nl - begin) + 1 : avail;
        const std::size_t room = max_head_bytes_ - seen_;
        if (take > room) {
            // The first byte past the limit is refused at once, whether or not its line ended.
            used += room + 1;
            fail(HeadStatus::TooLarge, fmt::format("{} head exceeds {} bytes",
                                                   kind_ == Kind::Request ? "request" : "response", max_head_bytes_));
            break;
        }
        seen_ += take;
        used += take;
        if (!nl) {
            line_.append(begin, take);
            break;
        }
        line_.append(begin, take - 1);
        std::string line = std::move(line_);
        line_.clear();
        if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF or bare LF
        process_line(line);
    }
    return used;
}

void HttpHeadParser::process_line(std::string_view line) {
    if (!have_start_line_) {
        if (line.empty()) return;  // RFC 7230 3.5: blank lines before the start line are ignored
        start_line(line);
        return;
    }
    if (line.empty()) {
        finish();
        return;
    }
    header_line(line);
}

void HttpHeadParser::start_line(std::string_view line) {
    have_start_line_ = true;
    const char* what = kind_ == Kind::Request ? "request line" : "status line";
    for (char c : line) {
        const auto u = static_cast<unsigned char>(c);
        if (is_ctl(u) && !(kind_ == Kind::Response && c == '\t'))  // HTAB may appear in a reason phrase
            return fail(HeadStatus::Malformed, fmt::format("{} contains control byte 0x{:02X}", what, u));
    }
    std::string problem;
    if (kind_ == Kind::Response) {
        // status-line = HTTP-version SP status-code SP reason-phrase (RFC 7230 3.1.2); the reason may
        // be missing altogether.
        const std::size_t sp = line.find(' ');
        const std::string_view version = line.substr(0, sp);
        if (!valid_version(version, problem)) return fail(HeadStatus::Malformed, "status line: " + problem);
        std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        const std::string_view code = rest.substr(0, 3);
        if (code.size() != 3 || !std::isdigit(static_cast<unsigned char>(code[0])) ||
            !std::isdigit(static_cast<unsigned char>(code[1])) || !std::isdigit(static_cast<unsigned char>(code[2])) ||
            (rest.size() > 3 && rest[3] != ' '))
            return fail(HeadStatus::Malformed, fmt::format("status line '{}' has no 3-digit status code", excerpt(line)));
        head_.version = std::string(version);
        head_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
        head_.reason = std::string(trim(rest.substr(3)));
        return;
    }
    // request-line = method SP request-target SP HTTP-version (RFC 7230 3.1.1); runs of spaces are
    // tolerated.
    std::vector<std::string_view> parts;
    std::string_view rest = line;
    while (!rest.empty()) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        if (rest.empty()) break;
        const std::size_t sp = rest.find(' ');
        parts.push_back(rest.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp);
    }
    if (parts.size() < 2) return fail(HeadStatus::Malformed, "request line has no target");
    if (parts.size() < 3) return fail(HeadStatus::Malformed, "request line has no HTTP version");
    if (parts.size() > 3) return fail(HeadStatus::Malformed, "request line has more than three parts");
    for (char c : parts[0])
        if (!is_token_char(c))
            return fail(HeadStatus::Malformed, fmt::format("request method '{}' is not a token", excerpt(parts[0])));
    if (!valid_version(parts[2], problem)) return fail(HeadStatus::Malformed, "request line: " + problem);
    head_.method = std::string(parts[0]);
    head_.target = std::string(parts[1]);
    head_.version = std::string(parts[2]);
}

void HttpHeadParser::header_line(std::string_view line) {
    if (++header_lines_ > kMaxHeaderLines)
        return fail(HeadStatus::Malformed, fmt::format("more than {} header lines", kMaxHeaderLines));
    for (char c : line) {
        const auto u = static_cast<unsigned char>(c);
        if (is_ctl(u) && c != '\t')
            return fail(HeadStatus::Malformed, fmt::format("header line contains control byte 0x{:02X}", u));
    }

    if (line.front() == ' ' || line.front() == '\t') {
        // obs-fold (RFC 7230 3.2.4): the line continues the previous value, joined by one space.
        if (head_.headers.empty()) return fail(HeadStatus::Malformed, "folded line before any header");
        const std::string_view more = trim(line);
        std::string& value = head_.headers.back().value;
        if (!more.empty()) {
            if (!value.empty()) value.push_back(' ');
            value.append(more);
        }
        return;
    }

    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
        const std::string_view name = trim(line.substr(0, colon));
        bool token = !name.empty();
        for (char c : name) token = token && is_token_char(c);
        if (token) {
            head_.headers.push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
            return;
        }
    }

    // A line that is not "name: value". Windows Media clients wrap long comma lists onto lines of
    // their own (MS-WMSP 4.11: "packet-num=..." under a Pragma, "com.microsoft.wm.predstrm" under
    // Supported): take it as more of the previous value after a Pragma or a value ending in ','.
    if (!head_.headers.empty()) {
        HttpHeader& prev = head_.headers.back();
        const bool list_wrapped = !prev.value.empty() && prev.value.back() == ',';
        if (iequals(prev.name, "Pragma") || list_wrapped) {
            const std::string_view more = trim(line);
            if (list_wrapped) prev.value.push_back(' ');
            else if (!prev.value.empty()) prev.value.append(", ");
            prev.value.append(more);
            return;
        }
    }
    fail(HeadStatus::Malformed, fmt::format("header line '{}' has no ':'", excerpt(line)));
}

void HttpHeadParser::finish() {
    const LengthCheck c = check_content_length(head_);
    if (!c.valid) return fail(HeadStatus::Malformed, c.problem);
    status_ = HeadStatus::Complete;
    line_.shrink_to_fit();
}

}  // namespace asfcast::http
