// WmhttpSession driven byte by byte: no sockets. The harness plays the transport: it connects
// when asked, collects what the session writes and feeds it the server's replies.
#include <gtest/gtest.h>

#include <map>

#include "asfcast/core/start_points.hpp"
#include "asfcast/core/http_digest.hpp"
#include "asfcast/push/wmhttp_session.hpp"
#include "test_stream.hpp"

namespace asfcast::push {
namespace {

using namespace std::chrono_literals;
using pushtest::TestStream;
using TimePoint = WmhttpSession::TimePoint;

struct Frame {
    char id = 0;
    Bytes payload;  // for $C/$E: after the Reason
    std::uint32_t reason = 0;
};

struct Request {
    std::string line;
    std::map<std::string, std::string> headers;  // lowercase names
    std::vector<std::string> header_order;
    std::uint64_t content_length = 0;
    std::string body;  // what has arrived so far
    std::vector<Frame> frames;
    std::string header(const std::string& n) const {
        auto it = headers.find(n);
        return it == headers.end() ? "<none>" : it->second;
    }
};

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<Frame> parse_frames(const std::string& body) {
    std::vector<Frame> out;
    std::size_t p = 0;
    while (p + 4 <= body.size()) {
        EXPECT_EQ(body[p], '$') << "at " << p;
        Frame f;
        f.id = body[p + 1];
        const std::size_t len = static_cast<std::uint8_t>(body[p + 2]) | static_cast<std::uint8_t>(body[p + 3]) << 8;
        if (p + 4 + len > body.size()) break;
        std::size_t b = p + 4;
        std::size_t n = len;
        if (f.id == 'C' || f.id == 'E') {
            f.reason = static_cast<std::uint8_t>(body[b]) | static_cast<std::uint8_t>(body[b + 1]) << 8 |
                       static_cast<std::uint8_t>(body[b + 2]) << 16 | static_cast<std::uint32_t>(static_cast<std::uint8_t>(body[b + 3])) << 24;
            b += 4;
            n -= 4;
        }
        f.payload.assign(body.begin() + static_cast<std::ptrdiff_t>(b), body.begin() + static_cast<std::ptrdiff_t>(b + n));
        out.push_back(std::move(f));
        p += 4 + len;
    }
    return out;
}

// Splits a connection's bytes into requests (the last body may be incomplete).
std::vector<Request> parse_requests(const std::string& wire) {
    std::vector<Request> out;
    std::size_t p = 0;
    while (p < wire.size()) {
        const auto end = wire.find("\r\n\r\n", p);
        if (end == std::string::npos) break;
        Request r;
        std::string head = wire.substr(p, end - p);
        std::size_t lp = 0;
        bool first = true;
        while (lp <= head.size()) {
            auto le = head.find("\r\n", lp);
            if (le == std::string::npos) le = head.size();
            std::string line = head.substr(lp, le - lp);
            if (first) {
                r.line = line;
                first = false;
            } else {
                auto colon = line.find(':');
                std::string name = lower(line.substr(0, colon));
                std::string value = line.substr(colon + 2);
                r.headers[name] = value;
                r.header_order.push_back(line.substr(0, colon));
            }
            lp = le + 2;
        }
        r.content_length = std::stoull(r.header("content-length"));
        const std::size_t body_at = end + 4;
        const std::size_t avail = std::min<std::size_t>(r.content_length, wire.size() - body_at);
        r.body = wire.substr(body_at, avail);
        if (r.header("content-type") == "application/x-wms-pushstart") r.frames = parse_frames(r.body);
        out.push_back(std::move(r));
        p = body_at + avail;
    }
    return out;
}

SessionConfig base_config() {
    SessionConfig c;
    c.url = *parse_push_url("wms.example:8080/live");
    c.seed = 7;
    c.tuning.backoff_initial = 1000ms;
    c.tuning.backoff_max = 8000ms;
    c.tuning.backoff_jitter = 0.0;
    c.tuning.permanent_retry = 60000ms;
    return c;
}

class Harness {
public:
    explicit Harness(SessionConfig cfg) : s(std::move(cfg)) {}

