// RecordedDevices: device capabilities read from a YAML recording (tests/capture/devices/*.yaml),
// so device selection, mode choice and `asfcast devices` can be exercised without hardware.
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "asfcast/capture/devices.hpp"

namespace asfcast::capture {

namespace {

class Loader {
public:
    explicit Loader(std::string origin) : origin_(std::move(origin)) {}

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw DeviceError(fmt::format("{}: {}: {}", origin_, key, what));
    }

    void expect_keys(const YAML::Node& map, const std::string& where, std::initializer_list<const char*> keys) const {
        if (!map.IsMap()) fail(where, "expected a mapping");
        for (const auto& kv : map) {
            const std::string k = kv.first.Scalar();
            bool ok = false;
            for (const char* allowed : keys) ok = ok || k == allowed;
            if (!ok) {
                std::string list;
                for (const char* allowed : keys) list += (list.empty() ? "" : ", ") + std::string(allowed);
                fail(where + "." + k, "unknown key (allowed: " + list + ")");
            }
        }
    }

    std::string str(const YAML::Node& n, const std::string& key, const std::string& def = {}) const {
        if (!n) return def;
        if (!n.IsScalar()) fail(key, "expected a string");
        return n.Scalar();
    }

    int integer(const YAML::Node& n, const std::string& key, int lo, int hi, int def) const {
        if (!n) return def;
        if (!n.IsScalar()) fail(key, "expected an integer");
        const std::string& s = n.Scalar();
        int v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
            fail(key, fmt::format("'{}' is not an integer in {}..{}", s, lo, hi));
        return v;
    }

    // 30, 7.5, 29.97 (= 30000/1001), "30000/1001"
    Fraction rate(const YAML::Node& n, const std::string& key) const {
        if (!n.IsScalar()) fail(key, "expected a frame rate (30, 7.5, 29.97 or \"30000/1001\")");
        const std::string& s = n.Scalar();
        if (auto slash = s.find('/'); slash != std::string::npos) {
            Fraction f;
            const char* b = s.data();
            auto r1 = std::from_chars(b, b + slash, f.num);
            auto r2 = std::from_chars(b + slash + 1, b + s.size(), f.den);
            if (r1.ec != std::errc() || r1.ptr != b + slash || r2.ec != std::errc() || r2.ptr != b + s.size() ||
                f.num <= 0 || f.den <= 0)
                fail(key, "'" + s + "' is not a frame rate");
            return f;
        }
        double v = 0;
        std::istringstream in(s);
        in >> v;
        if (!in || !in.eof() || !(v > 0) || v > 1000) fail(key, "'" + s + "' is not a frame rate");
        if (std::abs(v - std::round(v)) < 1e-9) return {static_cast<int>(std::lround(v)), 1};
        // NTSC rates are written as decimals by people: 29.97 -> 30000/1001.
        const double ntsc = v * 1001.0 / 1000.0;
        if (std::abs(ntsc - std::round(ntsc)) < 0.01) return {static_cast<int>(std::lround(ntsc)) * 1000, 1001};
        const int num = static_cast<int>(std::lround(v * 1000));
        const int g = std::gcd(num, 1000);
        return {num / g, 1000 / g};
    }

    FrameSize size(const YAML::Node& n, const std::string& key) const {
        expect_keys(n, key, {"size", "rates", "interlaced"});
        FrameSize s;
        const std::string wh = str(n["size"], key + ".size");
        const auto x = wh.find('x');
        if (x == std::string::npos) fail(key + ".size", "'" + wh + "' is not WIDTHxHEIGHT");
        YAML::Node w(wh.substr(0, x)), h(wh.substr(x + 1));
        s.width = integer(w, key + ".size", 1, 16384, 0);
        s.height = integer(h, key + ".size", 1, 16384, 0);
        const YAML::Node rates = n["rates"];
        if (!rates || !rates.IsSequence() || rates.size() == 0) fail(key + ".rates", "expected a non-empty list");
        for (std::size_t i = 0; i < rates.size(); ++i) s.rates.push_back(rate(rates[i], fmt::format("{}.rates[{}]", key, i)));
        if (n["interlaced"]) {
            const std::string b = str(n["interlaced"], key + ".interlaced");
            if (b != "true" && b != "false") fail(key + ".interlaced", "expected true or false");
            s.interlaced = b == "true";
        }
        return s;
    }

