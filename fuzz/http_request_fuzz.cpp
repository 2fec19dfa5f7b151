// libFuzzer target for everything the pull server reads from a client before sending media: the
// HTTP head parser (requests, and responses for the push client) fed in arbitrary chunks, Pragma
// tokens, stream-switch entries, User-Agent, Authorization (Basic and Digest) and client address
// rules; plus the $-framing reader the tests and load generator use. None may crash, hang,
// overread or grow without bound; only the documented exceptions may escape.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "asfcast/core/http_head.hpp"
#include "asfcast/core/ip_acl.hpp"
#include "asfcast/pullserver/framing_reader.hpp"
#include "http_auth.hpp"
#include "pragma.hpp"

namespace {

using namespace asfcast;

// Chunk sizes from a small generator seeded by the input, so the same input always splits the
// same way and libFuzzer can minimise it.
struct Chunker {
    std::uint32_t state;
    std::size_t next(std::size_t left) {
        state = state * 1103515245u + 12345u;
        const std::size_t n = 1 + (state >> 16) % 97;
        return n < left ? n : left;
    }
};

pull::Authenticator& basic_auth() {
    static pull::Authenticator a({"basic"}, "fuzz", {{"user", "secret"}, {"", ""}});
    return a;
}
pull::Authenticator& digest_auth() {
    static pull::Authenticator a({"digest"}, "fuzz", {{"user", "secret"}});
    return a;
}
// Every scheme offered: the X-Accept-Authentication choice and the NTLM paths.
pull::Authenticator& every_scheme_auth() {
    static pull::Authenticator a({"ntlm", "digest", "basic"}, "fuzz", {{"user", "secret"}});
    return a;
}
const IpAcl& acl() {
    static const IpAcl a = IpAcl::parse({"10.0.0.0/8", "2001:db8::/32"}, {"10.1.0.0/16"});
    return a;
}

void use_head(const http::HttpHead& h, std::int64_t now) {
    (void)h.content_length();
    (void)h.chunked();
    (void)h.keep_alive();
    const pull::Pragmas p(h);
    (void)p.has("xPlayStrm");
    (void)p.get("features");
    (void)p.get_uint("client-id");
    (void)p.get_uint("stream-time");
    (void)p.stream_switch_entries();
    if (const std::string* ua = h.find("User-Agent")) (void)pull::parse_user_agent(*ua).is_wmsp_client();
    (void)basic_auth().check(h, 1, now);
    (void)digest_auth().check(h, 1, now);
    (void)every_scheme_auth().check(h, 1, now);
    every_scheme_auth().connection_closed(1);
}

void parse_head(ByteView input, http::HttpHeadParser::Kind kind, std::uint32_t seed) {
    http::HttpHeadParser parser(kind, 2048);
    Chunker chunks{seed};
    std::size_t at = 0;
    // Several heads back to back, as on a keep-alive connection.
    while (at < input.size()) {
        const std::size_t n = chunks.next(input.size() - at);
        const std::size_t used = parser.feed(input.subspan(at, n));
        if (used > n) __builtin_trap();
        at += used;
        if (parser.status() == http::HeadStatus::NeedMore) {
            if (used != n) __builtin_trap();  // an unfinished head takes everything offered
            continue;
        }
        if (parser.status() == http::HeadStatus::Complete) use_head(parser.head(), seed);
        else if (parser.error().empty()) __builtin_trap();
        parser.reset();
        if (used == 0) ++at;  // cannot happen, but never loop forever
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    std::uint32_t seed = 0;
    for (std::size_t i = 0; i < size && i < 4; ++i) seed = seed << 8 | data[i];

    parse_head(input, http::HttpHeadParser::Kind::Request, seed);
    parse_head(input, http::HttpHeadParser::Kind::Response, seed ^ 0x5A5A5A5Au);

    // The value parsers directly, without the head parser's filtering of control bytes.
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    pull::Pragmas p;
    p.add(text);
    (void)p.stream_switch_entries();
    (void)p.get_uint(p.tokens.empty() ? std::string_view("x") : std::string_view(p.tokens.front().name));
    (void)pull::parse_user_agent(text);
    http::HttpHead h;
    h.method = "GET";
    h.target = "/";
    h.version = "HTTP/1.1";
    h.headers.push_back({"Authorization", std::string(text)});
    (void)basic_auth().check(h, 2, 1);
    (void)digest_auth().check(h, 2, 1);
    h.headers.back().value = "Basic " + std::string(text);
    (void)basic_auth().check(h, 2, 1);
    h.headers.back().value = "Digest " + std::string(text);
    (void)digest_auth().check(h, 2, 1);
    h.headers.back().value = "NTLM " + std::string(text);
    (void)every_scheme_auth().check(h, 2, 1);
    every_scheme_auth().connection_closed(2);

    (void)acl().allowed(text);
    try {
        (void)IpAcl::parse({std::string(text)}, {});
    } catch (const std::invalid_argument&) {
    }

    // $-framed stream, in chunks.
    pull::FramedStreamReader reader;
    Chunker chunks{seed ^ 0xA5A5A5A5u};
    for (std::size_t at = 0; at < size;) {
        const std::size_t n = chunks.next(size - at);
        reader.feed(input.subspan(at, n));
        at += n;
        while (auto pk = reader.next()) {
            volatile std::uint8_t sink = pk->payload.empty() ? 0 : pk->payload.back();
            (void)sink;
        }
    }
    return 0;
}
