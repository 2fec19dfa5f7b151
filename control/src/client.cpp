// control::fetch: one GET to a control port, for `asfcast status`. Reuses the HTTP head parser.
#include <chrono>

#include <asio.hpp>
#include <fmt/format.h>

#include "asfcast/control/control.hpp"
#include "asfcast/core/http_head.hpp"

namespace asfcast::control {

FetchResult fetch(const std::string& address, std::uint16_t port, const std::string& path, const std::string& token,
                  std::uint32_t timeout_ms) {
    constexpr std::size_t kMaxBody = 16u << 20;
    asio::io_context io;
    asio::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    if (ec) throw ControlError("'" + address + "' is not an IP address");
    asio::ip::tcp::socket socket(io);
    const std::string where = fmt::format("{}:{}", ip.is_v6() ? "[" + address + "]" : address, port);
    std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: asfcast-status\r\nConnection: close\r\n", path, where);
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    request += "\r\n";

    http::HttpHeadParser parser(http::HttpHeadParser::Kind::Response, 16384);
    std::string body;
    std::array<std::uint8_t, 16384> buffer{};
    bool failed_connect = false, timed_out = false;
    asio::steady_timer deadline(io, std::chrono::milliseconds(timeout_ms));
    deadline.async_wait([&](const asio::error_code& e) {
        if (!e) {
            timed_out = true;
            asio::error_code ignored;
            socket.close(ignored);
        }
    });
    std::function<void()> read_more = [&] {
        socket.async_read_some(asio::buffer(buffer), [&](const asio::error_code& e, std::size_t n) {
            if (n) {
                ByteView data(buffer.data(), n);
                if (parser.status() == http::HeadStatus::NeedMore) data = data.subspan(parser.feed(data));
                body.append(reinterpret_cast<const char*>(data.data()), data.size());
            }
            if (e || body.size() > kMaxBody || parser.status() == http::HeadStatus::Malformed ||
                parser.status() == http::HeadStatus::TooLarge) {
                deadline.cancel();
                return;
            }
            read_more();
        });
    };
    socket.async_connect({ip, port}, [&](const asio::error_code& e) {
        if (e) {
            failed_connect = !timed_out;
            ec = e;
            deadline.cancel();
            return;
        }
        asio::async_write(socket, asio::buffer(request), [&](const asio::error_code& w, std::size_t) {
            if (w) {
                deadline.cancel();
                return;
            }
            read_more();
        });
    });
    io.run();
    if (failed_connect)
        throw ControlError(fmt::format("cannot connect to the control port {}: {} (is asfcast running with --control?)",
                                       where, ec.message()));
    if (timed_out) throw ControlError(fmt::format("the control port {} did not answer within {} ms", where, timeout_ms));
    if (parser.status() != http::HeadStatus::Complete)
        throw ControlError(fmt::format("{} did not answer with HTTP", where));
    FetchResult r;
    r.status = parser.head().status;
    if (const auto* t = parser.head().find("Content-Type")) r.content_type = *t;
    if (const auto length = parser.head().content_length(); length && body.size() > *length) body.resize(*length);
    r.body = std::move(body);
    return r;
}

}  // namespace asfcast::control
