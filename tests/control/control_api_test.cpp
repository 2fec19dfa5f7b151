// ControlApi without sockets: routes, the token, the status document, every action and its
// refusals, the history ring and the metrics text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "asfcast/control/control.hpp"

using namespace asfcast::control;
using nlohmann::json;

namespace {

class FakeBackend : public ControlBackend {
public:
    StatusSnapshot snapshot;
    std::vector<Action> performed;
    ActionResult next_result;
    int status_calls = 0;

    StatusSnapshot status() override {
        ++status_calls;
        return snapshot;
    }
    ActionResult perform(const Action& a) override {
        performed.push_back(a);
        return next_result;
    }
    std::optional<std::string> preview_jpeg() override {
        if (snapshot.renditions.empty()) return std::nullopt;
        return std::string("\xFF\xD8\xFF\xD9", 4);
    }
};

StatusSnapshot sample_snapshot() {
    StatusSnapshot s;
    s.version = "0.1.0";
    s.preset = "default";
    s.media_time_s = 12.5;
    s.source.state = "live";
    s.source.description = "live";
    s.video_frames_captured = 375;
    s.video_frames_dropped = 3;
    s.packets = 900;
    s.bytes = 900 * 8192;
    s.bitrate_bps = 2.1e6;
    s.renditions = {{1, "video", "720p", 372, 3'000'000, 2.0e6}, {2, "audio", "", 540, 200'000, 128e3}};
    s.outputs = {{"pull", "pull", "running", "mmsh://127.0.0.1:8080/", "", false, true},
                 {"push:0", "push", "retrying", "http://h/p", "network error: refused", false, true}};
    s.pull.running = true;
    s.pull.clients_now = 2;
    s.pull.streaming_now = 1;
    s.pull.clients = {{"127.0.0.1", "NSPlayer/7.0 \"quoted\"\n", 12345, 1700000000000, true}};
    s.push_targets = {{"push:0", "http://h/p", "retrying", "network error: refused", true, 10, 2, 9000, 4}};
    return s;
}

ApiRequest get(std::string target, std::string auth = "") {
    ApiRequest r;
    r.method = "GET";
    r.target = std::move(target);
    r.authorization = std::move(auth);
    return r;
}

ApiRequest post_action(std::string body, std::string auth = "") {
    ApiRequest r;
    r.method = "POST";
    r.target = "/api/actions";
    r.content_type = "application/json";
    r.body = std::move(body);
    r.authorization = std::move(auth);
    return r;
}

std::string error_of(const ApiResponse& r) {
    const json j = json::parse(r.body);
    return j.at("error").get<std::string>();
}

}  // namespace

TEST(ControlApi, StatusCarriesTheSnapshot) {
    FakeBackend b;
    b.snapshot = sample_snapshot();
    ControlApi api(b, {});
    const ApiResponse r = api.handle(get("/api/status"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    const json j = json::parse(r.body);
    EXPECT_EQ(j["frames"]["video_dropped"], 3);
    EXPECT_EQ(j["renditions"].size(), 2u);
    EXPECT_EQ(j["renditions"][0]["frames"], 372);
    EXPECT_EQ(j["outputs"][1]["last_error"], "network error: refused");
    EXPECT_EQ(j["pull"]["clients"][0]["user_agent"], "NSPlayer/7.0 \"quoted\"\n");
    EXPECT_EQ(j["pull"]["clients"][0]["bytes_sent"], 12345);
    EXPECT_EQ(j["push_targets"][0]["reconnects"], 4);
    EXPECT_DOUBLE_EQ(j["media_time_s"].get<double>(), 12.5);
}

TEST(ControlApi, InvalidUtf8FromAClientDoesNotBreakTheStatus) {
    FakeBackend b;
    b.snapshot = sample_snapshot();
    b.snapshot.pull.clients[0].user_agent = std::string("NSPlayer\xFF\xFE", 10);
    ControlApi api(b, {});
    const ApiResponse r = api.handle(get("/api/status"));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(json::accept(r.body));
}

TEST(ControlApi, TokenRequiredForApiNotForThePage) {
    FakeBackend b;
    b.snapshot = sample_snapshot();
    ControlApi api(b, {"s3cret-token"});
    for (const char* path : {"/api/status", "/metrics", "/api/history", "/api/preview.jpg"}) {
        const ApiResponse none = api.handle(get(path));
        EXPECT_EQ(none.status, 401) << path;
        EXPECT_NE(error_of(none).find("needs a token"), std::string::npos);
        EXPECT_EQ(api.handle(get(path, "Bearer wrong")).status, 401) << path;
        EXPECT_EQ(api.handle(get(path, "Bearer s3cret-token-longer")).status, 401) << path;
        EXPECT_EQ(api.handle(get(path, "Basic s3cret-token")).status, 401) << path;
        EXPECT_EQ(api.handle(get(path, "Bearer s3cret-token")).status, 200) << path;
        EXPECT_EQ(api.handle(get(path, "bearer s3cret-token")).status, 200) << path;
    }
    EXPECT_EQ(api.handle(post_action(R"({"action":"marker","name":"x"})")).status, 401);
    EXPECT_TRUE(b.performed.empty());
    EXPECT_EQ(api.handle(get("/")).status, 200);
    EXPECT_EQ(api.handle(get("/app.js")).status, 200);
    // The 401 never echoes the token it was given.
    EXPECT_EQ(api.handle(get("/api/status", "Bearer wrong-guess")).body.find("wrong-guess"), std::string::npos);
}

TEST(ControlApi, UnknownPathsAndMethods) {
    FakeBackend b;
    ControlApi api(b, {});
    EXPECT_EQ(api.handle(get("/nope")).status, 404);
    EXPECT_EQ(api.handle(get("/api/actions")).status, 405);
    ApiRequest post = post_action("{}");
    post.target = "/api/status";
    EXPECT_EQ(api.handle(post).status, 405);
    EXPECT_EQ(api.handle(get("/api/status?pretty=1")).status, 200);
}

TEST(ControlApi, EveryActionReachesTheBackend) {
    FakeBackend b;
    ControlApi api(b, {});
    b.next_result = {ActionResult::Outcome::done, "ok", ""};
    EXPECT_EQ(api.handle(post_action(R"({"action":"stop_output","output":"pull"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"start_output","output":"pull"})")).status, 200);
    b.next_result = {ActionResult::Outcome::done, "added", "push:3"};
    const ApiResponse added =
        api.handle(post_action(R"({"action":"add_push_target","url":"http://h:8/p","user":"u","password":"pw"})"));
    EXPECT_EQ(added.status, 200);
    EXPECT_EQ(json::parse(added.body)["id"], "push:3");
    b.next_result = {ActionResult::Outcome::done, "ok", ""};
    EXPECT_EQ(api.handle(post_action(R"({"action":"remove_push_target","id":"push:3"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"script_command","type":"CAPTION","parameter":"hi"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"marker","name":"Keynote"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"playlist_entry","entry":"show"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"playlist_entry"})")).status, 400) << "entry missing";
    EXPECT_EQ(api.handle(post_action(R"({"action":"playlist_entry","entry":2})")).status, 400) << "not a string";
    EXPECT_EQ(api.handle(post_action(R"({"action":"reload"})")).status, 200);
    EXPECT_EQ(api.handle(post_action(R"({"action":"reload","file":"x"})")).status, 400) << "no fields";
    ASSERT_EQ(b.performed.size(), 8u);
    EXPECT_EQ(std::get<StopOutput>(b.performed[0]).output, "pull");
    EXPECT_EQ(std::get<StartOutput>(b.performed[1]).output, "pull");
    const auto& add = std::get<AddPushTarget>(b.performed[2]);
    EXPECT_EQ(add.url, "http://h:8/p");
    EXPECT_EQ(add.user, "u");
    EXPECT_EQ(add.password, "pw");
    EXPECT_EQ(std::get<RemovePushTarget>(b.performed[3]).id, "push:3");
    EXPECT_EQ(std::get<SendScriptCommand>(b.performed[4]).parameter, "hi");
    EXPECT_EQ(std::get<AddMarker>(b.performed[5]).name, "Keynote");
    EXPECT_EQ(std::get<SwitchPlaylistEntry>(b.performed[6]).entry, "show");
    EXPECT_TRUE(std::holds_alternative<ReloadPreset>(b.performed[7]));
}

TEST(ControlApi, BackendOutcomesMapToStatuses) {
    FakeBackend b;
    ControlApi api(b, {});
    const std::pair<ActionResult::Outcome, int> cases[] = {{ActionResult::Outcome::unknown_target, 404},
                                                           {ActionResult::Outcome::not_possible, 409},
                                                           {ActionResult::Outcome::invalid, 422},
                                                           {ActionResult::Outcome::unavailable, 503}};
    for (const auto& [outcome, status] : cases) {
        b.next_result = {outcome, "because", ""};
        const ApiResponse r = api.handle(post_action(R"({"action":"stop_output","output":"x"})"));
        EXPECT_EQ(r.status, status);
        EXPECT_EQ(error_of(r), "because");
    }
}

TEST(ControlApi, BadBodiesAreRefusedWithAMessage) {
    FakeBackend b;
    ControlApi api(b, {});
    const std::pair<const char*, const char*> cases[] = {
        {"", "not JSON"},
        {"{not json", "not JSON"},
        {"[1,2]", "JSON object"},
        {R"({"output":"pull"})", "\"action\""},
        {R"({"action":5})", "\"action\""},
        {R"({"action":"explode"})", "unknown action \"explode\""},
        {R"({"action":"stop_output"})", "field \"output\" is missing"},
        {R"({"action":"stop_output","output":""})", "field \"output\" is missing"},
        {R"({"action":"stop_output","output":"pull","force":"yes"})", "unknown field \"force\""},
        {R"({"action":"stop_output","output":7})", "must be a string"},
        {R"({"action":"marker","name":null})", "must be a string"},
    };
    for (const auto& [body, expected] : cases) {
        const ApiResponse r = api.handle(post_action(body));
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_NE(error_of(r).find(expected), std::string::npos) << body << " -> " << error_of(r);
    }
    const std::string long_name(5000, 'a');
    EXPECT_EQ(api.handle(post_action(R"({"action":"marker","name":")" + long_name + "\"}")).status, 400);
    EXPECT_TRUE(b.performed.empty());
}

TEST(ControlApi, HistoryKeepsTheNewestSamplesInOrder) {
    FakeBackend b;
    b.snapshot = sample_snapshot();
    ControlApi api(b, {"", 5});
    for (int i = 0; i < 12; ++i) {
        b.snapshot.bitrate_bps = i * 1000.0;
        api.sample(1000 * i);
    }
    const auto h = api.history();
    ASSERT_EQ(h.size(), 5u);
    for (std::size_t i = 0; i < h.size(); ++i) {
        EXPECT_EQ(h[i].unix_ms, 1000 * static_cast<std::int64_t>(7 + i));
        EXPECT_DOUBLE_EQ(h[i].bitrate_bps, (7.0 + static_cast<double>(i)) * 1000.0);
    }
    const json j = json::parse(api.handle(get("/api/history")).body);
    EXPECT_EQ(j["samples"].size(), 5u);
    EXPECT_EQ(j["samples"][4]["unix_ms"], 11000);
    EXPECT_EQ(j["samples"][4]["pull_clients"], 1);
}

TEST(ControlApi, PreviewIsAJpegOr404) {
    FakeBackend b;
    ControlApi api(b, {});
    EXPECT_EQ(api.handle(get("/api/preview.jpg")).status, 404);
    b.snapshot = sample_snapshot();
    const ApiResponse r = api.handle(get("/api/preview.jpg"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "image/jpeg");
    EXPECT_EQ(r.body.substr(0, 2), "\xFF\xD8");
}

TEST(ControlMetrics, FamiliesHaveHelpTypeAndEscapedLabels) {
    const std::string text = metrics_text(sample_snapshot());
    EXPECT_NE(text.find("# TYPE asfcast_video_frames_dropped_total counter\nasfcast_video_frames_dropped_total 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("asfcast_encoded_frames_total{stream=\"1\",kind=\"video\",rendition=\"720p\"} 372\n"),
              std::string::npos);
    EXPECT_NE(text.find("asfcast_push_reconnects_total{target=\"push:0\",url=\"http://h/p\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("asfcast_mux_bitrate_bits_per_second 2100000\n"), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
    StatusSnapshot s = sample_snapshot();
    s.preset = "a\"b\\c\nd";
    EXPECT_NE(metrics_text(s).find(R"(preset="a\"b\\c\nd")"), std::string::npos);
}

TEST(ControlServerConfig, LoopbackAddresses) {
    EXPECT_TRUE(is_loopback_address("127.0.0.1"));
    EXPECT_TRUE(is_loopback_address("127.0.0.2"));
    EXPECT_TRUE(is_loopback_address("127.255.255.254"));
    EXPECT_TRUE(is_loopback_address("::1"));
    EXPECT_TRUE(is_loopback_address("::ffff:127.0.0.1"));
    EXPECT_FALSE(is_loopback_address("0.0.0.0"));
    EXPECT_FALSE(is_loopback_address("::"));
    EXPECT_FALSE(is_loopback_address("10.0.0.1"));
    EXPECT_FALSE(is_loopback_address("128.0.0.1"));
    EXPECT_THROW(is_loopback_address("localhost"), ControlError);
}
