// ControlServer over real sockets on 127.0.0.1: a request answered, the token refusal at start,
// an oversized head, a body over the limit, a slow request timed out, the connection limit.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <asio.hpp>

#include "asfcast/control/control.hpp"

using namespace asfcast::control;
using asio::ip::tcp;

namespace {

class Backend : public ControlBackend {
public:
    StatusSnapshot status() override {
        StatusSnapshot s;
        s.preset = "test";
        return s;
    }
    ActionResult perform(const Action&) override { return {ActionResult::Outcome::done, "done", ""}; }
    std::optional<std::string> preview_jpeg() override { return std::nullopt; }
};

// Sends `request` (all of it, unless `send` is shorter), then reads until the server closes or
// 5 s pass; returns what the server sent.
std::string exchange(std::uint16_t port, const std::string& request) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::error_code ec;
    asio::write(s, asio::buffer(request), ec);
    std::string out;
    std::array<char, 4096> buf{};
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < until) {
        const std::size_t n = s.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        if (ec) break;
        out.append(buf.data(), n);
    }
    return out;
}

int status_of(const std::string& response) {
    if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0) return -1;
    return std::stoi(response.substr(9, 3));
}

}  // namespace

TEST(ControlServer, RefusesANonLoopbackAddressWithoutAToken) {
    Backend b;
    ControlConfig c;
    c.address = "0.0.0.0";
    c.port = 0;
    try {
        ControlServer server(c, b);
        FAIL() << "started without a token on 0.0.0.0";
    } catch (const ControlError& e) {
        EXPECT_NE(std::string(e.what()).find("token is required"), std::string::npos) << e.what();
    }
    c.token = "t0ken";
    ControlServer with_token(c, b);  // accepted
}

TEST(ControlServer, AnswersAndCloses) {
    Backend b;
    ControlConfig c;
    c.port = 0;
    ControlServer server(c, b);
    server.start();
    const std::string r = exchange(server.port(), "GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_of(r), 200) << r;
    EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos);
    EXPECT_NE(r.find("\"preset\":\"test\""), std::string::npos);
    const std::string body = R"({"action":"marker","name":"m"})";
    const std::string p = exchange(server.port(), "POST /api/actions HTTP/1.1\r\nContent-Length: " +
                                                      std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(status_of(p), 200) << p;
    EXPECT_EQ(status_of(exchange(server.port(), "garbage\r\n\r\n")), 400);
}

TEST(ControlServer, BoundsHeadAndBody) {
    Backend b;
    ControlConfig c;
    c.port = 0;
    c.max_head_bytes = 1024;
    c.max_body_bytes = 100;
    ControlServer server(c, b);
    server.start();
    const std::string big_head = "GET / HTTP/1.1\r\nX-Fill: " + std::string(2000, 'a') + "\r\n\r\n";
    EXPECT_EQ(status_of(exchange(server.port(), big_head)), 431);
    EXPECT_EQ(status_of(exchange(server.port(), "POST /api/actions HTTP/1.1\r\nContent-Length: 101\r\n\r\n")), 413);
    EXPECT_EQ(status_of(exchange(server.port(), "POST /api/actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")), 411);
}

TEST(ControlServer, TimesOutASlowRequest) {
    Backend b;
    ControlConfig c;
    c.port = 0;
    c.request_timeout_ms = 300;
    ControlServer server(c, b);
    server.start();
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = exchange(server.port(), "GET /api/status HTTP/1.1\r\n");  // never ends its head
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(status_of(r), 408) << r;
    EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(ControlServer, LimitsConnections) {
    Backend b;
    ControlConfig c;
    c.port = 0;
    c.max_connections = 2;
    c.request_timeout_ms = 3000;
    ControlServer server(c, b);
    server.start();
    asio::io_context io;
    std::vector<tcp::socket> held;
    for (int i = 0; i < 2; ++i) {
        held.emplace_back(io);
        held.back().connect({asio::ip::make_address("127.0.0.1"), server.port()});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both accepted
    EXPECT_EQ(status_of(exchange(server.port(), "GET /api/status HTTP/1.1\r\n\r\n")), 503);
    held.clear();
    // Once they are gone, requests are answered again (bounded wait for the server to see it).
    int status = 0;
    for (int i = 0; i < 50 && status != 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        status = status_of(exchange(server.port(), "GET /api/status HTTP/1.1\r\n\r\n"));
    }
    EXPECT_EQ(status, 200);
}
