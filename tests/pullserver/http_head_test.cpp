// HttpHeadParser: request and status lines, lenient header forms real clients send, and the
// bounds that protect the server.
#include <gtest/gtest.h>

#include <string>

#include "asfcast/core/http_head.hpp"
#include "wmsp_requests.hpp"

namespace asfcast::http {
namespace {

ByteView view(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

using Kind = HttpHeadParser::Kind;

struct Parsed {
    HeadStatus status;
    std::size_t consumed;
    HttpHead head;
    std::string error;
};

Parsed parse(const std::string& text, Kind kind = Kind::Request, std::size_t max = 8192) {
    HttpHeadParser p(kind, max);
    const std::size_t n = p.feed(view(text));
    return {p.status(), n, p.head(), p.error()};
}

// The same input one byte at a time must give the same result.
Parsed parse_bytewise(const std::string& text, Kind kind = Kind::Request, std::size_t max = 8192) {
    HttpHeadParser p(kind, max);
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size() && p.status() == HeadStatus::NeedMore; ++i)
        n += p.feed(view(text).subspan(i, 1));
    return {p.status(), n, p.head(), p.error()};
}

TEST(HttpHead, SimpleRequest) {
    const std::string text = "GET /live?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent:  NSPlayer/7.0 \r\n\r\nBODY";
    const Parsed r = parse(text);
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(r.consumed, text.size() - 4);  // the body stays with the caller
    EXPECT_FALSE(r.head.is_response);
    EXPECT_EQ(r.head.method, "GET");
    EXPECT_EQ(r.head.target, "/live?x=1");
    EXPECT_EQ(r.head.version, "HTTP/1.1");
    ASSERT_EQ(r.head.headers.size(), 2u);
    EXPECT_EQ(r.head.headers[1].name, "User-Agent");
    EXPECT_EQ(r.head.headers[1].value, "NSPlayer/7.0");  // surrounding whitespace removed
    EXPECT_TRUE(r.error.empty());
}

TEST(HttpHead, ByteByByteGivesTheSameResult) {
    for (const std::string* text : {&pull::testreq::kSpecDescribe, &pull::testreq::kSpecPlay, &pull::testreq::kRunInPlay}) {
        const Parsed a = parse(*text);
        const Parsed b = parse_bytewise(*text);
        ASSERT_EQ(a.status, HeadStatus::Complete) << a.error;
        ASSERT_EQ(b.status, HeadStatus::Complete) << b.error;
        EXPECT_EQ(a.consumed, text->size());
        EXPECT_EQ(b.consumed, text->size());
        ASSERT_EQ(a.head.headers.size(), b.head.headers.size());
        for (std::size_t i = 0; i < a.head.headers.size(); ++i) {
            EXPECT_EQ(a.head.headers[i].name, b.head.headers[i].name);
            EXPECT_EQ(a.head.headers[i].value, b.head.headers[i].value);
        }
    }
}

TEST(HttpHead, BareLineFeeds) {
    const Parsed r = parse("GET / HTTP/1.0\nHost: h\nPragma: xPlayStrm=1\n\n");
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(*r.head.find("pragma"), "xPlayStrm=1");
}

TEST(HttpHead, LeadingBlankLinesAreSkipped) {
    const Parsed r = parse("\r\n\n\r\nGET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(r.head.method, "GET");
    EXPECT_TRUE(r.head.headers.empty());
}

TEST(HttpHead, NamesAreCaseInsensitive) {
    const Parsed r = parse("GET / HTTP/1.0\r\nPRAGMA: a\r\npragma: b\r\nPragma: c\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.status, HeadStatus::Complete);
    EXPECT_EQ(*r.head.find("pRaGmA"), "a");
    const auto all = r.head.find_all("Pragma");
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0], "a");
    EXPECT_EQ(all[1], "b");
    EXPECT_EQ(all[2], "c");
    EXPECT_EQ(r.head.find("Content-Type"), nullptr);
    EXPECT_TRUE(r.head.find_all("Content-Type").empty());
}

TEST(HttpHead, ObsoleteFoldingJoinsOntoThePreviousValue) {
    const Parsed r = parse("GET / HTTP/1.1\r\nX-Long: one,\r\n   two\r\n\tthree\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(*r.head.find("X-Long"), "one, two three");
    EXPECT_EQ(*r.head.find("Host"), "h");
}

TEST(HttpHead, FoldBeforeAnyHeaderIsMalformed) {
    const Parsed r = parse("GET / HTTP/1.1\r\n folded\r\n\r\n");
    EXPECT_EQ(r.status, HeadStatus::Malformed);
}

TEST(HttpHead, WrappedPragmaLineContinuesThePragma) {
    // MS-WMSP 4.11: "packet-num=..." wrapped onto its own line under a Pragma.
    const Parsed r = parse(pull::testreq::kSpecDescribe);
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(r.head.find_all("Pragma")[0],
              "no-cache,rate=1.000,stream-time=0,stream-offset=0:0, packet-num=4294967295,max-duration=0");
    EXPECT_EQ(*r.head.find("Supported"),
              "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm");
    EXPECT_EQ(*r.head.find("Accept-Language"), "*");
    EXPECT_EQ(r.head.headers.size(), 9u);
}

TEST(HttpHead, WrappedLineWithColonInsideAValue) {
    // "stream-offset=4294967295:4294967295," has a ':' but no header name before it.
    const Parsed r = parse(pull::testreq::kSpecPlay);
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(r.head.version, "HTTP/1.0");
    EXPECT_EQ(r.head.find_all("Pragma")[0],
              "no-cache,rate=1.000,stream-time=0, stream-offset=4294967295:4294967295, "
              "packet-num=4294967295,max-duration=0");
    EXPECT_EQ(r.head.find_all("Pragma").size(), 7u);
}

TEST(HttpHead, PragmaContinuationWithoutTrailingComma) {
    const Parsed r = parse("GET / HTTP/1.0\r\nPragma: a=1\r\nb=2\r\n\r\n");
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(*r.head.find("Pragma"), "a=1, b=2");
}

TEST(HttpHead, LineWithoutColonElsewhereIsMalformed) {
    const Parsed r = parse("GET / HTTP/1.0\r\nHost: h\r\ngarbage line\r\n\r\n");
    EXPECT_EQ(r.status, HeadStatus::Malformed);
    EXPECT_NE(r.error.find("has no ':'"), std::string::npos) << r.error;
    EXPECT_EQ(parse("GET / HTTP/1.0\r\njunk\r\n\r\n").status, HeadStatus::Malformed);
}

TEST(HttpHead, MissingHttpVersion) {
    const Parsed r = parse("GET /\r\n\r\n");
    EXPECT_EQ(r.status, HeadStatus::Malformed);
    EXPECT_EQ(r.error, "request line has no HTTP version");
    EXPECT_EQ(parse("GET\r\n\r\n").error, "request line has no target");
    EXPECT_EQ(parse("GET / HTTP/1.0 x\r\n\r\n").status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET / HTTP/2.0\r\n\r\n").status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET / HTTX/1.0\r\n\r\n").status, HeadStatus::Malformed);
    EXPECT_EQ(parse("G(T / HTTP/1.0\r\n\r\n").status, HeadStatus::Malformed);
}

TEST(HttpHead, ControlBytesInRequestLine) {
    EXPECT_EQ(parse(std::string("GET /\0 HTTP/1.0\r\n\r\n", 19)).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET /\x01 HTTP/1.0\r\n\r\n").status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET /\t HTTP/1.0\r\n\r\n").status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET / HTTP/1.0\r\r\n\r\n").status, HeadStatus::Malformed);  // stray CR
    EXPECT_EQ(parse(std::string("GET / HTTP/1.0\r\nX: a\0b\r\n\r\n", 24)).status, HeadStatus::Malformed);
}

TEST(HttpHead, TooLargeAsSoonAsTheLimitIsPassed) {
    HttpHeadParser p(Kind::Request, 32);
    const std::string line(100, 'A');  // no line end at all
    EXPECT_EQ(p.feed(view(line)), 33u);
    EXPECT_EQ(p.status(), HeadStatus::TooLarge);
    EXPECT_EQ(p.error(), "request head exceeds 32 bytes");
    EXPECT_EQ(p.feed(view(line)), 0u);  // nothing more is taken

    // Byte by byte: refused on byte 33.
    HttpHeadParser q(Kind::Request, 32);
    std::size_t fed = 0;
    while (q.status() == HeadStatus::NeedMore) fed += q.feed(view(line).subspan(fed, 1));
    EXPECT_EQ(fed, 33u);
    EXPECT_EQ(q.status(), HeadStatus::TooLarge);
}

TEST(HttpHead, HeadOfExactlyTheLimitIsAccepted) {
    const std::string text = "GET / HTTP/1.0\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parse(text, Kind::Request, text.size()).status, HeadStatus::Complete);
    EXPECT_EQ(parse(text, Kind::Request, text.size() - 1).status, HeadStatus::TooLarge);
    // Leading blank lines count too: they cannot be used to send forever.
    EXPECT_EQ(parse(std::string(64, '\n'), Kind::Request, 32).status, HeadStatus::TooLarge);
}

TEST(HttpHead, AtMostOneHundredHeaderLines) {
    std::string text = "GET / HTTP/1.0\r\n";
    for (int i = 0; i < 100; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(parse(text + "\r\n").status, HeadStatus::Complete);
    const Parsed r = parse(text + "X-100: v\r\n\r\n");
    EXPECT_EQ(r.status, HeadStatus::Malformed);
    EXPECT_EQ(r.error, "more than 100 header lines");
}

TEST(HttpHead, ContentLength) {
    EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 42\r\n\r\n").head.content_length(), 42u);
    EXPECT_EQ(parse("POST / HTTP/1.0\r\n\r\n").head.content_length(), std::nullopt);
    // Repeated or listed, but equal: accepted (RFC 7230 3.3.2).
    EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n").head.content_length(), 7u);
    EXPECT_EQ(parse("POST / HTTP/1.0\r\nContent-Length: 7, 7\r\n\r\n").head.content_length(), 7u);
    for (const char* bad : {"abc", "-1", "+1", "1 2", "", "0x10", "99999999999999999999", "7, 8"}) {
        const Parsed r = parse(std::string("POST / HTTP/1.0\r\nContent-Length: ") + bad + "\r\n\r\n");
        EXPECT_EQ(r.status, HeadStatus::Malformed) << bad;
    }
    const Parsed r = parse("POST / HTTP/1.0\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n");
    EXPECT_EQ(r.status, HeadStatus::Malformed);
    EXPECT_EQ(r.error, "conflicting Content-Length values 7 and 8");
}

TEST(HttpHead, KeepAliveAndChunked) {
    EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive());
    EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive());
    EXPECT_TRUE(parse("GET / HTTP/1.1\r\n\r\n").head.keep_alive());
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").head.keep_alive());
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").head.keep_alive());
    EXPECT_TRUE(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").head.chunked());
    EXPECT_FALSE(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").head.chunked());
    EXPECT_FALSE(parse("POST / HTTP/1.1\r\n\r\n").head.chunked());
}

TEST(HttpHead, Responses) {
    Parsed r = parse("HTTP/1.1 200 OK\r\nServer: Rex/9.0.0.2837\r\nContent-Length: 2680\r\n\r\n", Kind::Response);
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_TRUE(r.head.is_response);
    EXPECT_EQ(r.head.version, "HTTP/1.1");
    EXPECT_EQ(r.head.status, 200);
    EXPECT_EQ(r.head.reason, "OK");
    EXPECT_EQ(r.head.content_length(), 2680u);

    r = parse("HTTP/1.0 401 Access Denied\r\n\r\n", Kind::Response);
    EXPECT_EQ(r.head.status, 401);
    EXPECT_EQ(r.head.reason, "Access Denied");
    r = parse("HTTP/1.0 204\r\n\r\n", Kind::Response);  // no reason phrase at all
    ASSERT_EQ(r.status, HeadStatus::Complete) << r.error;
    EXPECT_EQ(r.head.status, 204);
    EXPECT_EQ(r.head.reason, "");

    EXPECT_EQ(parse("HTTP/1.0 20 OK\r\n\r\n", Kind::Response).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("HTTP/1.0 2000 OK\r\n\r\n", Kind::Response).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("ICY 200 OK\r\n\r\n", Kind::Response).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n", Kind::Response).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("HTTP/1.0 200 OK\r\n\r\n", Kind::Request).status, HeadStatus::Malformed);
    EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n" + std::string(100, 'x'), Kind::Response, 64).error,
              "response head exceeds 64 bytes");
}

TEST(HttpHead, StopsAtTheEndOfTheHeadAndResets) {
    const std::string two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    HttpHeadParser p(Kind::Request, 8192);
    const std::size_t first = p.feed(view(two));
    ASSERT_EQ(p.status(), HeadStatus::Complete);
    EXPECT_EQ(first, two.find("GET /b"));
    EXPECT_EQ(p.feed(view(two).subspan(first)), 0u);  // complete: takes nothing more
    p.reset();
    EXPECT_EQ(p.status(), HeadStatus::NeedMore);
    EXPECT_EQ(p.feed(view(two).subspan(first)), two.size() - first);
    ASSERT_EQ(p.status(), HeadStatus::Complete);
    EXPECT_EQ(p.head().target, "/b");
    EXPECT_TRUE(p.head().headers.empty());
}

TEST(HttpHead, SplitAcrossFeedsAtAnyPoint) {
    const std::string& text = pull::testreq::kSpecPlay;
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        HttpHeadParser p(Kind::Request, 8192);
        const std::size_t a = p.feed(view(text).first(cut));
        const std::size_t b = p.feed(view(text).subspan(a));
        ASSERT_EQ(p.status(), HeadStatus::Complete) << "cut at " << cut << ": " << p.error();
        EXPECT_EQ(a + b, text.size());
        EXPECT_EQ(p.head().find_all("Pragma").size(), 7u);
    }
}

TEST(HttpHead, HelperFunctions) {
    EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
    EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
    EXPECT_TRUE(is_token_char('~'));
    EXPECT_FALSE(is_token_char(':'));
    EXPECT_FALSE(is_token_char('\0'));
    EXPECT_FALSE(is_token_char(' '));
}

}  // namespace
}  // namespace asfcast::http
