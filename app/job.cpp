#include "job.hpp"

// GCC 12 reports std::variant<EncodedFrame, StreamEnded> moves in run_job as maybe-uninitialized
// (a false positive that comes and goes with unrelated changes to run_job's size and inlining).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <ctime>
#include <thread>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "asfcast/archive/archive.hpp"
#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/asfmux/interleaver.hpp"
#include "asfcast/asfmux/packager.hpp"
#include "asfcast/capture/capture.hpp"
#include "asfcast/core/bounded_queue.hpp"
#include "asfcast/core/clock.hpp"
#include "asfcast/core/muxed_bus.hpp"
#include "asfcast/core/failpoints.hpp"
#include "asfcast/core/thread_name.hpp"
#include "asfcast/encode/encode.hpp"
#include "asfcast/drm/drm.hpp"
#include "asfcast/encode/passthrough.hpp"
#include "asfcast/encode/renditions.hpp"
#include "asfcast/msbd/msbd.hpp"
#include "asfcast/pullserver/pullserver.hpp"
#include "asfcast/multicast/multicast.hpp"
#include "asfcast/playlist/playlist.hpp"
#include "asfcast/push/push_output.hpp"
#include "asfcast/control/control.hpp"
#include "job_control.hpp"
#include "job_preview.hpp"
#include "asfcast/presets/keys.hpp"
#include "job_script.hpp"
#include "job_source.hpp"

namespace asfcast::app {
namespace {

struct StreamEnded {
    int stream;
};
using MuxItem = std::variant<EncodedFrame, StreamEnded>;

// audio.codec copy: what LiveSource hands down, in its order: filler PCM (silence) or a source's
// AAC frame.
struct AudioCopyInput {
    bool is_fill = false;
    RawAudioBlock fill;
    EncodedFrame frame;
};

// video.codec copy: what LiveSource hands down, in its order: a slate picture or a source's unit.
struct CopyInput {
    bool is_slate = false;
    RawVideoFrame slate;
    EncodedFrame unit;
};

encode::VideoEncoderConfig video_config(const presets::VideoPreset& v, int stream) {
    encode::VideoEncoderConfig c;
    c.stream = stream;
    c.codec = v.codec;
    c.width = v.width;
    c.height = v.height;
    c.fps_num = v.fps_num;
    c.fps_den = v.fps_den;
    c.bitrate_kbps = v.bitrate_kbps;
    c.max_bitrate_kbps = v.max_bitrate_kbps;
    c.vbv_buffer_kbit = v.vbv_buffer_kbit;
    const double fps = static_cast<double>(v.fps_num) / v.fps_den;
    c.keyframe_interval = std::max(1, static_cast<int>(std::lround(v.keyframe_interval_s * fps)));
    c.profile = v.profile;
    c.preset = v.x264_preset;
    c.tune = v.tune;
    c.bframes = v.bframes;
    c.threads = v.threads;
    c.fourcc = v.fourcc;
    return c;
}

encode::AudioEncoderConfig audio_config(const presets::AudioPreset& a, int stream) {
    encode::AudioEncoderConfig c;
    c.stream = stream;
    c.codec = a.codec == "mp3" ? encode::AudioCodec::mp3 : encode::AudioCodec::wma2;
    c.bitrate_kbps = a.bitrate_kbps;
    c.sample_rate = a.sample_rate;
    c.channels = a.channels;
    return c;
}

// Out of line: inlined into the mux thread's (larger since the control API) lambda, GCC 12 took
// the moved-from variant in BoundedQueue::take for uninitialized (a false -Wmaybe-uninitialized).
[[gnu::noinline]] std::optional<MuxItem> pop_mux_item(BoundedQueue<MuxItem>& queue, std::chrono::microseconds wait) {
    return queue.pop_for(wait);
}

// Per-stream counters for the control API.
void count_stream_frame(JobStats& stats, const EncodedFrame& f) {
    if (f.stream <= 0 || f.stream >= static_cast<int>(stats.stream_frames.size())) return;
    ++stats.stream_frames[static_cast<std::size_t>(f.stream)];
    stats.stream_bytes[static_cast<std::size_t>(f.stream)] += f.data.size();
}

std::string format_clock(Micros us) {
    auto s = us / 1'000'000;
    return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

class StatusLine {
public:
    explicit StatusLine(bool enabled) : enabled_(enabled) {}
    void update(const JobStats& st, const std::string& source) {
        if (!enabled_) return;
        auto now = SteadyClock::now();
        if (now - last_ < std::chrono::milliseconds(500)) return;
        const double secs = std::chrono::duration<double>(now - last_).count();
        const std::uint64_t bytes = st.bytes.load();
        const double kbps = last_bytes_ && secs > 0 ? (bytes - last_bytes_) * 8.0 / secs / 1000.0 : 0.0;
        last_ = now;
        last_bytes_ = bytes;
        fmt::print(stderr, "\r{}  source {}  video {} fr (dropped {})  audio {} fr  {:6.0f} kbit/s  {} packets  {} pull clients   ",
                   format_clock(st.media_time_us.load()), source, st.video_frames_encoded.load(),
                   st.video_frames_dropped.load(), st.audio_frames_encoded.load(), kbps, st.packets.load(),
                   st.pull_clients.load());
        std::fflush(stderr);
        printed_ = true;
    }
    void finish() {
        if (printed_) fmt::print(stderr, "\n");
    }

private:
    bool enabled_;
    bool printed_ = false;
    SteadyClock::time_point last_{};
    std::uint64_t last_bytes_ = 0;
};

// The first line of a password file; the file must be private to the service user.
std::string read_password_file(const std::string& origin, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(fmt::format("{}: outputs.push.password_file {}: {}", origin, path, std::strerror(errno)));
    if (st.st_mode & 077)
        throw std::runtime_error(fmt::format("{}: outputs.push.password_file {} is readable by group or others; "
                                             "run chmod 600 on it",
                                             origin, path));
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line))
        throw std::runtime_error(fmt::format("{}: outputs.push.password_file {} cannot be read or is empty", origin, path));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

// The media clock file (JobOptions::media_clock_file): written whole to PATH.tmp, then renamed over
// PATH, so a reader sees the old or the new contents, never a part. Lines of "key value":
//   origin_us N   CLOCK_MONOTONIC microseconds at media time 0. A payload with ASF presentation time
//                 T ms (replicated data, which includes the preroll) was captured at
//                 origin_us + (T - preroll_ms) * 1000.
//   preroll_ms P  the header's preroll (the File Properties Object has it too)
// Returns false (and logs once) when it cannot be written.
bool write_media_clock(const std::string& path, Micros origin_us, std::uint32_t preroll_ms) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << "# asfcast media clock: CLOCK_MONOTONIC us at media time 0 (ASF presentation time - preroll)\n"
            << "origin_us " << origin_us << "\npreroll_ms " << preroll_ms << "\n";
        if (!out.flush()) {
            spdlog::warn("--media-clock-file: cannot write {}: {}", tmp, std::strerror(errno));
            return false;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        spdlog::warn("--media-clock-file: cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
        return false;
    }
    return true;
}

// The push targets of a preset as PushOutput takes them (password files read).
std::vector<push::PushTarget> push_targets(const presets::Preset& preset) {
    std::vector<push::PushTarget> out;
    for (const auto& t : preset.outputs.push.targets) {
        push::PushTarget target;
        target.url = t.url;
        target.user = t.user;
        target.password = t.password_file.empty() ? t.password : read_password_file(preset.origin, t.password_file);
        target.template_url = t.template_url;
        target.auto_remove = t.auto_remove;
        out.push_back(std::move(target));
    }
    return out;
}

// Every target of the preset with its password read; the job gives each one a PushOutput of its own
// (so the control API can stop, start and remove one), numbered as in the preset's list.
push::PushConfig make_push_config(const presets::Preset& preset) {
    const presets::PushPreset& pp = preset.outputs.push;
    push::PushConfig pc;
    pc.targets = push_targets(preset);
    pc.backoff_initial = std::chrono::milliseconds(pp.backoff_initial_ms);
    pc.backoff_max = std::chrono::milliseconds(pp.backoff_max_ms);
    pc.queue_bytes = static_cast<std::size_t>(pp.queue_kbytes) * 1024;
    return pc;
}

// The control API's token: control.token, or the first line of control.token_file (which must be
// private to the service user). Never logged.
std::string control_token(const presets::Preset& preset) {
    const presets::ControlPreset& c = preset.control;
    if (c.token_file.empty()) return c.token;
    struct stat st {};
    if (::stat(c.token_file.c_str(), &st) != 0)
        throw std::runtime_error(fmt::format("control.token_file {}: {}", c.token_file, std::strerror(errno)));
    if (st.st_mode & 077)
        throw std::runtime_error(fmt::format("control.token_file {} is readable by group or others; run chmod 600 on it",
                                             c.token_file));
    std::ifstream in(c.token_file);
    std::string line;
    if (!in || !std::getline(in, line) || line.empty())
        throw std::runtime_error(fmt::format("control.token_file {} cannot be read or is empty", c.token_file));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 16) throw std::runtime_error(fmt::format("control.token_file {}: the token is shorter than 16 characters", c.token_file));
    return line;
}

// MS-MSB multicast (outputs.multicast, --multicast). Throws with the reason when the socket cannot
// be set up (not a multicast group, unknown interface, no route).
std::shared_ptr<multicast::MulticastOutput> make_multicast_output(const presets::Preset& preset) {
    const presets::MulticastPreset& mp = preset.outputs.multicast;
    multicast::MulticastConfig mc;
    mc.group = mp.group;
    mc.port = static_cast<std::uint16_t>(mp.port);
    mc.ttl = mp.ttl;
    mc.interface = mp.interface;
    mc.msb.fec_span = mp.fec_span;
    mc.msb.beacon_interval = std::chrono::seconds(mp.beacon_interval_s);
    mc.nsc_path = mp.nsc_path;
    mc.nsc_strings = mp.nsc_strings == "plain" ? multicast::NscStrings::plain_when_possible : multicast::NscStrings::encoded;
    if (mp.name.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        mc.name = std::string(host) + ", " + preset.name;
    } else {
        mc.name = mp.name;
    }
    mc.description = preset.metadata.title.empty() ? preset.name : preset.metadata.title;
    mc.unicast_url = mp.unicast_url;
    if (mp.network_buffer_ms > 0) mc.network_buffer_ms = static_cast<std::uint32_t>(mp.network_buffer_ms);
    try {
        return std::make_shared<multicast::MulticastOutput>(std::move(mc));
    } catch (const multicast::MulticastError& e) {
        throw std::runtime_error(std::string("outputs.multicast: ") + e.what());
    }
}

// The pull server also serves the announcements players open: /stream.nsc (the multicast's, when
// multicast is on) and /stream.asx, a redirector listing the .nsc first, then the pull URL. Both
// name the host the client asked for (its Host header), so they work behind any address.
void serve_announcements(pull::PullServer& server, const presets::Preset& preset,
                         std::shared_ptr<multicast::MulticastOutput> multicast_output) {
    const presets::PullPreset& pp = preset.outputs.pull;
    std::string fallback_host = pp.address;
    if (fallback_host == "0.0.0.0" || fallback_host == "::") {
        char name[256] = {};
        ::gethostname(name, sizeof name - 1);
        fallback_host = name;
    } else if (fallback_host.find(':') != std::string::npos) {
        fallback_host = "[" + fallback_host + "]";
    }
    fallback_host += ":" + std::to_string(server.port());
    const bool multicast = multicast_output != nullptr;
    if (multicast) {
        // NSC.md: the MIME type is not in MS-MSB; players go by the .nsc extension.
        server.set_document("/stream.nsc", {"application/x-netshow-channel",
                                            [out = multicast_output](std::string_view) { return out->nsc_text(); }});
    }
    const std::string title = preset.metadata.title.empty() ? preset.name : preset.metadata.title;
    server.set_document("/stream.asx", {"video/x-ms-asf", [title, fallback_host, multicast](std::string_view host) {
                                            // A Host header that is not a host[:port] is not echoed back.
                                            const bool plain = !host.empty() && host.size() <= 255 &&
                                                std::all_of(host.begin(), host.end(), [](char c) {
                                                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                                           c == '-' || c == ':' || c == '[' || c == ']';
                                                });
                                            const std::string h = plain ? std::string(host) : fallback_host;
                                            return multicast::make_asx(multicast::make_redirector(
                                                title, "mmsh://" + h + "/", multicast ? "http://" + h + "/stream.nsc" : ""));
                                        }});
    spdlog::info("announcing http://{}/stream.asx{}", fallback_host, multicast ? " and http://" + fallback_host + "/stream.nsc" : "");
}

// A preset's playlist entries as the engine takes them.
std::vector<playlist::Entry> playlist_entries(const presets::PlaylistPreset& pl) {
    std::vector<playlist::Entry> out;
    for (const auto& pe : pl.entries) {
        playlist::Entry e;
        e.kind = pe.live ? playlist::Entry::Kind::live : playlist::Entry::Kind::file;
        e.name = pe.name;
        e.path = pe.file;
        e.repeat = pe.repeat;
        if (pe.duration_s > 0) e.duration = static_cast<Micros>(pe.duration_s * 1e6);
        out.push_back(std::move(e));
    }
    return out;
}



}  // namespace

