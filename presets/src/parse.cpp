// The preset schema: YAML (yaml-cpp) -> Preset, with every key, type and range checked. Each error
// names the origin, the dotted key and what is allowed; no yaml-cpp exception leaves this file.
#include "parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "asfcast/core/ip_acl.hpp"
#include "asfcast/core/text.hpp"
#include "asfcast/presets/keys.hpp"
#include "key_choices.hpp"

namespace asfcast::presets::detail {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::size_t kMaxPlaylistEntries = 1000;
constexpr std::size_t kMaxVideoRenditions = 8;  // main + 7 alternatives
constexpr std::size_t kMaxAudioRenditions = 4;
constexpr std::array<std::string_view, 4> kPullAuth = {"none", "basic", "digest", "ntlm"};
constexpr std::array<std::string_view, 3> kPullAuthSchemes = {"basic", "digest", "ntlm"};
constexpr std::array<std::string_view, 2> kBools = {"true", "false"};

constexpr std::array<std::string_view, 6> kFourccs = {"H264", "h264", "X264", "x264", "AVC1", "avc1"};
constexpr std::array<std::string_view, 1> kWmv2Fourccs = {"WMV2"};
// Keys only libx264 uses: an error when written in a video section whose codec is wmv2.
constexpr std::array<std::string_view, 5> kX264OnlyKeys = {"profile", "x264_preset", "tune", "bframes", "threads"};
// At most one of the first six ("psy" tunes), plus fastdecode and/or zerolatency, comma separated.
constexpr std::array<std::string_view, 8> kTunes = {"film", "animation",  "grain",      "stillimage",
                                                    "psnr", "ssim",       "fastdecode", "zerolatency"};
constexpr std::size_t kPsyTunes = 6;
constexpr std::array<int, 4> kWma2Rates = {22050, 32000, 44100, 48000};
constexpr std::array<int, 3> kMp3Rates = {32000, 44100, 48000};
// audio.codec copy: the AAC rates of the key's range (ISO/IEC 14496-3 1.6.3.4 sampling frequency index).
constexpr std::array<int, 5> kAacRates = {22050, 24000, 32000, 44100, 48000};
// MPEG-1 layer III bit rates (kbit/s); a CBR frame header can only say one of these.
constexpr std::array<int, 14> kMp3Bitrates = {32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320};

constexpr std::size_t kMaxTextBytes = 1024;    // description and metadata fields (they go into the ASF header)
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::uint32_t kPacketOverhead = 64;  // packet + payload headers around one audio frame, rounded up

template <class T>
std::string join(std::span<const T> items, std::string_view sep = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += sep;
        if constexpr (std::is_arithmetic_v<T>)
            out += std::to_string(item);
        else
            out += item;
    }
    return out;
}

// A scalar as shown in messages: bounded, control characters escaped.
std::string show_raw(std::string_view s) {
    std::string out;
    const std::size_t limit = 60;
    for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > limit) out += "...";
    return out;
}
std::string quote(std::string_view s) { return "'" + show_raw(s) + "'"; }

std::string kind(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a sequence";
        case YAML::NodeType::Null: return "null";
        case YAML::NodeType::Scalar: return quote(n.Scalar());
        default: return "nothing";
    }
}