    VideoDevice video(const YAML::Node& n, const std::string& key) const {
        expect_keys(n, key, {"path", "by_id", "name", "driver", "bus_info", "formats", "note"});
        VideoDevice d;
        d.path = str(n["path"], key + ".path");
        if (d.path.empty()) fail(key + ".path", "required");
        if (const YAML::Node ids = n["by_id"]) {
            if (!ids.IsSequence()) fail(key + ".by_id", "expected a list of paths");
            for (std::size_t i = 0; i < ids.size(); ++i) d.by_id_paths.push_back(str(ids[i], key + ".by_id"));
        }
        d.name = str(n["name"], key + ".name");
        d.driver = str(n["driver"], key + ".driver");
        d.bus_info = str(n["bus_info"], key + ".bus_info");
        d.note = str(n["note"], key + ".note");
        if (const YAML::Node fs = n["formats"]) {
            if (!fs.IsSequence()) fail(key + ".formats", "expected a list");
            for (std::size_t i = 0; i < fs.size(); ++i) {
                const std::string fk = fmt::format("{}.formats[{}]", key, i);
                expect_keys(fs[i], fk, {"fourcc", "description", "sizes"});
                VideoFormat f;
                f.fourcc = str(fs[i]["fourcc"], fk + ".fourcc");
                if (f.fourcc.empty() || f.fourcc.size() > 4) fail(fk + ".fourcc", "expected a 1..4 character fourcc");
                f.description = str(fs[i]["description"], fk + ".description");
                const YAML::Node sizes = fs[i]["sizes"];
                if (!sizes || !sizes.IsSequence()) fail(fk + ".sizes", "expected a list");
                for (std::size_t j = 0; j < sizes.size(); ++j)
                    f.sizes.push_back(size(sizes[j], fmt::format("{}.sizes[{}]", fk, j)));
                d.formats.push_back(std::move(f));
            }
        }
        return d;
    }

    AudioDevice audio(const YAML::Node& n, const std::string& key) const {
        expect_keys(n, key, {"card", "card_id", "card_name", "device", "device_name", "alsa_name", "channels_min",
                             "channels_max", "rate_min", "rate_max", "rates", "note"});
        AudioDevice a;
        a.card = integer(n["card"], key + ".card", 0, 255, -1);
        if (a.card < 0) fail(key + ".card", "required");
        a.card_id = str(n["card_id"], key + ".card_id");
        a.card_name = str(n["card_name"], key + ".card_name");
        a.device = integer(n["device"], key + ".device", 0, 255, 0);
        a.device_name = str(n["device_name"], key + ".device_name");
        a.alsa_name = str(n["alsa_name"], key + ".alsa_name",
                          a.card_id.empty() ? fmt::format("hw:{},{}", a.card, a.device)
                                            : fmt::format("hw:CARD={},DEV={}", a.card_id, a.device));
        a.channels_min = integer(n["channels_min"], key + ".channels_min", 0, 64, 0);
        a.channels_max = integer(n["channels_max"], key + ".channels_max", 0, 64, 0);
        if (const YAML::Node rs = n["rates"]) {
            if (!rs.IsSequence()) fail(key + ".rates", "expected a list of sample rates");
            for (std::size_t i = 0; i < rs.size(); ++i)
                a.rates.push_back(integer(rs[i], fmt::format("{}.rates[{}]", key, i), 1000, 768000, 0));
        }
        const int lo = a.rates.empty() ? 0 : *std::min_element(a.rates.begin(), a.rates.end());
        const int hi = a.rates.empty() ? 0 : *std::max_element(a.rates.begin(), a.rates.end());
        a.rate_min = integer(n["rate_min"], key + ".rate_min", 0, 768000, lo);
        a.rate_max = integer(n["rate_max"], key + ".rate_max", 0, 768000, hi);
        a.note = str(n["note"], key + ".note");
        return a;
    }

private:
    std::string origin_;
};

}  // namespace

RecordedDevices RecordedDevices::parse(const std::string& yaml_text, const std::string& origin) {
    Loader l(origin);
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw DeviceError(fmt::format("{}: not valid YAML: {}", origin, e.what()));
    }
    RecordedDevices r;
    if (!root || root.IsNull()) return r;  // an empty recording: a machine with nothing
    try {
        l.expect_keys(root, "recording", {"machine", "video", "audio"});
        for (const char* section : {"video", "audio"}) {
            const YAML::Node list = root[section];
            if (!list || list.IsNull()) continue;
            if (!list.IsSequence()) l.fail(section, "expected a list (or [] for none)");
            for (std::size_t i = 0; i < list.size(); ++i) {
                const std::string key = fmt::format("{}[{}]", section, i);
                if (std::string(section) == "video")
                    r.lists_.video.push_back(l.video(list[i], key));
                else
                    r.lists_.audio.push_back(l.audio(list[i], key));
            }
        }
    } catch (const YAML::Exception& e) {
        throw DeviceError(fmt::format("{}: {}", origin, e.what()));
    }
    return r;
}

RecordedDevices RecordedDevices::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DeviceError("cannot read device recording " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return parse(s.str(), path);
}

std::optional<std::string> RecordedDevices::check_audio_open(const std::string& alsa_name) const {
    if (alsa_name == "null") return std::nullopt;
    if (alsa_name == "default") {
        if (lists_.audio.empty()) return std::string("no such device (the recording has no sound card)");
        return std::nullopt;
    }
    for (const auto& a : lists_.audio) {
        const std::string plug = "plug" + a.alsa_name;
        if (alsa_name == a.alsa_name || alsa_name == plug || alsa_name == fmt::format("hw:{},{}", a.card, a.device)) {
            if (!a.note.empty()) return a.note;
            return std::nullopt;
        }
    }
    return "no such device (not in the recording)";
}

}  // namespace asfcast::capture
