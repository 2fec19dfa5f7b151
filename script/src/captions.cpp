// Caption files (SRT, WebVTT) and the command line protocol (script.hpp). Parsers of outside
// input: every read is bounded by the text given, nothing is sized from it.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "asfcast/script/script.hpp"
#include "asfcast/core/text.hpp"

namespace asfcast::script {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// Reads exactly `digits` decimal digits (or at least `digits` when `more`); nullopt otherwise.
std::optional<std::int64_t> number(std::string_view& s, std::size_t digits, bool more = false) {
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9' && n < 9) ++n;
    if (n < digits || (!more && n != digits)) return std::nullopt;
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + n, v);
    s.remove_prefix(n);
    return v;
}

bool eat(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

// SRT: HH:MM:SS,mmm (hours may have more digits); WebVTT: [HH:]MM:SS.mmm.
std::optional<Micros> timestamp(std::string_view& s, bool vtt) {
    std::string_view t = s;
    auto a = number(t, 2, true);
    if (!a || !eat(t, ':')) return std::nullopt;
    auto b = number(t, 2);
    if (!b) return std::nullopt;
    std::optional<std::int64_t> h, m, sec;
    if (eat(t, ':')) {
        h = a;
        m = b;
        sec = number(t, 2);
        if (!sec) return std::nullopt;
    } else {
        if (!vtt) return std::nullopt;  // SRT always has hours
        h = 0;
        m = a;
        sec = b;
        if (*m > 99) return std::nullopt;
    }
    if (!eat(t, vtt ? '.' : ',')) {
        if (vtt || !eat(t, '.')) return std::nullopt;  // SRT files with '.' exist; accepted
    }
    auto ms = number(t, 3);
    if (!ms || *m > 59 || *sec > 59) return std::nullopt;
    s = t;
    return ((*h * 60 + *m) * 60 + *sec) * 1'000'000 + *ms * 1000;
}

// "START --> END[ settings]"; nullopt with a message otherwise.
std::optional<std::pair<Micros, Micros>> timing_line(std::string_view line, bool vtt) {
    std::string_view s = trim(line);
    auto start = timestamp(s, vtt);
    if (!start) return std::nullopt;
    s = trim(s);
    if (s.substr(0, 3) != "-->") return std::nullopt;
    s.remove_prefix(3);
    s = trim(s);
    auto end = timestamp(s, vtt);
    if (!end) return std::nullopt;
    if (!s.empty() && s.front() != ' ' && s.front() != '\t') return std::nullopt;
    if (!vtt && !trim(s).empty()) {
        // SRT may carry "X1:.. X2:.." coordinates after the end time; ignore them.
    }
    return std::make_pair(*start, *end);
}

// Caption text as plain text: tags (<i>, <b>, <v Name>, <c.x>, timestamps) removed, the five
// XML entities and &nbsp; decoded.
std::string plain_text(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '<') {
            const auto close = s.find('>', i);
            if (close == std::string_view::npos) {
                out += c;
                continue;
            }
            i = close;
            continue;
        }
        if (c == '&') {
            static constexpr std::pair<std::string_view, std::string_view> kEntities[] = {
                {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", " "}};
            bool done = false;
            for (const auto& [name, value] : kEntities)
                if (s.substr(i, name.size()) == name) {
                    out += value;
                    i += name.size() - 1;
                    done = true;
                    break;
                }
            if (done) continue;
        }
        out += c;
    }
    return out;
}

bool has_control(std::string_view s, bool allow_newline) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && !(allow_newline && c == '\n') && c != '\t') || u == 0x7F) return true;
    }
    return false;
}

}  // namespace