ReloadResult JobReloader::reload(const presets::Preset& next) {
    std::lock_guard lk(mutex_);
    if (!reloader_) return {false, "no job is running (it is starting or ending); try again", {}, {}};
    return reloader_(next);
}

void JobReloader::connect(std::function<ReloadResult(const presets::Preset&)> reloader) {
    std::lock_guard lk(mutex_);
    reloader_ = std::move(reloader);
}

void JobReloader::disconnect() {
    std::lock_guard lk(mutex_);
    reloader_ = nullptr;
}

void log_reload(const ReloadResult& r) {
    if (!r.applied) {
        spdlog::error("reload refused: {}; nothing changed", r.error);
        return;
    }
    for (const auto& key : r.live) spdlog::info("reload: {} changed: applied", key);
    for (const auto& key : r.restart) spdlog::warn("reload: {} changed: needs a restart (the running value stays)", key);
    if (r.live.empty() && r.restart.empty()) spdlog::info("reload: nothing changed");
}

int run_job(const JobOptions& options, const std::atomic<bool>& stop, JobStats& stats) {
    const presets::Preset& preset = options.preset;

    capture::ensure_gstreamer();
    capture::SourceConfig source;
    source.type = preset.source.type == "file"     ? capture::SourceType::file
                  : preset.source.type == "device" ? capture::SourceType::device
                                                   : capture::SourceType::test;
    source.video_device = preset.source.video_device;
    source.audio_device = preset.source.audio_device;
    source.video_format = preset.source.video_format;
    source.deinterlace = preset.source.deinterlace;
    source.path = preset.source.path;
    source.pattern = preset.source.pattern;
    source.tone_hz = preset.source.tone_hz;
    apply_network_source(preset, source);  // rtsp, srt, uri (issue 15)
    source.fast = options.fast && source.type == capture::SourceType::file;
    if (options.fast && source.type != capture::SourceType::file)
        spdlog::warn("--fast applies to file sources only; a live source runs in real time");
    if (preset.playlist.enabled() && source.fast)
        throw std::runtime_error(preset.origin + ": playlist: a playlist plays in real time; --fast cannot be used with it");

    bool want_video = preset.video.has_value();
    bool want_audio = preset.audio.has_value();
    if (source.type == capture::SourceType::device) {
        // `none` takes that stream out of the job (a radio preset with video, fed by a sound card).
        if (want_video && source.video_device == "none") {
            spdlog::info("source.video_device is none: the job is audio-only");
            want_video = false;
        }
        if (want_audio && source.audio_device == "none") {
            spdlog::info("source.audio_device is none: the job is video-only");
            want_audio = false;
        }
        if (!want_video && !want_audio)
            throw std::runtime_error(fmt::format("preset '{}': the device source gives none of the streams it encodes",
                                                 preset.name));
    }
    if (source.type == capture::SourceType::file) {
        auto probe = capture::probe_file(source.path);
        if (want_video && !probe.has_video) {
            spdlog::warn("'{}' has no video; the job continues audio-only", source.path);
            want_video = false;
        }
        if (want_audio && !probe.has_audio) {
            spdlog::warn("'{}' has no audio; the job continues video-only", source.path);
            want_audio = false;
        }
        if (!want_video && !want_audio)
            throw std::runtime_error(fmt::format("'{}' has none of the streams the preset '{}' encodes", source.path,
                                                 preset.name));
    }

    // Encoders first: their formats (SPS/PPS, WMA extradata) go into the ASF header. MBR: video
    // renditions are streams 1..N (the main one first), then the audio encodings.
    std::unique_ptr<encode::VideoRenditions> venc;
    std::unique_ptr<encode::VideoPassthrough> vcopy;  // video.codec copy (issue 15): instead of venc
    std::unique_ptr<encode::AudioRenditions> aenc;
    asfmux::StreamSet streams;
    int next_stream = 1;
    const bool video_copy = want_video && preset.video->codec == "copy";
    if (video_copy && !capture::is_network(source.type))
        throw std::runtime_error(fmt::format(
            "preset '{}': video.codec copy carries the H.264 of a network source (source.type rtsp, srt or uri, or "
            "--input URL); source.type {} has none: use video.codec h264",
            preset.name, preset.source.type));
    if (video_copy && preset.playlist.enabled())
        spdlog::info("video.codec copy in a playlist: the live entries carry the source's H.264");
    if (video_copy) {
        encode::PassthroughConfig pc;
        pc.slate = video_config(*preset.video, next_stream++);
        pc.slate.codec = "h264";  // the slate shown while the source is lost is encoded with x264
        pc.stream_name = preset.video->name;
        vcopy = std::make_unique<encode::VideoPassthrough>(std::move(pc));
        streams.video = {vcopy->format()};
        spdlog::info("video.codec copy: the source's H.264 goes into ASF as it is (header at {}x{} until the "
                     "source's first key frame tells its size)",
                     streams.video.front().width, streams.video.front().height);
    } else if (want_video) {
        encode::VideoRenditionsConfig vc;
        vc.capture_width = preset.video->width;
        vc.capture_height = preset.video->height;
        vc.capture_fps_num = preset.video->fps_num;
        vc.capture_fps_den = preset.video->fps_den;
        vc.keyframe_interval_s = preset.video->keyframe_interval_s;
        for (const auto& r : presets::video_renditions(*preset.video))
            vc.renditions.push_back({video_config(r, next_stream++), r.name});
        venc = std::make_unique<encode::VideoRenditions>(std::move(vc));
        streams.video = venc->formats();
    }
    const bool audio_copy = want_audio && preset.audio->codec == "copy";
    std::unique_ptr<encode::AudioPassthrough> acopy;  // audio.codec copy (issue 15, point 3): instead of aenc
    if (audio_copy && !capture::is_network(source.type))
        throw std::runtime_error(fmt::format(
            "preset '{}': audio.codec copy carries the AAC of a network source (source.type rtsp, srt or uri, or "
            "--input URL); source.type {} has none: use audio.codec wma2 or mp3",
            preset.name, preset.source.type));
    if (audio_copy) {
        encode::AudioPassthroughConfig apc;
        apc.stream = next_stream++;
        apc.sample_rate = preset.audio->sample_rate;
        apc.channels = preset.audio->channels;
        apc.bitrate_kbps = preset.audio->bitrate_kbps;
        apc.stream_name = preset.audio->name;
        acopy = std::make_unique<encode::AudioPassthrough>(std::move(apc));
        streams.audio = {acopy->format()};
        spdlog::warn("audio.codec copy: the source's AAC goes into ASF as it is (format tag 0x00FF); ffmpeg, VLC and "
                     "GStreamer play it, Windows Media servers and Windows Media Player do not");
    } else if (want_audio) {
        encode::AudioRenditionsConfig ac;
        for (const auto& r : presets::audio_renditions(*preset.audio)) {
            ac.encoders.push_back(audio_config(r, next_stream++));
            ac.names.push_back(r.name);
        }
        aenc = std::make_unique<encode::AudioRenditions>(ac);
        streams.audio = aenc->formats();
    }
    // Script commands (issue 13): a command stream after the media streams.
    if (preset.script_commands.enabled) {
        asfmux::CommandStreamFormat c;
        c.stream = next_stream++;
        c.bitrate = static_cast<std::uint32_t>(preset.script_commands.bitrate_bps);
        c.stream_name = "Script commands";
        streams.commands.push_back(c);
    }
    if (streams.video.size() > 1 || streams.audio.size() > 1)
        spdlog::info("MBR: {} video renditions, {} audio encodings", streams.video.size(), streams.audio.size());

    asfmux::MuxConfig mux_config;
    mux_config.packet_size = preset.asf.packet_size;
    mux_config.preroll_ms = preset.asf.preroll_ms;
    mux_config.max_packet_delay_ms = preset.asf.max_packet_delay_ms;
    asfmux::Metadata metadata;
    metadata.title = preset.metadata.title;
    metadata.author = preset.metadata.author;
    metadata.copyright = preset.metadata.copyright;
    metadata.description = preset.metadata.description;
    metadata.extended.emplace_back("WM/ToolName", "asfcast");
    metadata.extended.emplace_back("WM/ToolVersion", ASFCAST_VERSION);
    metadata.extended.emplace_back("WM/EncodingSettings", preset.name);

    // DRM (issue 13, docs/drm.md): the packager's objects are in every header built from here, and
    // the packetizer hands it every media object; a clear payload cannot be written under it.
    std::shared_ptr<asfmux::Packager> packager;
    asfmux::HeaderAdditions additions;
    if (preset.script_commands.enabled)
        additions.reserve_bytes = static_cast<std::uint32_t>(preset.script_commands.header_reserve_bytes);
    if (preset.drm.enabled()) {
        drm::PackagerConfig dc;
        dc.kind = preset.drm.packager;
        dc.playready = {preset.drm.kid, preset.drm.key_file, preset.drm.key, preset.drm.key_seed_file, preset.drm.la_url,
                        preset.drm.lui_url, preset.drm.ds_id, preset.drm.header_version, preset.drm.checksum};
        dc.program = preset.drm.program;
        dc.library = preset.drm.library;
        dc.config = preset.drm.config;
        dc.deadline = std::chrono::milliseconds(preset.drm.deadline_ms);
        packager = drm::make_packager(dc);
        try {
            additions.protection = packager->header(streams);
        } catch (const asfmux::PackagerError& e) {
            throw std::runtime_error(std::string("drm: ") + e.what());
        }
        spdlog::info("drm: packager {}: {}; every payload of every stream is protected", packager->name(),
                     additions.protection->description);
    }
    auto builder = std::make_shared<asfmux::HeaderBuilder>(
        mux_config, streams, metadata, asfmux::random_guid(),
        asfmux::unix_to_filetime(static_cast<std::int64_t>(std::time(nullptr))), additions);
    auto header = std::make_shared<MuxedHeader>(builder->build_live());
    // A header change of the live encode (video.codec copy: the source's picture size changed): the
    // same streams, settings and DRM objects with the new video format, a new file ID, the next
    // version (MuxedHeader::version: $C on pull, $E(1)/$C on push, a new archive file).
    std::uint32_t live_header_version = header->version;
    // The streams as the last header described them: a change of one stream's format keeps the
    // others' earlier changes (audio.codec copy: the source's AAC config changed too).
    asfmux::StreamSet live_streams = streams;
    auto changed_header = [&](const VideoStreamFormat* video, const AudioStreamFormat* audio) {
        if (video)
            for (auto& v : live_streams.video)
                if (v.stream == video->stream) v = *video;
        if (audio)
            for (auto& a : live_streams.audio)
                if (a.stream == audio->stream) a = *audio;
        asfmux::HeaderBuilder b(mux_config, live_streams, metadata, asfmux::random_guid(),
                                asfmux::unix_to_filetime(static_cast<std::int64_t>(std::time(nullptr))), additions);
        auto h = std::make_shared<MuxedHeader>(b.build_live());
        h->version = ++live_header_version;
        h->label = video ? fmt::format("{}x{}", video->width, video->height)
                         : fmt::format("AAC {} Hz {} ch", audio->sample_rate, audio->channels);
        return h;
    };
    if (header->bytes.size() > mux_config.packet_size && header->bytes.size() > 8192)
        spdlog::warn("the ASF header is {} bytes; some receivers refuse headers over 8192 bytes", header->bytes.size());
    asfmux::Packetizer packetizer(mux_config, streams, packager,
                                  additions.protection ? *additions.protection : asfmux::ProtectionHeader{});
    std::shared_ptr<JobScript> job_script;  // before the archive: its final header lists the commands
    if (preset.script_commands.enabled)
        job_script = std::make_shared<JobScript>(preset.script_commands, streams.commands.front().stream,
                                                 source.type != capture::SourceType::file);
    for (const auto& a : streams.audio)
        if (a.block_align > packetizer.max_audio_frame_bytes())
            throw std::runtime_error(fmt::format(
                "preset '{}': asf.packet_size {} cannot hold one {}-byte audio frame; raise asf.packet_size",
                preset.name, mux_config.packet_size, a.block_align));

    // Outputs subscribe to the one muxed stream.
    MuxedStreamBus bus;
    std::shared_ptr<archive::ArchiveWriter> archive;
    if (!preset.outputs.archive.empty() || !preset.outputs.archive_entry_pattern.empty()) {
        archive::ArchiveConfig ac;
        ac.path = preset.outputs.archive.empty() ? preset.outputs.archive_entry_pattern : preset.outputs.archive;
        ac.block_when_full = source.fast;
        // A new file per header (playlist entries that bring their own): named by the pattern.
        ac.entry_pattern = preset.outputs.archive_entry_pattern;
        archive = std::make_shared<archive::ArchiveWriter>(
            ac, [builder, job_script](const asfmux::FileTotals& t) {
                if (!job_script) return builder->build_final(t);
                asfmux::FinalHeaderReport r;
                Bytes final_header = builder->build_final(t, job_script->listing(), &r);
                spdlog::info("archive: the header lists {} script commands and {} markers", r.commands_listed,
                             r.markers_listed);
                if (r.commands_dropped || r.markers_dropped)
                    spdlog::warn("archive: {} script commands and {} markers did not fit in the header's "
                                 "script_commands.header_reserve_bytes; the commands are in the command stream",
                                 r.commands_dropped, r.markers_dropped);
                return final_header;
            },
            header);  // the builder finalizes files of the live header; other headers their own way
        bus.attach(archive->feed());
        spdlog::info("archiving to {}", ac.path);
    }
    // The pull source: "/" serves the stream, and the preset's mount path too. The control API
    // may stop it and start it again: a new server on the same address and port.
    std::unique_ptr<pull::PullServer> pull_server;
    pull::PullConfig pull_config;
    pull::PullStats pull_totals_before;  // of servers stopped by the operator, for the totals
    std::shared_ptr<multicast::MulticastOutput> multicast_output;
    auto start_pull = [&] {
        const presets::PullPreset& pp = preset.outputs.pull;
        std::unique_ptr<pull::PullServer> server;
        try {
            server = std::make_unique<pull::PullServer>(pull_config);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(preset.origin + ": " + e.what());
        }
        bus.attach(server->add_mount("/"));
        if (!pp.mount.empty()) bus.attach(server->add_mount(pp.mount));
        server->start();
        pull_config.port = server->port();  // a restart keeps the port, even one chosen by the system
        const std::string host = pp.address.find(':') != std::string::npos ? "[" + pp.address + "]" : pp.address;
        spdlog::info("serving mmsh://{}:{}/{}{}", host, server->port(),
                     pp.mount.empty() ? "" : " and mmsh://" + host + ":" + std::to_string(server->port()), pp.mount);
        pull_server = std::move(server);
    };
    if (preset.outputs.pull.enabled) {
        const presets::PullPreset& pp = preset.outputs.pull;
        pull::PullConfig& pc = pull_config;
        pc.bind_address = pp.address;
        pc.port = static_cast<std::uint16_t>(pp.port);
        pc.max_clients = static_cast<std::size_t>(pp.max_clients);
        pc.max_clients_per_ip = static_cast<std::size_t>(pp.max_clients_per_ip);
        pc.auth = pp.auth;
        pc.realm = pp.realm;
        for (const auto& u : pp.users) pc.users.push_back({u.name, u.password});
        pc.allow = pp.allow;
        pc.deny = pp.deny;
        pc.max_head_bytes = static_cast<std::size_t>(pp.max_head_bytes);
        pc.header_timeout_ms = static_cast<std::uint32_t>(pp.header_timeout_ms);
        pc.idle_timeout_ms = static_cast<std::uint32_t>(pp.idle_timeout_ms);
        pc.max_lag_ms = static_cast<std::uint32_t>(pp.max_lag_ms);
        pc.lag_policy = pp.lag_policy;
        pc.send_interval_ms = static_cast<std::uint32_t>(pp.send_interval_ms);
        start_pull();
    }
    // MS-MSBD (outputs.msbd, --msbd): Windows Media servers connect over TCP. Stopped and started
    // like the pull server.
    std::unique_ptr<msbd::MsbdServer> msbd_server;
    msbd::MsbdConfig msbd_config;
    auto start_msbd = [&] {
        std::unique_ptr<msbd::MsbdServer> server;
        try {
            server = std::make_unique<msbd::MsbdServer>(msbd_config);
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(preset.origin + ": outputs." + e.what());
        }
        bus.attach(server->feed());
        server->start();
        msbd_config.port = server->port();
        spdlog::info("serving msbd://{}:{}/ (MS-MSBD)", msbd_config.address, server->port());
        msbd_server = std::move(server);
    };
    if (const presets::MsbdPreset& mp = preset.outputs.msbd; mp.enabled) {
        msbd::MsbdConfig& mc = msbd_config;
        mc.address = mp.address;
        mc.port = static_cast<std::uint16_t>(mp.port);
        mc.max_clients = static_cast<std::size_t>(mp.max_clients);
        mc.max_clients_per_ip = static_cast<std::size_t>(mp.max_clients_per_ip);
        mc.allow = mp.allow;
        mc.deny = mp.deny;
        mc.connect_timeout_ms = static_cast<std::uint32_t>(mp.connect_timeout_ms);
        mc.ping_interval_ms = static_cast<std::uint32_t>(mp.ping_interval_ms);
        mc.ping_timeout_ms = static_cast<std::uint32_t>(mp.ping_timeout_ms);
        mc.max_lag_ms = static_cast<std::uint32_t>(mp.max_lag_ms);
        mc.lag_policy = mp.lag_policy;
        mc.send_interval_ms = static_cast<std::uint32_t>(mp.send_interval_ms);
        start_msbd();
    }
    // Push: one PushOutput (state machine, queue, thread) per target, fed from the same stream, so
    // that the control API can stop, start, add and remove one without touching the others.
    struct PushEntry {
        int index = 0;  // push[N] in the log, push:N in the control API
        push::PushTarget target;
        bool from_preset = false;
        bool removed = false;
        std::shared_ptr<push::PushOutput> output;  // null while stopped
        push::TargetStatus last;                   // the status when it was stopped
    };
    std::vector<PushEntry> push_entries;
    const push::PushConfig push_base = make_push_config(preset);
    auto start_push = [&](PushEntry& e) {
        push::PushConfig pc = push_base;
        pc.targets = {e.target};
        pc.first_index = e.index;
        try {
            e.output = std::make_shared<push::PushOutput>(std::move(pc));
        } catch (const std::invalid_argument& err) {
            throw std::invalid_argument(std::string("outputs.push: ") + err.what());
        }
        bus.attach(e.output->feed());
        for (const auto& st : e.output->status()) spdlog::info("pushing to {}", st.url);
    };
    auto stop_push = [&](PushEntry& e) {
        if (!e.output) return;
        const auto st = e.output->status();
        e.output->stop();
        if (!st.empty()) e.last = st.front();
        e.output.reset();
    };
    {
        int index = 0;
        for (auto& t : push_base.targets) {
            PushEntry e;
            e.index = index++;
            e.target = t;
            e.from_preset = true;
            try {
                start_push(e);
            } catch (const std::invalid_argument& err) {
                throw std::runtime_error(preset.origin + ": " + err.what());
            }
            push_entries.push_back(std::move(e));
        }
    }
    auto push_statuses = [&] {
        std::vector<push::TargetStatus> out;
        for (const auto& e : push_entries)
            if (e.output)
                for (auto& st : e.output->status()) out.push_back(std::move(st));
        return out;
    };
    // Multicast: the .nsc file is written now, before the first packet (a path that cannot be
    // written stops the job here). multicast_output->nsc_text() is the announcement to serve.
    if (preset.outputs.multicast.enabled()) {
        multicast_output = make_multicast_output(preset);
        bus.attach(multicast_output->feed());
        try {
            multicast_output->announce(header);
        } catch (const multicast::MulticastError& e) {
            throw std::runtime_error(std::string("outputs.multicast: ") + e.what());
        }
    }
    if (pull_server) serve_announcements(*pull_server, preset, multicast_output);
    // The control API (control/, docs/api.md): on its own port, started before the capture so that
    // a port in use or a missing token stops the job at once.
    std::unique_ptr<PreviewGrabber> preview;
    std::unique_ptr<JobControl> job_control;
    std::unique_ptr<control::ControlServer> control_server;
    if (preset.control.enabled) {
        if (want_video) preview = std::make_unique<PreviewGrabber>();
        job_control = std::make_unique<JobControl>(preview.get());
        control::ControlConfig cc;
        cc.address = preset.control.address;
        cc.port = static_cast<std::uint16_t>(preset.control.port);
        cc.token = control_token(preset);
        try {
            control_server = std::make_unique<control::ControlServer>(cc, *job_control);
            control_server->start();
        } catch (const control::ControlError& e) {
            throw std::runtime_error(e.what());
        }
        const std::string host = cc.address.find(':') != std::string::npos ? "[" + cc.address + "]" : cc.address;
        spdlog::info("control API and status page on http://{}:{}/{}", host, control_server->port(),
                     cc.token.empty() ? "" : " (bearer token required)");
    }
    const std::size_t outputs_attached = bus.open_outputs();
    if (outputs_attached == 0) spdlog::warn("no output is enabled (no archive, pull, push): the stream goes nowhere");
    // A playlist (issue 11, point 5) is the source of what goes on air: it publishes the headers,
    // the live encode's packets while a live entry is on air and its files' packets, and the end.
    // It runs on the mux thread, which stays the only publisher to the bus.
    std::unique_ptr<playlist::PlaylistEngine> engine;
    if (preset.playlist.enabled()) {
        playlist::EngineConfig ec;
        ec.loop = preset.playlist.loop;
        ec.limits.max_packet_size = presets::max_packet_size_for_outputs(preset);
        ec.entries = playlist_entries(preset.playlist);
        engine = std::make_unique<playlist::PlaylistEngine>(
            std::move(ec), playlist::Sink{[&bus](HeaderPtr h) { bus.publish_header(std::move(h)); },
                                          [&bus](PacketPtr p) { bus.publish_packet(std::move(p)); },
                                          [&bus] { bus.publish_end(); }});
        engine->live_header(header);
        spdlog::info("playlist: {} entries{}", preset.playlist.entries.size(), preset.playlist.loop ? ", looping" : "");
    } else {
        bus.publish_header(header);
    }
    // The engine lives on the mux thread; the control API (main thread) leaves an entry to switch
    // to here and reads what is on air from here.
    struct PlaylistRemote {
        std::mutex m;
        std::optional<std::size_t> request;  // an entry the operator put on air, not yet served
        std::optional<std::pair<std::vector<playlist::Entry>, bool>> replace;  // a reload's entries and loop
        std::string on_air;
        std::uint64_t started = 0, refused = 0;
    } playlist_remote;

    // Raw queues: live sources drop when the encoder falls behind (counted), files wait. Room for
    // the few frames the slate sends at once to close a gap when the source comes back.
    BoundedQueue<RawVideoFrame> video_q(source.fast ? 4 : 16);
    BoundedQueue<RawAudioBlock> audio_q(source.fast ? 32 : 256);
    BoundedQueue<MuxItem> mux_q(256);
    // video.codec copy: the source's access units and the slate's pictures, in the order LiveSource
    // handed them down. Room for a second of 60 fps: the pass-through is cheap, so a full queue
    // means the mux stalled; a unit lost then makes the pass-through wait for the next IDR.
    BoundedQueue<CopyInput> copy_q(64);
    // audio.codec copy: the source's AAC frames and the filler's silence, in LiveSource's order.
    BoundedQueue<AudioCopyInput> acopy_q(256);
    std::atomic<bool> copy_units_lost{false};
    std::atomic<bool> capture_ended{false};
    std::atomic<bool> duration_reached{false};
    std::atomic<bool> failed{false};
    std::atomic<bool> playlist_done{false};  // the playlist published the end of the stream
    std::atomic<bool> playlist_stop{false};  // the job stops: the playlist ends with the live encode
    std::string capture_error;
    std::mutex error_mutex;
    const Micros duration_us =
        options.duration_s ? static_cast<Micros>(*options.duration_s * 1e6) : std::numeric_limits<Micros>::max();

    capture::RawFormat raw;
    raw.video = want_video;
    raw.video_copy = video_copy;
    raw.audio_copy = audio_copy;
    raw.audio = want_audio;
    if (want_video) {
        raw.width = preset.video->width;
        raw.height = preset.video->height;
        raw.fps_num = preset.video->fps_num;
        raw.fps_den = preset.video->fps_den;
    }
    if (want_audio) {
        raw.sample_rate = preset.audio->sample_rate;
        raw.channels = preset.audio->channels;
    }
    // Media time -> monotonic capture time, for latency measurements: the smallest (arrival -
    // timestamp) seen, i.e. the arrival of the least delayed buffer. Live sources only.
    std::atomic<Micros> capture_origin{std::numeric_limits<Micros>::max()};
    auto note_capture = [&](Micros pts) {
        if (source.type == capture::SourceType::file) return;
        const Micros origin = monotonic_us() - pts;
        Micros cur = capture_origin.load();
        while (origin < cur && !capture_origin.compare_exchange_weak(cur, origin)) {
        }
    };
    capture::CaptureCallbacks callbacks;
    callbacks.on_video = [&](RawVideoFrame&& f) {
        if (preview) preview->offer(f);
        note_capture(f.pts);
        ++stats.video_frames_captured;
        if (video_copy) {  // the slate, while a copied source is lost
            if (!copy_q.try_push(CopyInput{true, std::move(f), {}}) && !copy_q.closed_and_empty())
                ++stats.video_frames_dropped;
            return;
        }
        bool ok = source.fast ? video_q.push(std::move(f)) : video_q.try_push(std::move(f));
        if (!ok && !video_q.closed_and_empty()) ++stats.video_frames_dropped;
    };
    callbacks.on_coded_video = [&](EncodedFrame&& f) {
        note_capture(f.pts);
        ++stats.video_frames_captured;
        if (!copy_q.try_push(CopyInput{false, {}, std::move(f)}) && !copy_q.closed_and_empty()) {
            ++stats.video_frames_dropped;
            copy_units_lost = true;
        }
    };
    callbacks.on_audio = [&](RawAudioBlock&& b) {
        note_capture(b.pts);
        ++stats.audio_blocks_captured;
        if (audio_copy) {  // the filler's silence, while a copied source is late or lost
            if (!acopy_q.try_push(AudioCopyInput{true, std::move(b), {}}) && !acopy_q.closed_and_empty())
                ++stats.audio_blocks_dropped;
            return;
        }
        bool ok = source.fast ? audio_q.push(std::move(b)) : audio_q.try_push(std::move(b));
        if (!ok) ++stats.audio_blocks_dropped;
    };
    callbacks.on_coded_audio = [&](EncodedFrame&& f) {
        note_capture(f.pts);
        ++stats.audio_blocks_captured;
        if (!acopy_q.try_push(AudioCopyInput{false, {}, std::move(f)}) && !acopy_q.closed_and_empty())
            ++stats.audio_blocks_dropped;
    };
    callbacks.on_end = [&] {
        capture_ended = true;
        video_q.close();
        copy_q.close();
        acopy_q.close();
        audio_q.close();
    };
    callbacks.on_error = [&](const std::string& msg) {
        {
            std::lock_guard lk(error_mutex);
            capture_error = msg;
        }
        failed = true;
        capture_ended = true;
        video_q.close();
        copy_q.close();
        acopy_q.close();
        audio_q.close();
    };

    // One thread per encoder: raw queue -> encoder -> mux queue, then a StreamEnded mark.
    auto encode_loop = [&](auto& queue, auto& encoder, const std::vector<int>& stream_numbers,
                           std::atomic<std::uint64_t>& encoded, const char* what, const char* thread_name) {
        set_thread_name(thread_name);
        std::vector<EncodedFrame> out;
        auto forward = [&] {
            for (auto& f : out) {
                ++encoded;
                mux_q.push(std::move(f));
            }
            out.clear();
        };
        try {
            while (auto raw_unit = queue.pop()) {
                encoder.encode(*raw_unit, out);
                forward();
            }
            encoder.flush(out);
            forward();
        } catch (const std::exception& e) {
            spdlog::error("{} encoder: {}", what, e.what());
            failed = true;
        }
        for (int n : stream_numbers) mux_q.push(StreamEnded{n});
    };
    std::vector<int> video_streams, audio_streams;
    for (const auto& v : streams.video) video_streams.push_back(v.stream);
    for (const auto& a : streams.audio) audio_streams.push_back(a.stream);
    std::vector<std::thread> threads;
    if (venc)
        threads.emplace_back(
            [&] { encode_loop(video_q, *venc, video_streams, stats.video_frames_encoded, "video", "asfcast-venc-1"); });
    if (vcopy) {
        // The pass-through's "encoder": access units on, slate pictures through x264.
        struct CopyStage {
            encode::VideoPassthrough& copy;
            std::atomic<bool>& lost;
            void encode(const CopyInput& in, std::vector<EncodedFrame>& out) {
                if (lost.exchange(false)) copy.resync();
                if (in.is_slate) copy.add(in.slate, out);
                else copy.add(in.unit, out);
            }
            void flush(std::vector<EncodedFrame>& out) { copy.flush(out); }
        };
        threads.emplace_back([&] {
            CopyStage stage{*vcopy, copy_units_lost};
            encode_loop(copy_q, stage, video_streams, stats.video_frames_encoded, "video copy", "asfcast-vcopy");
            const auto& st = vcopy->stats();
            spdlog::info("video copy: {} access units in, {} out ({} IDR, {} with parameter sets added), {} waited for "
                         "an IDR, {} unreadable, {} slate pictures, {} size changes",
                         st.units_in, st.units_out, st.idr_units, st.parameter_sets_added, st.waiting_for_idr,
                         st.malformed, st.slate_frames, st.format_changes);
        });
    }
    if (aenc)
        threads.emplace_back(
            [&] { encode_loop(audio_q, *aenc, audio_streams, stats.audio_frames_encoded, "audio", "asfcast-aenc"); });
    if (acopy) {
        // The AAC pass-through's "encoder": source frames on, filler silence through the AAC encoder.
        struct AudioCopyStage {
            encode::AudioPassthrough& copy;
            void encode(const AudioCopyInput& in, std::vector<EncodedFrame>& out) {
                if (in.is_fill) copy.add(in.fill, out);
                else copy.add(in.frame, out);
            }
            void flush(std::vector<EncodedFrame>& out) { copy.flush(out); }
        };
        threads.emplace_back([&] {
            AudioCopyStage stage{*acopy};
            encode_loop(acopy_q, stage, audio_streams, stats.audio_frames_encoded, "audio copy", "asfcast-acopy");
            const auto& st = acopy->stats();
            spdlog::info("audio copy: {} AAC frames in, {} out, {} late, {} with an unreadable config, {} silence frames "
                         "encoded, {} format changes",
                         st.frames_in, st.frames_out, st.late, st.bad_config, st.silence_frames, st.format_changes);
        });
    }

    // The muxer thread: the only writer of the muxed stream.
    std::vector<int> stream_numbers;
    for (auto& v : streams.video) stream_numbers.push_back(v.stream);
    for (auto& a : streams.audio) stream_numbers.push_back(a.stream);
    // The mux thread: the only writer of the muxed stream. It never waits for an output (each
    // has its own feed); an error here ends the broadcast for every output with a clean end of
    // stream (archive finalized, $E to pull clients and push targets) and the job fails.
    std::atomic<bool> mux_failed{false};
    std::thread mux_thread([&] {
        set_thread_name("asfcast-mux");
        try {
            asfmux::Interleaver interleaver(stream_numbers, 500'000);
            // Audio frames follow each other by a whole frame (less 1 us for rounding): video
            // need not wait for the next audio frame to know none comes before it.
            if (aenc) {
                const auto durations = aenc->frame_durations_us();
                for (std::size_t i = 0; i < durations.size() && i < streams.audio.size(); ++i)
                    interleaver.set_min_step(streams.audio[i].stream, durations[i] - 1);
            }
            std::size_t open_streams = stream_numbers.size();
            std::vector<DataPacket> out;
            auto publish = [&] {
                const Micros origin = capture_origin.load();
                for (auto& p : out) {
                    failpoint("mux.packet");  // tests: an exception in the mux thread (interop.mux_failure)
                    if (origin != std::numeric_limits<Micros>::max()) p.capture_us = origin + p.min_pts;
                    ++stats.packets;
                    stats.bytes += p.bytes.size();
                    if (engine) engine->live_packet(std::make_shared<const DataPacket>(std::move(p)), monotonic_us());
                    else bus.publish_packet(std::make_shared<const DataPacket>(std::move(p)));
                }
                out.clear();
            };
            // Script commands due by this media object's time go before it (job_script.hpp).
            auto add_script_commands = [&](Micros media_us, Micros now_us) {
                if (!job_script) return;
                const Micros origin = capture_origin.load();
                const auto known = origin != std::numeric_limits<Micros>::max() ? std::optional<Micros>(origin) : std::nullopt;
                for (auto& c : job_script->due(media_us, packetizer.packets_written(), known)) packetizer.add(c, now_us, out);
            };
            // A new format (video.codec copy: the source's picture size changed): what was muxed
            // under the old header goes out, then the new header, then this frame.
            const auto change_header = [&](const EncodedFrame& f) {
                if (!f.new_format && !f.new_audio_format) return;
                packetizer.flush(out);
                publish();
                auto h = changed_header(f.new_format.get(), f.new_audio_format.get());
                if (f.new_format)
                    spdlog::info("header change: video stream {} is now {}x{} (header version {})", f.new_format->stream,
                                 f.new_format->width, f.new_format->height, h->version);
                else
                    spdlog::info("header change: audio stream {} is now {} (header version {})", f.new_audio_format->stream,
                                 f.new_audio_format->codec_description, h->version);
                if (engine) engine->live_header(std::move(h));
                else bus.publish_header(std::move(h));
            };
            // With a playlist the loop goes on after the live encode ended, for the entries after it.
            const auto playlist_running = [&] { return engine && !engine->finished() && !playlist_stop; };
            const auto poll_playlist = [&](Micros t) {
                std::optional<std::size_t> request;
                std::optional<std::pair<std::vector<playlist::Entry>, bool>> replace;
                {
                    std::lock_guard lock(playlist_remote.m);
                    request = std::exchange(playlist_remote.request, std::nullopt);
                    replace = std::exchange(playlist_remote.replace, std::nullopt);
                }
                if (replace) engine->replace_entries(std::move(replace->first), replace->second);
                if (request) engine->switch_to(*request, t);
                engine->poll(t);
                playlist_done = engine->finished();
                std::string on_air = engine->on_air();
                std::lock_guard lock(playlist_remote.m);
                playlist_remote.on_air = std::move(on_air);
                playlist_remote.started = engine->stats().entries_started;
                playlist_remote.refused = engine->stats().entries_refused;
            };
            while (open_streams > 0 || playlist_running()) {
                Micros now = monotonic_us();
                Micros wait = 50'000;
                for (auto d : {packetizer.next_deadline(), interleaver.next_deadline(),
                               engine ? engine->next_deadline() : std::nullopt})
                    if (d) wait = std::clamp<Micros>(*d - now, 0, wait);
                if (open_streams == 0) {
                    // Only the playlist's files are left: nothing comes from the queue.
                    std::this_thread::sleep_for(std::chrono::microseconds(wait));
                    poll_playlist(monotonic_us());
                    continue;
                }
                auto item = pop_mux_item(mux_q, std::chrono::microseconds(wait));
                now = monotonic_us();
                if (item) {
                    if (auto* f = std::get_if<EncodedFrame>(&*item)) {
                        count_stream_frame(stats, *f);
                        if (f->pts >= duration_us) {
                            duration_reached = true;  // frames past the end are not sent
                        } else {
                            stats.media_time_us = std::max<Micros>(stats.media_time_us.load(), f->pts);
                            interleaver.push(std::move(*f), now);
                        }
                    } else {
                        interleaver.end_stream(std::get<StreamEnded>(*item).stream);
                        --open_streams;
                    }
                }
                if (engine && open_streams == 0) {
                    // The live encode ended: what it still holds goes out, then the playlist moves on.
                    while (auto f = interleaver.pop_any()) {
                        change_header(*f);
                        add_script_commands(f->dts, now);
                        packetizer.add(*f, now, out);
                    }
                    packetizer.flush(out);
                    publish();
                    engine->live_ended(monotonic_us());
                }
                while (auto f = interleaver.pop(now)) {
                    change_header(*f);
                    add_script_commands(f->dts, now);
                    packetizer.add(*f, now, out);
                }
                packetizer.poll(now, out);
                publish();
                if (engine) poll_playlist(monotonic_us());
            }
            while (auto f = interleaver.pop_any()) {
                change_header(*f);
                add_script_commands(f->dts, monotonic_us());
                packetizer.add(*f, monotonic_us(), out);
            }
            packetizer.flush(out);
            publish();
        } catch (const asfmux::PackagerError& e) {
            // Nothing clear goes out: the object the packager failed on was not written, and every
            // output gets the end of the stream now.
            spdlog::error("drm: {}; the protected broadcast stops here (every output ends; no clear payload was sent)",
                          e.what());
            mux_failed = true;
            failed = true;
            mux_q.close();
        } catch (const std::exception& e) {
            spdlog::error("mux: {}; the broadcast ends here", e.what());
            mux_failed = true;
            failed = true;
            mux_q.close();  // encoders waiting to hand over frames return
        }
        if (engine) {
            engine->stop();  // publishes the end once, if the playlist has not
            playlist_done = true;
        } else {
            bus.publish_end();
        }
    });

    JobSource pipeline(preset.source, source, raw, callbacks);
    try {
        pipeline.start();
        spdlog::info("capturing: {}", pipeline.description());
    } catch (...) {
        video_q.close();
        audio_q.close();
        copy_q.close();
        acopy_q.close();
        for (auto& t : threads) t.join();
        mux_thread.join();
        throw;
    }

    // systemd (Type=notify): ready once capturing and serving; the watchdog is fed only while the
    // media clock advances, so a stuck job gets restarted. Without NOTIFY_SOCKET these do nothing.
    sd_notify(0, "READY=1");
    std::uint64_t watchdog_us = 0;
    const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;
    std::int64_t last_media = -1;
    auto last_progress = SteadyClock::now();
    StatusLine status(options.status_line);
    // The media clock goes to its file from here (never from the mux thread): it is set by the
    // first captured media and only moves earlier, by the least delayed buffer seen.
    Micros media_clock_written = std::numeric_limits<Micros>::max();
    bool media_clock_ok = !options.media_clock_file.empty();
    if (media_clock_ok && source.type == capture::SourceType::file)
        spdlog::warn("--media-clock-file: a file source has no capture clock; nothing is written");
    auto update_media_clock = [&] {
        if (!media_clock_ok) return;
        const Micros origin = capture_origin.load();
        if (origin == std::numeric_limits<Micros>::max() || origin == media_clock_written) return;
        media_clock_ok = write_media_clock(options.media_clock_file, origin, mux_config.preroll_ms);
        media_clock_written = origin;
    };
    std::string source_line = "live";
    std::string last_source_event;
    auto read_source = [&] {
        if (auto ss = pipeline.status()) {
            source_line = describe_source(*ss);
            stats.source_losses = ss->losses;
            stats.filler_frames = ss->filler_frames;
            stats.drift_ppm = ss->drift.correction_ppm;
            last_source_event = ss->last_event;
        }
    };
    // What runs: the preset at start, then each reload's live keys (main thread only).
    presets::Preset running = preset;
    // ---- The control API's view and actions (main thread only) ----
    const auto started_wall = std::chrono::system_clock::now();
    const auto started_steady = SteadyClock::now();
    std::size_t outputs_stopped_by_operator = 0;
    std::vector<std::pair<int, std::string>> stream_names;  // (stream, kind) for the renditions
    for (const auto& v : streams.video) stream_names.emplace_back(v.stream, "video");
    for (const auto& a : streams.audio) stream_names.emplace_back(a.stream, "audio");
    for (const auto& c : streams.commands) stream_names.emplace_back(c.stream, "command");
    auto stream_label = [&](int stream) -> std::string {
        for (const auto& v : streams.video) if (v.stream == stream) return v.stream_name;
        for (const auto& a : streams.audio) if (a.stream == stream) return a.stream_name;
        for (const auto& c : streams.commands) if (c.stream == stream) return c.stream_name;
        return "";
    };
    // Bit rates over the last snapshot interval (about a second).
    struct RateState {
        SteadyClock::time_point at{};
        std::uint64_t bytes = 0;
        std::array<std::uint64_t, 128> stream_bytes{};
        double bitrate = 0;
        std::array<double, 128> stream_bitrate{};
    } rate;
    auto build_snapshot = [&] {
        control::StatusSnapshot snap;
        const auto now = SteadyClock::now();
        const double secs = std::chrono::duration<double>(now - rate.at).count();
        if (rate.at != SteadyClock::time_point{} && secs > 0.2) {
            rate.bitrate = static_cast<double>(stats.bytes.load() - rate.bytes) * 8 / secs;
            for (const auto& [n, kind] : stream_names) {
                const auto i = static_cast<std::size_t>(n);
                rate.stream_bitrate[i] = static_cast<double>(stats.stream_bytes[i].load() - rate.stream_bytes[i]) * 8 / secs;
            }
        }
        if (rate.at == SteadyClock::time_point{} || secs > 0.2) {
            rate.at = now;
            rate.bytes = stats.bytes.load();
            for (const auto& [n, kind] : stream_names) rate.stream_bytes[static_cast<std::size_t>(n)] = stats.stream_bytes[static_cast<std::size_t>(n)].load();
        }
        snap.version = ASFCAST_VERSION;
        snap.preset = preset.name;
        snap.started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(started_wall.time_since_epoch()).count();
        snap.uptime_s = std::chrono::duration<double>(now - started_steady).count();
        snap.media_time_s = static_cast<double>(stats.media_time_us.load()) / 1e6;
        if (auto ss = pipeline.status()) {
            snap.source.state = capture::to_string(ss->state);
            snap.source.description = describe_source(*ss);
            snap.source.losses = ss->losses;
            snap.source.filler_frames = ss->filler_frames;
        } else {
            snap.source.state = capture_ended ? "ended" : "file";
            snap.source.description = pipeline.description();
        }
        snap.video_frames_captured = stats.video_frames_captured.load();
        snap.video_frames_dropped = stats.video_frames_dropped.load();
        snap.audio_blocks_captured = stats.audio_blocks_captured.load();
        snap.audio_blocks_dropped = stats.audio_blocks_dropped.load();
        snap.packets = stats.packets.load();
        snap.bytes = stats.bytes.load();
        snap.bitrate_bps = rate.bitrate;
        for (const auto& [n, kind] : stream_names) {
            const auto i = static_cast<std::size_t>(n);
            snap.renditions.push_back({n, kind, stream_label(n), stats.stream_frames[i].load(), stats.stream_bytes[i].load(),
                                       rate.stream_bitrate[i]});
        }
        if (archive) {
            const std::string error = archive->error();
            snap.outputs.push_back({"archive", "archive", error.empty() ? "running" : "failed", preset.outputs.archive, error,
                                    false, false});
        }
        if (preset.outputs.pull.enabled) {
            const std::string host = pull_config.bind_address.find(':') != std::string::npos
                                         ? "[" + pull_config.bind_address + "]" : pull_config.bind_address;
            snap.outputs.push_back({"pull", "pull", pull_server ? "running" : "stopped",
                                    fmt::format("mmsh://{}:{}/", host, pull_config.port), "", !pull_server, pull_server != nullptr});
            pull::PullStats ps = pull_server ? pull_server->stats() : pull::PullStats{};
            snap.pull.running = pull_server != nullptr;
            snap.pull.connections_total = pull_totals_before.connections_accepted + ps.connections_accepted;
            snap.pull.plays_total = pull_totals_before.plays + ps.plays;
            snap.pull.refused_total = pull_totals_before.connections_refused + ps.connections_refused;
            snap.pull.auth_failures_total = pull_totals_before.auth_failures + ps.auth_failures;
            snap.pull.bytes_sent_total = pull_totals_before.bytes_sent + ps.bytes_sent;
            snap.pull.clients_now = ps.clients_now;
            snap.pull.streaming_now = ps.streaming_now;
            if (pull_server)
                for (auto& c : pull_server->clients(200))
                    snap.pull.clients.push_back({std::move(c.address), std::move(c.user_agent), c.bytes_sent,
                                                 c.connected_unix_ms, c.streaming});
        }
        if (preset.outputs.msbd.enabled)
            snap.outputs.push_back({"msbd", "msbd", msbd_server ? "running" : "stopped",
                                    fmt::format("msbd://{}:{}/", msbd_config.address, msbd_config.port), "", !msbd_server,
                                    msbd_server != nullptr});
        if (multicast_output) {
            const bool mfailed = multicast_output->stats().failed;
            snap.outputs.push_back({"multicast", "multicast", mfailed ? "failed" : "running", multicast_output->destination(),
                                    mfailed ? "sending failed; see the log" : "", false, false});
        }
        for (const auto& e : push_entries) {
            if (e.removed) continue;
            control::PushTargetStatus t;
            t.id = "push:" + std::to_string(e.index);
            t.from_preset = e.from_preset;
            push::TargetStatus st = e.last;
            if (e.output) {
                const auto list = e.output->status();
                if (!list.empty()) st = list.front();
            }
            t.url = st.url;
            t.state = e.output ? push::to_string(st.state) : "stopped";
            t.last_error = st.last_error;
            t.packets_sent = st.packets_sent;
            t.packets_skipped = st.packets_skipped;
            t.bytes_sent = st.bytes_sent;
            t.reconnects = st.reconnects;
            snap.outputs.push_back({t.id, "push", t.state, e.output ? st.describe() : t.url, t.last_error, !e.output,
                                    e.output != nullptr});
            if (snap.outputs.back().detail != t.url) snap.outputs.back().detail = t.url + " (" + snap.outputs.back().detail + ")";
            snap.push_targets.push_back(std::move(t));
        }
        snap.playlist.enabled = engine != nullptr;
        if (engine) {
            for (const auto& e : running.playlist.entries) snap.playlist.entries.push_back(e.name);
            std::lock_guard lock(playlist_remote.m);
            snap.playlist.on_air = playlist_remote.on_air;
            snap.playlist.entries_started = playlist_remote.started;
            snap.playlist.entries_refused = playlist_remote.refused;
        }
        snap.script.enabled = job_script != nullptr;
        if (job_script) {
            snap.script.commands_sent = job_script->commands_sent();
            snap.script.markers = job_script->markers();
        }
        return snap;
    };
    // ---- Reload (issue 14, point 5): SIGHUP and the control API's reload action, main thread only ----
    // `running` is what runs: the preset at start, then each reload's live keys. What cannot change
    // live stays as it is and is named (presets/keys.cpp says which keys reload).
    auto reload_now = [&](const presets::Preset& next) -> ReloadResult {
        ReloadResult result;
        const auto changes = presets::diff_presets(running, next);
        bool push_changed = false, pull_changed = false, playlist_changed = false;
        for (const auto& c : changes) {
            if (c.reload == presets::Reload::restart) continue;
            if (c.key.starts_with("outputs.push.")) push_changed = true;
            if (c.key.starts_with("outputs.pull.")) pull_changed = true;
            if (c.key.starts_with("playlist.")) playlist_changed = true;
        }
        // A playlist changes live; starting one in a job without, or ending it, needs a restart.
        const bool playlist_live = engine && next.playlist.enabled();
        // Everything that can fail comes before anything changes.
        std::vector<push::PushTarget> new_targets;
        try {
            if (push_changed) new_targets = push_targets(next);  // password files are read here
            if (pull_changed) {
                if (!running.outputs.pull.enabled)
                    throw std::runtime_error("outputs.pull: the pull output is off in the running job; its settings "
                                             "need a restart");
                const presets::PullPreset& pp = next.outputs.pull;
                std::vector<pull::PullUser> users;
                for (const auto& u : pp.users) users.push_back({u.name, u.password});
                // Checks the schemes and CIDR blocks, then swaps them in for new requests (a stopped
                // server takes them from pull_config when it starts again).
                if (pull_server)
                    pull_server->update_access(static_cast<std::size_t>(pp.max_clients),
                                               static_cast<std::size_t>(pp.max_clients_per_ip), pp.auth, pp.realm,
                                               users, pp.allow, pp.deny);
                pull_config.max_clients = static_cast<std::size_t>(pp.max_clients);
                pull_config.max_clients_per_ip = static_cast<std::size_t>(pp.max_clients_per_ip);
                pull_config.auth = pp.auth;
                pull_config.realm = pp.realm;
                pull_config.users = users;
                pull_config.allow = pp.allow;
                pull_config.deny = pp.deny;
                running.outputs.pull.max_clients = pp.max_clients;
                running.outputs.pull.max_clients_per_ip = pp.max_clients_per_ip;
                running.outputs.pull.auth = pp.auth;
                running.outputs.pull.realm = pp.realm;
                running.outputs.pull.users = pp.users;
                running.outputs.pull.allow = pp.allow;
                running.outputs.pull.deny = pp.deny;
            }
        } catch (const std::exception& e) {
            result.error = e.what();
            return result;
        }
        if (push_changed) {
            // The preset's targets only: targets the control API added stay.
            const auto same = [](const push::PushTarget& a, const push::PushTarget& b) {
                return a.url == b.url && a.user == b.user && a.password == b.password &&
                       a.template_url == b.template_url && a.auto_remove == b.auto_remove;
            };  // a changed password is a new target
            for (auto& e : push_entries) {
                if (!e.from_preset || e.removed) continue;
                if (std::any_of(new_targets.begin(), new_targets.end(), [&](const auto& t) { return same(e.target, t); }))
                    continue;
                if (e.output) ++outputs_stopped_by_operator;
                stop_push(e);
                e.removed = true;
                spdlog::info("reload: push to {} removed", e.target.url);
            }
            for (const auto& t : new_targets) {
                if (std::any_of(push_entries.begin(), push_entries.end(), [&](const PushEntry& e) {
                        return e.from_preset && !e.removed && same(e.target, t);
                    }))
                    continue;
                PushEntry e;
                e.index = static_cast<int>(push_entries.size());
                e.target = t;
                e.from_preset = true;
                try {
                    start_push(e);
                } catch (const std::exception& err) {
                    spdlog::error("reload: {}", err.what());
                    continue;
                }
                spdlog::info("reload: pushing to {}", t.url);
                push_entries.push_back(std::move(e));
            }
            running.outputs.push.targets = next.outputs.push.targets;
        }
        if (playlist_changed && playlist_live) {
            {
                std::lock_guard lock(playlist_remote.m);
                playlist_remote.replace.emplace(playlist_entries(next.playlist), next.playlist.loop);
            }
            running.playlist = next.playlist;
        }
        for (const auto& c : changes) {
            const bool live = c.reload == presets::Reload::live && (!c.key.starts_with("playlist.") || playlist_live);
            (live ? result.live : result.restart).push_back(c.key);
        }
        result.applied = true;
        return result;
    };
    // Reloads asked from another thread (SIGHUP) wait here for the main loop.
    struct ReloadRequests {
        std::mutex m;
        std::deque<std::pair<presets::Preset, std::promise<ReloadResult>>> queue;
        bool closed = false;
    } reload_requests;
    auto serve_reloads = [&] {
        std::deque<std::pair<presets::Preset, std::promise<ReloadResult>>> todo;
        {
            std::lock_guard lock(reload_requests.m);
            todo.swap(reload_requests.queue);
        }
        for (auto& [next, answer] : todo) answer.set_value(reload_now(next));
    };
    auto find_push = [&](const std::string& id) -> PushEntry* {
        for (auto& e : push_entries)
            if (!e.removed && "push:" + std::to_string(e.index) == id) return &e;
        return nullptr;
    };
    using Outcome = control::ActionResult::Outcome;
    auto perform = [&](const control::Action& action) -> control::ActionResult {
        if (const auto* a = std::get_if<control::StopOutput>(&action)) {
            if (a->output == "pull" && preset.outputs.pull.enabled) {
                if (!pull_server) return {Outcome::not_possible, "the pull server is already stopped", ""};
                const pull::PullStats ps = pull_server->stats();
                pull_server->stop();
                pull_totals_before.connections_accepted += ps.connections_accepted;
                pull_totals_before.plays += ps.plays;
                pull_totals_before.connections_refused += ps.connections_refused;
                pull_totals_before.auth_failures += ps.auth_failures;
                pull_totals_before.bytes_sent += ps.bytes_sent;
                pull_server.reset();
                ++outputs_stopped_by_operator;
                return {Outcome::done, "pull server stopped; its clients were disconnected", ""};
            }
            if (a->output == "msbd" && preset.outputs.msbd.enabled) {
                if (!msbd_server) return {Outcome::not_possible, "the MSBD server is already stopped", ""};
                msbd_server->stop();
                msbd_server.reset();
                ++outputs_stopped_by_operator;
                return {Outcome::done, "MSBD server stopped", ""};
            }
            if (auto* e = find_push(a->output)) {
                if (!e->output) return {Outcome::not_possible, a->output + " is already stopped", ""};
                stop_push(*e);
                ++outputs_stopped_by_operator;
                return {Outcome::done, a->output + " stopped", ""};
            }
            if (a->output == "archive" || a->output == "multicast")
                return {Outcome::not_possible, a->output + " cannot be stopped and started while the job runs", ""};
            return {Outcome::unknown_target, "no output " + a->output + " in this job", ""};
        }
        if (const auto* a = std::get_if<control::StartOutput>(&action)) {
            if (a->output == "pull" && preset.outputs.pull.enabled) {
                if (pull_server) return {Outcome::not_possible, "the pull server is already running", ""};
                start_pull();
                serve_announcements(*pull_server, preset, multicast_output);
                if (outputs_stopped_by_operator) --outputs_stopped_by_operator;
                return {Outcome::done, "pull server started on port " + std::to_string(pull_server->port()), ""};
            }
            if (a->output == "msbd" && preset.outputs.msbd.enabled) {
                if (msbd_server) return {Outcome::not_possible, "the MSBD server is already running", ""};
                start_msbd();
                if (outputs_stopped_by_operator) --outputs_stopped_by_operator;
                return {Outcome::done, "MSBD server started", ""};
            }
            if (auto* e = find_push(a->output)) {
                if (e->output) return {Outcome::not_possible, a->output + " is already running", ""};
                start_push(*e);
                if (outputs_stopped_by_operator) --outputs_stopped_by_operator;
                return {Outcome::done, a->output + " started", ""};
            }
            if (a->output == "archive" || a->output == "multicast")
                return {Outcome::not_possible, a->output + " cannot be stopped and started while the job runs", ""};
            return {Outcome::unknown_target, "no output " + a->output + " in this job", ""};
        }
        if (const auto* a = std::get_if<control::AddPushTarget>(&action)) {
            std::size_t live = 0;
            for (const auto& e : push_entries) live += !e.removed;
            if (live >= 64) return {Outcome::not_possible, "this job already has 64 push targets", ""};
            if (preset.asf.packet_size > presets::kPushMaxPacketSize)
                return {Outcome::not_possible,
                        fmt::format("asf.packet_size {} is larger than push carries ({})", preset.asf.packet_size,
                                    presets::kPushMaxPacketSize), ""};
            PushEntry e;
            e.index = static_cast<int>(push_entries.size());
            e.target.url = a->url;
            e.target.user = a->user;
            e.target.password = a->password;
            try {
                start_push(e);
            } catch (const std::invalid_argument& err) {
                return {Outcome::invalid, err.what(), ""};
            }
            const std::string id = "push:" + std::to_string(e.index);
            push_entries.push_back(std::move(e));
            return {Outcome::done, "pushing to " + push_entries.back().output->status().front().url, id};
        }
        if (const auto* a = std::get_if<control::RemovePushTarget>(&action)) {
            auto* e = find_push(a->id);
            if (!e) return {Outcome::unknown_target, "no push target " + a->id + " in this job", ""};
            if (e->output) ++outputs_stopped_by_operator;
            stop_push(*e);
            e->removed = true;
            return {Outcome::done, a->id + " removed", ""};
        }
        if (std::holds_alternative<control::ReloadPreset>(action)) {
            if (!options.load_preset) return {Outcome::not_possible, "this job cannot read its preset again", ""};
            ReloadResult r;
            try {
                spdlog::info("reload: reading {} again (control API)", preset.origin);
                r = reload_now(options.load_preset());
            } catch (const std::exception& e) {
                r.error = e.what();
            }
            log_reload(r);
            if (!r.applied) return {Outcome::invalid, "reload refused: " + r.error + "; nothing changed", ""};
            const auto list = [](const std::vector<std::string>& keys) {
                return keys.empty() ? std::string("none") : fmt::format("{}", fmt::join(keys, ", "));
            };
            return {Outcome::done, "reloaded; applied: " + list(r.live) + "; needs a restart: " + list(r.restart), ""};
        }
        if (const auto* a = std::get_if<control::SwitchPlaylistEntry>(&action)) {
            if (!engine) return {Outcome::not_possible, "this job has no playlist (a preset's playlist: section)", ""};
            const auto& entries = running.playlist.entries;
            std::optional<std::size_t> index;
            if (std::all_of(a->entry.begin(), a->entry.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                a->entry.size() <= 6) {
                const std::size_t n = std::stoul(a->entry);
                if (n >= 1 && n <= entries.size()) index = n - 1;
            } else {
                for (std::size_t i = 0; i < entries.size() && !index; ++i)
                    if (entries[i].name == a->entry) index = i;
            }
            if (!index)
                return {Outcome::unknown_target,
                        fmt::format("no playlist entry '{}': give a number 1..{} or an entry's name", a->entry.substr(0, 64),
                                    entries.size()),
                        ""};
            if (playlist_done) return {Outcome::not_possible, "the playlist has ended", ""};
            {
                std::lock_guard lock(playlist_remote.m);
                playlist_remote.request = *index;
            }
            return {Outcome::done, fmt::format("entry {} '{}' goes on air", *index + 1, entries[*index].name), ""};
        }
        std::string line;
        if (const auto* a = std::get_if<control::SendScriptCommand>(&action)) {
            if (a->type.empty() || !std::all_of(a->type.begin(), a->type.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                }))
                return {Outcome::invalid, "type must be letters, digits and '_' (CAPTION, URL, TEXT, EVENT, FILENAME, ...)", ""};
            line = a->type + (a->parameter.empty() ? "" : " " + a->parameter);
        } else if (const auto* m = std::get_if<control::AddMarker>(&action)) {
            line = "MARKER " + m->name;
        }
        if (!job_script)
            return {Outcome::not_possible,
                    "script commands are off in this job: start it with --commands or a script_commands: section", ""};
        const auto parsed = script::parse_command_line(line);
        if (!parsed.command) return {Outcome::invalid, parsed.error.empty() ? "not a command" : parsed.error, ""};
        const bool marker = parsed.command->is_marker();
        job_script->submit(*parsed.command);
        return {Outcome::done, marker ? "marker recorded" : parsed.command->type + " command queued", ""};
    };

    // With a playlist the job runs until the playlist ends (the live source ending is only the end
    // of live entries); without, until the source ends.
    const auto ended = [&] { return engine ? playlist_done.load() : capture_ended.load(); };
    if (options.reloader)
        options.reloader->connect([&reload_requests](const presets::Preset& next) {
            std::future<ReloadResult> answer;
            {
                std::lock_guard lock(reload_requests.m);
                if (reload_requests.closed) return ReloadResult{false, "the job is ending", {}, {}};
                reload_requests.queue.emplace_back(next, std::promise<ReloadResult>{});
                answer = reload_requests.queue.back().second.get_future();
            }
            if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
                return ReloadResult{false, "the job's main loop did not take the reload within 30 s", {}, {}};
            return answer.get();
        });
    for (int tick = 0; !stop && !ended() && !duration_reached && !failed; ++tick) {
        // Outputs that fail (a disk that is full, ...) close their feeds; the broadcast goes on
        // while any output can take it. Outputs the operator stopped can be started again.
        if (outputs_attached > 0 && bus.open_outputs() == 0 && outputs_stopped_by_operator == 0) {
            spdlog::error("every output has stopped; nothing can go on");
            failed = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        update_media_clock();
        serve_reloads();
        if (job_control) {
            bool acted = false;
            try {
                acted = job_control->run_pending(perform);
            } catch (const std::exception& e) {
                spdlog::error("control: {}", e.what());
            }
            if (acted || tick % 10 == 0) job_control->publish(build_snapshot());
        }
        if (tick % 10 == 0) {
            read_source();
            if (pull_server) stats.pull_clients = pull_server->stats().streaming_now;
            else stats.pull_clients = 0;
            {
                std::uint64_t streaming = 0;
                for (const auto& st : push_statuses()) streaming += st.state == push::TargetState::streaming;
                stats.push_streaming = streaming;
            }
            const std::int64_t media = stats.media_time_us.load();
            if (media != last_media) last_progress = SteadyClock::now();
            last_media = media;
            if (watchdog && SteadyClock::now() - last_progress < std::chrono::microseconds(watchdog_us / 2))
                sd_notify(0, "WATCHDOG=1");
            sd_notifyf(0, "STATUS=%s, source %s, video %llu frames (%llu dropped), audio %llu frames, %llu packets, %llu pull clients, %llu/%zu push targets streaming",
                       format_clock(media).c_str(), source_line.c_str(), static_cast<unsigned long long>(stats.video_frames_encoded.load()),
                       static_cast<unsigned long long>(stats.video_frames_dropped.load()),
                       static_cast<unsigned long long>(stats.audio_frames_encoded.load()),
                       static_cast<unsigned long long>(stats.packets.load()),
                       static_cast<unsigned long long>(stats.pull_clients.load()),
                       static_cast<unsigned long long>(stats.push_streaming.load()),
                       static_cast<std::size_t>(std::count_if(push_entries.begin(), push_entries.end(),
                                                              [](const PushEntry& e) { return !e.removed; })));
        }
        status.update(stats, source_line);
    }
    // No more reloads: those asked meanwhile are answered before the connection goes.
    {
        std::lock_guard lock(reload_requests.m);
        reload_requests.closed = true;
    }
    serve_reloads();
    if (options.reloader) options.reloader->disconnect();
    // The control API answers no more actions; its server closes before the outputs end.
    if (job_control) job_control->close();
    if (control_server) control_server->stop();
    if (preview && preview->jpegs_encoded())
        spdlog::info("control: {} preview pictures kept ({:.2f} ms each to scale), {} encoded to JPEG ({:.2f} ms each)",
                     preview->pictures_kept(),
                     static_cast<double>(preview->scale_us_total()) / 1000.0 / static_cast<double>(std::max<std::uint64_t>(1, preview->pictures_kept())),
                     preview->jpegs_encoded(),
                     static_cast<double>(preview->encode_us_total()) / 1000.0 / static_cast<double>(preview->jpegs_encoded()));
    sd_notify(0, "STOPPING=1");
    playlist_stop = true;
    pipeline.stop();  // EOS through the graph; every captured frame reaches the encoders
    video_q.close();
    audio_q.close();
    for (auto& t : threads) t.join();
    mux_thread.join();
    read_source();
    status.update(stats, source_line);
    status.finish();
    if (auto ss = pipeline.status(); ss && (ss->losses || ss->drift.windows))
        spdlog::info("source: {}; {} held/slate frames, {:.1f} s of silence, {} late frames dropped, {:.1f} s of audio "
                     "ahead of real time dropped; audio drift correction {:.0f} ppm, last offset {:.1f} ms{}",
                     source_line, ss->filler_frames, static_cast<double>(ss->silence_frames) / raw.sample_rate,
                     ss->late_frames, static_cast<double>(ss->ahead_frames) / raw.sample_rate, ss->drift.correction_ppm, ss->drift.offset_us / 1000.0,
                     last_source_event.empty() ? "" : "; last event: " + last_source_event);
    // The mux thread has published the end: each output finishes on its own thread; the job
    // waits for them here, never on the mux thread.
    if (archive) archive->wait_finished(std::chrono::seconds(30));
    {
        // Every target has 5 s in all to send what is queued and $E.
        const auto push_deadline = SteadyClock::now() + std::chrono::seconds(5);
        bool push_confirmed = true;
        for (auto& e : push_entries) {
            if (!e.output) continue;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(push_deadline - SteadyClock::now());
            if (!e.output->wait_finished(std::max(left, std::chrono::milliseconds(0)))) push_confirmed = false;
        }
        if (!push_confirmed) spdlog::warn("push: end of stream not confirmed by every target within 5 s; closing");
        for (auto& e : push_entries) {
            if (!e.output) continue;
            for (const auto& st : e.output->status())
                spdlog::info("push {}: {}; {} packets sent, {} skipped, {} reconnects", st.url, st.describe(),
                             st.packets_sent, st.packets_skipped, st.reconnects);
            e.output->stop();
        }
    }
    if (multicast_output) {
        if (!multicast_output->wait_finished(std::chrono::seconds(5)))
            spdlog::warn("multicast: the end of the stream was not sent within 5 s; closing");
        const multicast::MulticastStats& ms = multicast_output->stats();
        spdlog::info("multicast {}: {} datagrams ({} packets, {} parity, {} beacons), {:.1f} MB, {} skipped, {} not sent",
                     multicast_output->destination(), ms.datagrams.load(), ms.data_packets.load(), ms.parity_packets.load(),
                     ms.beacons.load(), static_cast<double>(ms.bytes.load()) / 1e6, ms.packets_skipped.load(),
                     ms.send_errors.load());
        multicast_output->stop();
        if (ms.failed) failed = true;
    }
    if (msbd_server) {
        // Clients receive what is left, IND_EOS and the empty IND_STREAMINFO before the sockets close.
        if (!msbd_server->wait_ended(std::chrono::seconds(3)))
            spdlog::warn("msbd: not every client received IND_EOS within 3 s; closing");
        const msbd::MsbdStats ms = msbd_server->stats();
        msbd_server->stop();
        spdlog::info("msbd: {} connections, {} refused, {} REQ_CONNECT refused, {} malformed, {} protocol errors, "
                     "{} ping timeouts, {} lag skips, {} disconnected for lag, {} IND_EOS sent, {} packets, {} MB sent",
                     ms.connections_accepted, ms.connections_refused, ms.connects_rejected, ms.malformed,
                     ms.protocol_errors, ms.ping_timeouts, ms.lag_skips, ms.lag_disconnects, ms.eos_sent, ms.packets_sent,
                     ms.bytes_sent / 1000000);
    }
    if (pull_server) {
        // Give streaming clients a moment to receive the rest and $E before the sockets close.
        for (int i = 0; i < 30 && pull_server->stats().streaming_now > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const pull::PullStats ps = pull_server->stats();
        pull_server->stop();
        spdlog::info("pull: {} connections, {} plays, {} refused, {} auth failures, {} lag skips, {} disconnected for "
                     "lagging or not reading, {} MB sent",
                     ps.connections_accepted, ps.plays, ps.connections_refused, ps.auth_failures, ps.lag_skips,
                     ps.lag_disconnects, ps.bytes_sent / 1000000);
        if (ps.latency_samples)
            spdlog::info("pull: capture to socket latency at the live edge: p50 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms "
                         "({} packet sends)",
                         ps.latency_p50_ms, ps.latency_p99_ms, ps.latency_max_ms, ps.latency_samples);
    }

    if (archive) archive->close();
    if (archive && !archive->error().empty()) failed = true;
    {
        std::lock_guard lk(error_mutex);
        if (!capture_error.empty()) spdlog::error("capture: {}", capture_error);
    }
    if (job_script)
        spdlog::info("script commands: {} sent, {} markers", job_script->commands_sent(), job_script->markers());
    if (engine) {
        const playlist::EngineStats& ps = engine->stats();
        spdlog::info("playlist: {} entries played, {} refused, {} cut short; {} packets on air, {} live packets not on air",
                     ps.entries_started, ps.entries_refused, ps.entries_cut, ps.packets, ps.live_packets_dropped);
        for (const auto& e : ps.errors) spdlog::error("playlist: {}", e);
        if (!ps.errors.empty()) failed = true;  // the broadcast went on, but not as planned: exit 1
    }
    if (archive && archive->files().size() > 1)
        spdlog::info("archive: {} files: {}", archive->files().size(), fmt::join(archive->files(), ", "));
    spdlog::info("done: {} video frames ({} dropped), {} audio frames, {} packets, {:.1f} s",
                 stats.video_frames_encoded.load(), stats.video_frames_dropped.load(),
                 stats.audio_frames_encoded.load(), stats.packets.load(), stats.media_time_us.load() / 1e6);
    return failed ? 1 : 0;
}

}  // namespace asfcast::app
