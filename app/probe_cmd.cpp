#include "probe_cmd.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "asfcast/capture/network.hpp"
#include "asfcast/presets/presets.hpp"
#include "job_source.hpp"

namespace asfcast::app {

namespace {

std::string describe(const capture::ProbedStream& s) {
    std::string out = s.codec;
    if (s.video) {
        out += fmt::format(", {}x{}", s.width, s.height);
        if (s.fps_num > 0 && s.fps_den > 0)
            out += fmt::format(", {}/{} fps ({:.3g})", s.fps_num, s.fps_den, static_cast<double>(s.fps_num) / s.fps_den);
        else
            out += ", frame rate not given";
    } else {
        out += fmt::format(", {} Hz, {} channel{}", s.sample_rate, s.channels, s.channels == 1 ? "" : "s");
    }
    if (s.bitrate) out += fmt::format(", {} kbit/s", s.bitrate / 1000);
    return out;
}

}  // namespace

int probe_source(const std::string& url, const std::string& preset_name, int timeout_s) {
    try {
        presets::Preset preset = presets::resolve_preset(preset_name);
        apply_input(url, preset.source);
        if (preset.source.type == "file") {
            spdlog::error("probe {}: not a network URL (rtsp://, srt://, or another scheme://); for files use "
                          "asfcast inspect or ffprobe",
                          url);
            return 1;
        }
        capture::SourceConfig source;
        apply_network_source(preset, source);
        const capture::NetworkProbe probe = capture::probe_network(source, timeout_s);
        fmt::print("{} ({})\n", probe.uri, probe.live ? "live" : "not live: it will be played in real time");
        bool has_video = false, has_audio = false;
        for (const auto& s : probe.streams) {
            fmt::print("  {}: {}\n", s.video ? "video" : "audio", describe(s));
            has_video |= s.video;
            has_audio |= !s.video;
        }
        fmt::print("preset '{}' would:\n", preset.name);
        if (preset.video) {
            const auto& v = *preset.video;
            const capture::ProbedStream* video = nullptr;
            for (const auto& s : probe.streams)
                if (s.video && !video) video = &s;
            if (!video)
                fmt::print("  video: none in the source: the slate's picture would be sent (consider a preset "
                           "without video)\n");
            else if (v.codec == "copy" && video->codec.rfind("H.264", 0) == 0)
                fmt::print("  video: copy the H.264 as it is, {}x{} (video.codec copy: no decoding or encoding; the "
                           "slate, while the source is lost, is encoded at the source's size)\n",
                           video->width, video->height);
            else if (v.codec == "copy")
                fmt::print("  video: refuse it: video.codec copy takes H.264 only and the source sends {} (set "
                           "video.codec to h264 to re-encode it)\n",
                           video->codec);
            else
                fmt::print("  video: decode and re-encode to {} {}x{} at {}/{} fps, {} kbit/s{}{}\n",
                           v.codec == "wmv2" ? "WMV2" : "H.264", v.width, v.height, v.fps_num, v.fps_den,
                           v.bitrate_kbps, v.renditions.empty() ? "" : fmt::format(" and {} more renditions", v.renditions.size()),
                           video->codec.rfind("H.264", 0) == 0 ? " (video.codec copy would carry it as it is)" : "");
        } else {
            fmt::print("  video: not encoded (the preset has none)\n");
        }
        if (preset.audio) {
            const auto& a = *preset.audio;
            const capture::ProbedStream* audio = nullptr;
            for (const auto& s : probe.streams)
                if (!s.video && !audio) audio = &s;
            const bool aac = audio && audio->codec.find("AAC") != std::string::npos;
            if (has_audio && a.codec == "copy" && aac)
                fmt::print("  audio: copy the AAC as it is (audio.codec copy, audio.allow_copy: true: ffmpeg, VLC and "
                           "GStreamer play it; Windows Media servers and Windows Media Player do not)\n");
            else if (has_audio && a.codec == "copy")
                fmt::print("  audio: refuse it: audio.codec copy takes AAC only and the source sends {} (set "
                           "audio.codec to wma2 or mp3 to re-encode it)\n",
                           audio->codec);
            else if (has_audio)
                fmt::print("  audio: decode and transcode to {} {} kbit/s, {} Hz, {} channel{} (AAC is not carried into "
                           "ASF unless audio.codec copy: Windows Media servers expect WMA)\n",
                           a.codec == "mp3" ? "MP3" : "WMA2", a.bitrate_kbps, a.sample_rate, a.channels,
                           a.channels == 1 ? "" : "s");
            else
                fmt::print("  audio: none in the source (consider a preset with audio: none)\n");
        } else {
            fmt::print("  audio: not encoded (the preset has none)\n");
        }
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace asfcast::app
