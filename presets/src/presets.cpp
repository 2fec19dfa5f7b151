// Public entry points: parse text, load a file, the built-in presets, and NAME-or-path resolution.
#include "asfcast/presets/presets.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "builtin_texts.hpp"
#include "parse.hpp"

namespace asfcast::presets {
namespace detail {

const BaseLookup& builtin_lookup() {
    static const BaseLookup lookup{
        [](const std::string& name) -> std::optional<std::string> {
            for (const auto& [n, text] : builtin_preset_texts())
                if (n == name) return std::string(text);
            return std::nullopt;
        },
        [] {
            std::vector<std::string> names;
            for (const auto& entry : builtin_preset_texts()) names.emplace_back(entry.first);
            return names;
        }};
    return lookup;
}

}  // namespace detail

namespace {

std::string available_builtins() {
    std::string out;
    for (const auto& name : detail::builtin_lookup().names()) out += (out.empty() ? "" : ", ") + name;
    return out;
}

}  // namespace

Preset parse_preset(const std::string& yaml_text, const std::string& origin) {
    std::vector<std::string> chain;
    return detail::parse_preset_with(yaml_text, origin, detail::builtin_lookup(), chain);
}

Preset load_preset_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw PresetError(path + ": is a directory, not a preset file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PresetError(path + ": cannot open preset file: " + std::strerror(errno));
    std::string text;
    char buf[16384];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > detail::kMaxPresetBytes)
            throw PresetError(path + ": is larger than " + std::to_string(detail::kMaxPresetBytes) +
                              " bytes (not a preset file?)");
    }
    if (in.bad()) throw PresetError(path + ": cannot read preset file: " + std::strerror(errno));
    return parse_preset(text, path);
}

std::vector<std::pair<std::string, std::string>> builtin_presets() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& entry : detail::builtin_preset_texts()) {
        const std::string name(entry.first);
        out.emplace_back(name, builtin_preset(name).description);
    }
    return out;
}

Preset builtin_preset(const std::string& name) {
    auto text = detail::builtin_lookup().find(name);
    if (!text) throw PresetError("unknown preset '" + name + "' (available: " + available_builtins() +
                                               "; or give the path of a .yaml file)");
    std::vector<std::string> chain{name};
    return detail::parse_preset_with(*text, "built-in:" + name, detail::builtin_lookup(), chain);
}

Preset resolve_preset(const std::string& name_or_path) {
    const auto ends_with = [&](std::string_view suffix) { return name_or_path.ends_with(suffix); };
    if (name_or_path.find('/') != std::string::npos || ends_with(".yaml") || ends_with(".yml"))
        return load_preset_file(name_or_path);
    return builtin_preset(name_or_path);
}

std::vector<VideoPreset> video_renditions(const VideoPreset& main) {
    std::vector<VideoPreset> out;
    VideoPreset first = main;
    first.renditions.clear();
    const bool mbr = !main.renditions.empty();
    auto default_name = [](const VideoPreset& v) {
        return std::to_string(v.height) + "p " + std::to_string(v.bitrate_kbps) + "k";
    };
    if (mbr && first.name.empty()) first.name = default_name(first);
    out.push_back(first);
    for (const auto& r : main.renditions) {
        VideoPreset v = main;
        v.renditions.clear();
        v.width = r.width.value_or(main.width);
        v.height = r.height.value_or(main.height);
        if (r.fps_num && r.fps_den) {
            v.fps_num = *r.fps_num;
            v.fps_den = *r.fps_den;
        }
        v.bitrate_kbps = r.bitrate_kbps.value_or(main.bitrate_kbps);
        // A new bitrate without its own VBV keeps the main video's VBV proportions (max rate and
        // buffer as multiples of the bitrate), not the main video's absolute numbers.
        const double scale = static_cast<double>(v.bitrate_kbps) / main.bitrate_kbps;
        v.max_bitrate_kbps = r.max_bitrate_kbps.value_or(static_cast<int>(std::lround(main.max_bitrate_kbps * scale)));
        v.vbv_buffer_kbit = r.vbv_buffer_kbit.value_or(static_cast<int>(std::lround(main.vbv_buffer_kbit * scale)));
        if (v.max_bitrate_kbps != 0 && v.vbv_buffer_kbit == 0) v.vbv_buffer_kbit = 1;
        v.profile = r.profile.value_or(main.profile);
        v.x264_preset = r.x264_preset.value_or(main.x264_preset);
        v.name = r.name.value_or("");
        if (v.name.empty()) v.name = default_name(v);
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<AudioPreset> audio_renditions(const AudioPreset& main) {
    std::vector<AudioPreset> out;
    AudioPreset first = main;
    first.renditions.clear();
    const bool mbr = !main.renditions.empty();
    auto default_name = [](const AudioPreset& a) {
        std::string codec = a.codec;
        for (auto& c : codec) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return codec + " " + std::to_string(a.bitrate_kbps) + "k";
    };
    if (mbr && first.name.empty()) first.name = default_name(first);
    out.push_back(first);
    for (const auto& r : main.renditions) {
        AudioPreset a = main;
        a.renditions.clear();
        a.bitrate_kbps = r.bitrate_kbps.value_or(main.bitrate_kbps);
        a.name = r.name.value_or("");
        if (a.name.empty()) a.name = default_name(a);
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace asfcast::presets