    void sync() {
        for (int guard = 0; guard < 10000; ++guard) {
            bool progress = false;
            if (s.wants_start()) offer_start();
            if (s.take_close()) {
                ++closes;
                conn = false;
            }
            if (s.take_connect()) {
                ++connects;
                conn = false;
                connect_asked = true;
                previous_wire = wire;
                wire.clear();
            }
            if (conn) {
                if (s.take_shutdown()) shut_down = true;
                Bytes b = s.take_output(now);
                if (!b.empty()) {
                    wire.append(b.begin(), b.end());
                    s.on_write_done(now);
                    progress = true;
                }
            }
            if (!progress) return;
        }
        ADD_FAILURE() << "harness: session never stops producing output";
    }
    void connect_ok() {
        ASSERT_TRUE(connect_asked);
        connect_asked = false;
        conn = true;
        s.on_connected(now);
        sync();
    }
    void reply(const std::string& r) {
        s.on_data(ByteView(reinterpret_cast<const std::uint8_t*>(r.data()), r.size()), now);
        sync();
    }
    void advance(std::chrono::milliseconds d) {
        now += d;
        if (auto dl = s.deadline(); dl && *dl <= now) s.on_timer(now);
        sync();
    }
    void header(HeaderPtr h) {
        s.on_header(std::move(h), now);
        sync();
    }
    void packets(const std::vector<PacketPtr>& ps, const MuxedHeader& h) {
        for (const auto& p : ps) s.on_packet(push_packet(p, h), now);
        sync();
    }
    PushPacketPtr push_packet(PacketPtr p, const MuxedHeader& h) {
        if (!last_header || last_header->bytes != h.bytes) last_header = std::make_shared<MuxedHeader>(h);
        auto pp = std::make_shared<const PushPacket>(PushPacket{std::move(p), last_header});
        history.push_back(pp);
        return pp;
    }
    // What PushOutput does for a session that asks for a start point: the packets from the newest
    // group of key frames covering every video stream (core/start_points.hpp) up to the newest.
    void offer_start() {
        if (!last_header) return;
        StartIndex index;
        for (std::size_t i = 0; i < history.size(); ++i)
            index.add(i, start_point_of(*history[i]->source, *history[i]->header));
        const auto start = index.newest_for(video_streams_taken(*last_header));
        if (!start) return;
        s.start_from(std::vector<PushPacketPtr>(history.begin() + static_cast<std::ptrdiff_t>(*start), history.end()),
                     now);
    }
    std::vector<Request> requests() const { return parse_requests(wire); }
    TargetStatus status() const { return s.status(now); }

    WmhttpSession s;
    std::vector<PushPacketPtr> history;  // every packet offered, as PushOutput's feed keeps them
    HeaderPtr last_header;
    TimePoint now = TimePoint{} + 1000h;
    std::string wire, previous_wire;
    bool conn = false, connect_asked = false, shut_down = false;
    int connects = 0, closes = 0;
};

const std::string k204 =
    "HTTP/1.1 204 No Content\r\nServer: Cougar/9.5.5732.6324\r\nContent-Length: 0\r\nPragma: no-cache, "
    "timeout=60000\r\nCache-Control: no-cache\r\nSet-Cookie: push-id=4124758405\r\n\r\n";

std::string setup_and_start(Harness& h, TestStream&, HeaderPtr hdr) {
    h.header(hdr);
    EXPECT_EQ(h.connects, 1);
    h.connect_ok();
    h.reply(k204);
    return h.wire;
}

TEST(Session, PushSetupRequestIsExact) {
    auto cfg = base_config();
    cfg.template_path = "/pub";
    cfg.auto_remove = true;
    Harness h(cfg);
    TestStream ts;
    EXPECT_EQ(h.status().state, TargetState::idle);
    h.header(ts.header());
    EXPECT_EQ(h.status().state, TargetState::connecting);
    h.connect_ok();
    const std::string body = "Template-URL: \"/pub\"\r\nAutoDestroy: 1\r\n";
    EXPECT_EQ(h.wire,
              "POST /live HTTP/1.1\r\n"
              "Content-Type: application/x-wms-pushsetup\r\n"
              "X-Accept-Authentication: NTLM, Digest\r\n"
              "User-Agent: WMEncoder/11.0.5721.5145\r\n"
              "Host: wms.example:8080\r\n"
              "Content-Length: " + std::to_string(body.size()) + "\r\n"
              "Cache-Control: no-cache\r\n"
              "Cookie: push-id=0\r\n"
              "\r\n" + body);
}

TEST(Session, PushStartOnTheSameConnectionWithHeaderFirst) {
    Harness h(base_config());
    TestStream ts;
    auto hdr = ts.header();
    setup_and_start(h, ts, hdr);
    EXPECT_EQ(h.connects, 1);  // no new connection for PushStart
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].header("content-length"), "0");
    EXPECT_EQ(reqs[1].line, "POST /live HTTP/1.1");
    EXPECT_EQ(reqs[1].header("content-type"), "application/x-wms-pushstart");
    EXPECT_EQ(reqs[1].header("content-length"), "2147483647");
    EXPECT_EQ(reqs[1].header("cookie"), "push-id=4124758405");
    EXPECT_EQ(reqs[1].header("user-agent"), "WMEncoder/11.0.5721.5145");
    EXPECT_EQ(reqs[1].header("transfer-encoding"), "<none>");
    ASSERT_EQ(reqs[1].frames.size(), 1u);
    EXPECT_EQ(reqs[1].frames[0].id, 'H');
    EXPECT_EQ(reqs[1].frames[0].payload, hdr->bytes);
    EXPECT_EQ(h.status().state, TargetState::streaming);

