// MS-WMHTTP wire pieces the push client needs: target URLs, the push framing of the PushStart
// body (2.2.3), the PushSetup body (2.2.2.1) and the push-id cookie (2.2.1.3, 2.2.1.6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast::push {

// A publishing point URL as users type it: "http://server[:port]/pubpoint" or the WME-style
// "server:port/pubpoint" (also "server/pubpoint"). IPv6 literals go in brackets. Credentials in
// the URL ("http://user:pass@server/...") are accepted and kept out of display().
struct PushUrl {
    std::string host;           // IPv6 without brackets
    std::uint16_t port = 80;
    std::string path;           // request-URI, starts with '/', never just "/"
    std::string user, password;

    std::string display() const;      // http://host[:port]/path, no credentials
    std::string host_header() const;  // Host header value: host, [v6] and :port when not 80
};

// nullopt with *error set when the text is not a usable push URL (other scheme, no host, bad
// port, no publishing point, spaces or control characters).
std::optional<PushUrl> parse_push_url(std::string_view text, std::string* error = nullptr);

// The absolute path of a Template-URL directive (2.2.2.1.1): a path ("/pub", "pub") or a URL
// whose path is taken; non-ASCII and unsafe characters percent-encoded. nullopt if unusable.
std::optional<std::string> template_path(std::string_view text);

// PushSetup message body: Template-URL and AutoDestroy lines as configured (2.2.2.1), empty
// when neither is configured. With a template, AutoDestroy is always present (3.1.4.1.1 SHOULD).
std::string pushsetup_body(std::string_view template_path, bool auto_destroy);

// ---- Framing (2.2.3.1.1): '$', packet id, 16-bit little-endian length, B bit 0. ----
inline constexpr std::size_t kFrameHeaderBytes = 4;
inline constexpr std::size_t kMaxFrameLength = 65535;  // PacketLength is 16 bits
inline constexpr std::size_t kMaxHeaderPacket = 65531;        // the ASF header in $H (2.2.3.6)
inline constexpr std::size_t kMaxStreamChangeHeader = 65527;  // the ASF header in $C (2.2.3.2)

// $H or $D: framing header + payload. payload.size() must be <= 65535.
void append_frame(Bytes& out, char id, ByteView payload);
// $C (2.2.3.2): framing header, Reason 0, the new ASF header (at most kMaxStreamChangeHeader).
void append_stream_change(Bytes& out, ByteView header);
// $E (2.2.3.4): framing header and Reason.
void append_end(Bytes& out, std::uint32_t reason);
// $F packets (2.2.3.5) totalling exactly `total` bytes (total >= 4), zero payload bytes, each
// packet's PacketLength at most max_length (>= 4).
void append_filler(Bytes& out, std::uint64_t total, std::size_t max_length);

// ---- Cookies ----
// The push-id value from Set-Cookie header values. Each value may carry several cookies
// ("a=1, push-id=42; Path=/", "push-id=\"42\""); the last push-id found wins. nullopt if none or
// if the value is not 1..255 visible ASCII characters.
std::optional<std::string> find_push_id(const std::vector<std::string_view>& set_cookie_values);

std::string base64_encode(std::string_view data);
// nullopt for malformed input (bad characters or length); whitespace is not allowed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace asfcast::push
