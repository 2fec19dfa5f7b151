// libFuzzer target for what the control port reads: the request head (fed in arbitrary chunks,
// as the edge does) and the request handling behind it — routing, the bearer token, and the JSON
// action bodies (parse_action: unknown actions and fields, wrong types, deep nesting, invalid
// UTF-8) — against a backend that records the actions. Nothing may crash or throw, every answer
// is a status the API documents, and an action reaches the backend only with the right token and
// a body parse_action accepted.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asfcast/control/control.hpp"
#include "asfcast/core/http_head.hpp"

namespace {

using namespace asfcast;

class RecordingBackend : public control::ControlBackend {
public:
    std::size_t actions = 0;
    control::StatusSnapshot status() override {
        control::StatusSnapshot s;
        s.pull.clients.push_back({"127.0.0.1", "NSPlayer\xff\xfe", 1, 2, true});  // not UTF-8
        s.renditions.push_back({1, "video", "a\"b\\c\n", 1, 2, 3});
        return s;
    }
    control::ActionResult perform(const control::Action&) override {
        ++actions;
        return {control::ActionResult::Outcome::not_possible, "no", ""};
    }
    std::optional<std::string> preview_jpeg() override { return std::nullopt; }
};

constexpr std::string_view kToken = "fuzz-token-0123456789";

bool documented(int status) {
    switch (status) {
        case 200: case 400: case 401: case 404: case 405: case 409: case 422: case 503: return true;
        default: return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // First byte: chunking seed; the rest: a request as it arrives on the socket.
    const std::uint32_t seed = data[0];
    ByteView input(data + 1, size - 1);

    // The body alone through the action parser.
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    const auto parsed = control::parse_action(text);
    if (const auto* error = std::get_if<std::string>(&parsed); error && error->empty()) __builtin_trap();

    // The whole request through the head parser and the API, as the edge feeds them.
    http::HttpHeadParser parser(http::HttpHeadParser::Kind::Request, 8192);
    std::size_t at = 0;
    std::uint32_t state = seed;
    while (at < input.size() && parser.status() == http::HeadStatus::NeedMore) {
        state = state * 1103515245u + 12345u;
        const std::size_t n = std::min<std::size_t>(input.size() - at, 1 + (state >> 16) % 97);
        const std::size_t used = parser.feed(input.subspan(at, n));
        if (used > n) __builtin_trap();
        at += used;
        if (used == 0) break;
    }
    if (parser.status() != http::HeadStatus::Complete) return 0;
    const auto& head = parser.head();
    control::ApiRequest request;
    request.method = head.method;
    request.target = head.target;
    if (const auto* a = head.find("Authorization")) request.authorization = *a;
    request.body.assign(reinterpret_cast<const char*>(input.data()) + at, input.size() - at);

    RecordingBackend backend;
    control::ControlApi api(backend, {std::string(kToken), 4});
    const control::ApiResponse r = api.handle(request);
    if (!documented(r.status)) __builtin_trap();
    const bool authorized = request.authorization == "Bearer " + std::string(kToken) ||
                            request.authorization == "bearer " + std::string(kToken);
    if (backend.actions > 0 && !authorized) __builtin_trap();
    if (backend.actions > 0 && !std::holds_alternative<control::Action>(control::parse_action(request.body))) __builtin_trap();
    api.sample(1);
    (void)control::metrics_text(backend.status());
    return 0;
}
