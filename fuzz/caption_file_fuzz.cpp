// libFuzzer target for the caption file parser (SRT/WebVTT) and the script command line protocol
// (script/): any input parses without throwing; every cue kept is well-formed (end >= start,
// UTF-8 text within kMaxCueText), every error names a line of the input, and the scheduler takes
// the cues. Each line is also given to parse_command_line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asfcast/script/script.hpp"

using namespace asfcast;
using namespace asfcast::script;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const CaptionFile f = parse_captions(text);
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n';
    for (const auto& cue : f.cues) {
        if (cue.end < cue.start || cue.text.size() > kMaxCueText || cue.line < 1 ||
            static_cast<std::size_t>(cue.line) > lines)
            __builtin_trap();
        (void)asfmux::encode_script_command("CAPTION", cue.text);
    }
    for (const auto& e : f.errors)
        if (e.line < 1 || static_cast<std::size_t>(e.line) > lines || e.message.empty()) __builtin_trap();
    ScriptScheduler s;
    s.add_captions(f, 0);
    (void)s.due(INT64_MAX);
    if (s.pending() != 0) __builtin_trap();

    std::size_t at = 0;
    while (at <= text.size()) {
        const auto nl = text.find('\n', at);
        const std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        const LineResult r = parse_command_line(line);
        if (r.command && !r.error.empty()) __builtin_trap();
        if (r.command && (r.command->type.empty() || r.command->type.size() > 32)) __builtin_trap();
        (void)parse_media_time(line);
        if (nl == std::string_view::npos) break;
        at = nl + 1;
    }
    return 0;
}