template <class List>
bool contains(const List& keys, std::string_view key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// The closest allowed key, if the unknown one looks like a typo of it.
std::string_view suggestion(std::string_view key, std::span<const std::string_view> allowed) {
    if (key.size() > 64) return {};
    std::string_view best;
    std::size_t best_d = 3;
    for (auto k : allowed) {
        std::size_t d = edit_distance(key, k);
        if (key.size() >= 3 && k.starts_with(key)) d = std::min<std::size_t>(d, 1);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

using Entries = std::vector<std::pair<std::string, YAML::Node>>;

class Parser {
public:
    Parser(const std::string& origin, const BaseLookup& lookup, std::vector<std::string>& chain)
        : origin_(origin), lookup_(lookup), chain_(chain) {}

    Preset parse(const YAML::Node& root) {
        if (!root.IsMap()) fail("expected a mapping of preset keys at the top level, got " + kind(root));
        const Entries top = entries(root, "", "");

        Preset p;
        // `base:` first, whatever its position: everything else overrides it.
        for (const auto& [key, value] : top)
            if (key == "base") p = load_base(value);
        // Name and description describe this preset, not its base.
        p.name.clear();
        p.description.clear();
        p.origin = origin_;

        for (const auto& [key, value] : top) {
            if (key == "name") {
                p.name = get_string(value, key, kMaxNameBytes);
                if (p.name.empty()) fail_key(key, "must not be empty (allowed 1.." + std::to_string(kMaxNameBytes) +
                                                      " characters)");
            } else if (key == "description") {
                p.description = get_string(value, key, kMaxTextBytes);
            } else if (key == "source") {
                apply_source(value, p.source);
            } else if (key == "video") {
                apply_video(value, p.video);
            } else if (key == "audio") {
                apply_audio(value, p.audio);
            } else if (key == "asf") {
                apply_asf(value, p.asf);
            } else if (key == "metadata") {
                apply_metadata(value, p.metadata);
            } else if (key == "outputs") {
                apply_outputs(value, p.outputs);
            } else if (key == "script_commands") {
                apply_script_commands(value, p.script_commands);
            } else if (key == "drm") {
                apply_drm(value, p.drm);
            } else if (key == "playlist") {
                apply_playlist(value, p.playlist);
            } else if (key == "control") {
                apply_control(value, p.control);
            }
        }
        if (p.name.empty()) p.name = name_from_origin();
        validate(p);
        return p;
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw PresetError(origin_ + ": " + what); }
    [[noreturn]] void fail_key(const std::string& key, const std::string& what) const {
        throw PresetError(origin_ + ": " + key + ": " + what);
    }
    [[noreturn]] void out_of_range(const std::string& key, const std::string& value, const std::string& allowed) const {
        fail_key(key, show_raw(value) + " is out of range (allowed " + allowed + ")");
    }

    static std::string dotted(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    std::string name_from_origin() const {
        static constexpr std::string_view builtin = "built-in:";
        if (origin_.starts_with(builtin)) return origin_.substr(builtin.size());
        std::string stem = std::filesystem::path(origin_).stem().string();
        return stem.empty() ? origin_ : stem;
    }

    // The key/value pairs of a mapping, after checking every key is one the key table declares in
    // `table_path` (list items as "PATH[]") and appears once. `path` is the key as the user sees it.
    Entries entries(const YAML::Node& map, const std::string& path, std::string_view table_path) const {
        const std::vector<std::string_view> allowed = child_keys(table_path);
        Entries out;
        for (const auto& kv : map) {
            const YAML::Node k = kv.first;
            if (!k.IsScalar())
                fail((path.empty() ? std::string("top level") : path) + ": keys must be plain names, got " + kind(k));
            const std::string key = k.Scalar();
            if (!contains(allowed, key)) {
                std::string msg = "unknown key " + quote(dotted(path, key)) + " (allowed keys: " +
                                  join<std::string_view>(allowed) + ")";
                if (auto s = suggestion(key, allowed); !s.empty()) msg += "; did you mean '" + std::string(s) + "'?";
                fail(msg);
            }
            for (const auto& e : out)
                if (e.first == key) fail("duplicate key " + quote(dotted(path, key)));
            out.emplace_back(key, kv.second);
        }
        return out;
    }

    Entries section(const YAML::Node& value, const std::string& key, std::string_view table_path) const {
        if (!value.IsMap()) fail_key(key, "expected a mapping, got " + kind(value));
        return entries(value, key, table_path);
    }

    static const KeySpec& spec_of(std::string_view table_path, std::string_view name) {
        const std::string path = table_path.empty() ? std::string(name) : std::string(table_path) + "." + std::string(name);
        const KeySpec* spec = find_key(path);
        if (!spec) throw std::logic_error("preset key table: no entry " + path);
        return *spec;
    }

    // A scalar key read as its KeySpec says (type, range, length); `key` names it in errors.
    KeyValue read_value(const KeySpec& spec, const YAML::Node& v, const std::string& key) const {
        KeyValue out;
        const auto lo = static_cast<std::int64_t>(spec.min), hi = static_cast<std::int64_t>(spec.max);
        switch (spec.kind) {
            case KeyKind::integer: out.integer = get_int(v, key, lo, hi); break;
            case KeyKind::even_integer:
                out.integer = get_int(v, key, lo, hi);
                if (out.integer % 2 != 0) out_of_range(key, v.Scalar(), range_text(spec));
                break;
            case KeyKind::number: out.number = get_number(v, key, spec.min, spec.max, range_text(spec)); break;
            case KeyKind::boolean: out.boolean = get_enum(v, key, kBools) == "true"; break;
            case KeyKind::choice: out.text = get_enum(v, key, spec.choices); break;
            case KeyKind::text: out.text = get_string(v, key, spec.max_bytes); break;
            default: throw std::logic_error("preset key table: " + std::string(spec.path) + " is not a scalar key");
        }
        return out;
    }

    // Reads every key of a section: scalar keys the table places (spec.field) are set on `owner`;
    // then `custom(name, node, key)` runs for every key, for the hand-parsed keys and the checks a
    // value needs beyond its range (ping_interval_ms: 0 or 100..; a multicast group; ...).
    template <class Custom>
    void apply_keys(const Entries& items, const std::string& shown_path, std::string_view table_path, void* owner,
                    Custom&& custom) const {
        for (const auto& [k, v] : items) {
            const KeySpec& spec = spec_of(table_path, k);
            const std::string key = shown_path + "." + k;
            if (spec.field) spec.field.set(owner, read_value(spec, v, key));
            custom(k, v, key);
        }
    }
    void apply_keys(const Entries& items, const std::string& shown_path, std::string_view table_path, void* owner) const {
        apply_keys(items, shown_path, table_path, owner, [](const std::string&, const YAML::Node&, const std::string&) {});
    }

    const std::string& scalar(const YAML::Node& v, const std::string& key, std::string_view expected) const {
        if (!v.IsScalar()) fail_key(key, "expected " + std::string(expected) + ", got " + kind(v));
        return v.Scalar();
    }

    std::int64_t get_int(const YAML::Node& v, const std::string& key, std::int64_t lo, std::int64_t hi) const {
        const std::string& s = scalar(v, key, "an integer");
        std::string_view t = s;
        if (t.starts_with('+')) t.remove_prefix(1);
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
        if (t.empty() || end != t.data() + t.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
            fail_key(key, "expected an integer, got " + quote(s));
        if (ec == std::errc::result_out_of_range || value < lo || value > hi)
            out_of_range(key, s, std::to_string(lo) + ".." + std::to_string(hi));
        return value;
    }

    double get_number(const YAML::Node& v, const std::string& key, double lo, double hi,
                      const std::string& allowed) const {
        const std::string& s = scalar(v, key, "a number");
        std::string_view t = s;
        if (t.starts_with('+')) t.remove_prefix(1);
        double value = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value, std::chars_format::fixed);
        if (t.empty() || end != t.data() + t.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
            fail_key(key, "expected a number, got " + quote(s));
        if (ec == std::errc::result_out_of_range || !std::isfinite(value) || value < lo || value > hi)
            out_of_range(key, s, allowed);
        return value;
    }

    // Any scalar (a number is taken as written); null is the empty string.
    std::string get_string(const YAML::Node& v, const std::string& key, std::size_t max_bytes) const {
        if (v.IsNull()) return {};
        const std::string& s = scalar(v, key, "a string");
        if (!valid_utf8(s)) fail_key(key, "is not valid UTF-8");
        if (s.size() > max_bytes)
            fail_key(key, "is " + std::to_string(s.size()) + " bytes long (allowed 0.." + std::to_string(max_bytes) +
                              " bytes)");
        for (char c : s)
            if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
                fail_key(key, "contains a control character (allowed: printable text, tabs and line breaks)");
        return s;
    }

    std::string get_enum(const YAML::Node& v, const std::string& key, std::span<const std::string_view> allowed) const {
        const std::string& s = scalar(v, key, "one of " + join<std::string_view>(allowed));
        if (!contains(allowed, s))
            fail_key(key, quote(s) + " is not allowed (allowed: " + join<std::string_view>(allowed) + ")");
        return s;
    }

    Preset load_base(const YAML::Node& value) {
        const std::string name = get_string(value, "base", kMaxNameBytes);
        if (name.empty()) fail_key("base", "must name a built-in preset (allowed: " + join<std::string>(lookup_.names()) + ")");
        if (std::find(chain_.begin(), chain_.end(), name) != chain_.end()) {
            std::string cycle;
            for (const auto& n : chain_) cycle += n + " -> ";
            fail_key("base", "inheritance cycle: " + cycle + name);
        }
        if (chain_.size() >= kMaxBaseDepth)
            fail_key("base", "more than " + std::to_string(kMaxBaseDepth) + " levels of inheritance");
        auto text = lookup_.find(name);
        if (!text)
            fail_key("base", "unknown preset " + quote(name) + " (allowed: " + join<std::string>(lookup_.names()) + ")");
        chain_.push_back(name);
        struct Pop {
            std::vector<std::string>& c;
            ~Pop() { c.pop_back(); }
        } pop{chain_};
        return parse_preset_with(*text, "built-in:" + name, lookup_, chain_);
    }

    void apply_source(const YAML::Node& value, SourcePreset& s) const {
        apply_keys(section(value, "source", "source"), "source", "source", &s);
    }

    static bool is_none(const YAML::Node& v) { return v.IsNull() || (v.IsScalar() && v.Scalar() == "none"); }

    void apply_video(const YAML::Node& value, std::optional<VideoPreset>& video) const {
        if (is_none(value)) {
            video.reset();
            return;
        }
        if (!value.IsMap()) fail_key("video", "expected a mapping or none, got " + kind(value));
        VideoPreset v = video.value_or(VideoPreset{});
        const std::string inherited_codec = v.codec;
        const YAML::Node* fourcc = nullptr;
        std::vector<std::string> x264_keys;  // x264-only keys written here
        const Entries items = entries(value, "video", "video");
        apply_keys(items, "video", "video", &v, [&](const std::string& k, const YAML::Node& n, const std::string& key) {
            if (contains(kX264OnlyKeys, k)) x264_keys.push_back(key);
            if (k == "fourcc") fourcc = &n;
            else if (k == "framerate") get_framerate(n, key, v.fps_num, v.fps_den);
            else if (k == "tune") v.tune = get_tune(n, key);
            else if (k == "renditions") v.renditions = get_video_renditions(n, key);
        });
        const bool wmv2 = v.codec == "wmv2";
        // The fourcc follows the codec: kept from the base only while the codec stays the same.
        if (fourcc) {
            const std::string key = "video.fourcc";
            const std::string& s = scalar(*fourcc, key, "a FourCC");
            const Keys allowed = wmv2 ? Keys(kWmv2Fourccs) : Keys(kFourccs);
            if (!contains(allowed, s))
                fail_key(key, quote(s) + " is not allowed with video.codec " + v.codec + " (allowed: " +
                                  join<std::string_view>(allowed) + ")");
            v.fourcc = s;
        } else if (v.codec != inherited_codec) {
            v.fourcc = wmv2 ? "WMV2" : "H264";
        }
        if (wmv2) {
            if (!x264_keys.empty())
                fail_key(x264_keys.front(), "is an x264 setting and not allowed with video.codec wmv2 (remove it; "
                                            "x264-only keys: " + join<std::string_view>(kX264OnlyKeys) + ")");
            // Values inherited from an h264 base mean nothing to wmv2: back to the defaults.
            const VideoPreset d;
            v.profile = d.profile;
            v.x264_preset = d.x264_preset;
            v.tune = d.tune;
            v.bframes = d.bframes;
            v.threads = d.threads;
        }
        video = v;
    }

    std::vector<VideoRenditionPreset> get_video_renditions(const YAML::Node& n, const std::string& key) const {
        if (is_none(n)) return {};
        if (!n.IsSequence()) fail_key(key, "expected a list of mappings (MBR alternatives), got " + kind(n));
        if (n.size() > kMaxVideoRenditions - 1)
            out_of_range(key, std::to_string(n.size()) + " entries",
                         "0.." + std::to_string(kMaxVideoRenditions - 1) + " alternatives besides the main video");
        std::vector<VideoRenditionPreset> out;
        for (std::size_t i = 0; i < n.size(); ++i) {
            const std::string path = key + "[" + std::to_string(i) + "]";
            VideoRenditionPreset r;
            apply_keys(section(n[i], path, "video.renditions[]"), path, "video.renditions[]", &r,
                       [&](const std::string& k, const YAML::Node& v, const std::string& rk) {
                           if (k != "framerate") return;
                           int num = 0, den = 1;
                           get_framerate(v, rk, num, den);
                           r.fps_num = num;
                           r.fps_den = den;
                       });
            out.push_back(std::move(r));
        }
        return out;
    }

    std::vector<AudioRenditionPreset> get_audio_renditions(const YAML::Node& n, const std::string& key) const {
        if (is_none(n)) return {};
        if (!n.IsSequence()) fail_key(key, "expected a list of mappings (more encodings of the audio), got " + kind(n));
        if (n.size() > kMaxAudioRenditions - 1)
            out_of_range(key, std::to_string(n.size()) + " entries",
                         "0.." + std::to_string(kMaxAudioRenditions - 1) + " alternatives besides the main audio");
        std::vector<AudioRenditionPreset> out;
        for (std::size_t i = 0; i < n.size(); ++i) {
            const std::string path = key + "[" + std::to_string(i) + "]";
            AudioRenditionPreset r;
            apply_keys(section(n[i], path, "audio.renditions[]"), path, "audio.renditions[]", &r);
            out.push_back(std::move(r));
        }
        return out;
    }

    int get_dimension(const YAML::Node& v, const std::string& key) const {
        const auto value = get_int(v, key, 16, 4096);
        if (value % 2 != 0) out_of_range(key, v.Scalar(), "even values 16..4096");
        return static_cast<int>(value);
    }

    // "30", "30000/1001", "29.97" (NTSC rates map to N*1000/1001, other decimals to an exact fraction).
    void get_framerate(const YAML::Node& v, const std::string& key, int& num, int& den) const {
        static const std::string allowed = "1..120 frames per second, as N, N/D or a decimal";
        const std::string& s = scalar(v, key, "a frame rate (N, N/D or a decimal)");
        const auto bad = [&] { fail_key(key, "expected a frame rate (N, N/D or a decimal), got " + quote(s)); };
        const auto parse_u = [&](std::string_view t, std::int64_t& out) {
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
            if (t.empty() || t.front() == '-' || end != t.data() + t.size()) bad();
            if (ec != std::errc()) out_of_range(key, s, allowed);
        };
        std::int64_t n = 0, d = 1;
        const std::string_view t = s;
        if (auto slash = t.find('/'); slash != std::string_view::npos) {
            parse_u(t.substr(0, slash), n);
            parse_u(t.substr(slash + 1), d);
            if (d < 1 || d > 1000000 || n > 120000000) out_of_range(key, s, allowed);
        } else if (auto dot = t.find('.'); dot != std::string_view::npos) {
            std::string_view frac = t.substr(dot + 1);
            if (frac.empty() || frac.size() > 6 || frac.front() == '-' || frac.front() == '+') bad();
            std::int64_t whole = 0, f = 0;
            parse_u(t.substr(0, dot), whole);
            parse_u(frac, f);
            if (whole > 1000) out_of_range(key, s, allowed);
            d = 1;
            for (std::size_t i = 0; i < frac.size(); ++i) d *= 10;
            n = whole * d + f;
            const double fps = static_cast<double>(n) / static_cast<double>(d);
            for (int ntsc : {24, 30, 48, 60, 120}) {
                if (std::abs(fps - ntsc * 1000.0 / 1001.0) < 0.006) {
                    n = ntsc * 1000;
                    d = 1001;
                    break;
                }
            }
        } else {
            parse_u(t, n);
        }
        if (n < 1 || n > 120 * d || n < d) out_of_range(key, s, allowed);
        const std::int64_t g = std::gcd(n, d);
        num = static_cast<int>(n / g);
        den = static_cast<int>(d / g);
    }

    std::string get_tune(const YAML::Node& v, const std::string& key) const {
        const std::string value = get_string(v, key, 128);
        const std::string allowed = "empty, or one of " + join<std::string_view>(std::span(kTunes).first(kPsyTunes)) +
                                    " and/or fastdecode, zerolatency, comma separated";
        if (value.empty()) return value;
        std::size_t psy = 0;
        std::vector<std::string_view> seen;
        std::string_view rest = value;
        while (true) {
            const auto comma = rest.find(',');
            const std::string_view item = rest.substr(0, comma);
            const auto it = std::find(kTunes.begin(), kTunes.end(), item);
            if (it == kTunes.end() || std::find(seen.begin(), seen.end(), item) != seen.end())
                fail_key(key, quote(value) + " is not allowed (allowed: " + allowed + ")");
            if (static_cast<std::size_t>(it - kTunes.begin()) < kPsyTunes && ++psy > 1)
                fail_key(key, quote(value) + " is not allowed (allowed: " + allowed + ")");
            seen.push_back(item);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
        return value;
    }

    void apply_audio(const YAML::Node& value, std::optional<AudioPreset>& audio) const {
        if (is_none(value)) {
            audio.reset();
            return;
        }
        if (!value.IsMap()) fail_key("audio", "expected a mapping or none, got " + kind(value));
        AudioPreset a = audio.value_or(AudioPreset{});
        apply_keys(entries(value, "audio", "audio"), "audio", "audio", &a,
                   [&](const std::string& k, const YAML::Node& n, const std::string& key) {
                       if (k == "renditions") a.renditions = get_audio_renditions(n, key);
                   });
        audio = a;
    }

    void apply_asf(const YAML::Node& value, AsfPreset& asf) const {
        apply_keys(section(value, "asf", "asf"), "asf", "asf", &asf);
    }

    void apply_metadata(const YAML::Node& value, MetadataPreset& m) const {
        apply_keys(section(value, "metadata", "metadata"), "metadata", "metadata", &m);
    }

    // `script_commands: on` turns the command stream on with the defaults; a section turns it on
    // unless it says `enabled: false`.
    void apply_script_commands(const YAML::Node& value, ScriptCommandsPreset& sc) const {
        if (value.IsScalar() && (value.Scalar() == "false" || value.Scalar() == "off" || value.Scalar() == "true" ||
                                 value.Scalar() == "on")) {
            sc.enabled = value.Scalar() == "true" || value.Scalar() == "on";
            return;
        }
        const auto items = section(value, "script_commands", "script_commands");
        sc.enabled = true;
        apply_keys(items, "script_commands", "script_commands", &sc,
                   [&](const std::string& k, const YAML::Node& v, const std::string& key) {
            if (k == "captions_start") {
                const std::string t = get_string(v, key, 32);
                auto us = media_time(t);
                if (!us) fail_key(key, quote(t) + " is not a media time (seconds like 12.5, or HH:MM:SS.mmm)");
                sc.captions_start_us = *us;
            } else if (k == "captions_wallclock") {
                if (!wallclock_ok(sc.captions_wallclock))
                    fail_key(key, quote(sc.captions_wallclock) +
                                      " is not a time of day (HH:MM:SS) or a date and time (YYYY-MM-DDTHH:MM:SS, Z for UTC)");
            } else if (k == "header_reserve_bytes") {
                if (sc.header_reserve_bytes != 0 && sc.header_reserve_bytes < 24)
                    out_of_range(key, std::to_string(sc.header_reserve_bytes), "0, or 24..60000: a Padding Object takes 24 bytes");
            }
        });
    }

    // "12.5", "90", "HH:MM:SS[.mmm]" -> microseconds.
    static std::optional<std::int64_t> media_time(std::string_view s) {
        std::int64_t h = 0, m = 0, sec = 0, frac = 0;
        int digits = 0;
        std::vector<std::int64_t> parts{0};
        bool dot = false;
        for (char c : s) {
            if (c >= '0' && c <= '9') {
                if (dot) {
                    if (digits == 6) return std::nullopt;
                    frac = frac * 10 + (c - '0');
                    ++digits;
                } else {
                    if (parts.back() > 100000000) return std::nullopt;
                    parts.back() = parts.back() * 10 + (c - '0');
                }
            } else if (c == ':' && !dot) {
                parts.push_back(0);
            } else if (c == '.' && !dot) {
                dot = true;
            } else {
                return std::nullopt;
            }
        }
        if (s.empty() || (dot && digits == 0) || (parts.size() != 1 && parts.size() != 3)) return std::nullopt;
        if (parts.size() == 3) {
            h = parts[0];
            m = parts[1];
            sec = parts[2];
            if (m > 59 || sec > 59) return std::nullopt;
        } else {
            sec = parts[0];
        }
        for (int d = digits; d < 6; ++d) frac *= 10;
        return ((h * 60 + m) * 60 + sec) * 1'000'000 + frac;
    }

    static bool wallclock_ok(std::string_view s) {
        const auto digits = [&](std::size_t at, std::size_t n) {
            if (at + n > s.size()) return false;
            for (std::size_t i = at; i < at + n; ++i)
                if (s[i] < '0' || s[i] > '9') return false;
            return true;
        };
        const auto time_at = [&](std::size_t at) {
            return digits(at, 2) && s[at + 2] == ':' && digits(at + 3, 2) && s[at + 5] == ':' && digits(at + 6, 2);
        };
        if (s.size() == 8) return time_at(0);
        if (s.size() == 19 || (s.size() == 20 && s.back() == 'Z'))
            return digits(0, 4) && s[4] == '-' && digits(5, 2) && s[7] == '-' && digits(8, 2) && s[10] == 'T' && time_at(11);
        return false;
    }

    void apply_drm(const YAML::Node& value, DrmPreset& d) const {
        apply_keys(section(value, "drm", "drm"), "drm", "drm", &d,
                   [&](const std::string& k, const YAML::Node& v, const std::string& key) {
            if (k == "enabled") {
                if (get_enum(v, key, kBools) == "false") d.packager.clear();
            } else if (k == "kid") {
                if (!guid_ok(d.kid)) fail_key(key, quote(d.kid) + " is not a GUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)");
            } else if (k == "la_url" || k == "lui_url") {
                const std::string& url = k == "la_url" ? d.la_url : d.lui_url;
                if (!url.empty() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
                    fail_key(key, quote(url) + " is not an absolute http:// or https:// URL");
            } else if (k == "program") {
                d.program.clear();
                if (v.IsScalar()) d.program.push_back(get_string(v, key, kMaxPathBytes));
                else
                    for (const auto& item : get_list(v, key, 64)) d.program.push_back(get_string(item, key, kMaxPathBytes));
            }
        });
    }

    static bool guid_ok(std::string_view s) {
        if (s.size() != 36) return false;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-') return false;
            } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                return false;
            }
        }
        return true;
    }

    void apply_outputs(const YAML::Node& value, OutputsPreset& o) const {
        for (const auto& [k, v] : section(value, "outputs", "outputs")) {
            if (k == "archive") apply_archive(v, o);
            else if (k == "pull") apply_pull(v, o.pull);
            else if (k == "push") apply_push(v, o.push);
            else if (k == "msbd") apply_msbd(v, o.msbd);
            else if (k == "multicast") apply_multicast(v, o.multicast);
        }
    }

    // `archive: PATH`, or a mapping {path, entry_pattern} (file names after a header change).
    void apply_archive(const YAML::Node& value, OutputsPreset& o) const {
        if (!value.IsMap()) {
            o.archive = get_string(value, "outputs.archive", kMaxPathBytes);
            return;
        }
        apply_keys(section(value, "outputs.archive", "outputs.archive"), "outputs.archive", "outputs.archive", &o,
                   [&](const std::string& k, const YAML::Node&, const std::string& key) {
            if (k == "entry_pattern") {
                // The rule of archive::check_entry_pattern (presets does not link the archive).
                bool has_n = false;
                const std::string& pat = o.archive_entry_pattern;
                for (std::size_t at = pat.find('{'); at != std::string::npos; at = pat.find('{', at + 1)) {
                    if (pat.compare(at, 3, "{n}") == 0) has_n = true;
                    else if (pat.compare(at, 7, "{entry}") != 0)
                        fail_key(key, quote(pat) + " has an unknown placeholder at byte " + std::to_string(at) +
                                          " (allowed: {n} the file's number, {entry} the playlist entry's name)");
                }
                if (!pat.empty() && !has_n)
                    fail_key(key, quote(pat) + " must contain {n} (the file's number), so that every file has its own name");
            }
        });
    }

    // `playlist:` a list of entries, or a mapping {loop, entries}.
    void apply_playlist(const YAML::Node& value, PlaylistPreset& pl) const {
        pl = PlaylistPreset{};
        // Node::reset rebinds (operator= on a yaml-cpp node writes into the node it refers to).
        YAML::Node list;
        list.reset(value);
        if (value.IsMap()) {
            list.reset(YAML::Node());
            apply_keys(section(value, "playlist", "playlist"), "playlist", "playlist", &pl,
                       [&](const std::string& k, const YAML::Node& v, const std::string&) {
                           if (k == "entries") list.reset(v);
                       });
            if (!list.IsDefined() || list.IsNull()) fail_key("playlist.entries", "is required (a list of entries)");
        }
        const std::string key = value.IsMap() ? "playlist.entries" : "playlist";
        std::size_t i = 0;
        for (const auto& item : get_list(list, key, kMaxPlaylistEntries)) {
            const std::string ek = key + "[" + std::to_string(i++) + "]";
            PlaylistEntryPreset e;
            bool has_repeat = false, has_duration = false;
            apply_keys(section(item, ek, "playlist.entries[]"), ek, "playlist.entries[]", &e,
                       [&](const std::string& k, const YAML::Node&, const std::string&) {
                           has_repeat = has_repeat || k == "repeat";
                           has_duration = has_duration || k == "duration_s";
                       });
            if (e.live == !e.file.empty())
                fail_key(ek, "an entry is either `file: PATH` (a pre-encoded ASF/WMV file) or `live: true` (the live encode)");
            if (e.live && has_repeat) fail_key(ek + ".repeat", "applies to file entries only (a live entry takes duration_s)");
            if (!e.live && has_duration)
                fail_key(ek + ".duration_s", "applies to live entries only (a file plays to its end; repeat plays it again)");
            if (e.name.empty()) e.name = e.live ? "live" : std::filesystem::path(e.file).stem().string();
            if (e.name.empty()) e.name = "entry" + std::to_string(i);
            pl.entries.push_back(std::move(e));
        }
        if (pl.entries.empty()) fail_key(key, "has no entry");
    }

    // `multicast: off` (or false) turns off a multicast a base preset set up.
    void apply_multicast(const YAML::Node& value, MulticastPreset& m) const {
        if (value.IsScalar() && (value.Scalar() == "false" || value.Scalar() == "off")) {
            m = MulticastPreset{};
            return;
        }
        apply_keys(section(value, "outputs.multicast", "outputs.multicast"), "outputs.multicast", "outputs.multicast", &m,
                   [&](const std::string& k, const YAML::Node&, const std::string& key) {
                       if (k == "group" && !is_multicast_address(m.group))
                           fail_key(key, quote(m.group) +
                                             " is not a multicast address (allowed: IPv4 224.0.0.0/4, IPv6 ff00::/8)");
                   });
    }

    static bool is_multicast_address(const std::string& a) {
        in_addr v4{};
        in6_addr v6{};
        if (::inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 28) == 0xE;
        if (::inet_pton(AF_INET6, a.c_str(), &v6) == 1) return v6.s6_addr[0] == 0xFF;
        return false;
    }

    // `push:` is either a list of targets or a mapping with `targets:` and the shared settings.
    void apply_push(const YAML::Node& value, PushPreset& push) const {
        if (value.IsSequence() || value.IsNull()) return apply_push_targets(value, "outputs.push", push);
        apply_keys(section(value, "outputs.push", "outputs.push"), "outputs.push", "outputs.push", &push,
                   [&](const std::string& k, const YAML::Node& v, const std::string& key) {
                       if (k == "targets") apply_push_targets(v, key, push);
                   });
    }

    void apply_push_targets(const YAML::Node& value, const std::string& key, PushPreset& push) const {
        push.targets.clear();
        for (const auto& item : get_list(value, key, 64)) {
            PushTargetPreset t;
            apply_keys(section(item, key, "outputs.push.targets[]"), key, "outputs.push.targets[]", &t);
            if (t.url.empty()) fail_key(key + ".url", "is required for every push target");
            if (!t.password.empty() && !t.password_file.empty())
                fail_key(key + ".password_file", "and password are both set (use one)");
            push.targets.push_back(std::move(t));
        }
    }

    std::vector<YAML::Node> get_list(const YAML::Node& v, const std::string& key, std::size_t max_items) const {
        std::vector<YAML::Node> out;
        if (v.IsNull()) return out;
        if (!v.IsSequence()) fail_key(key, "expected a list, got " + kind(v));
        if (v.size() > max_items)
            fail_key(key, "has " + std::to_string(v.size()) + " entries (allowed 0.." + std::to_string(max_items) + ")");
        for (const auto& item : v) out.push_back(item);
        return out;
    }

    // `control: on` serves the control API with the defaults (127.0.0.1:8090); a section turns it on
    // unless it says `enabled: false`. A non-loopback address without a token is refused when the
    // job starts (the token may come from the command line).
    void apply_control(const YAML::Node& value, ControlPreset& c) const {
        if (value.IsScalar() && (value.Scalar() == "false" || value.Scalar() == "off" || value.Scalar() == "true" ||
                                 value.Scalar() == "on")) {
            c.enabled = value.Scalar() == "true" || value.Scalar() == "on";
            return;
        }
        const auto items = section(value, "control", "control");
        c.enabled = true;
        apply_keys(items, "control", "control", &c, [&](const std::string& k, const YAML::Node&, const std::string& key) {
            if (k == "address") {
                in6_addr a6{};
                in_addr a4{};
                if (inet_pton(AF_INET, c.address.c_str(), &a4) != 1 && inet_pton(AF_INET6, c.address.c_str(), &a6) != 1)
                    fail_key(key, quote(c.address) + " is not an IP address (127.0.0.1, ::1, 0.0.0.0, ...)");
            } else if (k == "token" && !c.token.empty() && c.token.size() < 16) {
                fail_key(key, "is shorter than 16 characters; use a long random token (or none)");
            }
        });
    }

    // `msbd: on` (or true) serves MSBD with the defaults, `msbd: off` (or false) turns it off; a
    // section turns it on unless it says `enabled: false`.
    void apply_msbd(const YAML::Node& value, MsbdPreset& m) const {
        if (value.IsScalar() && (value.Scalar() == "false" || value.Scalar() == "off" || value.Scalar() == "true" ||
                                 value.Scalar() == "on")) {
            m.enabled = value.Scalar() == "true" || value.Scalar() == "on";
            return;
        }
        const auto items = section(value, "outputs.msbd", "outputs.msbd");
        m.enabled = true;
        apply_keys(items, "outputs.msbd", "outputs.msbd", &m,
                   [&](const std::string& k, const YAML::Node& v, const std::string& key) {
            if (k == "address") {
                if (!is_ipv4_address(m.address))
                    fail_key(key, quote(m.address) + " is not an IPv4 address (MS-MSBD runs over IPv4; 0.0.0.0 for "
                                                     "every interface)");
            } else if (k == "ping_interval_ms") {
                if (m.ping_interval_ms != 0 && m.ping_interval_ms < 100)
                    out_of_range(key, std::to_string(m.ping_interval_ms), "0 for no pings, or 100..3600000");
            } else if (k == "allow" || k == "deny") {
                std::vector<std::string> blocks;
                for (const auto& item : get_list(v, key, 1024)) {
                    std::string block = get_string(item, key, 64);
                    try {
                        (void)IpAcl::parse({block}, {}, "outputs.msbd");
                    } catch (const std::invalid_argument&) {
                        fail_key(key, quote(block) + " is not a CIDR block (allowed: a.b.c.d/0-32 or IPv6/0-128)");
                    }
                    blocks.push_back(std::move(block));
                }
                (k == "allow" ? m.allow : m.deny) = std::move(blocks);
            }
        });
    }

    // Dotted-quad IPv4: four decimal numbers 0..255.
    static bool is_ipv4_address(std::string_view s) {
        int parts = 0;
        while (parts < 4) {
            std::size_t digits = 0;
            int value = 0;
            while (digits < s.size() && digits < 4 && s[digits] >= '0' && s[digits] <= '9')
                value = value * 10 + (s[digits++] - '0');
            if (digits == 0 || digits > 3 || value > 255) return false;
            s.remove_prefix(digits);
            if (++parts == 4) break;
            if (s.empty() || s.front() != '.') return false;
            s.remove_prefix(1);
        }
        return s.empty();
    }

    // `auth: none`, `auth: digest`, or a list in order of preference: `auth: [ntlm, digest]`.
    std::vector<std::string> get_auth_schemes(const YAML::Node& v, const std::string& key) const {
        if (!v.IsSequence()) {
            const std::string s = get_enum(v, key, kPullAuth);
            return s == "none" ? std::vector<std::string>{} : std::vector<std::string>{s};
        }
        const std::vector<YAML::Node> items = get_list(v, key, kPullAuthSchemes.size());
        if (items.empty()) fail_key(key, "is an empty list (allowed: none, or a list of " + join<std::string_view>(kPullAuthSchemes) + ")");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < items.size(); ++i) {
            const std::string item_key = key + "[" + std::to_string(i) + "]";
            std::string s = get_enum(items[i], item_key, kPullAuthSchemes);
            if (std::find(out.begin(), out.end(), s) != out.end()) fail_key(item_key, quote(s) + " is listed twice");
            out.push_back(std::move(s));
        }
        return out;
    }

    void apply_pull(const YAML::Node& value, PullPreset& pull) const {
        // `pull: false` / `pull: off` turns the pull source off.
        if (value.IsScalar() && (value.Scalar() == "false" || value.Scalar() == "off")) {
            pull.enabled = false;
            return;
        }
        apply_keys(section(value, "outputs.pull", "outputs.pull"), "outputs.pull", "outputs.pull", &pull,
                   [&](const std::string& k, const YAML::Node& v, const std::string& key) {
            if (k == "auth") pull.auth = get_auth_schemes(v, key);
            else if (k == "allow" || k == "deny") {
                std::vector<std::string> blocks;
                for (const auto& item : get_list(v, key, 1024)) blocks.push_back(get_string(item, key, 64));
                (k == "allow" ? pull.allow : pull.deny) = std::move(blocks);
            } else if (k == "users") {
                pull.users.clear();
                for (const auto& item : get_list(v, key, 1024)) {
                    PullUserPreset user;
                    apply_keys(section(item, key, "outputs.pull.users[]"), key, "outputs.pull.users[]", &user);
                    if (user.name.empty() || user.name.find(':') != std::string::npos)
                        fail_key(key + ".name", "must be 1..128 bytes without ':'");
                    pull.users.push_back(std::move(user));
                }
            }
        });
    }

    // Largest encoded audio frame in bytes (audio payloads are never split across ASF packets).
    static std::uint32_t max_audio_frame_bytes(const AudioPreset& a) {
        const std::int64_t bps = static_cast<std::int64_t>(a.bitrate_kbps) * 1000;
        if (a.codec == "mp3") return static_cast<std::uint32_t>(144 * bps / a.sample_rate + 1);
        // AAC: at most 6144 bits per channel in one raw data block (ISO/IEC 14496-3 4.5.3.2).
        if (a.codec == "copy") return static_cast<std::uint32_t>(768 * a.channels);
        // WMA2 (ffmpeg wmav2): one superframe of 2048 samples (1024 at 22.05 kHz and below).
        const std::int64_t frame_len = a.sample_rate <= 22050 ? 1024 : 2048;
        return static_cast<std::uint32_t>(bps * frame_len / (8 * std::int64_t{a.sample_rate}) + 1);
    }

    // MBR: the main video is the largest size and rate (capture runs at it; the others are scaled
    // and decimated from it), and every alternative has a sane VBV.
    void validate_video_renditions(const VideoPreset& v) const {
        const std::vector<VideoPreset> all = video_renditions(v);
        for (std::size_t i = 1; i < all.size(); ++i) {
            const VideoPreset& r = all[i];
            const std::string key = "video.renditions[" + std::to_string(i - 1) + "]";
            if (r.width > v.width || r.height > v.height)
                fail_key(key, std::to_string(r.width) + "x" + std::to_string(r.height) +
                                  " is larger than the main video " + std::to_string(v.width) + "x" +
                                  std::to_string(v.height) +
                                  " (the main video must be the largest rendition: list the largest size under "
                                  "video and the smaller ones under video.renditions)");
            if (std::int64_t{r.fps_num} * v.fps_den > std::int64_t{v.fps_num} * r.fps_den)
                fail_key(key + ".framerate", std::to_string(r.fps_num) + "/" + std::to_string(r.fps_den) +
                                                 " is above the main video's " + std::to_string(v.fps_num) + "/" +
                                                 std::to_string(v.fps_den) +
                                                 " (the main video must have the highest frame rate)");
            if (r.max_bitrate_kbps != 0 && r.max_bitrate_kbps < r.bitrate_kbps)
                out_of_range(key + ".max_bitrate_kbps", std::to_string(r.max_bitrate_kbps),
                             "0 for no VBV, or its bitrate_kbps (" + std::to_string(r.bitrate_kbps) + ")..200000");
            if (r.max_bitrate_kbps != 0 && r.vbv_buffer_kbit == 0)
                out_of_range(key + ".vbv_buffer_kbit", "0", "1..200000 when max_bitrate_kbps is set");
            if (r.profile == "baseline" && r.bframes > 0)
                fail_key(key + ".profile", "baseline is not allowed with video.bframes " + std::to_string(r.bframes));
        }
    }

    // Rules between keys, on the merged result (base + overrides).
    // Network sources (issue 15): the keys each type needs, and none of another type's secrets.
    void validate_network_source(const SourcePreset& s) const {
        const bool rtsp = s.type == "rtsp", srt = s.type == "srt", uri = s.type == "uri";
        if (rtsp) {
            if (s.url.rfind("rtsp://", 0) != 0 && s.url.rfind("rtsps://", 0) != 0 && s.url.rfind("rtspt://", 0) != 0)
                fail_key("source.url", "is required when source.type is rtsp and must start with rtsp:// (or rtsps://)");
            if (!s.password.empty() && !s.password_file.empty())
                fail_key("source.password_file", "and source.password are both set (use one)");
            if ((!s.password.empty() || !s.password_file.empty()) && s.user.empty())
                fail_key("source.user", "is required with source.password or source.password_file");
        } else if (!s.user.empty() || !s.password.empty() || !s.password_file.empty()) {
            fail_key("source.user", "source.user, source.password and source.password_file apply to source.type rtsp only");
        }
        if (srt) {
            if (s.mode == "listener" && s.port == 0)
                fail_key("source.port", "is required when source.type is srt and source.mode is listener");
            if (s.mode == "caller" && s.url.rfind("srt://", 0) != 0)
                fail_key("source.url", "is required when source.type is srt and source.mode is caller (srt://host:port)");
            if (!s.passphrase.empty() && s.passphrase.size() < 10)
                fail_key("source.passphrase", "must be 10 to 79 characters (SRT's rule)");
        } else if (!s.passphrase.empty() || !s.streamid.empty()) {
            fail_key("source.passphrase", "source.passphrase and source.streamid apply to source.type srt only");
        }
        if (uri && s.url.find("://") == std::string::npos)
            fail_key("source.url", "is required when source.type is uri (scheme://...)");
    }

    void validate(const Preset& p) const {
        if (!p.video && !p.audio)
            fail("video, audio: a preset needs at least one of video and audio (both are none or missing)");
        if (const DrmPreset& d = p.drm; d.enabled()) {
            if (d.packager == "playready") {
                const int keys = !d.key_file.empty() + !d.key.empty() + !d.key_seed_file.empty();
                if (keys != 1)
                    fail_key("drm", "packager playready needs exactly one of key_file, key_seed_file or key (" +
                                        std::to_string(keys) + " given)");
            } else if (d.packager == "program" && d.program.empty()) {
                fail_key("drm.program", "is required with packager program (the command and its arguments)");
            } else if (d.packager == "shared-object" && d.library.empty()) {
                fail_key("drm.library", "is required with packager shared-object (the path of the .so)");
            }
        }
        if (p.source.type == "file" && p.source.path.empty())
            fail_key("source.path", "is required when source.type is file");
        validate_network_source(p.source);
        if (p.source.type == "device" && p.source.video_device == "none" && p.source.audio_device == "none")
            fail_key("source.video_device", "and source.audio_device are both none: a device source needs one of them");
        if (p.video) {
            const VideoPreset& v = *p.video;
            if (v.profile == "baseline" && v.bframes > 0)
                fail_key("video.bframes", std::to_string(v.bframes) +
                                              " is not allowed with video.profile baseline (allowed 0; "
                                              "use profile main or high for B-frames)");
            if (v.max_bitrate_kbps != 0 && v.max_bitrate_kbps < v.bitrate_kbps)
                out_of_range("video.max_bitrate_kbps", std::to_string(v.max_bitrate_kbps),
                             "0 for no VBV, or video.bitrate_kbps (" + std::to_string(v.bitrate_kbps) +
                                 ")..200000");
            if (v.max_bitrate_kbps != 0 && v.vbv_buffer_kbit == 0)
                out_of_range("video.vbv_buffer_kbit", "0", "1..200000 when video.max_bitrate_kbps is set");
            // libavcodec's wmv2 refuses a VBV buffer smaller than one frame at the average rate.
            const std::int64_t frame_kbit =
                (std::int64_t{v.bitrate_kbps} * v.fps_den + v.fps_num - 1) / v.fps_num;
            if (v.codec == "wmv2" && v.max_bitrate_kbps != 0 && v.vbv_buffer_kbit < frame_kbit)
                out_of_range("video.vbv_buffer_kbit", std::to_string(v.vbv_buffer_kbit),
                             std::to_string(frame_kbit) + "..200000 with video.codec wmv2: one frame at " +
                                 std::to_string(v.bitrate_kbps) + " kbit/s must fit");
            validate_video_renditions(v);
            // H.264 pass-through carries one stream as the source sent it: there is no decoded
            // picture to make other renditions from.
            if (v.codec == "copy" && !v.renditions.empty())
                fail_key("video.renditions", "is not allowed with video.codec copy (the source's H.264 is carried as "
                                             "it is, one stream; use video.codec h264 for MBR renditions)");
        }
        if (p.audio) {
            const AudioPreset& a = *p.audio;
            const bool mp3 = a.codec == "mp3";
            const bool copy = a.codec == "copy";
            // AAC pass-through (issue 15, point 3) only on request: Windows Media servers and
            // Windows Media Player do not take AAC in ASF; ffmpeg, VLC and GStreamer do.
            if (copy && !a.allow_copy)
                fail_key("audio.codec", "copy needs audio.allow_copy: true: it puts the source's AAC into ASF as it is, "
                                        "which ffmpeg (ffplay, mpv), VLC and GStreamer play, but Windows Media servers "
                                        "(WMS relays, PeerCast-WMV) and Windows Media Player and other older players do "
                                        "not; set audio.allow_copy: true if only such players listen, or use "
                                        "audio.codec wma2 or mp3 to re-encode it");
            if (!copy && a.allow_copy)
                fail_key("audio.allow_copy", "is for audio.codec copy only (audio.codec is " + a.codec + ")");
            if (copy && !a.renditions.empty())
                fail_key("audio.renditions", "is not allowed with audio.codec copy (the source's AAC is carried as it "
                                             "is, one stream; use audio.codec wma2 or mp3 for MBR renditions)");
            const std::span<const int> rates = mp3    ? std::span<const int>(kMp3Rates)
                                               : copy ? std::span<const int>(kAacRates)
                                                      : std::span<const int>(kWma2Rates);
            if (std::find(rates.begin(), rates.end(), a.sample_rate) == rates.end())
                fail_key("audio.sample_rate", std::to_string(a.sample_rate) + " is not allowed for audio.codec " +
                                                  a.codec + " (allowed " + join<int>(rates) + ")");
            if (mp3 && std::find(kMp3Bitrates.begin(), kMp3Bitrates.end(), a.bitrate_kbps) == kMp3Bitrates.end())
                fail_key("audio.bitrate_kbps", std::to_string(a.bitrate_kbps) +
                                                   " is not allowed for audio.codec mp3 (allowed " +
                                                   join<int>(kMp3Bitrates) + ")");
            const std::vector<AudioPreset> all_audio = audio_renditions(a);
            for (std::size_t i = 1; i < all_audio.size(); ++i) {
                const AudioPreset& r = all_audio[i];
                if (mp3 && std::find(kMp3Bitrates.begin(), kMp3Bitrates.end(), r.bitrate_kbps) == kMp3Bitrates.end())
                    fail_key("audio.renditions[" + std::to_string(i - 1) + "].bitrate_kbps",
                             std::to_string(r.bitrate_kbps) + " is not allowed for audio.codec mp3 (allowed " +
                                 join<int>(kMp3Bitrates) + ")");
            }
            int largest = a.bitrate_kbps;
            for (const auto& r : a.renditions) largest = std::max(largest, r.bitrate_kbps.value_or(0));
            AudioPreset biggest = a;
            biggest.bitrate_kbps = largest;
            const std::uint32_t need = max_audio_frame_bytes(biggest) + kPacketOverhead;
            if (p.asf.packet_size < need)
                out_of_range("asf.packet_size", std::to_string(p.asf.packet_size),
                             std::to_string(need) + "..65535: an audio frame of " + a.codec + " at " +
                                 std::to_string(a.bitrate_kbps) + " kbit/s, " + std::to_string(a.sample_rate) +
                                 " Hz must fit in one packet");
        }
        const PullPreset& pull = p.outputs.pull;
        if (!pull.mount.empty() &&
            (pull.mount == "/" || pull.mount.front() != '/' ||
             pull.mount.find_first_of("?#% \t") != std::string::npos))
            fail_key("outputs.pull.mount", quote(pull.mount) +
                                               " is not allowed (allowed: a path like /live: starts with '/', "
                                               "no '?', '#', '%' or spaces; '/' always serves the stream)");
        if (p.outputs.push.backoff_max_ms < p.outputs.push.backoff_initial_ms)
            out_of_range("outputs.push.backoff_max_ms", std::to_string(p.outputs.push.backoff_max_ms),
                         "outputs.push.backoff_initial_ms (" + std::to_string(p.outputs.push.backoff_initial_ms) +
                             ")..3600000");
        if (!pull.auth.empty() && pull.users.empty())
            fail_key("outputs.pull.users", "is empty but outputs.pull.auth is " +
                                               (pull.auth.size() == 1 ? pull.auth.front()
                                                                      : "[" + join<std::string>(pull.auth) + "]") +
                                               " (add at least one {name, password})");
        const MsbdPreset& msbd = p.outputs.msbd;
        if (msbd.enabled) {
            if (pull.enabled && msbd.port == pull.port &&
                (msbd.address == pull.address || msbd.address == "0.0.0.0" || pull.address == "0.0.0.0" ||
                 pull.address == "::"))
                fail_key("outputs.msbd.port", std::to_string(msbd.port) + " is also outputs.pull.port on " +
                                                  pull.address + " (choose another port for one of them)");
        }
        const MulticastPreset& mc = p.outputs.multicast;
        if (mc.enabled() && mc.port == 0)
            fail_key("outputs.multicast.port", "is required with outputs.multicast.group (1..65535)");
        check_packet_size_for_outputs(p, origin_);
    }

    const std::string& origin_;
    const BaseLookup& lookup_;
    std::vector<std::string>& chain_;
};

std::string syntax_error(const std::string& origin, const YAML::Exception& e) {
    std::string out = origin + ": ";
    if (!e.mark.is_null()) out += "line " + std::to_string(e.mark.line + 1) + ": ";
    return out + "YAML syntax error: " + e.msg;
}

// Discards every event: used to count documents without building nodes.
struct IgnoreEvents final : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// At most two HandleNextDocument calls: a broken stream can make yaml-cpp report documents forever.
bool more_than_one_document(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    IgnoreEvents ignore;
    return parser.HandleNextDocument(ignore) && parser.HandleNextDocument(ignore);
}

}  // namespace

}  // namespace asfcast::presets::detail

namespace asfcast::presets {

// Every output sends each ASF packet whole in one unit of its protocol; the packet size must fit
// the smallest of the enabled outputs' units. The limit that binds first is named.
namespace {

struct OutputPacketLimit {
    bool enabled;
    std::uint32_t max;
    const char* output;
    const char* why;
};

// The largest packet each output carries, and whether the preset enables it.
std::array<OutputPacketLimit, 4> output_packet_limits(const Preset& p) {
    return {{
        // A push $D carries one complete ASF data packet (MS-WMHTTP 2.2.3.3), and its PacketLength
        // is 16 bits (2.2.3.1.1; MS-WMSP 2.2.3.1.1): 65,535 bytes by the protocol. The push output
        // keeps every chunk within 8192 bytes (push::PushConfig::max_chunk), since a receiver
        // refuses larger ones; the padding is not sent, but a packet its payloads fill has none.
        {!p.outputs.push.targets.empty(), kPushMaxPacketSize, "outputs.push",
         "a push chunk ($D) carries one whole packet and is at most 8192 bytes"},
        // One MSB packet per UDP datagram: the ASF packet and 11 bytes of MSB header and error
        // correction fields in at most 65,507 bytes (MS-MSB 2.2.4).
        {p.outputs.multicast.enabled(), 65496, "outputs.multicast",
         "an MSB datagram carries one packet and 11 bytes of its own in 65,507 (MS-MSB 2.2.4)"},
        // One ASF packet per MSB_MSG_IND_PACKET, at most 0xFFEF - 8 bytes (MS-MSBD 2.2.10).
        {p.outputs.msbd.enabled, 65511, "outputs.msbd",
         "an MSB_MSG_IND_PACKET carries one packet in at most 65,511 bytes (MS-MSBD 2.2.10)"},
        // A pull $D is an MMS data packet of at most 65,535 bytes: 8 bytes of LocationId,
        // Incarnation, AFFlags and PacketSize, then the ASF packet (MS-WMSP 2.2.3.1.2, 2.2.3.3).
        {p.outputs.pull.enabled, 65527, "outputs.pull",
         "a pull $D carries one packet after 8 bytes of its own in at most 65,535 (MS-WMSP 2.2.3.1.2)"},
    }};
}

}  // namespace

std::uint32_t max_packet_size_for_outputs(const Preset& p) {
    std::uint32_t max = 65535;
    for (const OutputPacketLimit& l : output_packet_limits(p))
        if (l.enabled) max = std::min(max, l.max);
    return max;
}

void check_packet_size_for_outputs(const Preset& p, const std::string& origin) {
    for (const OutputPacketLimit& l : output_packet_limits(p))
        if (l.enabled && p.asf.packet_size > l.max)
            throw PresetError(origin + ": asf.packet_size: " + std::to_string(p.asf.packet_size) +
                              " is out of range (allowed .." + std::to_string(l.max) + " with " + l.output + ": " +
                              l.why + ")");
}

}  // namespace asfcast::presets

namespace asfcast::presets::detail {

Preset parse_preset_with(const std::string& text, const std::string& origin, const BaseLookup& lookup,
                         std::vector<std::string>& chain) {
    if (text.size() > kMaxPresetBytes)
        throw PresetError(origin + ": is " + std::to_string(text.size()) + " bytes long (allowed up to " +
                          std::to_string(kMaxPresetBytes) + " bytes)");
    // YAML::Load parses the first document only; YAML::LoadAll is not used: yaml-cpp 0.7 loops
    // forever in it on input such as ", n" (jbeder/yaml-cpp#1319).
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw PresetError(syntax_error(origin, e));
    } catch (const std::exception& e) {
        throw PresetError(origin + ": YAML syntax error: " + e.what());
    }
    if (root.IsNull()) throw PresetError(origin + ": empty preset (expected a mapping of preset keys)");
    bool several = false;
    try {
        several = root.IsMap() && more_than_one_document(text);
    } catch (const YAML::Exception& e) {  // a syntax error after the first document
        throw PresetError(syntax_error(origin, e));
    } catch (const std::exception& e) {
        throw PresetError(origin + ": YAML syntax error: " + e.what());
    }
    if (several) throw PresetError(origin + ": holds more than one YAML document (allowed: one preset per file)");
    try {
        return Parser(origin, lookup, chain).parse(root);
    } catch (const PresetError&) {
        throw;
    } catch (const YAML::Exception& e) {
        throw PresetError(syntax_error(origin, e));
    } catch (const std::exception& e) {
        throw PresetError(origin + ": " + e.what());
    }
}

}  // namespace asfcast::presets::detail