    auto ps = ts.packets(20);
    h.packets(ps, *hdr);
    reqs = h.requests();
    ASSERT_EQ(reqs[1].frames.size(), 21u);
    for (std::size_t i = 0; i < ps.size(); ++i) {
        EXPECT_EQ(reqs[1].frames[i + 1].id, 'D');
        // Padding removed (MS-WMHTTP 2.2.3.3) and Padding Length 0.
        auto info = asfmux::parse_packet(reqs[1].frames[i + 1].payload, static_cast<std::uint32_t>(reqs[1].frames[i + 1].payload.size()));
        EXPECT_EQ(info.padding, 0u);
        EXPECT_EQ(info.send_time_ms, ps[i]->send_time_ms);
        EXPECT_EQ(reqs[1].frames[i + 1].payload, Bytes(ps[i]->wire_form().begin(), ps[i]->wire_form().end()))
            << "packet " << i;
    }
    EXPECT_EQ(h.status().packets_sent, 20u);
}

TEST(Session, NoSetCookieKeepsPushIdZero) {
    Harness h(base_config());
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\nContent-Length: 0\r\n\r\n");
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[1].header("cookie"), "push-id=0");
}

TEST(Session, CookieListWithOtherCookies) {
    Harness h(base_config());
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nSet-Cookie: lang=en; Path=/, session=zz\r\n"
            "Set-Cookie: foo=bar, push-id=987654; Path=/live; HttpOnly\r\nContent-Length: 0\r\n\r\n");
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[1].header("cookie"), "push-id=987654");  // only push-id goes back
    EXPECT_EQ(h.status().push_id, "987654");
}

// Body bytes of a PushStart as framed, checking frames end exactly at Content-Length.
std::uint64_t framed_size(const Request& r) {
    std::uint64_t n = 0;
    for (const auto& f : r.frames) n += 4 + f.payload.size() + ((f.id == 'C' || f.id == 'E') ? 4 : 0);
    return n;
}

TEST(Session, BudgetFillerAndNextPushStart) {
    auto cfg = base_config();
    cfg.tuning.post_budget = 9000;  // a few packets per POST
    Harness h(cfg);
    TestStream ts(1400);
    auto hdr = ts.header();
    setup_and_start(h, ts, hdr);
    auto ps = ts.packets(30);
    h.packets(ps, *hdr);
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    const Request& first = reqs[1];
    ASSERT_EQ(first.content_length, 9000u);
    ASSERT_EQ(first.body.size(), 9000u);   // budget used up exactly ...
    EXPECT_EQ(framed_size(first), 9000u);  // ... by whole frames
    EXPECT_EQ(first.frames.front().id, 'H');
    EXPECT_EQ(first.frames.back().id, 'F');
    std::size_t ds = 0;
    for (const auto& f : first.frames) {
        if (f.id == 'D') ++ds;
        if (f.id == 'F') {
            for (auto b : f.payload) EXPECT_EQ(b, 0);
        }
    }
    EXPECT_GT(ds, 0u);
    // Nothing more until the server answers the POST.
    EXPECT_EQ(h.status().packets_sent, ds);
    h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nContent-Length: 0\r\n\r\n");
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[2].header("content-type"), "application/x-wms-pushstart");
    EXPECT_EQ(reqs[2].header("cookie"), "push-id=4124758405");  // the setup's id, no new cookie
    ASSERT_FALSE(reqs[2].frames.empty());
    EXPECT_EQ(reqs[2].frames.front().id, 'D');  // no $H in later POSTs of the session
    // Data continues where the first POST stopped: the packet that did not fit is next.
    auto next = asfmux::parse_packet(reqs[2].frames.front().payload,
                                     static_cast<std::uint32_t>(reqs[2].frames.front().payload.size()));
    EXPECT_EQ(next.send_time_ms, ps[ds]->send_time_ms);
    EXPECT_EQ(h.status().posts, 2u);
    // Every packet goes out over the following POSTs.
    std::size_t total = 0;
    for (int round = 0; round < 20; ++round) {
        reqs = h.requests();
        total = 0;
        for (std::size_t i = 1; i < reqs.size(); ++i)
            for (const auto& f : reqs[i].frames) total += f.id == 'D';
        if (reqs.back().body.size() != reqs.back().content_length) break;
        EXPECT_EQ(framed_size(reqs.back()), reqs.back().content_length);
        h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nContent-Length: 0\r\n\r\n");
    }
    EXPECT_EQ(total, ps.size());
    EXPECT_EQ(h.status().packets_skipped, 0u);
}

