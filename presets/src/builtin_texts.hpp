// Private: the YAML text of every presets/builtin/*.yaml, compiled into the library by
// embed_presets.cmake (generated builtin_presets.cpp), keyed by file stem and sorted by name.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace asfcast::presets::detail {

const std::vector<std::pair<std::string_view, std::string_view>>& builtin_preset_texts();

}  // namespace asfcast::presets::detail
