// MS-WMHTTP wire pieces: URLs as users type them, framing, $F filler exactness, the PushSetup
// body, push-id cookies in cookie lists, base64.
#include <gtest/gtest.h>

#include "asfcast/push/wmhttp_wire.hpp"

namespace asfcast::push {
namespace {

TEST(PushUrl, HttpForm) {
    auto u = parse_push_url("http://media.example.com:8080/live");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "media.example.com");
    EXPECT_EQ(u->port, 8080);
    EXPECT_EQ(u->path, "/live");
    EXPECT_EQ(u->display(), "http://media.example.com:8080/live");
    EXPECT_EQ(u->host_header(), "media.example.com:8080");
}

TEST(PushUrl, DefaultPortAndCase) {
    auto u = parse_push_url("HTTP://Server/pub/point");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "Server");
    EXPECT_EQ(u->port, 80);
    EXPECT_EQ(u->path, "/pub/point");
    EXPECT_EQ(u->host_header(), "Server");
}

TEST(PushUrl, WmeStyle) {
    auto u = parse_push_url("wms01:8080/pubpoint");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "wms01");
    EXPECT_EQ(u->port, 8080);
    EXPECT_EQ(u->path, "/pubpoint");
    auto v = parse_push_url("  10.0.0.5/event  ");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->host, "10.0.0.5");
    EXPECT_EQ(v->port, 80);
    EXPECT_EQ(v->path, "/event");
}

TEST(PushUrl, Ipv6AndCredentials) {
    auto u = parse_push_url("http://enc:s%40cret@[::1]:81/p");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 81);
    EXPECT_EQ(u->user, "enc");
    EXPECT_EQ(u->password, "s@cret");
    EXPECT_EQ(u->display(), "http://[::1]:81/p");  // no credentials
}

TEST(PushUrl, PathEncodingAndQuery) {
    auto u = parse_push_url("server:80/my point?x=1");
    EXPECT_FALSE(u);  // spaces as typed are refused (quote the URL or use %20)
    auto v = parse_push_url("server/my%20point?x=1");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->path, "/my%20point?x=1");
    auto w = parse_push_url("server/caf\xC3\xA9");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->path, "/caf%C3%A9");
}

TEST(PushUrl, Refused) {
    std::string err;
    EXPECT_FALSE(parse_push_url("mms://server/pub", &err));
    EXPECT_NE(err.find("scheme"), std::string::npos);
    EXPECT_FALSE(parse_push_url("https://server/pub", &err));
    EXPECT_FALSE(parse_push_url("http://server:8080", &err));
    EXPECT_NE(err.find("publishing point"), std::string::npos);
    EXPECT_FALSE(parse_push_url("server:8080/", &err));
    EXPECT_FALSE(parse_push_url("server:0/p", &err));
    EXPECT_FALSE(parse_push_url("server:65536/p", &err));
    EXPECT_FALSE(parse_push_url("server:80x/p", &err));
    EXPECT_FALSE(parse_push_url("server:/p", &err));
    EXPECT_FALSE(parse_push_url("/p", &err));
    EXPECT_FALSE(parse_push_url("", &err));
    EXPECT_FALSE(parse_push_url("http://[::1/p", &err));
    EXPECT_FALSE(parse_push_url("ser ver/p", &err));
}

TEST(TemplatePath, Forms) {
    EXPECT_EQ(template_path("/pub"), "/pub");
    EXPECT_EQ(template_path("pub"), "/pub");
    EXPECT_EQ(template_path("http://server:8080/tmpl"), "/tmpl");
    EXPECT_EQ(template_path("server:8080/tmpl"), "/tmpl");
    EXPECT_EQ(template_path("/Pub Point"), "/Pub%20Point");
    EXPECT_FALSE(template_path(""));
    EXPECT_FALSE(template_path("/a\"b"));
}

TEST(PushSetupBody, Directives) {
    // MS-WMHTTP 4.8: "AutoDestroy: 1" CRLF is the 16-byte body.
    EXPECT_EQ(pushsetup_body("", true), "AutoDestroy: 1\r\n");
    EXPECT_EQ(pushsetup_body("", true).size(), 16u);
    EXPECT_EQ(pushsetup_body("", false), "");
    EXPECT_EQ(pushsetup_body("/pub", false), "Template-URL: \"/pub\"\r\nAutoDestroy: 0\r\n");
    EXPECT_EQ(pushsetup_body("/pub", true), "Template-URL: \"/pub\"\r\nAutoDestroy: 1\r\n");
}

