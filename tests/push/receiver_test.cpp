// The strict receiver itself, fed hand-made PushStart bodies over a plain socket: it must refuse
// the order the push output used to send on a header change ($C, then $H) and accept the order
// MS-WMHTTP asks for ($E with Reason 1, then $C carrying the header, then $D: 2.2.2.2, 2.2.3.2,
// 2.2.3.4, 3.2.5.5, 3.2.5.6).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/core/bytes.hpp"
#include "strict_receiver.hpp"
#include "test_stream.hpp"

namespace asfcast::push {
namespace {

using namespace std::chrono_literals;
using pushtest::StrictReceiver;
using pushtest::TestStream;

void frame(std::string& out, char id, const Bytes& payload, std::optional<std::uint32_t> reason = std::nullopt) {
    const std::size_t len = payload.size() + (reason ? 4 : 0);
    out += '$';
    out += id;
    out += static_cast<char>(len & 0xFF);
    out += static_cast<char>(len >> 8);
    if (reason)
        for (int i = 0; i < 4; ++i) out += static_cast<char>((*reason >> (8 * i)) & 0xFF);
    out.append(payload.begin(), payload.end());
}

class RawPusher {
public:
    explicit RawPusher(std::uint16_t port) : port_(port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~RawPusher() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return ok_; }
    std::string request(const std::string& type, const std::string& cookie, const std::string& body) {
        const std::string head = "POST /live HTTP/1.1\r\nContent-Type: " + type +
                                 "\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                                 "\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nCache-Control: no-cache\r\nCookie: push-id=" + cookie + "\r\n\r\n";
        return head + body;
    }
    void send(const std::string& bytes) {
        std::size_t at = 0;
        while (at < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
            if (n <= 0) return;
            at += static_cast<std::size_t>(n);
        }
    }
    // Reads a response head; returns it ("" on close).
    std::string read_head() {
        std::string got;
        char c;
        while (got.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) got += c;
        return got;
    }

private:
    std::uint16_t port_;
    int fd_ = -1;
    bool ok_ = false;
};

std::vector<std::string> order_violations(const StrictReceiver& rx) {
    std::vector<std::string> out;
    for (const auto& v : rx.violations())
        if (v.find(" after $") != std::string::npos || v.find("between $C") != std::string::npos) out.push_back(v);
    return out;
}

struct Outcome {
    std::vector<std::string> violations, order;
    StrictReceiver::Pubpoint view;
};

// PushSetup, then one PushStart with `body`, ended by $E(0).
Outcome push_body(const std::function<void(std::string&)>& make_body) {
    StrictReceiver rx;
    RawPusher p(rx.port());
    EXPECT_TRUE(p.ok());
    p.send(p.request("application/x-wms-pushsetup", "0", ""));
    const std::string reply = p.read_head();
    EXPECT_NE(reply.find("204"), std::string::npos) << reply;
    const auto at = reply.find("push-id=");
    std::string id;
    for (std::size_t i = at + 8; at != std::string::npos && i < reply.size() && std::isdigit(static_cast<unsigned char>(reply[i])); ++i)
        id += reply[i];
    std::string body;
    make_body(body);
    frame(body, 'E', {}, 0u);
    p.send(p.request("application/x-wms-pushstart", id, body));
    EXPECT_TRUE(rx.wait_for([](const auto& pp) { return pp.ended; }, 3000ms));
    return {rx.violations(), order_violations(rx), rx.view()};
}

TEST(StrictReceiver, RefusesStreamChangeThenHeader) {
    TestStream ts(1400, 10), ts2(1400, 10, 40, 10'000'000);
    const auto h1 = ts.header(0), h2 = ts2.header(1);
    const auto p1 = ts.packets(3), p2 = ts2.packets(3);
    // What the push output sent before: $C (the header), then $H again, then $D; no $E(1).
    const Outcome r = push_body([&](std::string& b) {
        frame(b, 'H', h1->bytes);
        for (const auto& p : p1) frame(b, 'D', Bytes(p->wire_form().begin(), p->wire_form().end()));
        frame(b, 'C', h2->bytes, 0u);
        frame(b, 'H', h2->bytes);
        for (const auto& p : p2) frame(b, 'D', Bytes(p->wire_form().begin(), p->wire_form().end()));
    });
    // $C right after $D (no $E(1) ended the entry), and $H after $C.
    ASSERT_EQ(r.order.size(), 2u) << ::testing::PrintToString(r.violations);
    EXPECT_NE(r.order[0].find("$C after $D"), std::string::npos) << r.order[0];
    EXPECT_NE(r.order[1].find("$H after $C"), std::string::npos) << r.order[1];
}

TEST(StrictReceiver, RefusesDataBetweenEndOfEntryAndStreamChange) {
    TestStream ts(1400, 10), ts2(1400, 10, 40, 10'000'000);
    const auto h1 = ts.header(0), h2 = ts2.header(1);
    const auto p1 = ts.packets(3), p2 = ts2.packets(3);
    const Outcome r = push_body([&](std::string& b) {
        frame(b, 'H', h1->bytes);
        for (const auto& p : p1) frame(b, 'D', Bytes(p->wire_form().begin(), p->wire_form().end()));
        frame(b, 'E', {}, 1u);
        frame(b, 'D', Bytes(p2[0]->wire_form().begin(), p2[0]->wire_form().end()));  // no $C yet
        frame(b, 'C', h2->bytes, 0u);
    });
    ASSERT_EQ(r.order.size(), 1u) << ::testing::PrintToString(r.violations);
    EXPECT_NE(r.order[0].find("$D after $E(1)"), std::string::npos) << r.order[0];
}

TEST(StrictReceiver, AcceptsEndOfEntryThenStreamChangeThenData) {
    TestStream ts(1400, 10), ts2(1400, 10, 40, 10'000'000);
    const auto h1 = ts.header(0), h2 = ts2.header(1);
    const auto p1 = ts.packets(3), p2 = ts2.packets(3);
    const Outcome r = push_body([&](std::string& b) {
        frame(b, 'H', h1->bytes);
        for (const auto& p : p1) frame(b, 'D', Bytes(p->wire_form().begin(), p->wire_form().end()));
        frame(b, 'E', {}, 1u);
        frame(b, 'F', Bytes(10, 0));  // 3.2.5.5: $C, $E or $F may follow $E(1)
        frame(b, 'C', h2->bytes, 0u);
        for (const auto& p : p2) frame(b, 'D', Bytes(p->wire_form().begin(), p->wire_form().end()));
    });
    EXPECT_TRUE(r.violations.empty()) << ::testing::PrintToString(r.violations);
    EXPECT_EQ(r.view.header_changes, 1);
    EXPECT_EQ(r.view.entries_ended, 1);
    ASSERT_EQ(r.view.entries.size(), 2u);
    EXPECT_EQ(r.view.entries[0].header, h1->bytes);
    EXPECT_EQ(r.view.entries[0].packets.size(), 3u);
    EXPECT_EQ(r.view.entries[1].header, h2->bytes);
    EXPECT_EQ(r.view.entries[1].packets.size(), 3u);
    EXPECT_EQ(r.view.header, h2->bytes);
}

}  // namespace
}  // namespace asfcast::push
