// Pragma tokens (MS-WMSP 2.2.1.4), stream-switch entries (2.2.1.4.27) and User-Agent (2.2.1.8).
#include <gtest/gtest.h>

#include <string>

#include "pragma.hpp"
#include "wmsp_requests.hpp"

namespace asfcast::pull {
namespace {

http::HttpHead head_of(const std::string& text) {
    http::HttpHeadParser p(http::HttpHeadParser::Kind::Request, 8192);
    p.feed(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    EXPECT_EQ(p.status(), http::HeadStatus::Complete) << p.error();
    return p.head();
}

Pragmas pragmas_of(std::string_view value) {
    Pragmas p;
    p.add(value);
    return p;
}

bool same(const StreamSwitchEntry& e, int from, int to, int thinning) {
    return e.from_stream == from && e.to_stream == to && e.thinning == thinning;
}

TEST(Pragma, SpecDescribeRequest) {
    const Pragmas p(head_of(testreq::kSpecDescribe));
    EXPECT_TRUE(p.has("no-cache"));
    EXPECT_EQ(p.get("no-cache"), "");
    EXPECT_EQ(p.get("rate"), "1.000");
    EXPECT_EQ(p.get_uint("stream-time"), 0u);
    EXPECT_EQ(p.get("stream-offset"), "0:0");
    EXPECT_EQ(p.get_uint("packet-num"), 4294967295u);  // from the wrapped line
    EXPECT_EQ(p.get_uint("max-duration"), 0u);
    EXPECT_EQ(p.get("xClientGUID"), "{00000000-0000-0000-0000-000000000000}");
    EXPECT_FALSE(p.has("xPlayStrm"));  // a Describe
    EXPECT_EQ(p.tokens.size(), 7u);
}

TEST(Pragma, SpecPlayRequest) {
    const http::HttpHead h = head_of(testreq::kSpecPlay);
    const Pragmas p(h);
    EXPECT_EQ(p.get_uint("xPlayStrm"), 1u);  // a Play
    EXPECT_EQ(p.get_uint("client-id"), 1543854732u);
    EXPECT_EQ(p.get("stream-offset"), "4294967295:4294967295");
    EXPECT_EQ(p.get_uint("packet-num"), 4294967295u);
    EXPECT_EQ(p.get_uint("LinkBW"), 2147483647u);
    EXPECT_EQ(p.get_uint("BurstBW"), 3500000u);
    EXPECT_EQ(p.get_uint("BurstDuration"), 5000u);  // after ", "
    EXPECT_EQ(p.get_uint("stream-switch-count"), 2u);
    const auto e = p.stream_switch_entries();
    ASSERT_EQ(e.size(), 2u);
    EXPECT_TRUE(same(e[0], -1, 1, 0));
    EXPECT_TRUE(same(e[1], -1, 2, 0));

    const UserAgent ua = parse_user_agent(*h.find("User-Agent"));
    EXPECT_EQ(ua.token, "NSServer");
    EXPECT_EQ(ua.major, 9);
    EXPECT_EQ(ua.minor, 0);
    EXPECT_TRUE(ua.is_wmsp_client());
}

TEST(Pragma, RunInPragmaWithoutLineBreak) {
    const Pragmas p(head_of(testreq::kRunInPlay));
    EXPECT_EQ(p.get_uint("stream-time"), 0u);
    EXPECT_EQ(p.get_uint("xPlayStrm"), 1u);
    const auto e = p.stream_switch_entries();  // "ffff:1:0 ffff:2:2 " with its trailing space
    ASSERT_EQ(e.size(), 2u);
    EXPECT_TRUE(same(e[0], -1, 1, 0));
    EXPECT_TRUE(same(e[1], -1, 2, 2));
    EXPECT_EQ(pragmas_of("a=1pragma:b=2").get_uint("b"), 2u);
    EXPECT_EQ(pragmas_of("a=1 PRAGMA: b=2").get_uint("a"), 1u);
}

TEST(Pragma, RepeatedLinesAndCommaListsMerge) {
    const Pragmas p(head_of("GET / HTTP/1.0\r\n"
                            "Pragma: no-cache,rate=1.000000,stream-time=0,request-context=2\r\n"
                            "Pragma: xClientGUID={abc}\r\n"
                            "Pragma: no-cache,rate=1.000000,stream-time=5000\r\n"
                            "\r\n"));
    EXPECT_EQ(p.get_uint("request-context"), 2u);
    EXPECT_EQ(p.get("xClientGUID"), "{abc}");
    EXPECT_EQ(p.get_uint("stream-time"), 5000u);  // the later line wins
    EXPECT_EQ(p.tokens.size(), 8u);
}

TEST(Pragma, NamesAreCaseInsensitive) {
    const Pragmas p = pragmas_of("XPLAYSTRM=1, Client-ID=7");
    EXPECT_TRUE(p.has("xPlayStrm"));
    EXPECT_EQ(p.get_uint("client-id"), 7u);
    EXPECT_EQ(p.tokens[0].name, "XPLAYSTRM");  // kept as sent
}

TEST(Pragma, QuotedValues) {
    const Pragmas p = pragmas_of("features=\"broadcast,playlist\", x = \"a \\\"b\\\" c\" ,y=\"unterminated, z");
    EXPECT_EQ(p.get("features"), "broadcast,playlist");
    EXPECT_FALSE(p.has("playlist"));
    EXPECT_EQ(p.get("x"), "a \"b\" c");
    EXPECT_EQ(p.get("y"), "unterminated, z");
    EXPECT_FALSE(p.has("z"));
}

TEST(Pragma, GarbageIsIgnored) {
    const Pragmas p = pragmas_of(",, ,=5, \"quoted\", a b=1, ok=1,,");
    ASSERT_EQ(p.tokens.size(), 1u);
    EXPECT_EQ(p.tokens[0].name, "ok");
    EXPECT_TRUE(pragmas_of("").tokens.empty());
    EXPECT_TRUE(pragmas_of("\x01\xff=").tokens.empty());
}

TEST(Pragma, UnsignedValues) {
    const Pragmas p = pragmas_of("a=12, b=-1, c=1.5, d, e=, f=18446744073709551615, g=99999999999999999999, h= 42 ");
    EXPECT_EQ(p.get_uint("a"), 12u);
    EXPECT_EQ(p.get_uint("b"), std::nullopt);
    EXPECT_EQ(p.get_uint("c"), std::nullopt);
    EXPECT_EQ(p.get_uint("d"), std::nullopt);
    EXPECT_EQ(p.get_uint("e"), std::nullopt);
    EXPECT_EQ(p.get_uint("f"), std::nullopt);  // 20 digits: refused rather than risk overflow
    EXPECT_EQ(p.get_uint("g"), std::nullopt);
    EXPECT_EQ(p.get_uint("h"), 42u);
    EXPECT_EQ(p.get_uint("missing"), std::nullopt);
    EXPECT_EQ(p.get("missing"), std::nullopt);
}

TEST(Pragma, StreamSwitchEntries) {
    // The spec's own examples spell the token switch-stream-entry.
    auto e = pragmas_of("switch-stream-entry=ffff:1:0 ffff:2:0").stream_switch_entries();
    ASSERT_EQ(e.size(), 2u);
    EXPECT_TRUE(same(e[1], -1, 2, 0));
    e = pragmas_of("stream-switch-entry=1:1:1").stream_switch_entries();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(same(e[0], 1, 1, 1));
    e = pragmas_of("stream-switch-entry=FFFF:a:2  0B:0C:0").stream_switch_entries();  // hex, any case
    ASSERT_EQ(e.size(), 2u);
    EXPECT_TRUE(same(e[0], -1, 10, 2));
    EXPECT_TRUE(same(e[1], 11, 12, 0));
    // Malformed entries are dropped, good ones kept.
    e = pragmas_of("stream-switch-entry=1:2 g:1:0 1:2:3 12345:1:0 ::0 1:1:0:0 ffff:3:0 x").stream_switch_entries();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_TRUE(same(e[0], -1, 3, 0));
    // Over several lines, in order.
    Pragmas p;
    p.add("stream-switch-entry=ffff:1:0");
    p.add("stream-switch-entry=ffff:2:2");
    e = p.stream_switch_entries();
    ASSERT_EQ(e.size(), 2u);
    EXPECT_TRUE(same(e[1], -1, 2, 2));
    EXPECT_TRUE(pragmas_of("stream-switch-entry").stream_switch_entries().empty());
}

TEST(UserAgent, ClientTokens) {
    UserAgent ua = parse_user_agent("NSPlayer/7.0.0.1956");
    EXPECT_EQ(ua.token, "NSPlayer");
    EXPECT_EQ(ua.major, 7);
    EXPECT_EQ(ua.minor, 0);
    EXPECT_TRUE(ua.is_wmsp_client());

    ua = parse_user_agent("NSPlayer/12.00.19041.3636 WMFSDK/12.00.19041.3636");
    EXPECT_EQ(ua.major, 12);
    EXPECT_EQ(ua.minor, 0);
    EXPECT_TRUE(ua.is_wmsp_client());

    ua = parse_user_agent("NSServer/9.5.6001.18000; via WMCacheProxy");
    EXPECT_EQ(ua.token, "NSServer");
    EXPECT_EQ(ua.major, 9);
    EXPECT_EQ(ua.minor, 5);
    EXPECT_TRUE(ua.via_cache_proxy);

    ua = parse_user_agent("WMCacheProxy/9.1");
    EXPECT_EQ(ua.token, "WMCacheProxy");
    EXPECT_EQ(ua.minor, 1);
    EXPECT_TRUE(ua.is_wmsp_client());
}

TEST(UserAgent, OtherAgentsAreReadButNotWmsp) {
    UserAgent ua = parse_user_agent("Mozilla/5.0 (X11; Linux x86_64)");
    EXPECT_EQ(ua.token, "Mozilla");
    EXPECT_EQ(ua.major, 5);
    EXPECT_FALSE(ua.is_wmsp_client());
    EXPECT_FALSE(parse_user_agent("NSPlayer").is_wmsp_client());
    EXPECT_FALSE(parse_user_agent("NSPlayer/x.y").is_wmsp_client());
    EXPECT_FALSE(parse_user_agent("").is_wmsp_client());
    EXPECT_EQ(parse_user_agent("").token, "");
    EXPECT_EQ(parse_user_agent("\x01\x02/1.0").token, "");
    EXPECT_EQ(parse_user_agent("NSPlayer/99999999999.1").major, 0);  // absurd versions are not read
    EXPECT_EQ(parse_user_agent("  NSPlayer/10.0").major, 10);
}

}  // namespace
}  // namespace asfcast::pull