TEST(Framing, HeaderAndData) {
    Bytes out;
    const Bytes payload = {1, 2, 3};
    append_frame(out, 'H', payload);
    append_frame(out, 'D', payload);
    const Bytes expected = {'$', 'H', 3, 0, 1, 2, 3, '$', 'D', 3, 0, 1, 2, 3};
    EXPECT_EQ(out, expected);
    EXPECT_EQ(out[0] & 0x80, 0);  // B bit 0
}

TEST(Framing, StreamChangeAndEnd) {
    Bytes out;
    append_stream_change(out, Bytes{9, 8});
    append_end(out, 0);
    append_end(out, 1);
    const Bytes expected = {'$', 'C', 6, 0, 0, 0, 0, 0, 9, 8, '$', 'E', 4, 0, 0, 0, 0, 0, '$', 'E', 4, 0, 1, 0, 0, 0};
    EXPECT_EQ(out, expected);
}

// Walks $F packets and returns their total size; fails on anything else.
std::size_t filler_total(const Bytes& b, std::size_t max_len) {
    std::size_t pos = 0;
    while (pos < b.size()) {
        EXPECT_GE(b.size() - pos, 4u);
        EXPECT_EQ(b[pos], '$');
        EXPECT_EQ(b[pos + 1], 'F');
        const std::size_t len = b[pos + 2] | b[pos + 3] << 8;
        EXPECT_LE(len, max_len);
        pos += 4 + len;
    }
    EXPECT_EQ(pos, b.size());
    return pos;
}

TEST(Framing, FillerIsExact) {
    for (std::uint64_t total : {4ull, 5ull, 7ull, 8ull, 100ull, 8196ull, 8197ull, 8199ull, 8200ull, 8201ull, 16392ull,
                                16393ull, 65535ull, 65536ull, 70000ull, 200003ull}) {
        for (std::size_t max_len : {4u, 5u, 8192u, 65535u}) {
            Bytes out;
            append_filler(out, total, max_len);
            EXPECT_EQ(filler_total(out, max_len), total) << total << " " << max_len;
        }
    }
    Bytes out;
    EXPECT_THROW(append_filler(out, 3, 8192), std::invalid_argument);
}

TEST(Cookies, PushIdAmongOthers) {
    using V = std::vector<std::string_view>;
    EXPECT_EQ(find_push_id(V{"push-id=1234567890"}), "1234567890");
    EXPECT_EQ(find_push_id(V{"theme=dark; Path=/", "push-id=42; Path=/; HttpOnly"}), "42");
    EXPECT_EQ(find_push_id(V{"a=1, push-id=77, b=2"}), "77");
    EXPECT_EQ(find_push_id(V{"sid=x; Expires=Wed, 09 Jun 2021 10:18:14 GMT, push-id=\"abc\"; Max-Age=60"}), "abc");
    EXPECT_EQ(find_push_id(V{"PUSH-ID=9"}), "9");
    EXPECT_FALSE(find_push_id(V{"mypush-id=5", "id=3"}));
    EXPECT_FALSE(find_push_id(V{}));
    EXPECT_FALSE(find_push_id(V{"push-id="}));
    EXPECT_FALSE(find_push_id(V{std::string_view("push-id=a\x01z")}));
    EXPECT_FALSE(find_push_id(V{"push-id=" + std::string(300, '1')}));
}

TEST(Base64, RoundTrip) {
    EXPECT_EQ(base64_encode("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("a"), "YQ==");
    EXPECT_EQ(base64_encode("ab"), "YWI=");
    EXPECT_EQ(base64_decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), "Aladdin:open sesame");
    EXPECT_EQ(base64_decode("YWI="), "ab");
    EXPECT_FALSE(base64_decode("YWI"));
    EXPECT_FALSE(base64_decode("Y=I="));
    EXPECT_FALSE(base64_decode("Y!I="));
}

}  // namespace
}  // namespace asfcast::push
