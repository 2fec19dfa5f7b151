#include "status_cmd.hpp"

#include <charconv>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "asfcast/control/control.hpp"

namespace asfcast::app {
namespace {

using nlohmann::json;

std::string clock_text(double seconds) {
    const auto s = static_cast<long long>(seconds);
    return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

std::string bytes_text(double bytes) {
    if (bytes >= 1e9) return fmt::format("{:.2f} GB", bytes / 1e9);
    if (bytes >= 1e6) return fmt::format("{:.1f} MB", bytes / 1e6);
    if (bytes >= 1e3) return fmt::format("{:.0f} kB", bytes / 1e3);
    return fmt::format("{:.0f} B", bytes);
}

void print_human(const json& s) {
    fmt::print("asfcast {}, preset {}: up {}, media time {}\n", s.at("version").get<std::string>(),
               s.at("preset").get<std::string>(), clock_text(s.at("uptime_s").get<double>()),
               clock_text(s.at("media_time_s").get<double>()));
    fmt::print("source: {}\n", s.at("source").at("description").get<std::string>());
    const auto& f = s.at("frames");
    fmt::print("frames: {} video captured, {} dropped; {} audio blocks captured, {} dropped\n",
               f.at("video_captured").get<std::uint64_t>(), f.at("video_dropped").get<std::uint64_t>(),
               f.at("audio_blocks_captured").get<std::uint64_t>(), f.at("audio_blocks_dropped").get<std::uint64_t>());
    const auto& st = s.at("stream");
    fmt::print("stream: {:.0f} kbit/s, {} packets, {}\n", st.at("bitrate_bps").get<double>() / 1000,
               st.at("packets").get<std::uint64_t>(), bytes_text(st.at("bytes").get<double>()));
    for (const auto& r : s.at("renditions"))
        fmt::print("  stream {} {} {}: {} frames, {:.0f} kbit/s\n", r.at("stream").get<int>(), r.at("kind").get<std::string>(),
                   r.at("name").get<std::string>(), r.at("frames").get<std::uint64_t>(), r.at("bitrate_bps").get<double>() / 1000);
    fmt::print("outputs:\n");
    for (const auto& o : s.at("outputs")) {
        const std::string error = o.at("last_error").get<std::string>();
        fmt::print("  {:<10} {:<12} {}{}\n", o.at("id").get<std::string>(), o.at("state").get<std::string>(),
                   o.at("detail").get<std::string>(), error.empty() ? "" : "  (" + error + ")");
    }
    const auto& p = s.at("pull");
    if (p.at("running").get<bool>() || p.at("connections_total").get<std::uint64_t>() > 0) {
        fmt::print("pull: {} clients streaming, {} connections in all, {} sent\n", p.at("streaming_now").get<std::uint64_t>(),
                   p.at("connections_total").get<std::uint64_t>(), bytes_text(p.at("bytes_sent_total").get<double>()));
        for (const auto& c : p.at("clients"))
            fmt::print("  {:<16} {:>10}  {}\n", c.at("address").get<std::string>(), bytes_text(c.at("bytes_sent").get<double>()),
                       c.at("user_agent").get<std::string>());
    }
    for (const auto& t : s.at("push_targets"))
        fmt::print("push {} {}: {}, {} packets sent, {} skipped, {} reconnects{}\n", t.at("id").get<std::string>(),
                   t.at("url").get<std::string>(), t.at("state").get<std::string>(), t.at("packets_sent").get<std::uint64_t>(),
                   t.at("packets_skipped").get<std::uint64_t>(), t.at("reconnects").get<std::uint64_t>(),
                   t.at("last_error").get<std::string>().empty() ? "" : " (" + t.at("last_error").get<std::string>() + ")");
    const auto& sc = s.at("script");
    if (sc.at("enabled").get<bool>())
        fmt::print("script commands: {} sent, {} markers\n", sc.at("commands_sent").get<std::uint64_t>(),
                   sc.at("markers").get<std::uint64_t>());
}

}  // namespace

int print_status(const std::string& control, const std::string& token_file, bool as_json) {
    std::string address = "127.0.0.1", port_text = control.empty() ? "8090" : control;
    if (const auto colon = control.rfind(':'); colon != std::string::npos) {
        address = control.substr(0, colon);
        port_text = control.substr(colon + 1);
        if (address.size() >= 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
    }
    int port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535 || address.empty()) {
        spdlog::error("--control {}: expected [ADDR:]PORT (e.g. 127.0.0.1:8090)", control);
        return 2;
    }
    std::string token;
    if (!token_file.empty()) {
        std::ifstream in(token_file);
        if (!in || !std::getline(in, token) || token.empty()) {
            spdlog::error("--token-file {}: cannot be read or is empty", token_file);
            return 2;
        }
        if (token.back() == '\r') token.pop_back();
    }
    try {
        const auto r = control::fetch(address, static_cast<std::uint16_t>(port), "/api/status", token);
        if (r.status != 200) {
            std::string message = r.body;
            const json j = json::parse(r.body, nullptr, false);
            if (j.is_object() && j.contains("error") && j["error"].is_string()) message = j["error"].get<std::string>();
            spdlog::error("the control port answered {}: {}", r.status, message);
            return 1;
        }
        const json s = json::parse(r.body, nullptr, false);
        if (s.is_discarded() || !s.is_object()) {
            spdlog::error("the control port's answer is not JSON");
            return 1;
        }
        if (as_json) fmt::print("{}\n", s.dump(2, ' ', false, json::error_handler_t::replace));
        else print_human(s);
        return 0;
    } catch (const control::ControlError& e) {
        spdlog::error("{}", e.what());
        return 1;
    } catch (const json::exception& e) {
        spdlog::error("the control port's status is not what this asfcast understands: {}", e.what());
        return 1;
    }
}

}  // namespace asfcast::app