CaptionFile parse_captions(std::string_view text) {
    CaptionFile f;
    // Lines (LF or CRLF), a UTF-8 byte order mark dropped.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at <= text.size();) {
        const auto nl = text.find('\n', at);
        std::string_view l = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        lines.push_back(l);
        if (nl == std::string_view::npos) break;
        at = nl + 1;
    }
    const auto error = [&](std::size_t index, std::string message) {
        if (f.errors.size() < 1000) f.errors.push_back({static_cast<int>(index + 1), std::move(message)});
    };
    const bool vtt = !lines.empty() && lines[0].substr(0, 6) == "WEBVTT" &&
                     (lines[0].size() == 6 || lines[0][6] == ' ' || lines[0][6] == '\t');
    f.format = vtt ? "WebVTT" : "SRT";
    std::size_t i = vtt ? 1 : 0;
    if (vtt)  // the header block runs to the first blank line
        while (i < lines.size() && !trim(lines[i]).empty()) ++i;

    while (i < lines.size() && f.cues.size() < kMaxCues) {
        while (i < lines.size() && trim(lines[i]).empty()) ++i;  // blank lines between blocks
        if (i >= lines.size()) break;
        const std::size_t block = i;
        std::size_t end = i;
        while (end < lines.size() && !trim(lines[end]).empty()) ++end;  // the block: [i, end)
        if (vtt) {
            const std::string_view first = trim(lines[i]);
            if (first.substr(0, 4) == "NOTE" || first == "STYLE" || first == "REGION") {
                i = end;
                continue;
            }
        }
        // The timing line: the first line, or the second after an identifier (SRT: a number).
        std::size_t t = i;
        if (lines[t].find("-->") == std::string_view::npos && t + 1 < end) {
            if (!vtt) {
                const std::string_view id = trim(lines[t]);
                if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
                    error(t, "expected a cue number, got '" + std::string(id.substr(0, 60)) + "'");
            }
            ++t;
        }
        const auto times = timing_line(lines[t], vtt);
        if (!times) {
            error(t, vtt ? "expected a timing line '[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm', got '" +
                               std::string(trim(lines[t]).substr(0, 60)) + "'"
                         : "expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', got '" +
                               std::string(trim(lines[t]).substr(0, 60)) + "'");
            i = end;
            continue;
        }
        if (times->second < times->first) {
            error(t, "the cue ends before it starts");
            i = end;
            continue;
        }
        std::string raw;
        for (std::size_t k = t + 1; k < end; ++k) {
            if (!raw.empty()) raw += '\n';
            raw += lines[k];
        }
        if (!valid_utf8(raw)) {
            error(t + 1, "the cue text is not UTF-8");
            i = end;
            continue;
        }
        std::string plain = plain_text(raw);
        if (plain.size() > kMaxCueText) {
            error(t + 1, "the cue text is " + std::to_string(plain.size()) + " bytes (at most " +
                             std::to_string(kMaxCueText) + ")");
            i = end;
            continue;
        }
        if (has_control(plain, true)) {
            error(t + 1, "the cue text has control characters");
            i = end;
            continue;
        }
        (void)block;
        f.cues.push_back({times->first, times->second, std::move(plain), static_cast<int>(t + 1)});
        i = end;
    }
    return f;
}

std::optional<Micros> parse_media_time(std::string_view text) {
    std::string_view s = trim(text);
    if (s.empty() || s.size() > 32) return std::nullopt;
    std::int64_t h = 0, m = 0, sec = 0;
    const auto colons = std::count(s.begin(), s.end(), ':');
    if (colons == 2) {
        auto a = number(s, 1, true);
        if (!a || !eat(s, ':')) return std::nullopt;
        auto b = number(s, 2);
        if (!b || !eat(s, ':')) return std::nullopt;
        auto c = number(s, 2);
        if (!c || *b > 59 || *c > 59) return std::nullopt;
        h = *a;
        m = *b;
        sec = *c;
    } else if (colons == 0) {
        auto a = number(s, 1, true);
        if (!a) return std::nullopt;
        sec = *a;
    } else {
        return std::nullopt;
    }
    std::int64_t us = 0;
    if (eat(s, '.')) {
        std::size_t n = 0;
        std::int64_t frac = 0;
        while (n < s.size() && n < 6 && s[n] >= '0' && s[n] <= '9') frac = frac * 10 + (s[n++] - '0');
        if (n == 0) return std::nullopt;
        s.remove_prefix(n);
        for (std::size_t k = n; k < 6; ++k) frac *= 10;
        us = frac;
    }
    if (!s.empty()) return std::nullopt;
    return ((h * 60 + m) * 60 + sec) * 1'000'000 + us;
}