TEST(Session, DigestRoundTripOnNewConnection) {
    auto cfg = base_config();
    cfg.user = "enc";
    cfg.password = "secret";
    Harness h(cfg);
    TestStream ts;
    auto hdr = ts.header();
    h.header(hdr);
    h.connect_ok();
    h.reply("HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.5\r\nWWW-Authenticate: Digest realm=\"WMS\", "
            "nonce=\"abc123\", qop=\"auth\", opaque=\"op\"\r\nSet-Cookie: push-id=555\r\nContent-Length: 5\r\n\r\nnope!");
    // MS-WMHTTP 3.1.5.1: the authenticated PushSetup goes on a new connection.
    EXPECT_EQ(h.closes, 1);
    EXPECT_EQ(h.connects, 2);
    EXPECT_EQ(h.status().state, TargetState::authenticating);
    EXPECT_EQ(h.status().reconnects, 0u);
    h.connect_ok();
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("cookie"), "push-id=555");  // the id from the 401
    const std::string auth = reqs[0].header("authorization");
    auto ch = parse_challenges({auth});
    ASSERT_EQ(ch.size(), 1u);
    ASSERT_EQ(ch[0].scheme, "Digest");
    const std::string cnonce = *ch[0].param("cnonce");
    EXPECT_EQ(*ch[0].param("nc"), "00000001");
    EXPECT_EQ(*ch[0].param("uri"), "/live");
    EXPECT_EQ(*ch[0].param("opaque"), "op");
    EXPECT_EQ(*ch[0].param("response"),
              http::digest_response(http::digest_ha1("enc", "WMS", "secret"), "abc123", "00000001", cnonce, "auth",
                                    http::digest_ha2("POST", "/live")));
    EXPECT_EQ(auth.find("secret"), std::string::npos);
    h.reply(k204);
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    auto ch2 = parse_challenges({reqs[1].header("authorization")});
    ASSERT_EQ(ch2.size(), 1u);
    EXPECT_EQ(*ch2[0].param("nc"), "00000002");  // same nonce, counted
    EXPECT_EQ(h.status().state, TargetState::streaming);

    // The server later refuses the PushStart with a stale nonce: a new setup, not a failure.
    h.reply("HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.5\r\nWWW-Authenticate: Digest realm=\"WMS\", "
            "nonce=\"def456\", qop=auth, stale=true\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(h.connects, 3);
    h.connect_ok();
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("content-type"), "application/x-wms-pushsetup");
    auto ch3 = parse_challenges({reqs[0].header("authorization")});
    EXPECT_EQ(*ch3[0].param("nonce"), "def456");
    EXPECT_EQ(*ch3[0].param("nc"), "00000001");
    EXPECT_EQ(h.status().error, TargetError::none);
}

TEST(Session, NtlmHandshakeStaysOnTheSetupConnection) {
    auto cfg = base_config();
    cfg.user = "WMS\\enc";
    cfg.password = "pw";
    Harness h(cfg);
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    // MS-WMHTTP 4.8: Negotiate/NTLM challenge, the connection stays open.
    h.reply("HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.5\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
            "Set-Cookie: push-id=4124758405\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(h.connects, 1);
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[1].header("cookie"), "push-id=4124758405");
    const std::string neg = reqs[1].header("authorization");
    ASSERT_EQ(neg.rfind("NTLM ", 0), 0u) << neg;
    // A CHALLENGE_MESSAGE (MS-NLMP 4.2.4.3) on the same connection.
    const std::string chal = base64_encode(std::string(
        "NTLMSSP\0\x02\0\0\0\x0c\0\x0c\0\x38\0\0\0\x33\x82\x8a\xe2\x01\x23\x45\x67\x89\xab\xcd\xef"
        "\0\0\0\0\0\0\0\0\x24\0\x24\0\x44\0\0\0\x06\0\x70\x17\0\0\0\x0fS\0e\0r\0v\0e\0r\0"
        "\x02\0\x0c\0D\0o\0m\0a\0i\0n\0\x01\0\x0c\0S\0e\0r\0v\0e\0r\0\0\0\0\0",
        0x68));
    h.reply("HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.5\r\nWWW-Authenticate: NTLM " + chal +
            "\r\nContent-Length: 4\r\n\r\nnope");
    EXPECT_EQ(h.connects, 1);
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 3u);
    const std::string auth = reqs[2].header("authorization");
    ASSERT_EQ(auth.rfind("NTLM ", 0), 0u);
    EXPECT_EQ(base64_decode(auth.substr(5)).value().at(8), 3);  // AUTHENTICATE_MESSAGE
    EXPECT_EQ(h.status().state, TargetState::authenticating);
    h.reply(k204);
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 4u);
    EXPECT_EQ(reqs[3].header("content-type"), "application/x-wms-pushstart");
    EXPECT_EQ(reqs[3].header("authorization"), "<none>");  // NTLM authenticates the connection
    EXPECT_EQ(h.status().state, TargetState::streaming);
}

