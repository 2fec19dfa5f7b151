// The preset key table (issue 14, point 5): it drives the parser, so every numeric key's bounds
// are tried through parse_preset; the README's tables are generated from it; reload's diff reads it.
#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "asfcast/presets/keys.hpp"
#include "asfcast/presets/presets.hpp"

namespace asfcast::presets {
namespace {

std::string number_text(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    EXPECT_EQ(ec, std::errc());
    return std::string(buf, end);
}

// A whole preset setting `path` (list items as PATH[].KEY) to `value`, in flow style, with what
// the key's neighbours need to be valid around it.
std::string preset_setting(std::string_view path, const std::string& value) {
    // Keys an item needs besides the one tried, and settings elsewhere that a bound needs.
    static const std::map<std::string, std::string, std::less<>> item_context = {
        {"outputs.push.targets[]", "url: 'server:8080/pub'"},
        {"outputs.pull.users[]", "name: user"},
        {"playlist.entries[]", "file: a.wmv"},
    };
    static const std::map<std::string, std::string, std::less<>> context = {
        // 65535-byte packets are more than the pull output carries in one $D.
        {"asf.packet_size", "outputs: {pull: false}"},
        {"playlist.entries[].duration_s", ""},
    };
    // Keys beside the one tried that a bound needs (a VBV buffer of 0 only without a VBV).
    static const std::map<std::string, std::string, std::less<>> siblings = {
        {"video.vbv_buffer_kbit", "max_bitrate_kbps: 0"},
        {"video.renditions[].vbv_buffer_kbit", "max_bitrate_kbps: 0"},
    };
    std::string text = "{" + std::string(path.substr(path.rfind('.') + 1)) + ": " + value;
    if (auto it = siblings.find(path); it != siblings.end()) text += ", " + it->second;
    std::string_view rest = path.substr(0, path.rfind('.') == std::string_view::npos ? 0 : path.rfind('.'));
    if (path.find('.') == std::string_view::npos) rest = {};
    while (!rest.empty()) {
        const auto dot = rest.rfind('.');
        std::string_view name = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
        const std::string section(rest);
        if (name.ends_with("[]")) {
            name.remove_suffix(2);
            std::string extra;
            if (auto it = item_context.find(section); it != item_context.end()) extra = it->second;
            if (path == "playlist.entries[].duration_s") extra = "live: true";
            text = "{" + std::string(name) + ": [" + text + (extra.empty() ? "" : ", " + extra) + "}]";
        } else {
            text = "{" + std::string(name) + ": " + text + "}";
        }
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(0, dot);
    }
    text += "}";
    // text is now {top: ...}; merge into a mapping with the other top-level keys it needs.
    std::string doc = text.substr(1, text.size() - 2);
    const std::string top(path.substr(0, path.find('.')));
    if (top != "video" && top != "audio") doc += ", video: {}";
    if (auto it = context.find(path); it != context.end() && !it->second.empty()) doc += ", " + it->second;
    return "{" + doc + "}";
}

// The key as errors name it: the first item of a list.
std::string shown(std::string_view path) {
    std::string out(path);
    for (auto at = out.find("[]"); at != std::string::npos; at = out.find("[]")) out.replace(at, 2, "[0]");
    // push targets are named without an index (outputs.push.targets.url), as before the table.
    for (auto at = out.find("targets[0]"); at != std::string::npos; at = out.find("targets[0]"))
        out.replace(at, 10, "targets");
    for (auto at = out.find("users[0]"); at != std::string::npos; at = out.find("users[0]")) out.replace(at, 8, "users");
    return out;
}

TEST(PresetKeys, EveryNumericKeyTakesItsBoundsAndRefusesOneBeyond) {
    int tried = 0;
    for (const KeySpec& k : preset_keys()) {
        const bool numeric =
            k.kind == KeyKind::integer || k.kind == KeyKind::even_integer || k.kind == KeyKind::number;
        if (!numeric) continue;
        ASSERT_LT(k.min, k.max) << k.path;
        const double step = k.kind == KeyKind::even_integer ? 2 : 1;
        const std::string key = shown(k.path);
        for (double v : {k.min, k.max}) {
            const std::string yaml = preset_setting(k.path, number_text(v));
            try {
                (void)parse_preset(yaml, "t.yaml");
            } catch (const PresetError& e) {
                // Refused only by a rule between keys, never as out of this key's range.
                EXPECT_EQ(std::string(e.what()).find(key + ": " + number_text(v) + " is out of range"), std::string::npos)
                    << yaml << "\n" << e.what();
            }
        }
        for (double v : {k.min - step, k.max + step}) {
            const std::string yaml = preset_setting(k.path, number_text(v));
            try {
                (void)parse_preset(yaml, "t.yaml");
                ADD_FAILURE() << k.path << " = " << number_text(v) << " was accepted: " << yaml;
            } catch (const PresetError& e) {
                const std::string msg = e.what();
                EXPECT_NE(msg.find("t.yaml: " + key + ": " + number_text(v) + " is out of range (allowed "),
                          std::string::npos)
                    << yaml << "\n" << msg;
            }
        }
        ++tried;
    }
    EXPECT_GE(tried, 50);
}

TEST(PresetKeys, EveryKeyIsDeclaredOnceWithHelpAndEverySectionHasKeys) {
    std::set<std::string_view> seen;
    for (const KeySpec& k : preset_keys()) {
        EXPECT_TRUE(seen.insert(k.path).second) << "declared twice: " << k.path;
        EXPECT_FALSE(k.type_text.empty()) << k.path;
        if (k.kind == KeyKind::section) {
            EXPECT_FALSE(child_keys(k.path).empty()) << k.path;
        }
        if (k.kind == KeyKind::choice) {
            EXPECT_FALSE(k.choices.empty()) << k.path;
        }
        if (k.kind == KeyKind::text) {
            EXPECT_GT(k.max_bytes, 0u) << k.path;
        }
    }
    EXPECT_NE(find_key("outputs.pull.max_clients"), nullptr);
    EXPECT_EQ(find_key("outputs.pull.max_clients")->reload, Reload::live);
    EXPECT_EQ(find_key("outputs.pull.port")->reload, Reload::restart);
}

TEST(PresetKeys, UnknownKeyNamesTheAllowedKeysFromTheTable) {
    try {
        (void)parse_preset("video: {bitrat: 5}", "t.yaml");
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown key 'video.bitrat' (allowed keys: codec, fourcc, width"),
                  std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("did you mean 'bitrate_kbps'?"), std::string::npos) << e.what();
    }
}

TEST(PresetKeys, ReadmeTablesAreTheGeneratedOnes) {
    std::ifstream in(ASFCAST_PRESETS_README, std::ios::binary);
    ASSERT_TRUE(in) << ASFCAST_PRESETS_README;
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_TRUE(render_key_tables(text) == text)
        << "presets/README.md differs from the key table (presets/src/keys.cpp); regenerate it with: "
           "build/app/asfcast presets --update-readme presets/README.md";
    EXPECT_NE(text.find("| `max_clients` | integer | 20000 | live |"), std::string::npos);
}

bool has_change(const std::vector<PresetChange>& changes, const std::string& key, Reload reload) {
    for (const auto& c : changes)
        if (c.key == key) return c.reload == reload;
    return false;
}

TEST(PresetDiff, NamesEachChangedKeyWithWhetherItReloads) {
    const std::string base = "video: {}\naudio: {}\noutputs:\n  pull: {port: 8080, max_clients: 10}\n"
                              "  push: [{url: 'a:1/p'}]\n";
    const Preset running = parse_preset(base, "a.yaml");
    EXPECT_TRUE(diff_presets(running, parse_preset(base, "a.yaml")).empty());

    const Preset next = parse_preset(
        "video: {bitrate_kbps: 1500}\naudio: {}\noutputs:\n  pull: {port: 8081, max_clients: 20, users: [{name: u, password: "
        "p}], auth: digest, deny: [10.0.0.0/8]}\n  push: [{url: 'a:1/p'}, {url: 'b:1/p'}]\n",
        "a.yaml");
    const auto changes = diff_presets(running, next);
    EXPECT_TRUE(has_change(changes, "outputs.pull.max_clients", Reload::live));
    EXPECT_TRUE(has_change(changes, "outputs.pull.users", Reload::live));
    EXPECT_TRUE(has_change(changes, "outputs.pull.auth", Reload::live));
    EXPECT_TRUE(has_change(changes, "outputs.pull.deny", Reload::live));
    EXPECT_TRUE(has_change(changes, "outputs.push.targets", Reload::live));
    EXPECT_TRUE(has_change(changes, "outputs.pull.port", Reload::restart));
    EXPECT_TRUE(has_change(changes, "video.bitrate_kbps", Reload::restart));
    EXPECT_EQ(changes.size(), 7u);
}

TEST(PresetDiff, APasswordChangeIsAChangeOfItsList) {
    const Preset a = parse_preset("video: {}\noutputs: {push: [{url: 'a:1/p', user: u, password: one}]}", "a.yaml");
    const Preset b = parse_preset("video: {}\noutputs: {push: [{url: 'a:1/p', user: u, password: two}]}", "a.yaml");
    const auto changes = diff_presets(a, b);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].key, "outputs.push.targets");
    EXPECT_EQ(changes[0].reload, Reload::live);
}

TEST(PresetDiff, VideoRemovedIsARestart) {
    const Preset a = parse_preset("video: {}\naudio: {}", "a.yaml");
    const Preset b = parse_preset("audio: {}", "b.yaml");
    const auto changes = diff_presets(a, b);
    ASSERT_FALSE(changes.empty());
    EXPECT_EQ(changes[0].key, "video");
    EXPECT_EQ(changes[0].reload, Reload::restart);
}

}  // namespace
}  // namespace asfcast::presets
