#include "job_script.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/core/clock.hpp"

namespace asfcast::app {
namespace {

constexpr std::size_t kMaxCaptionFileBytes = 16u << 20;
constexpr std::size_t kMaxListed = 100000;  // commands kept for the archive's listing
constexpr Micros kLate = 1'000'000;         // a command this far behind the muxer is dropped

std::string clock_text(Micros us) {
    if (us < 0) return "-" + clock_text(-us);
    const auto ms = us / 1000;
    return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

// "HH:MM:SS" (today, local time) or "YYYY-MM-DDTHH:MM:SS" (local, or UTC with Z) -> CLOCK_REALTIME us.
std::optional<std::int64_t> wallclock_us(const std::string& s) {
    std::tm tm{};
    const std::time_t now = std::time(nullptr);
    localtime_r(&now, &tm);
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    bool utc = false;
    if (s.size() == 8 && std::sscanf(s.c_str(), "%2d:%2d:%2d", &h, &mi, &se) == 3) {
    } else if ((s.size() == 19 || s.size() == 20) &&
               std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) == 6) {
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        utc = s.size() == 20;
    } else {
        return std::nullopt;
    }
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    tm.tm_isdst = -1;
    const std::time_t t = utc ? timegm(&tm) : mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return static_cast<std::int64_t>(t) * 1'000'000;
}

std::int64_t realtime_us() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

JobScript::JobScript(const presets::ScriptCommandsPreset& preset, int stream, bool live_source)
    : preset_(preset), stream_(stream) {
    if (!preset_.captions.empty()) {
        // A caption file that cannot be read or has bad cues is reported; the broadcast goes on.
        std::ifstream in(preset_.captions, std::ios::binary);
        struct stat st {};
        if (!in || ::stat(preset_.captions.c_str(), &st) != 0) {
            spdlog::error("captions {}: cannot read it ({}); the broadcast goes on without these captions", preset_.captions,
                          std::strerror(errno));
        } else if (static_cast<std::size_t>(st.st_size) > kMaxCaptionFileBytes) {
            spdlog::error("captions {}: {} bytes, more than the {} a caption file may have; the broadcast goes on without "
                          "these captions",
                          preset_.captions, st.st_size, kMaxCaptionFileBytes);
        } else {
            std::ostringstream text;
            text << in.rdbuf();
            captions_ = script::parse_captions(text.str());
            for (std::size_t i = 0; i < captions_.errors.size() && i < 20; ++i)
                spdlog::error("captions {}:{}: {}; the cue is skipped", preset_.captions, captions_.errors[i].line,
                              captions_.errors[i].message);
            if (captions_.errors.size() > 20)
                spdlog::error("captions {}: {} more bad cues skipped", preset_.captions, captions_.errors.size() - 20);
            spdlog::info("captions {}: {} {} cues{}", preset_.captions, captions_.cues.size(), captions_.format,
                         captions_.errors.empty() ? "" : fmt::format(" ({} bad ones skipped)", captions_.errors.size()));
            if (!preset_.captions_wallclock.empty()) {
                if (!live_source)
                    throw std::runtime_error("script_commands.captions_wallclock needs a live source (a file source has "
                                             "no wall clock); use captions_start");
                wallclock_target_us_ = wallclock_us(preset_.captions_wallclock);
                if (!wallclock_target_us_)
                    throw std::runtime_error("script_commands.captions_wallclock '" + preset_.captions_wallclock +
                                             "' is not a valid time");
                captions_pending_ = true;  // placed once the media clock is known
            } else {
                load_captions(preset_.captions_start_us);
            }
        }
    }
    if (!preset_.input.empty())
        input_ = std::make_unique<script::CommandInput>(
            preset_.input, [this](script::CommandLine c) { take(std::move(c)); },
            [](const std::string& e) { spdlog::error("{}", e); });
    spdlog::info("script commands: stream {}{}{}", stream_,
                 preset_.input.empty() ? "" : ", commands from " + (preset_.input == "-" ? std::string("standard input") : preset_.input),
                 preset_.captions.empty() ? "" : ", captions from " + preset_.captions);
}

JobScript::~JobScript() { input_.reset(); }

void JobScript::load_captions(Micros base) {
    const std::size_t n = scheduler_.add_captions(captions_, base);
    spdlog::info("captions {}: 00:00:00 of the file plays at media time {} ({} caption commands)", preset_.captions,
                 clock_text(base), n);
}

void JobScript::take(script::CommandLine c) {
    std::lock_guard lk(mutex_);
    if (intake_.size() >= 10000) {
        spdlog::error("script commands: more than 10000 commands waiting for the muxer; '{}' is dropped", c.type);
        return;
    }
    intake_.push_back({std::move(c), monotonic_us()});
}

std::vector<EncodedFrame> JobScript::due(Micros media_us, std::uint64_t next_packet, std::optional<Micros> origin) {
    if (captions_pending_) {
        if (origin) {
            // Wall clock -> monotonic -> media time (media 0 is `origin` on CLOCK_MONOTONIC).
            const std::int64_t mono = *wallclock_target_us_ - (realtime_us() - monotonic_us());
            load_captions(mono - *origin);
            captions_pending_ = false;
        }
    }
    std::vector<Arrived> taken;
    {
        std::lock_guard lk(mutex_);
        taken.swap(intake_);
    }
    for (auto& [c, arrived] : taken) {
        const Micros now = origin ? arrived - *origin : media_us;
        if (c.is_marker()) {
            std::lock_guard lk(mutex_);
            const Micros at = c.at.value_or(now);
            listing_.markers.push_back({at, c.parameter, next_packet, static_cast<std::uint32_t>(std::max<Micros>(0, media_us / 1000))});
            spdlog::info("marker '{}' at media time {}", c.parameter, clock_text(at));
            continue;
        }
        if (!scheduler_.add({c.at.value_or(now), c.type, c.parameter}))
            spdlog::error("script commands: too many commands scheduled; {} is dropped", c.type);
    }
    std::vector<EncodedFrame> out;
    for (auto& c : scheduler_.due(media_us)) {
        if (c.pts < media_us - kLate) {
            if (late_++ < 5)
                spdlog::warn("script command {} for media time {} is {} late and is dropped", c.type, clock_text(c.pts),
                             clock_text(media_us - c.pts));
            continue;
        }
        EncodedFrame f;
        f.stream = stream_;
        f.kind = MediaKind::command;
        f.pts = c.pts;
        f.dts = media_us;
        f.data = asfmux::encode_script_command(c.type, c.parameter);
        spdlog::debug("script command {} at {}: {}", c.type, clock_text(c.pts), c.parameter);
        out.push_back(std::move(f));
        std::lock_guard lk(mutex_);
        if (listing_.commands.size() < kMaxListed) listing_.commands.push_back(std::move(c));
    }
    return out;
}

asfmux::ScriptListing JobScript::listing() const {
    std::lock_guard lk(mutex_);
    return listing_;
}

std::size_t JobScript::commands_sent() const {
    std::lock_guard lk(mutex_);
    return listing_.commands.size();
}

std::size_t JobScript::markers() const {
    std::lock_guard lk(mutex_);
    return listing_.markers.size();
}

}  // namespace asfcast::app
