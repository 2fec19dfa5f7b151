// ControlServer: the Asio edge of the control API. One thread ("asfcast-ctl") accepts, reads one
// request per connection (head and body bounded, the whole request within a deadline), hands it
// to ControlApi and writes the answer with Connection: close. Connections above the limit get a
// 503 at once. A history sample is taken once a second on the same thread.
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include <asio.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/control/control.hpp"
#include "asfcast/core/http_head.hpp"
#include "asfcast/core/thread_name.hpp"

namespace asfcast::control {
namespace {

using asio::ip::tcp;

const char* reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 422: return "Unprocessable Content";
        case 431: return "Request Header Fields Too Large";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

std::string serialize(const ApiResponse& r, bool head_only) {
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
                                  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
                                  r.status, reason_phrase(r.status), r.content_type, r.body.size());
    for (const auto& [k, v] : r.headers)
        if (k != "Cache-Control") out += fmt::format("{}: {}\r\n", k, v);
    out += "\r\n";
    if (!head_only) out += r.body;
    return out;
}

std::string error_text(int status, std::string_view message) {
    ApiResponse r;
    r.status = status;
    r.body = fmt::format("{{\"error\":\"{}\"}}", message);  // our own messages: no quotes in them
    return serialize(r, false);
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

bool is_loopback_address(const std::string& address) {
    asio::error_code ec;
    auto a = asio::ip::make_address(address, ec);
    if (ec) throw ControlError("control: '" + address + "' is not an IP address");
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    if (a.is_v4()) return (a.to_v4().to_uint() >> 24) == 127;
    return a.to_v6().is_loopback();
}

struct ControlServer::Impl {
    Impl(ControlConfig c, ControlBackend& backend)
        : config(std::move(c)), api(backend, ApiConfig{config.token, 600}), acceptor(io), sampler(io) {}

    struct Connection : std::enable_shared_from_this<Connection> {
        Connection(Impl& server, tcp::socket s)
            : server(server), socket(std::move(s)), deadline(server.io),
              parser(http::HttpHeadParser::Kind::Request, server.config.max_head_bytes) {}
        Impl& server;
        tcp::socket socket;
        asio::steady_timer deadline;
        http::HttpHeadParser parser;
        std::array<std::uint8_t, 4096> buffer{};
        std::string body;
        std::size_t body_needed = 0;
        bool have_head = false;
        bool done = false;
        std::string reply;
        std::size_t drained = 0;
        bool read_pending = false;
        bool write_done = false;

        void start() {
            deadline.expires_after(std::chrono::milliseconds(server.config.request_timeout_ms));
            deadline.async_wait([self = shared_from_this()](const asio::error_code& ec) {
                if (!ec && !self->done) self->finish(error_text(408, "the request did not arrive in time"));
            });
            read();
        }

        void read() {
            read_pending = true;
            socket.async_read_some(asio::buffer(buffer), [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                self->read_pending = false;
                if (self->done) {
                    // Answered: what the client still sends is dropped (bounded) until it closes.
                    self->drained += n;
                    if (ec || self->drained > (1u << 20)) return self->close();
                    if (self->write_done) self->read();
                    return;
                }
                if (ec) return self->close();
                self->consume(ByteView(self->buffer.data(), n));
            });
        }

        void consume(ByteView data) {
            if (!have_head) {
                const std::size_t used = parser.feed(data);
                data = data.subspan(used);
                switch (parser.status()) {
                    case http::HeadStatus::NeedMore: return read();
                    case http::HeadStatus::TooLarge: return finish(error_text(431, "the request head is too large"));
                    case http::HeadStatus::Malformed: return finish(error_text(400, "the request head is malformed"));
                    case http::HeadStatus::Complete: break;
                }
                have_head = true;
                const auto& head = parser.head();
                if (head.chunked()) return finish(error_text(411, "send the body with a Content-Length"));
                body_needed = head.content_length().value_or(0);
                if (body_needed > server.config.max_body_bytes)
                    return finish(error_text(413, "the body is larger than the control port accepts"));
            }
            const std::size_t take = std::min(body_needed - body.size(), data.size());
            body.append(reinterpret_cast<const char*>(data.data()), take);
            if (body.size() < body_needed) return read();
            respond();
        }

        void respond() {
            const auto& head = parser.head();
            ApiRequest request;
            request.method = head.method;
            request.target = head.target;
            if (const auto* a = head.find("Authorization")) request.authorization = *a;
            if (const auto* t = head.find("Content-Type")) request.content_type = *t;
            request.body = std::move(body);
            ApiResponse response;
            try {
                response = server.api.handle(request);
            } catch (const std::exception& e) {
                spdlog::error("control: {} {}: {}", head.method, head.target.substr(0, 128), e.what());
                response.status = 503;
                response.body = R"({"error":"the job could not answer; see its log"})";
            }
            finish(serialize(response, head.method == "HEAD"));
        }

        void finish(std::string text) {
            if (done) return;
            done = true;
            deadline.cancel();
            reply = std::move(text);
            asio::async_write(socket, asio::buffer(reply), [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                if (ec) return self->close();
                // A lingering close: what the client still sends (a body we refused) is read and
                // dropped until it closes, so that our answer is not lost to a reset.
                asio::error_code ignored;
                self->socket.shutdown(tcp::socket::shutdown_send, ignored);
                self->write_done = true;
                if (!self->read_pending) self->read();
            });
            // A client that does not read its answer, or never closes, is closed at the deadline.
            deadline.expires_after(std::chrono::milliseconds(std::min<std::uint32_t>(server.config.request_timeout_ms, 2000)));
            deadline.async_wait([self = shared_from_this()](const asio::error_code& ec) {
                if (!ec) self->close();
            });
        }

        void close() {
            done = true;
            asio::error_code ec;
            deadline.cancel();
            if (socket.is_open()) {
                socket.shutdown(tcp::socket::shutdown_both, ec);
                socket.close(ec);
                --server.open_connections;
            }
        }
    };

    void accept_next() {
        acceptor.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (open_connections >= config.max_connections) {
                    // One non-blocking write of the refusal; nothing is read.
                    asio::error_code ignored;
                    socket.non_blocking(true, ignored);
                    const std::string refusal = error_text(503, "too many control connections");
                    socket.write_some(asio::buffer(refusal), ignored);
                    socket.close(ignored);
                } else {
                    ++open_connections;
                    std::make_shared<Connection>(*this, std::move(socket))->start();
                }
            }
            accept_next();
        });
    }

    void sample_next() {
        sampler.expires_after(std::chrono::seconds(1));
        sampler.async_wait([this](const asio::error_code& ec) {
            if (ec) return;
            try {
                api.sample(unix_ms_now());
            } catch (const std::exception& e) {
                spdlog::warn("control: history sample: {}", e.what());
            }
            sample_next();
        });
    }

    ControlConfig config;
    ControlApi api;
    asio::io_context io;
    tcp::acceptor acceptor;
    asio::steady_timer sampler;
    std::thread thread;
    std::size_t open_connections = 0;  // network thread only
    std::uint16_t bound_port = 0;
    bool running = false;
};

