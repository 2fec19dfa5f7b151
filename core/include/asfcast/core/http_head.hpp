// Incremental, bounded parser for HTTP/1.x message heads (request or status line plus header
// fields). Shared by the pull server (requests) and the push client (responses). Lenient where
// real Windows Media clients deviate from RFC 7230, strict where memory or safety is at stake.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast::http {

// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b);
// RFC 7230 3.2.6 tchar: the characters allowed in header names and tokens.
bool is_token_char(char c);

struct HttpHeader {
    std::string name, value;  // name as sent; value with surrounding whitespace removed
};

struct HttpHead {
    bool is_response = false;
    std::string method, target, version;  // version: "HTTP/1.0" or "HTTP/1.1"
    int status = 0;                       // responses only
    std::string reason;                   // responses only
    std::vector<HttpHeader> headers;      // in arrival order, repeated names kept

    // First header with this name (case-insensitive), or nullptr.
    const std::string* find(std::string_view name) const;
    // Every value of this name, in order.
    std::vector<std::string_view> find_all(std::string_view name) const;
    // nullopt when absent (or invalid: the parser refuses heads with an invalid one).
    std::optional<std::size_t> content_length() const;
    // Transfer-Encoding's last coding is "chunked" (RFC 7230 3.3.3).
    bool chunked() const;
    // Persistent connection per RFC 7230 6.3: HTTP/1.1 unless "close", HTTP/1.0 only with "keep-alive".
    bool keep_alive() const;
};

enum class HeadStatus { NeedMore, Complete, TooLarge, Malformed };

class HttpHeadParser {
public:
    enum class Kind { Request, Response };
    static constexpr std::size_t kMaxHeaderLines = 100;

    HttpHeadParser(Kind kind, std::size_t max_head_bytes);

    // Consumes bytes up to and including the blank line that ends the head and returns how many
    // it took; consumes nothing once the status is no longer NeedMore. Bytes after the head (a
    // body, a pipelined request) are left to the caller.
    std::size_t feed(ByteView data);
    HeadStatus status() const { return status_; }
    const HttpHead& head() const { return head_; }
    // Why the head was refused (TooLarge, Malformed); empty otherwise.
    const std::string& error() const { return error_; }
    // Ready for the next head on the same connection.
    void reset();

private:
    void process_line(std::string_view line);
    void start_line(std::string_view line);
    void header_line(std::string_view line);
    void finish();
    void fail(HeadStatus status, std::string message);

    Kind kind_;
    std::size_t max_head_bytes_;
    HeadStatus status_ = HeadStatus::NeedMore;
    HttpHead head_;
    std::string error_;
    std::string line_;             // the current, incomplete line
    std::size_t seen_ = 0;         // bytes of this head consumed so far
    bool have_start_line_ = false;
    std::size_t header_lines_ = 0;
};

}  // namespace asfcast::http
