// Private: the parser behind parse_preset, with the lookup of `base:` presets made explicit so
// tests can give it their own set of bases (e.g. to build an inheritance cycle).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/presets/presets.hpp"

namespace asfcast::presets::detail {

// Larger input is refused before yaml-cpp sees it (a preset is a few hundred bytes).
inline constexpr std::size_t kMaxPresetBytes = 1 << 20;
// Longest chain of `base:` references (a -> b -> c ...).
inline constexpr std::size_t kMaxBaseDepth = 8;

struct BaseLookup {
    // YAML text of the preset NAME, or nullopt if there is none by that name.
    std::function<std::optional<std::string>(const std::string& name)> find;
    // Every name `find` knows, for error messages.
    std::function<std::vector<std::string>()> names;
};

// The built-in presets as a BaseLookup.
const BaseLookup& builtin_lookup();

// Parses `text` (named `origin` in errors). `chain` holds the names of the presets whose `base:`
// is being resolved (outermost first), for cycle detection; it is restored before returning.
Preset parse_preset_with(const std::string& text, const std::string& origin, const BaseLookup& lookup,
                         std::vector<std::string>& chain);

}  // namespace asfcast::presets::detail