TEST(Session, WrongPasswordIsReported) {
    auto cfg = base_config();
    cfg.user = "enc";
    cfg.password = "wrong";
    Harness h(cfg);
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    const std::string challenge =
        "HTTP/1.1 401 Unauthorized\r\nServer: Cougar/9.5\r\nWWW-Authenticate: Digest realm=\"WMS\", nonce=\"n1\", "
        "qop=\"auth\"\r\nContent-Length: 0\r\n\r\n";
    h.reply(challenge);
    h.connect_ok();
    h.reply(challenge);
    const auto st = h.status();
    EXPECT_EQ(st.state, TargetState::failed);
    EXPECT_EQ(st.error, TargetError::bad_credentials);
    EXPECT_NE(st.last_error.find("bad credentials (401)"), std::string::npos);
    EXPECT_EQ(st.last_error.find("wrong"), std::string::npos);
    EXPECT_EQ(st.retry_in_ms, 60000);
    EXPECT_NE(st.describe().find("failed: bad credentials"), std::string::npos);
}

TEST(Session, ErrorStatusesAreReported) {
    struct Case {
        int status;
        const char* reason;
        TargetState state;
        TargetError error;
        const char* text;
    };
    for (const Case& c : {Case{403, "Forbidden", TargetState::failed, TargetError::forbidden, "no right to the publishing point (403 Forbidden)"},
                          Case{404, "Not Found", TargetState::failed, TargetError::not_found, "no such publishing point (404 Not Found)"},
                          Case{500, "Internal Server Error", TargetState::retrying, TargetError::server_error, "server error (500 Internal Server Error)"},
                          Case{503, "Service Unavailable", TargetState::retrying, TargetError::server_error, "server error (503 Service Unavailable)"},
                          Case{400, "Bad Request", TargetState::failed, TargetError::refused, "server refused the request (400 Bad Request)"}}) {
        Harness h(base_config());
        TestStream ts;
        h.header(ts.header());
        h.connect_ok();
        h.reply("HTTP/1.1 " + std::to_string(c.status) + " " + c.reason + "\r\nServer: Cougar/9.5\r\nContent-Length: 11\r\n\r\nsome text..");
        const auto st = h.status();
        EXPECT_EQ(st.state, c.state) << c.status;
        EXPECT_EQ(st.error, c.error) << c.status;
        EXPECT_EQ(st.last_error, c.text);
        EXPECT_EQ(h.closes, 1);
    }
}

TEST(Session, BackoffDoublesUpToMaxThenResetsWhenStable) {
    auto cfg = base_config();
    Harness h(cfg);
    TestStream ts;
    auto hdr = ts.header();
    h.header(hdr);
    std::vector<std::int64_t> delays;
    for (int i = 0; i < 6; ++i) {
        h.s.on_connect_failed("Connection refused", h.now);
        h.sync();
        const auto st = h.status();
        EXPECT_EQ(st.state, TargetState::retrying);
        EXPECT_EQ(st.error, TargetError::network);
        delays.push_back(st.retry_in_ms);
        h.advance(std::chrono::milliseconds(st.retry_in_ms));
        EXPECT_EQ(h.status().state, TargetState::connecting);
    }
    EXPECT_EQ(delays, (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 8000, 8000}));
    EXPECT_EQ(h.status().reconnects, 6u);
    // Streaming for longer than stable_after: the next failure starts from the initial delay.
    h.connect_ok();
    h.reply(k204);
    h.advance(11000ms);
    h.s.on_peer_closed(h.now);
    h.sync();
    EXPECT_EQ(h.status().retry_in_ms, 1000);
    EXPECT_EQ(h.status().last_error, "network error: server closed the connection during PushStart");
}

TEST(Session, ReconnectStartsANewSessionWithHeaderAndKeyFrame) {
    auto cfg = base_config();
    Harness h(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    setup_and_start(h, ts, hdr);
    auto ps = ts.packets(12);
    h.packets(ps, *hdr);
    h.s.on_transport_error("Connection reset by peer", h.now);
    h.sync();
    EXPECT_EQ(h.status().state, TargetState::retrying);
    auto more = ts.packets(40);  // queued meanwhile
    h.packets(more, *hdr);
    h.advance(1000ms);
    h.connect_ok();
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("cookie"), "push-id=0");  // a new server session
    h.reply(k204);
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    ASSERT_GE(reqs[1].frames.size(), 2u);
    EXPECT_EQ(reqs[1].frames[0].id, 'H');
    // The first $D is the newest packet starting with a key frame (the newest start point, not
    // the next one to come); send times go on; what was not sent is counted as skipped.
    std::vector<PacketPtr> all = ps;
    all.insert(all.end(), more.begin(), more.end());
    std::size_t newest_key = all.size() - 1;
    while (!all[newest_key]->starts_with_key_frame) --newest_key;
    ASSERT_GE(newest_key, ps.size());
    auto info = asfmux::parse_wire_packet(reqs[1].frames[1].payload, ts.packet_size());
    EXPECT_EQ(info.send_time_ms, all[newest_key]->send_time_ms);
    EXPECT_EQ(h.status().packets_skipped, newest_key - ps.size());
    std::size_t sent_after = 0;
    for (const auto& f : reqs[1].frames) sent_after += f.id == 'D';
    EXPECT_EQ(sent_after, all.size() - newest_key);
    EXPECT_EQ(h.status().reconnects, 1u);
}