LineResult parse_command_line(std::string_view line) {
    LineResult r;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
        r.error = "longer than " + std::to_string(kMaxLineBytes) + " bytes";
        return r;
    }
    std::string_view s = trim(line);
    if (s.empty() || s.front() == '#') return r;
    if (!valid_utf8(s)) {
        r.error = "not UTF-8";
        return r;
    }
    if (has_control(s, false)) {
        r.error = "has control characters";
        return r;
    }
    CommandLine c;
    if (s.front() == '@') {
        const auto sp = s.find_first_of(" \t");
        const std::string_view t = s.substr(1, sp == std::string_view::npos ? std::string_view::npos : sp - 1);
        c.at = parse_media_time(t);
        if (!c.at) {
            r.error = "'" + std::string(t.substr(0, 40)) + "' is not a media time (seconds like 12.5, or HH:MM:SS.mmm)";
            return r;
        }
        s = sp == std::string_view::npos ? std::string_view{} : trim(s.substr(sp));
    }
    const auto sp = s.find_first_of(" \t");
    const std::string_view type = s.substr(0, sp);
    const std::string_view param = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
    if (type.empty() || type.size() > 32 ||
        !std::all_of(type.begin(), type.end(), [](char ch) {
            return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
        })) {
        r.error = "expected a command type (CAPTION, URL, FILENAME, EVENT, TEXT, MARKER or letters, digits and _), got '" +
                  std::string(type.substr(0, 40)) + "'";
        return r;
    }
    std::string upper(type);
    for (char& ch : upper)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    static constexpr std::string_view kBuiltIn[] = {"CAPTION", "URL", "FILENAME", "EVENT", "TEXT", "MARKER"};
    c.type = std::find(std::begin(kBuiltIn), std::end(kBuiltIn), upper) != std::end(kBuiltIn) ? upper : std::string(type);
    if (param.size() > 2048) {
        r.error = "the parameter is " + std::to_string(param.size()) + " bytes (at most 2048)";
        return r;
    }
    c.parameter = std::string(param);
    if (c.is_marker() && trim(c.parameter).empty()) {
        r.error = "MARKER needs a name";
        return r;
    }
    r.command = std::move(c);
    return r;
}

bool ScriptScheduler::add(asfmux::ScriptCommand c) {
    if (queue_.size() >= kMaxPending) return false;
    const auto at = std::upper_bound(queue_.begin(), queue_.end(), c.pts,
                                     [](Micros t, const asfmux::ScriptCommand& q) { return t < q.pts; });
    queue_.insert(at, std::move(c));
    return true;
}

std::size_t ScriptScheduler::add_captions(const CaptionFile& f, Micros base) {
    std::size_t added = 0;
    for (std::size_t i = 0; i < f.cues.size(); ++i) {
        const Cue& cue = f.cues[i];
        added += add({base + cue.start, "CAPTION", cue.text});
        const bool next_starts_here = i + 1 < f.cues.size() && f.cues[i + 1].start == cue.end;
        if (!next_starts_here) added += add({base + cue.end, "CAPTION", ""});
    }
    return added;
}

std::vector<asfmux::ScriptCommand> ScriptScheduler::due(Micros now) {
    std::vector<asfmux::ScriptCommand> out;
    while (!queue_.empty() && queue_.front().pts <= now) {
        out.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    return out;
}

}  // namespace asfcast::script
