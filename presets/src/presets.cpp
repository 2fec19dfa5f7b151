// Public entry points: parse text, load a file, the built-in presets, and NAME-or-path resolution.
#include "asfcast/presets/presets.hpp"

#include <cerrno>
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

}  // namespace asfcast::presets