TEST(Session, HeaderChangeEndsTheEntryThenSendsTheHeaderInStreamChange) {
    Harness h(base_config());
    TestStream ts(1400, 10);
    TestStream ts2(1400, 10, 40);  // a different header (longer title)
    auto hdr = ts.header(0);
    setup_and_start(h, ts, hdr);
    h.packets(ts.packets(3), *hdr);
    auto hdr2 = ts2.header(1);
    h.header(hdr2);
    auto after = ts2.packets(5);
    h.packets(after, *hdr2);
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    const auto& f = reqs[1].frames;
    // MS-WMHTTP 2.2.2.2: $H, the first entry's $D, $E (Reason 1: S_FALSE, 2.2.3.4), then $C with
    // Reason 0 carrying the new header (2.2.3.2), then the new entry's $D (3.2.5.6); no $H.
    ASSERT_EQ(f.size(), 1u + 3 + 1 + 1 + 5);
    EXPECT_EQ(f[0].id, 'H');
    for (std::size_t i = 1; i <= 3; ++i) EXPECT_EQ(f[i].id, 'D');
    EXPECT_EQ(f[4].id, 'E');
    EXPECT_EQ(f[4].reason, 1u);
    EXPECT_EQ(f[4].payload.size(), 0u);
    EXPECT_EQ(f[5].id, 'C');
    EXPECT_EQ(f[5].reason, 0u);
    EXPECT_EQ(f[5].payload, hdr2->bytes);
    for (std::size_t i = 6; i < f.size(); ++i) EXPECT_EQ(f[i].id, 'D');
    std::size_t hs = 0;
    for (const auto& fr : f) hs += fr.id == 'H';
    EXPECT_EQ(hs, 1u);
    EXPECT_EQ(h.status().header_changes, 1u);
    EXPECT_EQ(h.status().packets_sent, 8u);
    // A reconnect is a new server session: it begins with $H carrying the new header.
    h.s.on_peer_closed(h.now);
    h.advance(2000ms);
    h.connect_ok();
    h.reply(k204);
    reqs = h.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[1].frames[0].id, 'H');
    EXPECT_EQ(reqs[1].frames[0].payload, hdr2->bytes);
}

