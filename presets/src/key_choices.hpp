// Private: the allowed values of the preset's choice keys, shared by the key table (keys.cpp)
// and the parser's hand-parsed keys (parse.cpp).
#pragma once

#include <array>
#include <string_view>

namespace asfcast::presets::detail {

inline constexpr std::array<std::string_view, 6> kSourceTypes = {"test", "file", "device", "rtsp", "srt", "uri"};
inline constexpr std::array<std::string_view, 3> kRtspTransports = {"auto", "tcp", "udp"};  // network sources (issue 15)
inline constexpr std::array<std::string_view, 2> kSrtModes = {"caller", "listener"};
inline constexpr std::array<std::string_view, 26> kPatterns = {
    "smpte",   "snow",        "black",  "white",   "red",      "green",        "blue",     "checkers-1", "checkers-2",
    "checkers-4", "checkers-8", "circular", "blink", "smpte75", "zone-plate", "gamut", "chroma-zone-plate",
    "solid-color", "ball",     "smpte100", "bar",   "pinwheel", "spokes",      "gradient", "colors",
    "smpte-rp-219"};
inline constexpr std::array<std::string_view, 5> kVideoFormats = {"auto", "yuyv", "nv12", "i420", "mjpeg"};
inline constexpr std::array<std::string_view, 3> kDeinterlace = {"auto", "on", "off"};
inline constexpr std::array<std::string_view, 3> kOnLoss = {"auto", "slate", "stop"};
inline constexpr std::array<std::string_view, 3> kVideoCodecs = {"h264", "wmv2", "copy"};
inline constexpr std::array<std::string_view, 3> kProfiles = {"baseline", "main", "high"};
inline constexpr std::array<std::string_view, 10> kX264Presets = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                           "medium",    "slow",      "slower",   "veryslow", "placebo"};
inline constexpr std::array<std::string_view, 3> kAudioCodecs = {"wma2", "mp3", "copy"};
inline constexpr std::array<std::string_view, 2> kLagPolicies = {"skip", "disconnect"};
inline constexpr std::array<std::string_view, 2> kNscStrings = {"encoded", "plain"};
inline constexpr std::array<std::string_view, 3> kPackagers = {"playready", "program", "shared-object"};
inline constexpr std::array<std::string_view, 2> kWrmHeaderVersions = {"4.0.0.0", "4.2.0.0"};

}  // namespace asfcast::presets::detail