ControlServer::ControlServer(ControlConfig config, ControlBackend& backend) {
    if (config.token.empty() && !is_loopback_address(config.address))
        throw ControlError("control: " + config.address +
                           " is not a loopback address: a token is required (control.token_file in the preset, or "
                           "--control-token-file); or bind 127.0.0.1");
    impl_ = std::make_unique<Impl>(std::move(config), backend);
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
    Impl& s = *impl_;
    asio::error_code ec;
    const auto address = asio::ip::make_address(s.config.address, ec);
    if (ec) throw ControlError("control: '" + s.config.address + "' is not an IP address");
    const tcp::endpoint endpoint(address, s.config.port);
    s.acceptor.open(endpoint.protocol(), ec);
    if (!ec) s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(endpoint, ec);
    if (!ec) s.acceptor.listen(64, ec);
    if (ec)
        throw ControlError(fmt::format("control: cannot listen on {}:{}: {} (another program on that port? choose one "
                                       "with --control)",
                                       s.config.address, s.config.port, ec.message()));
    s.bound_port = s.acceptor.local_endpoint().port();
    s.accept_next();
    s.sample_next();
    s.running = true;
    s.thread = std::thread([&s] {
        set_thread_name("asfcast-ctl");
        s.io.run();
    });
}

void ControlServer::stop() {
    if (!impl_ || !impl_->running) return;
    impl_->running = false;
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    asio::error_code ec;
    impl_->acceptor.close(ec);
}

std::uint16_t ControlServer::port() const { return impl_->bound_port; }

}  // namespace asfcast::control