// The Content-Length budget across a header change (MS-WMHTTP 3.1.4.4, 3.1.4.5): $E(1) needs 8
// bytes, $C its size + 4; what does not fit is filled with $F and goes first in the next PushStart.
// Tried with every budget left over at the change, from 8 bytes short of the $E to plenty.
TEST(Session, HeaderChangeBudgetRulesAtEveryRemainder) {
    const TestStream probe(1400, 10);
    const TestStream probe2(1400, 10, 40);
    const std::size_t h1 = probe.header(0)->bytes.size(), h2 = probe2.header(1)->bytes.size();
    const std::size_t c = 4 + 4 + h2;
    int split_e = 0, split_c = 0, together = 0;
    for (std::size_t left = 5; left <= 8 + c + 4 + 40; ++left) {
        SCOPED_TRACE("budget left at the change: " + std::to_string(left));
        TestStream ts(1400, 10);
        TestStream ts2(1400, 10, 40);
        auto hdr = ts.header(0);
        auto hdr2 = ts2.header(1);
        const auto first = ts.packets(6);
        std::size_t data = 0;
        for (const auto& p : first) data += 4 + p->wire_form().size();
        auto cfg = base_config();
        // $H and six $D, then the change with `left` bytes of the first PushStart left over.
        cfg.tuning.post_budget = static_cast<std::uint32_t>(4 + h1 + data + left);
        Harness h(cfg);
        setup_and_start(h, ts, hdr);
        ASSERT_EQ(h.requests()[1].content_length, cfg.tuning.post_budget);  // not raised to the minimum
        h.packets(first, *hdr);
        h.header(hdr2);
        h.packets(ts2.packets(3), *hdr2);
        for (int i = 0; i < 6 && h.requests().back().body.size() == h.requests().back().content_length; ++i)
            h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nContent-Length: 0\r\n\r\n");
        // Every body is used up exactly; across the bodies: $H, $D x6, $E(1), $C, $D x3, only $F between.
        std::vector<Frame> seq;
        std::vector<int> body_of;
        const auto reqs = h.requests();
        for (std::size_t i = 1; i < reqs.size(); ++i) {
            if (i + 1 < reqs.size()) {
                EXPECT_EQ(framed_size(reqs[i]), reqs[i].content_length);
            }
            std::uint64_t used = 0;
            for (const auto& fr : reqs[i].frames) {
                used += 4 + fr.payload.size() + ((fr.id == 'C' || fr.id == 'E') ? 4 : 0);
                if (fr.id == 'C') {
                    EXPECT_GE(reqs[i].content_length - used, 4u) << "3.1.4.5: $C + 4 must fit";
                }
                if (fr.id != 'F') {
                    seq.push_back(fr);
                    body_of.push_back(static_cast<int>(i));
                }
            }
        }
        ASSERT_EQ(seq.size(), 12u);
        EXPECT_EQ(seq[0].id, 'H');
        for (std::size_t i = 1; i <= 6; ++i) EXPECT_EQ(seq[i].id, 'D');
        EXPECT_EQ(seq[7].id, 'E');
        EXPECT_EQ(seq[7].reason, 1u);
        EXPECT_EQ(seq[8].id, 'C');
        EXPECT_EQ(seq[8].payload, hdr2->bytes);
        for (std::size_t i = 9; i < 12; ++i) EXPECT_EQ(seq[i].id, 'D');
        EXPECT_EQ(body_of[6], body_of[0]);  // the six $D fit the first PushStart exactly
        if (left < 8 || (left > 8 && left < 12)) {  // an $E would leave 1 to 3 bytes no $F can fill
            EXPECT_NE(body_of[7], body_of[6]);  // $E went to the next PushStart
            ++split_e;
        } else if (left - 8 < c + 4) {
            EXPECT_EQ(body_of[7], body_of[6]);
            EXPECT_NE(body_of[8], body_of[7]);  // $C begins the next PushStart
            const auto& next = reqs[static_cast<std::size_t>(body_of[8])].frames;
            EXPECT_EQ(next.front().id, 'C');
            ++split_c;
        } else {
            EXPECT_EQ(body_of[8], body_of[7]);
            ++together;
        }
    }
    EXPECT_GT(split_e, 0);
    EXPECT_GT(split_c, 0);
    EXPECT_GT(together, 0);
}

TEST(Session, EndSendsEofAndCloses) {
    Harness h(base_config());
    TestStream ts;
    auto hdr = ts.header();
    setup_and_start(h, ts, hdr);
    h.packets(ts.packets(4), *hdr);
    h.s.on_end(h.now);
    h.sync();
    auto reqs = h.requests();
    const auto& f = reqs[1].frames;
    ASSERT_EQ(f.size(), 6u);
    EXPECT_EQ(f.back().id, 'E');
    EXPECT_EQ(f.back().reason, 0u);
    EXPECT_EQ(f.back().payload.size(), 0u);
    EXPECT_TRUE(h.shut_down);
    EXPECT_FALSE(h.s.finished());
    h.s.on_peer_closed(h.now);
    h.sync();
    EXPECT_TRUE(h.s.finished());
    EXPECT_EQ(h.status().state, TargetState::finished);
}

TEST(Session, EndWithTooLittleBudgetFillsThenEndsInNextPost) {
    auto cfg = base_config();
    cfg.tuning.post_budget = 1;  // raised to the minimum the spec allows
    Harness h(cfg);
    TestStream ts(1400);
    auto hdr = ts.header();
    setup_and_start(h, ts, hdr);
    const auto budget = h.requests()[1].content_length;
    EXPECT_GE(budget, 3u * (4 + 1400));
    h.packets(ts.packets(40), *hdr);
    for (int i = 0; i < 50 && h.requests().back().body.size() == h.requests().back().content_length; ++i)
        h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nContent-Length: 0\r\n\r\n");
    h.s.on_end(h.now);
    h.sync();
    for (int i = 0; i < 5 && !h.shut_down; ++i)
        h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nContent-Length: 0\r\n\r\n");
    EXPECT_TRUE(h.shut_down);
    const auto reqs = h.requests();
    for (std::size_t i = 1; i + 1 < reqs.size(); ++i) EXPECT_EQ(framed_size(reqs[i]), reqs[i].content_length);
    EXPECT_EQ(reqs.back().frames.back().id, 'E');
}

TEST(Session, SetupReplyClosingTheConnectionMovesPushStartToANewOne) {
    Harness h(base_config());
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    h.reply("HTTP/1.1 204 No Content\r\nServer: Cougar/9.5\r\nConnection: close\r\nSet-Cookie: push-id=12\r\n\r\n");
    EXPECT_EQ(h.connects, 2);
    h.connect_ok();
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("content-type"), "application/x-wms-pushstart");
    EXPECT_EQ(reqs[0].header("cookie"), "push-id=12");
    EXPECT_EQ(reqs[0].frames.at(0).id, 'H');
}

