// libFuzzer target for the YAML preset parser: any input either parses or throws PresetError;
// yaml-cpp exceptions, deep nesting and oversized input must all end up as PresetError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "asfcast/presets/presets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const asfcast::presets::Preset preset = asfcast::presets::parse_preset(text, "fuzz");
        // A preset that parses is valid: at least one stream, and the name is set.
        if ((!preset.video && !preset.audio) || preset.name.empty()) __builtin_trap();
    } catch (const asfcast::presets::PresetError&) {
    }
    return 0;
}
