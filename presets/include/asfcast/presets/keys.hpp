// presets: the one declaration of every preset key (issue 14, point 5). The table drives the
// parser (which keys a section allows, each scalar's type and range, where it goes in Preset), the
// README tables (`asfcast presets --keys`), the bounds test, and reload: which keys a running job
// can take from a changed preset without a restart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/presets/presets.hpp"

namespace asfcast::presets {

enum class KeyKind {
    section,       // a mapping of further keys
    integer,       // decimal, min..max
    even_integer,  // decimal, even, min..max
    number,        // decimal with optional fraction, min..max
    boolean,       // true | false
    choice,        // one of `choices`
    text,          // UTF-8 string of at most max_bytes
    list,          // a sequence (of scalars or of mappings declared as PATH[].KEY)
    custom,        // parsed by hand in parse.cpp (several accepted forms); declared here for docs and reload
};

enum class Reload {
    live,     // a running job takes the new value on reload (SIGHUP)
    restart,  // named in the log on reload and left as it is until the job restarts
};

// A scalar read from YAML, already checked against its KeySpec.
struct KeyValue {
    std::int64_t integer = 0;
    double number = 0;
    bool boolean = false;
    std::string text;
};

// Where a scalar key lives in its owner struct (SourcePreset, PullPreset, PushTargetPreset, ...).
struct FieldAccess {
    void (*set)(void* owner, const KeyValue& value) = nullptr;
    std::string (*show)(const void* owner) = nullptr;  // for comparing two presets; may hold a password
    explicit operator bool() const { return set != nullptr; }
};

struct KeySpec {
    std::string_view path;       // dotted; list items as "outputs.push.targets[].url"
    KeyKind kind = KeyKind::custom;
    std::string_view type_text;  // as documented: "integer", "list of CIDR blocks", ...
    double min = 0, max = 0;     // integer, even_integer, number
    std::span<const std::string_view> choices;  // choice
    std::size_t max_bytes = 0;   // text
    FieldAccess field;           // scalar keys stored as they are; empty for custom keys
    std::string_view default_text;
    Reload reload = Reload::restart;
    std::string_view help;       // the "allowed" column: range, meaning, rules
};

// Every key, sections first then their keys, in documentation order.
std::span<const KeySpec> preset_keys();
// The key at `path` ("outputs.pull.port", "outputs.push.targets[].url"), or nullptr.
const KeySpec* find_key(std::string_view path);
// The names of the keys directly inside `section` ("" for the top level), in table order.
std::vector<std::string_view> child_keys(std::string_view section);
// "1..65535", "even, 16..4096", "true, false", ... (for messages and the bounds test).
std::string range_text(const KeySpec& key);

// The Markdown table of the keys directly inside `section` (columns: key, type, default, reload,
// allowed).
std::string keys_markdown(std::string_view section);
// Every section's table, each under a "### `SECTION`" heading: `asfcast presets --keys`.
std::string all_keys_markdown();
// `readme` with the text between each "<!-- keys: SECTION -->" line and the next
// "<!-- /keys -->" line replaced by keys_markdown(SECTION). Throws PresetError on a marker for
// an unknown section or one left open.
std::string render_key_tables(const std::string& readme);

// One key whose value differs between two presets.
struct PresetChange {
    std::string key;  // dotted path, list keys as a whole ("outputs.push.targets")
    Reload reload;
};
// What differs between `running` and `next`, keys only (values may be passwords).
std::vector<PresetChange> diff_presets(const Preset& running, const Preset& next);

}  // namespace asfcast::presets