TEST(Session, QueueOverflowSkipsToNextKeyFrame) {
    auto cfg = base_config();
    cfg.tuning.queue_bytes = 12000;
    Harness h(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    h.header(hdr);  // connecting: packets queue up
    auto ps = ts.packets(80);
    h.packets(ps, *hdr);
    // Overflowed: the queue now holds the packets from the newest start point on.
    std::size_t newest_key = ps.size() - 1;
    while (!ps[newest_key]->starts_with_key_frame) --newest_key;
    std::size_t expect_bytes = 0;
    for (std::size_t i = newest_key; i < ps.size(); ++i) expect_bytes += ps[i]->wire_form().size();
    EXPECT_EQ(h.s.queued_bytes(), expect_bytes);
    const auto skipped = h.status().packets_skipped;
    EXPECT_EQ(skipped, newest_key);
    h.connect_ok();
    h.reply(k204);
    auto reqs = h.requests();
    ASSERT_GE(reqs[1].frames.size(), 2u);
    auto first = asfmux::parse_wire_packet(reqs[1].frames[1].payload, ts.packet_size());
    ASSERT_FALSE(first.payloads.empty());
    EXPECT_TRUE(first.payloads[0].keyframe);
    EXPECT_EQ(first.payloads[0].offset, 0u);
    std::size_t sent = 0;
    for (const auto& f : reqs[1].frames) sent += f.id == 'D';
    EXPECT_EQ(sent + h.status().packets_skipped, ps.size());
}

TEST(Session, RepeatedOverflowsCountEverySkippedPacketOnce) {
    // A target that stays stalled overflows and resumes again and again without sending: each
    // packet offered is in the end either sent or counted skipped, exactly once.
    auto cfg = base_config();
    cfg.tuning.queue_bytes = 12000;
    Harness h(cfg);
    TestStream ts(1400, 10);
    auto hdr = ts.header();
    h.header(hdr);  // connecting: nothing is sent
    std::size_t offered = 0;
    for (int round = 0; round < 15; ++round) {
        auto ps = ts.packets(20);
        offered += ps.size();
        h.packets(ps, *hdr);
    }
    EXPECT_GT(h.status().packets_skipped, 0u);
    EXPECT_LT(h.status().packets_skipped, offered);
    h.connect_ok();
    h.reply(k204);
    const auto st = h.status();
    EXPECT_EQ(st.packets_sent + st.packets_skipped, offered);
}

TEST(Session, TimeoutsAndStall) {
    auto cfg = base_config();
    cfg.tuning.connect_timeout = 3000ms;
    cfg.tuning.response_timeout = 5000ms;
    cfg.tuning.stall_timeout = 7000ms;
    Harness h(cfg);
    TestStream ts;
    auto hdr = ts.header();
    h.header(hdr);
    h.advance(3000ms);
    EXPECT_EQ(h.status().last_error, "network error: connect timed out");
    h.advance(1000ms);
    h.connect_ok();
    h.advance(5000ms);  // no reply to PushSetup
    EXPECT_EQ(h.status().last_error, "network error: no reply to PushSetup");
    h.advance(2000ms);
    h.connect_ok();
    h.reply(k204);
    // A write that never completes: the harness does not report on_write_done.
    h.s.on_packet(h.push_packet(ts.packets(1)[0], *hdr), h.now);
    Bytes b = h.s.take_output(h.now);
    EXPECT_FALSE(b.empty());
    h.now += 7000ms;
    h.s.on_timer(h.now);
    EXPECT_EQ(h.status().last_error, "network error: server stopped reading (stalled)");
    EXPECT_EQ(h.status().state, TargetState::retrying);
}

TEST(Session, RedirectIsFollowed) {
    Harness h(base_config());
    TestStream ts;
    h.header(ts.header());
    h.connect_ok();
    h.reply("HTTP/1.1 302 Found\r\nLocation: http://other:9090/pp2\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(h.connects, 2);
    h.connect_ok();
    auto reqs = h.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].line, "POST /pp2 HTTP/1.1");
    EXPECT_EQ(reqs[0].header("host"), "other:9090");
}

TEST(Session, OversizedHeaderIsAConfigError) {
    Harness h(base_config());
    TestStream ts(1400, 10, 9000);  // title pushes the header past 8192 bytes
    h.header(ts.header());
    const auto st = h.status();
    EXPECT_EQ(st.state, TargetState::failed);
    EXPECT_EQ(st.error, TargetError::config);
    EXPECT_EQ(st.retry_in_ms, 0);
    EXPECT_EQ(h.connects, 0);
}


}  // namespace
}  // namespace asfcast::push
