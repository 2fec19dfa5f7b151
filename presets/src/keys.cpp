// The preset key table: every key declared once (issue 14, point 5). parse.cpp walks YAML against
// it; the README tables, the bounds test and reload's diff read it too.
#include "asfcast/presets/keys.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <type_traits>

#include "key_choices.hpp"

namespace asfcast::presets {
namespace {

using namespace detail;

template <class M>
struct MemberTraits;
template <class C, class T>
struct MemberTraits<T C::*> {
    using Owner = C;
    using Type = T;
};

std::string show_number(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void assign(int& f, const KeyValue& v) { f = static_cast<int>(v.integer); }
void assign(std::uint32_t& f, const KeyValue& v) { f = static_cast<std::uint32_t>(v.integer); }
void assign(double& f, const KeyValue& v) { f = v.number; }
void assign(bool& f, const KeyValue& v) { f = v.boolean; }
void assign(std::string& f, const KeyValue& v) { f = v.text; }
void assign(std::optional<int>& f, const KeyValue& v) { f = static_cast<int>(v.integer); }
void assign(std::optional<std::string>& f, const KeyValue& v) { f = v.text; }

std::string show(int f) { return std::to_string(f); }
std::string show(std::uint32_t f) { return std::to_string(f); }
std::string show(double f) { return show_number(f); }
std::string show(bool f) { return f ? "true" : "false"; }
std::string show(const std::string& f) { return f; }
template <class T>
std::string show(const std::optional<T>& f) {
    return f ? show(*f) : std::string("(unset)");
}

template <auto Member>
void set_member(void* owner, const KeyValue& value) {
    using Owner = typename MemberTraits<decltype(Member)>::Owner;
    assign(static_cast<Owner*>(owner)->*Member, value);
}
template <auto Member>
std::string show_member(const void* owner) {
    using Owner = typename MemberTraits<decltype(Member)>::Owner;
    return show(static_cast<const Owner*>(owner)->*Member);
}
template <auto Member>
constexpr FieldAccess field() {
    return {&set_member<Member>, &show_member<Member>};
}

// Generated once from the hand-written README tables, now the source of them.
const KeySpec kKeys[] = {
    {.path = "name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .default_text = "the file stem (`event` for `/etc/asfcast/event.yaml`), or the built-in name", .reload = Reload::restart,
     .help = "1..64 bytes"},
    {.path = "description", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&Preset::description>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..1024 bytes; not inherited from `base`"},
    {.path = "base", .kind = KeyKind::custom, .type_text = "string", .default_text = "none", .reload = Reload::restart,
     .help = "name of a built-in preset (see below)"},
    {.path = "source", .kind = KeyKind::section, .type_text = "mapping", .default_text = "see `source`", .reload = Reload::restart,
     .help = ""},
    {.path = "video", .kind = KeyKind::section, .type_text = "mapping, or `none`/null", .default_text = "none", .reload = Reload::restart,
     .help = "see `video`"},
    {.path = "audio", .kind = KeyKind::section, .type_text = "mapping, or `none`/null", .default_text = "none", .reload = Reload::restart,
     .help = "see `audio`"},
    {.path = "asf", .kind = KeyKind::section, .type_text = "mapping", .default_text = "see `asf`", .reload = Reload::restart,
     .help = ""},
    {.path = "metadata", .kind = KeyKind::section, .type_text = "mapping", .default_text = "see `metadata`", .reload = Reload::restart,
     .help = ""},
    {.path = "outputs", .kind = KeyKind::section, .type_text = "mapping", .default_text = "see `outputs`", .reload = Reload::restart,
     .help = ""},
    {.path = "script_commands", .kind = KeyKind::section, .type_text = "mapping, or `on`/`off`", .default_text = "off", .reload = Reload::restart,
     .help = "a script command stream (captions, URLs, markers), see `script_commands`"},
    {.path = "drm", .kind = KeyKind::section, .type_text = "mapping", .default_text = "off", .reload = Reload::restart,
     .help = "DRM packaging of every payload, see `drm`"},
    {.path = "playlist", .kind = KeyKind::section, .type_text = "list of entries, or mapping", .default_text = "none: the live encode only", .reload = Reload::restart,
     .help = "what goes on air, in order: the live encode and pre-encoded files, see `playlist`"},
    {.path = "control", .kind = KeyKind::section, .type_text = "mapping, or `on`/`off`", .default_text = "off", .reload = Reload::restart,
     .help = "the control API, `/metrics` and the status page, see `control`"},
    {.path = "source.type", .kind = KeyKind::choice, .type_text = "string", .choices = kSourceTypes, .field = field<&SourcePreset::type>(), .default_text = "`test`", .reload = Reload::restart,
     .help = "`test` (videotestsrc + audiotestsrc), `file`, `device` (V4L2 camera / capture card + ALSA sound card; see `asfcast devices`), `rtsp` (an IP camera), `srt` (an encoder such as OBS sending MPEG-TS over SRT), `uri` (anything else GStreamer opens); see \"Network sources\" below"},
    {.path = "source.path", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::path>(), .default_text = "empty", .reload = Reload::restart,
     .help = "file path or URI, 0..4096 bytes; **required** when `type: file`"},
    {.path = "source.pattern", .kind = KeyKind::choice, .type_text = "string", .choices = kPatterns, .field = field<&SourcePreset::pattern>(), .default_text = "`smpte`", .reload = Reload::restart,
     .help = "a videotestsrc pattern: smpte, snow, black, white, red, green, blue, checkers-1, checkers-2, checkers-4, checkers-8, circular, blink, smpte75, zone-plate, gamut, chroma-zone-plate, solid-color, ball, smpte100, bar, pinwheel, spokes, gradient, colors, smpte-rp-219"},
    {.path = "source.tone_hz", .kind = KeyKind::number, .type_text = "number", .min = 1, .max = 20000, .field = field<&SourcePreset::tone_hz>(), .default_text = "1000", .reload = Reload::restart,
     .help = "1..20000 (sine of the test source)"},
    {.path = "source.video_device", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::video_device>(), .default_text = "empty", .reload = Reload::restart,
     .help = "device: empty = the first V4L2 capture device; a path (`/dev/video2`); a `/dev/v4l/by-id/...` path or link name (stable across reboots); a case-insensitive part of the device name (must match one device); `none` = no video from a device (the job goes audio-only)"},
    {.path = "source.audio_device", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::audio_device>(), .default_text = "empty", .reload = Reload::restart,
     .help = "device: empty = ALSA `default`; an ALSA name used as given (`hw:1,0`, `hw:CARD=C920,DEV=0`, `plughw:...`, `default`, `null`); a card id (`C920`); a case-insensitive part of the card or PCM name; `none` = no audio (the job goes video-only). Not both `none`"},
    {.path = "source.video_format", .kind = KeyKind::choice, .type_text = "string", .choices = kVideoFormats, .field = field<&SourcePreset::video_format>(), .default_text = "`auto`", .reload = Reload::restart,
     .help = "device: `auto`, `yuyv`, `nv12`, `i420`, `mjpeg`. `auto` takes the exact size and rate if offered, else the nearest size at or above the request (never upscaling when avoidable) and the nearest rate at or above; raw formats before MJPEG unless only MJPEG reaches the size and rate (typical of USB webcams). The choice is logged"},
    {.path = "source.deinterlace", .kind = KeyKind::choice, .type_text = "string", .choices = kDeinterlace, .field = field<&SourcePreset::deinterlace>(), .default_text = "`auto`", .reload = Reload::restart,
     .help = "device: `auto` (when the chosen mode is interlaced), `on`, `off`"},
    {.path = "source.av_offset_ms", .kind = KeyKind::integer, .type_text = "integer", .min = -5000, .max = 5000, .field = field<&SourcePreset::av_offset_ms>(), .default_text = "0", .reload = Reload::restart,
     .help = "-5000..5000: added to audio times; positive delays the audio (use it for a device whose audio arrives earlier than its video)"},
    {.path = "source.drift_correction", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&SourcePreset::drift_correction>(), .default_text = "`true`", .reload = Reload::restart,
     .help = "resample the audio so that it follows the video clock: a sound card's crystal runs a few hundred ppm off, which would move audio against video by seconds a day. Live sources only"},
    {.path = "source.on_loss", .kind = KeyKind::choice, .type_text = "string", .choices = kOnLoss, .field = field<&SourcePreset::on_loss>(), .default_text = "`auto`", .reload = Reload::restart,
     .help = "`slate`: when the source stops delivering (unplugged, driver error, no signal, file ended, or missing at start) the broadcast goes on with the slate and silence at the same format, and the source is tried again every `reattach_interval_ms`; `stop`: the job ends (a missing source at start is an error); `auto`: `slate` for `test`, `device` and network sources, `stop` for `file`. A `file` source with `slate` is opened again at each attempt: it plays again from the start whenever the file can be opened"},
    {.path = "source.loss_timeout_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 200, .max = 60000, .field = field<&SourcePreset::loss_timeout_ms>(), .default_text = "2000", .reload = Reload::restart,
     .help = "200..60000: no media for this long means the source is lost (until then the last picture is held)"},
    {.path = "source.reattach_interval_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 200, .max = 600000, .field = field<&SourcePreset::reattach_interval_ms>(), .default_text = "2000", .reload = Reload::restart,
     .help = "200..600000: how often a lost source is tried again"},
    {.path = "source.reattach_max_interval_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 3600000, .field = field<&SourcePreset::reattach_max_interval_ms>(), .default_text = "0", .reload = Reload::restart,
     .help = "0..3600000: back-off cap: each attempt that fails in a row waits twice as long as the one before, up to this. 0 = 10000 for network sources, no back-off for the others"},
    {.path = "source.slate_image", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::slate_image>(), .default_text = "empty = colour bars", .reload = Reload::restart,
     .help = "a still image file (PNG, JPEG...) shown while the source is lost, scaled to the video size with borders; checked at start"},
    {.path = "source.slate_text", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&SourcePreset::slate_text>(), .default_text = "`Signal lost - back shortly`", .reload = Reload::restart,
     .help = "0..256 bytes written over the slate; empty for none"},
    // Network sources (issue 15); their rules across keys are checked in parse.cpp (validate_network_source).
    {.path = "source.url", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::url>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`rtsp`: `rtsp://host[:port]/path` (or `rtsps://`), **required**; `srt` caller: `srt://host:port[?options]`, **required**; `uri`: any URI GStreamer opens (`http://.../live.ts`, `udp://@:5000`...), **required**. Credentials in the URL (`rtsp://user:password@...`) work and are redacted from the log, but `user` + `password_file` keeps them out of the preset"},
    {.path = "source.transport", .kind = KeyKind::choice, .type_text = "string", .choices = kRtspTransports, .field = field<&SourcePreset::transport>(), .default_text = "`auto`", .reload = Reload::restart,
     .help = "`rtsp`: `tcp` (RTP interleaved on the RTSP connection: through NAT and firewalls), `udp`, `auto` (UDP, then TCP when no UDP comes)"},
    {.path = "source.user", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&SourcePreset::user>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`rtsp`: user name (Basic or Digest, as the camera asks)"},
    {.path = "source.password", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&SourcePreset::password>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`rtsp`: the password. Never logged"},
    {.path = "source.password_file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&SourcePreset::password_file>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`rtsp`: a file whose first line is the password, read at start; refused unless private to the user running asfcast (mode 600 or stricter). Not with `password`"},
    {.path = "source.mode", .kind = KeyKind::choice, .type_text = "string", .choices = kSrtModes, .field = field<&SourcePreset::mode>(), .default_text = "`caller`", .reload = Reload::restart,
     .help = "`srt`: `listener` (asfcast waits on `address:port`; the slate is on air until a sender connects, and again after it leaves) or `caller` (asfcast connects to `url`)"},
    {.path = "source.address", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&SourcePreset::address>(), .default_text = "`0.0.0.0`", .reload = Reload::restart,
     .help = "`srt` listener: the local address to listen on"},
    {.path = "source.port", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 65535, .field = field<&SourcePreset::port>(), .default_text = "0", .reload = Reload::restart,
     .help = "`srt` listener: 1..65535, **required**"},
    {.path = "source.latency_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 10000, .field = field<&SourcePreset::latency_ms>(), .default_text = "200", .reload = Reload::restart,
     .help = "0..10000: `rtsp`: the jitter buffer; `srt`: SRT's receive latency (both ends use the larger of theirs)"},
    {.path = "source.passphrase", .kind = KeyKind::text, .type_text = "string", .max_bytes = 79, .field = field<&SourcePreset::passphrase>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`srt`: AES encryption passphrase, 10..79 characters, the sender's. Never logged"},
    {.path = "source.streamid", .kind = KeyKind::text, .type_text = "string", .max_bytes = 512, .field = field<&SourcePreset::streamid>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`srt`: the stream id the caller sends (some listeners route by it)"},
    {.path = "video.codec", .kind = KeyKind::choice, .type_text = "string", .choices = kVideoCodecs, .field = field<&VideoPreset::codec>(), .default_text = "`h264`", .reload = Reload::restart,
     .help = "`h264` (H.264, libx264), `wmv2` (Windows Media Video 8, libavcodec; for players without H.264), `copy` (a network source's H.264 carried as it is, no re-encoding: see docs/network-sources.md; the x264 keys then shape the slate shown while the source is lost, and the bit rate keys declare the source's rate)"},
    {.path = "video.fourcc", .kind = KeyKind::custom, .type_text = "string", .default_text = "by codec: `H264` or `WMV2`", .reload = Reload::restart,
     .help = "h264 and copy: H264, h264, X264, x264, AVC1, avc1; wmv2: WMV2 (BITMAPINFOHEADER biCompression)"},
    {.path = "video.width", .kind = KeyKind::even_integer, .type_text = "integer", .min = 16, .max = 4096, .field = field<&VideoPreset::width>(), .default_text = "1280", .reload = Reload::restart,
     .help = "even, 16..4096"},
    {.path = "video.height", .kind = KeyKind::even_integer, .type_text = "integer", .min = 16, .max = 4096, .field = field<&VideoPreset::height>(), .default_text = "720", .reload = Reload::restart,
     .help = "even, 16..4096"},
    {.path = "video.framerate", .kind = KeyKind::custom, .type_text = "integer, `N/D` or decimal", .default_text = "30", .reload = Reload::restart,
     .help = "1..120 frames/s. `25`, `30000/1001`, `12.5`; 23.976, 29.97, 59.94 (and 47.952, 119.88) become N×1000/1001"},
    {.path = "video.bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 32, .max = 100000, .field = field<&VideoPreset::bitrate_kbps>(), .default_text = "2000", .reload = Reload::restart,
     .help = "32..100000 (target bit rate)"},
    {.path = "video.max_bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 200000, .field = field<&VideoPreset::max_bitrate_kbps>(), .default_text = "2000", .reload = Reload::restart,
     .help = "0..200000; 0 = no VBV, otherwise at least `bitrate_kbps`"},
    {.path = "video.vbv_buffer_kbit", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 200000, .field = field<&VideoPreset::vbv_buffer_kbit>(), .default_text = "2000", .reload = Reload::restart,
     .help = "0..200000; at least 1 when `max_bitrate_kbps` is set; ignored when it is 0"},
    {.path = "video.keyframe_interval_s", .kind = KeyKind::number, .type_text = "number", .min = 0.1, .max = 30, .field = field<&VideoPreset::keyframe_interval_s>(), .default_text = "2", .reload = Reload::restart,
     .help = "0.1..30 seconds"},
    {.path = "video.profile", .kind = KeyKind::choice, .type_text = "string", .choices = kProfiles, .field = field<&VideoPreset::profile>(), .default_text = "`main`", .reload = Reload::restart,
     .help = "baseline, main, high. `baseline` requires `bframes: 0`"},
    {.path = "video.x264_preset", .kind = KeyKind::choice, .type_text = "string", .choices = kX264Presets, .field = field<&VideoPreset::x264_preset>(), .default_text = "`veryfast`", .reload = Reload::restart,
     .help = "ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo"},
    {.path = "video.tune", .kind = KeyKind::custom, .type_text = "string", .default_text = "empty", .reload = Reload::restart,
     .help = "empty, or a comma-separated list of at most one of film, animation, grain, stillimage, psnr, ssim, plus fastdecode and/or zerolatency"},
    {.path = "video.bframes", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 16, .field = field<&VideoPreset::bframes>(), .default_text = "0", .reload = Reload::restart,
     .help = "0..16 (0 keeps presentation time = decode time)"},
    {.path = "video.threads", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 64, .field = field<&VideoPreset::threads>(), .default_text = "0", .reload = Reload::restart,
     .help = "0..64; 0 = x264 decides"},
    {.path = "video.name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&VideoPreset::name>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..64 characters: the stream name in Extended Stream Properties. Empty: none, or with `renditions` `<height>p <bitrate_kbps>k` (e.g. `1080p 4500k`)"},
    {.path = "video.renditions", .kind = KeyKind::list, .type_text = "list of mappings", .default_text = "empty", .reload = Reload::restart,
     .help = "0..7 MBR alternatives of this (main) video, see [`video.renditions`](#videorenditions-and-audiorenditions-mbr)"},
    {.path = "audio.codec", .kind = KeyKind::choice, .type_text = "string", .choices = kAudioCodecs, .field = field<&AudioPreset::codec>(), .default_text = "`wma2`", .reload = Reload::restart,
     .help = "`wma2` (WMA version 2, format tag 0x0161), `mp3` (MPEG-1 layer III), `copy` (a network source's AAC carried as it is, format tag 0x00FF; only with `allow_copy: true`: ffmpeg, VLC and GStreamer play it, Windows Media servers and Windows Media Player do not; see docs/network-sources.md \"AAC copy\")"},
    {.path = "audio.allow_copy", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&AudioPreset::allow_copy>(), .default_text = "`false`", .reload = Reload::restart,
     .help = "`true` lets `codec: copy` put the source's AAC into ASF, for players that accept it (ffmpeg, VLC, GStreamer); Windows Media servers and older players do not"},
    {.path = "audio.bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 32, .max = 320, .field = field<&AudioPreset::bitrate_kbps>(), .default_text = "128", .reload = Reload::restart,
     .help = "32..320; for mp3 one of 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320"},
    {.path = "audio.sample_rate", .kind = KeyKind::integer, .type_text = "integer", .min = 22050, .max = 48000, .field = field<&AudioPreset::sample_rate>(), .default_text = "44100", .reload = Reload::restart,
     .help = "wma2: 22050, 32000, 44100, 48000; mp3: 32000, 44100, 48000; copy: 22050, 24000, 32000, 44100, 48000 (what the header says until the source's AAC tells its own)"},
    {.path = "audio.channels", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 2, .field = field<&AudioPreset::channels>(), .default_text = "2", .reload = Reload::restart,
     .help = "1..2"},
    {.path = "audio.name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&AudioPreset::name>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..64 characters: the stream name. Empty: none, or with `renditions` `<CODEC> <bitrate_kbps>k` (e.g. `WMA2 128k`)"},
    {.path = "audio.renditions", .kind = KeyKind::list, .type_text = "list of mappings", .default_text = "empty", .reload = Reload::restart,
     .help = "0..3 more encodings of the same audio, see [`audio.renditions`](#videorenditions-and-audiorenditions-mbr)"},
    {.path = "video.renditions[].width", .kind = KeyKind::even_integer, .type_text = "integer", .min = 16, .max = 4096, .field = field<&VideoRenditionPreset::width>(), .default_text = "the main video's", .reload = Reload::restart,
     .help = "even, 16..4096; at most the main video's (the main video is the largest rendition)"},
    {.path = "video.renditions[].height", .kind = KeyKind::even_integer, .type_text = "integer", .min = 16, .max = 4096, .field = field<&VideoRenditionPreset::height>(), .default_text = "the main video's", .reload = Reload::restart,
     .help = "even, 16..4096; at most the main video's (the main video is the largest rendition)"},
    {.path = "video.renditions[].framerate", .kind = KeyKind::custom, .type_text = "as `video.framerate`", .default_text = "the main video's", .reload = Reload::restart,
     .help = "at most the main video's rate; lower rates keep the capture frames nearest to their own time grid (30 -> 15: every other frame)"},
    {.path = "video.renditions[].bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 32, .max = 100000, .field = field<&VideoRenditionPreset::bitrate_kbps>(), .default_text = "the main video's", .reload = Reload::restart,
     .help = "32..100000"},
    {.path = "video.renditions[].max_bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 200000, .field = field<&VideoRenditionPreset::max_bitrate_kbps>(), .default_text = "main `max_bitrate_kbps` × (this bitrate / main bitrate)", .reload = Reload::restart,
     .help = "0..200000; 0 = no VBV, otherwise at least this rendition's `bitrate_kbps`"},
    {.path = "video.renditions[].vbv_buffer_kbit", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 200000, .field = field<&VideoRenditionPreset::vbv_buffer_kbit>(), .default_text = "main `vbv_buffer_kbit` × (this bitrate / main bitrate)", .reload = Reload::restart,
     .help = "0..200000; at least 1 when `max_bitrate_kbps` is set"},
    {.path = "video.renditions[].profile", .kind = KeyKind::choice, .type_text = "string", .choices = kProfiles, .field = field<&VideoRenditionPreset::profile>(), .default_text = "the main video's", .reload = Reload::restart,
     .help = "baseline, main, high (baseline requires `video.bframes: 0`)"},
    {.path = "video.renditions[].x264_preset", .kind = KeyKind::choice, .type_text = "string", .choices = kX264Presets, .field = field<&VideoRenditionPreset::x264_preset>(), .default_text = "the main video's", .reload = Reload::restart,
     .help = "as `video.x264_preset`"},
    {.path = "video.renditions[].name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&VideoRenditionPreset::name>(), .default_text = "`<height>p <bitrate_kbps>k`", .reload = Reload::restart,
     .help = "0..64 characters"},
    {.path = "audio.renditions[].bitrate_kbps", .kind = KeyKind::integer, .type_text = "integer", .min = 32, .max = 320, .field = field<&AudioRenditionPreset::bitrate_kbps>(), .default_text = "the main audio's", .reload = Reload::restart,
     .help = "32..320; for mp3 one of the MPEG-1 layer III rates"},
    {.path = "audio.renditions[].name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&AudioRenditionPreset::name>(), .default_text = "`<CODEC> <bitrate_kbps>k`", .reload = Reload::restart,
     .help = "0..64 characters"},
    {.path = "asf.packet_size", .kind = KeyKind::integer, .type_text = "integer", .min = 512, .max = 65535, .field = field<&AsfPreset::packet_size>(), .default_text = "8192", .reload = Reload::restart,
     .help = "512..65535 bytes, and large enough for one audio frame plus 64 bytes of headers (audio payloads are never split): e.g. at least 808 for WMA2 128 kbit/s 44.1 kHz, 1505 for MP3 320 kbit/s 32 kHz. At most what every enabled output carries in one unit, refused otherwise: 8192 with push targets (the push chunk limit), 65496 with `multicast`, 65511 with `msbd`, 65527 with `pull` (a `$D` of at most 65,535 bytes, MS-WMSP 2.2.3.1.2)"},
    {.path = "asf.preroll_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 60000, .field = field<&AsfPreset::preroll_ms>(), .default_text = "3000", .reload = Reload::restart,
     .help = "0..60000"},
    {.path = "asf.max_packet_delay_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 10000, .field = field<&AsfPreset::max_packet_delay_ms>(), .default_text = "100", .reload = Reload::restart,
     .help = "1..10000: a partly filled packet is sent (padded) after this long"},
    {.path = "metadata.title", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&MetadataPreset::title>(), .default_text = "empty (`asfcast live` in the built-ins)", .reload = Reload::restart,
     .help = "0..1024 bytes"},
    {.path = "metadata.author", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&MetadataPreset::author>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..1024 bytes"},
    {.path = "metadata.copyright", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&MetadataPreset::copyright>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..1024 bytes"},
    {.path = "metadata.description", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&MetadataPreset::description>(), .default_text = "empty", .reload = Reload::restart,
     .help = "0..1024 bytes"},
    {.path = "outputs.archive", .kind = KeyKind::custom, .type_text = "string, or mapping `{path, entry_pattern}`", .default_text = "empty = no archive", .reload = Reload::restart,
     .help = "path of the `.wmv`/`.asf` file to write, 0..4096 bytes (relative to the working directory). An ASF file holds one header: when the header changes (a playlist entry with its own), the file so far is finalized (indexes, sizes, Seekable) and the archive goes on in a new one, named `PATH-2.ext`, `PATH-3.ext`, ... or by `entry_pattern`"},
    {.path = "outputs.archive.path", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&OutputsPreset::archive>(), .default_text = "empty = no archive", .reload = Reload::restart,
     .help = "path of the `.wmv`/`.asf` file to write (as `archive: PATH`)"},
    {.path = "outputs.archive.entry_pattern", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&OutputsPreset::archive_entry_pattern>(), .default_text = "empty", .reload = Reload::restart,
     .help = "names every archive file (the first too): `{n}` its number from 1 (required, so that every file has its own name), `{entry}` the playlist entry's name (characters other than letters, digits, `.`, `-`, `_` become `_`); no other `{...}`. E.g. `show-{n}-{entry}.wmv` gives `show-1-promo.wmv`, `show-2-show.wmv`, `show-3-closing.wmv`"},
    {.path = "outputs.pull", .kind = KeyKind::section, .type_text = "mapping, or `false`/`off`", .default_text = "see `outputs.pull`", .reload = Reload::restart,
     .help = "the MS-WMSP pull source (players and servers connect with `mmsh://`)"},
    {.path = "outputs.push", .kind = KeyKind::section, .type_text = "list of targets, or mapping", .default_text = "no targets", .reload = Reload::live,
     .help = "MS-WMHTTP publishing to Windows Media servers, see `outputs.push`"},
    {.path = "outputs.msbd", .kind = KeyKind::section, .type_text = "mapping, or `on`/`off`", .default_text = "off", .reload = Reload::restart,
     .help = "the MS-MSBD server (Windows Media servers and old players connect over TCP, port 7007), see `outputs.msbd`"},
    {.path = "outputs.multicast", .kind = KeyKind::section, .type_text = "mapping, or `false`/`off`", .default_text = "off", .reload = Reload::restart,
     .help = "MS-MSB multicast on a LAN with its `.nsc` announcement, see `outputs.multicast`"},
    {.path = "outputs.pull.enabled", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&PullPreset::enabled>(), .default_text = "`true`", .reload = Reload::restart,
     .help = "`true`, `false`"},
    {.path = "outputs.pull.address", .kind = KeyKind::text, .type_text = "string", .max_bytes = 255, .field = field<&PullPreset::address>(), .default_text = "`127.0.0.1`", .reload = Reload::restart,
     .help = "IPv4 or IPv6 address to listen on (`0.0.0.0` or `::` for every interface)"},
    {.path = "outputs.pull.port", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 65535, .field = field<&PullPreset::port>(), .default_text = "8080", .reload = Reload::restart,
     .help = "1..65535"},
    {.path = "outputs.pull.mount", .kind = KeyKind::text, .type_text = "string", .max_bytes = 255, .field = field<&PullPreset::mount>(), .default_text = "empty", .reload = Reload::restart,
     .help = "another path serving the stream, like `/live` (starts with `/`; no `?`, `#`, `%`, spaces)"},
    {.path = "outputs.pull.max_clients", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 100000, .field = field<&PullPreset::max_clients>(), .default_text = "20000", .reload = Reload::live,
     .help = "1..100000 connections in all. Each takes a file descriptor: `asfcast run` raises its soft `RLIMIT_NOFILE` to the hard limit at start and warns when that is below `max_clients` + 64 (`systemd/asfcast@.service` sets `LimitNOFILE=65536`; in a shell, `ulimit -Hn`)"},
    {.path = "outputs.pull.max_clients_per_ip", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 100000, .field = field<&PullPreset::max_clients_per_ip>(), .default_text = "0 (no limit)", .reload = Reload::live,
     .help = "0..100000 connections from one address"},
    {.path = "outputs.pull.auth", .kind = KeyKind::custom, .type_text = "string or list", .default_text = "`none`", .reload = Reload::live,
     .help = "`none`, one scheme, or a list of schemes in order of preference, e.g. `[ntlm, digest]`: `basic`, `digest` (RFC 2617, MD5, qop=auth), `ntlm` (NTLMv2, MS-NLMP; authenticates the TCP connection it runs on, so a client's Describe and Play on one keep-alive connection authenticate once); needs `users`. Each 401 challenges with the scheme the client prefers among those its `X-Accept-Authentication` header lists (MS-WMSP 2.2.1.9), or with every scheme of the list (one `WWW-Authenticate` each) when it sends none; a client whose list names none of ours gets 403 with a text naming both lists. Every path, an unknown one included, answers only after authentication"},
    {.path = "outputs.pull.realm", .kind = KeyKind::text, .type_text = "string", .max_bytes = 128, .field = field<&PullPreset::realm>(), .default_text = "`asfcast`", .reload = Reload::live,
     .help = "0..128 bytes"},
    {.path = "outputs.pull.users", .kind = KeyKind::list, .type_text = "list of `{name, password}`", .default_text = "empty", .reload = Reload::live,
     .help = "up to 1024; name without `:`; passwords are never logged"},
    {.path = "outputs.pull.users[].name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 128, .field = field<&PullUserPreset::name>(), .default_text = "required", .reload = Reload::live,
     .help = "1..128 bytes, without `:`"},
    {.path = "outputs.pull.users[].password", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&PullUserPreset::password>(), .default_text = "empty", .reload = Reload::live,
     .help = "0..1024 bytes; never logged"},
    {.path = "outputs.pull.allow", .kind = KeyKind::list, .type_text = "list of CIDR blocks", .default_text = "empty = everyone not denied", .reload = Reload::live,
     .help = "`10.0.0.0/8`, `192.168.1.7`, `2001:db8::/32`; up to 1024"},
    {.path = "outputs.pull.deny", .kind = KeyKind::list, .type_text = "list of CIDR blocks", .default_text = "empty", .reload = Reload::live,
     .help = "checked before `allow`; a denied client gets 403"},
    {.path = "outputs.pull.max_head_bytes", .kind = KeyKind::integer, .type_text = "integer", .min = 1024, .max = 65536, .field = field<&PullPreset::max_head_bytes>(), .default_text = "8192", .reload = Reload::restart,
     .help = "1024..65536: a larger request head gets 431"},
    {.path = "outputs.pull.header_timeout_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 100, .max = 600000, .field = field<&PullPreset::header_timeout_ms>(), .default_text = "10000", .reload = Reload::restart,
     .help = "100..600000: a request head that takes longer gets 408 and the connection closes"},
    {.path = "outputs.pull.idle_timeout_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 10000, .max = 3600000, .field = field<&PullPreset::idle_timeout_ms>(), .default_text = "60000", .reload = Reload::restart,
     .help = "10000..3600000: MS-WMSP Idle-Timeout for sessions with no request"},
    {.path = "outputs.pull.max_lag_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 500, .max = 60000, .field = field<&PullPreset::max_lag_ms>(), .default_text = "4000", .reload = Reload::restart,
     .help = "500..60000: a client this far behind the live edge is lagging"},
    {.path = "outputs.pull.lag_policy", .kind = KeyKind::choice, .type_text = "string", .choices = kLagPolicies, .field = field<&PullPreset::lag_policy>(), .default_text = "`skip`", .reload = Reload::restart,
     .help = "`skip` (jump to the next key frame, counted) or `disconnect`"},
    {.path = "outputs.pull.send_interval_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 1000, .field = field<&PullPreset::send_interval_ms>(), .default_text = "100", .reload = Reload::restart,
     .help = "0..1000: packets arriving within this interval reach a caught-up client in one write (fewer system calls per client); 0 sends each packet at once. Adds at most this much latency; `low-latency` uses 20"},
    {.path = "outputs.push.targets", .kind = KeyKind::list, .type_text = "list of targets (below)", .default_text = "empty", .reload = Reload::live,
     .help = "up to 64"},
    {.path = "outputs.push.backoff_initial_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 100, .max = 60000, .field = field<&PushPreset::backoff_initial_ms>(), .default_text = "1000", .reload = Reload::restart,
     .help = "100..60000: first reconnect delay; doubles up to `backoff_max_ms`, with ±20% jitter"},
    {.path = "outputs.push.backoff_max_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 1000, .max = 3600000, .field = field<&PushPreset::backoff_max_ms>(), .default_text = "30000", .reload = Reload::restart,
     .help = "`backoff_initial_ms`..3600000"},
    {.path = "outputs.push.queue_kbytes", .kind = KeyKind::integer, .type_text = "integer", .min = 64, .max = 1048576, .field = field<&PushPreset::queue_kbytes>(), .default_text = "2048", .reload = Reload::restart,
     .help = "64..1048576: a target's queue; on overflow it skips to the next key frame (counted)"},
    {.path = "outputs.push.targets[].url", .kind = KeyKind::text, .type_text = "string", .max_bytes = 2048, .field = field<&PushTargetPreset::url>(), .default_text = "required", .reload = Reload::live,
     .help = "`http://server[:port]/pubpoint` or `server:port/pubpoint` (as Windows Media Encoder wrote it)"},
    {.path = "outputs.push.targets[].user", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&PushTargetPreset::user>(), .default_text = "empty", .reload = Reload::live,
     .help = "user for Basic, Digest or NTLM"},
    {.path = "outputs.push.targets[].password", .kind = KeyKind::text, .type_text = "string", .max_bytes = 1024, .field = field<&PushTargetPreset::password>(), .default_text = "empty", .reload = Reload::live,
     .help = "never logged"},
    {.path = "outputs.push.targets[].password_file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&PushTargetPreset::password_file>(), .default_text = "empty", .reload = Reload::live,
     .help = "a file holding the password (first line); it must not be readable by group or others"},
    {.path = "outputs.push.targets[].template", .kind = KeyKind::text, .type_text = "string", .max_bytes = 2048, .field = field<&PushTargetPreset::template_url>(), .default_text = "empty", .reload = Reload::live,
     .help = "publishing point the server copies when it creates this one (`Template-URL`)"},
    {.path = "outputs.push.targets[].auto_remove", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&PushTargetPreset::auto_remove>(), .default_text = "`false`", .reload = Reload::live,
     .help = "the server removes the publishing point when the push ends (`AutoDestroy`)"},
    {.path = "outputs.multicast.group", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&MulticastPreset::group>(), .default_text = "empty = off", .reload = Reload::restart,
     .help = "IPv4 multicast address (224.0.0.0/4, e.g. `239.255.0.1`) or IPv6 (ff00::/8, e.g. `ff15::1`)"},
    {.path = "outputs.multicast.port", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 65535, .field = field<&MulticastPreset::port>(), .default_text = "required with `group`", .reload = Reload::restart,
     .help = "1..65535"},
    {.path = "outputs.multicast.ttl", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 255, .field = field<&MulticastPreset::ttl>(), .default_text = "1 (this link only)", .reload = Reload::restart,
     .help = "0..255: IPv4 TTL / IPv6 hop limit, also written to the `.nsc`"},
    {.path = "outputs.multicast.interface", .kind = KeyKind::text, .type_text = "string", .max_bytes = 255, .field = field<&MulticastPreset::interface>(), .default_text = "empty = loopback only", .reload = Reload::restart,
     .help = "an address of this host (the datagrams' source, the `.nsc`'s Multicast Adapter) or an interface name (`eth0`); nothing leaves the host unless one is named"},
    {.path = "outputs.multicast.fec_span", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 15, .field = field<&MulticastPreset::fec_span>(), .default_text = "10", .reload = Reload::restart,
     .help = "1..15 packets per error correction cycle (`.nsc` Default Ecc); 0: no error correction"},
    {.path = "outputs.multicast.beacon_interval_s", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 10, .field = field<&MulticastPreset::beacon_interval_s>(), .default_text = "5", .reload = Reload::restart,
     .help = "1..10: Beacon packets while there is nothing to send (before the stream starts, during a stall)"},
    {.path = "outputs.multicast.nsc_path", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&MulticastPreset::nsc_path>(), .default_text = "empty = not written", .reload = Reload::restart,
     .help = "path of the `.nsc` file (replaced atomically); serve it over HTTP for players"},
    {.path = "outputs.multicast.nsc_strings", .kind = KeyKind::choice, .type_text = "string", .choices = kNscStrings, .field = field<&MulticastPreset::nsc_strings>(), .default_text = "`encoded`", .reload = Reload::restart,
     .help = "`encoded`: every string as a UTF-16 block, as Windows Media Services writes them (VLC reads only these); `plain`: printable ASCII as it is"},
    {.path = "outputs.multicast.name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 255, .field = field<&MulticastPreset::name>(), .default_text = "`<host name>, <preset name>`", .reload = Reload::restart,
     .help = "`.nsc` Name (\"machine, publishing point\"), 0..255 bytes"},
    {.path = "outputs.multicast.unicast_url", .kind = KeyKind::text, .type_text = "string", .max_bytes = 2048, .field = field<&MulticastPreset::unicast_url>(), .default_text = "empty", .reload = Reload::restart,
     .help = "`.nsc` Unicast URL: where a player that gets no multicast goes instead (`http://host:8080/`, the pull source)"},
    {.path = "outputs.multicast.network_buffer_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 60000, .field = field<&MulticastPreset::network_buffer_ms>(), .default_text = "0 = not written", .reload = Reload::restart,
     .help = "0..60000: `.nsc` Network Buffer Time"},
    {.path = "outputs.msbd.enabled", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&MsbdPreset::enabled>(), .default_text = "`true` in a section", .reload = Reload::restart,
     .help = "`true`, `false`"},
    {.path = "outputs.msbd.address", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&MsbdPreset::address>(), .default_text = "`127.0.0.1`", .reload = Reload::restart,
     .help = "IPv4 address to listen on (MS-MSBD runs over IPv4; `0.0.0.0` for every interface)"},
    {.path = "outputs.msbd.port", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 65535, .field = field<&MsbdPreset::port>(), .default_text = "7007", .reload = Reload::restart,
     .help = "1..65535; not the pull source's port on the same address"},
    {.path = "outputs.msbd.max_clients", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 100000, .field = field<&MsbdPreset::max_clients>(), .default_text = "1000", .reload = Reload::restart,
     .help = "1..100000 connections in all"},
    {.path = "outputs.msbd.max_clients_per_ip", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 100000, .field = field<&MsbdPreset::max_clients_per_ip>(), .default_text = "0 (no limit)", .reload = Reload::restart,
     .help = "0..100000 connections from one address"},
    {.path = "outputs.msbd.allow", .kind = KeyKind::list, .type_text = "list of CIDR blocks", .default_text = "empty = everyone not denied", .reload = Reload::restart,
     .help = "as in `outputs.pull`; up to 1024"},
    {.path = "outputs.msbd.deny", .kind = KeyKind::list, .type_text = "list of CIDR blocks", .default_text = "empty", .reload = Reload::restart,
     .help = "checked before `allow`. A refused client (address rules or limits) gets `MSB_MSG_RES_CONNECT` with a failure code (0x80070005, 0x80070047) and the connection closes"},
    {.path = "outputs.msbd.connect_timeout_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 100, .max = 600000, .field = field<&MsbdPreset::connect_timeout_ms>(), .default_text = "10000", .reload = Reload::restart,
     .help = "100..600000: a connection that sends no `MSB_MSG_REQ_CONNECT` within this is closed"},
    {.path = "outputs.msbd.ping_interval_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 3600000, .field = field<&MsbdPreset::ping_interval_ms>(), .default_text = "120000", .reload = Reload::restart,
     .help = "0 (no pings) or 100..3600000: `MSB_MSG_REQ_PING` to each client this often (\"about every 2 minutes\", MS-MSBD 2.2.3)"},
    {.path = "outputs.msbd.ping_timeout_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 100, .max = 3600000, .field = field<&MsbdPreset::ping_timeout_ms>(), .default_text = "120000", .reload = Reload::restart,
     .help = "100..3600000: a client that does not answer a ping within this is closed (MS-MSBD 3.1.6)"},
    {.path = "outputs.msbd.max_lag_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 500, .max = 60000, .field = field<&MsbdPreset::max_lag_ms>(), .default_text = "4000", .reload = Reload::restart,
     .help = "500..60000: a client this far behind the live edge is lagging"},
    {.path = "outputs.msbd.lag_policy", .kind = KeyKind::choice, .type_text = "string", .choices = kLagPolicies, .field = field<&MsbdPreset::lag_policy>(), .default_text = "`skip`", .reload = Reload::restart,
     .help = "`skip` (jump to the newest key frame, counted) or `disconnect`"},
    {.path = "outputs.msbd.send_interval_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 1000, .field = field<&MsbdPreset::send_interval_ms>(), .default_text = "100", .reload = Reload::restart,
     .help = "0..1000: packets arriving within this interval reach a caught-up client in one write; 0 sends each at once"},
    {.path = "script_commands.enabled", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&ScriptCommandsPreset::enabled>(), .default_text = "`true` in a section", .reload = Reload::restart,
     .help = "`true`, `false`"},
    {.path = "script_commands.input", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&ScriptCommandsPreset::input>(), .default_text = "empty = none", .reload = Reload::restart,
     .help = "a FIFO path (made with mode 0600 when missing, removed at the end) or `-` for standard input; `--commands` sets it"},
    {.path = "script_commands.captions", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&ScriptCommandsPreset::captions>(), .default_text = "empty = none", .reload = Reload::restart,
     .help = "an SRT or WebVTT file; each cue is a `CAPTION` at its start and an empty `CAPTION` at its end. A cue that cannot be read is logged with its line number and skipped; the broadcast goes on. `--captions FILE[@TIME]` sets it"},
    {.path = "script_commands.captions_start", .kind = KeyKind::custom, .type_text = "string", .default_text = "`0`", .reload = Reload::restart,
     .help = "media time at which the file's 00:00:00 plays: seconds (`12.5`) or `HH:MM:SS[.mmm]`"},
    {.path = "script_commands.captions_wallclock", .kind = KeyKind::text, .type_text = "string", .max_bytes = 32, .field = field<&ScriptCommandsPreset::captions_wallclock>(), .default_text = "empty", .reload = Reload::restart,
     .help = "instead of `captions_start`: the wall-clock time of the file's 00:00:00, `HH:MM:SS` (today, local time) or `YYYY-MM-DDTHH:MM:SS` (local; `Z` for UTC); live sources only. Cues whose time has passed by more than a second are skipped"},
    {.path = "script_commands.header_reserve_bytes", .kind = KeyKind::integer, .type_text = "integer", .min = 0, .max = 60000, .field = field<&ScriptCommandsPreset::header_reserve_bytes>(), .default_text = "4096", .reload = Reload::restart,
     .help = "0 or 24..60000: a Padding Object in the live header that the archive's final header fills with the Script Command and Marker Objects (what does not fit is counted in the log and stays in the command stream). It counts in the header size (keep the header ≤ 8192 bytes for the receivers that refuse more)"},
    {.path = "script_commands.bitrate_bps", .kind = KeyKind::integer, .type_text = "integer", .min = 100, .max = 1000000, .field = field<&ScriptCommandsPreset::bitrate_bps>(), .default_text = "2000", .reload = Reload::restart,
     .help = "100..1000000: the command stream's bitrate declared in the header"},
    {.path = "drm.packager", .kind = KeyKind::choice, .type_text = "string", .choices = kPackagers, .field = field<&DrmPreset::packager>(), .default_text = "empty = off", .reload = Reload::restart,
     .help = "`playready` (the reference packager, in process), `program` (an external program speaking the packager protocol on stdin/stdout), `shared-object` (a `.so` with the entry points of `asfcast/drm/packager_abi.h`)"},
    {.path = "drm.kid", .kind = KeyKind::text, .type_text = "string", .max_bytes = 40, .field = field<&DrmPreset::kid>(), .default_text = "random (logged)", .reload = Reload::restart,
     .help = "playready: the key ID, a GUID `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`"},
    {.path = "drm.key_file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&DrmPreset::key_file>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: the 16-byte content key, hex or base64, first line; the file must be mode 600 (checked at start); the key is never logged"},
    {.path = "drm.key_seed_file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&DrmPreset::key_seed_file>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: a key seed (at least 30 bytes, hex or base64, mode 600); the content key is derived from it and the KID (PlayReady key seed algorithm)"},
    {.path = "drm.key", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&DrmPreset::key>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: the content key in the preset itself (discouraged: presets get copied). Exactly one of `key_file`, `key_seed_file`, `key`"},
    {.path = "drm.la_url", .kind = KeyKind::text, .type_text = "string", .max_bytes = 2048, .field = field<&DrmPreset::la_url>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: the licence acquisition URL in the WRMHEADER (absolute `http://` or `https://`)"},
    {.path = "drm.lui_url", .kind = KeyKind::text, .type_text = "string", .max_bytes = 2048, .field = field<&DrmPreset::lui_url>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: a non-silent licence acquisition page (absolute URL)"},
    {.path = "drm.ds_id", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&DrmPreset::ds_id>(), .default_text = "empty", .reload = Reload::restart,
     .help = "playready: domain service ID (base64 GUID)"},
    {.path = "drm.header_version", .kind = KeyKind::choice, .type_text = "string", .choices = kWrmHeaderVersions, .field = field<&DrmPreset::header_version>(), .default_text = "`4.0.0.0`", .reload = Reload::restart,
     .help = "`4.0.0.0` (read by every PlayReady client) or `4.2.0.0`"},
    {.path = "drm.checksum", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&DrmPreset::checksum>(), .default_text = "`true`", .reload = Reload::restart,
     .help = "playready: write the key checksum (AES-ECB of the KID)"},
    {.path = "drm.program", .kind = KeyKind::custom, .type_text = "string or list", .default_text = "required with `program`", .reload = Reload::restart,
     .help = "the command and its arguments"},
    {.path = "drm.library", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&DrmPreset::library>(), .default_text = "required with `shared-object`", .reload = Reload::restart,
     .help = "the path of the shared object"},
    {.path = "drm.config", .kind = KeyKind::text, .type_text = "string", .max_bytes = 65536, .field = field<&DrmPreset::config>(), .default_text = "empty", .reload = Reload::restart,
     .help = "text handed to the program or shared object (protocol HELLO); keep keys in files it names"},
    {.path = "drm.deadline_ms", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 60000, .field = field<&DrmPreset::deadline_ms>(), .default_text = "1000", .reload = Reload::restart,
     .help = "1..60000: how long the packager may take per media object (a program's first answer gets at least 10 s); past it the broadcast stops"},
    {.path = "drm.enabled", .kind = KeyKind::custom, .type_text = "bool", .default_text = "`true` when `packager` is set", .reload = Reload::restart,
     .help = "`false` turns off the packaging a `base` preset set up"},
    {.path = "playlist.loop", .kind = KeyKind::boolean, .type_text = "`true`/`false`", .field = field<&PlaylistPreset::loop>(), .default_text = "false", .reload = Reload::live,
     .help = "after the last entry, start over at the first; otherwise the broadcast ends there (the end of the stream on every output, as a live job's end)"},
    {.path = "playlist.entries", .kind = KeyKind::list, .type_text = "list", .default_text = "required", .reload = Reload::live,
     .help = "1..1000 entries"},
    {.path = "playlist.entries[].file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&PlaylistEntryPreset::file>(), .default_text = "| path of an ASF/WMV file (relative to the working directory)", .reload = Reload::live,
     .help = ""},
    {.path = "playlist.entries[].live", .kind = KeyKind::boolean, .type_text = "`true`/`false`", .field = field<&PlaylistEntryPreset::live>(), .default_text = "false", .reload = Reload::live,
     .help = "the live encode"},
    {.path = "playlist.entries[].name", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&PlaylistEntryPreset::name>(), .default_text = "the file's stem, or `live`", .reload = Reload::live,
     .help = "1..64 bytes: in logs, errors and the archive's `{entry}`"},
    {.path = "playlist.entries[].repeat", .kind = KeyKind::integer, .type_text = "integer", .min = 1, .max = 100000, .field = field<&PlaylistEntryPreset::repeat>(), .default_text = "1", .reload = Reload::live,
     .help = "file entries: 1..100000 plays in a row (one header, times go on)"},
    {.path = "playlist.entries[].duration_s", .kind = KeyKind::number, .type_text = "number", .min = 0.1, .max = 31536000, .field = field<&PlaylistEntryPreset::duration_s>(), .default_text = "until the live source ends", .reload = Reload::live,
     .help = "live entries: 0.1..31536000 seconds on air"},
    {.path = "control.enabled", .kind = KeyKind::boolean, .type_text = "bool", .field = field<&ControlPreset::enabled>(), .default_text = "`true` in a section", .reload = Reload::restart,
     .help = ""},
    {.path = "control.address", .kind = KeyKind::text, .type_text = "string", .max_bytes = 64, .field = field<&ControlPreset::address>(), .default_text = "`127.0.0.1`", .reload = Reload::restart,
     .help = "an IPv4 or IPv6 address; anything outside 127.0.0.0/8 and `::1` (`0.0.0.0` included) needs a token"},
    {.path = "control.port", .kind = KeyKind::integer, .type_text = "int", .min = 1, .max = 65535, .field = field<&ControlPreset::port>(), .default_text = "8090", .reload = Reload::restart,
     .help = "1..65535"},
    {.path = "control.token", .kind = KeyKind::text, .type_text = "string", .max_bytes = 256, .field = field<&ControlPreset::token>(), .default_text = "none", .reload = Reload::restart,
     .help = "16..256 bytes: clients send `Authorization: Bearer TOKEN`; never logged; prefer `token_file`"},
    {.path = "control.token_file", .kind = KeyKind::text, .type_text = "string", .max_bytes = 4096, .field = field<&ControlPreset::token_file>(), .default_text = "none", .reload = Reload::restart,
     .help = "a file whose first line is the token; refused when group or others may read it (`chmod 600`)"},
};

std::string_view parent_of(std::string_view path) {
    const auto dot = path.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : path.substr(0, dot);
}
std::string_view name_of(std::string_view path) {
    const auto dot = path.rfind('.');
    return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string cell(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '|') out += "\\|";
        else out += c;
    }
    return out;
}

}  // namespace

std::span<const KeySpec> preset_keys() { return kKeys; }

const KeySpec* find_key(std::string_view path) {
    for (const KeySpec& k : kKeys)
        if (k.path == path) return &k;
    return nullptr;
}

std::vector<std::string_view> child_keys(std::string_view section) {
    std::vector<std::string_view> out;
    for (const KeySpec& k : kKeys)
        if (parent_of(k.path) == section) out.push_back(name_of(k.path));
    return out;
}

std::string range_text(const KeySpec& k) {
    switch (k.kind) {
        case KeyKind::integer:
        case KeyKind::number: return show_number(k.min) + ".." + show_number(k.max);
        case KeyKind::even_integer: return "even values " + show_number(k.min) + ".." + show_number(k.max);
        case KeyKind::boolean: return "true, false";
        case KeyKind::choice: {
            std::string out;
            for (auto c : k.choices) out += (out.empty() ? "" : ", ") + std::string(c);
            return out;
        }
        case KeyKind::text: return "0.." + std::to_string(k.max_bytes) + " bytes";
        default: return {};
    }
}

std::string keys_markdown(std::string_view section) {
    std::string out = "| key | type | default | reload | allowed |\n|---|---|---|---|---|\n";
    for (const KeySpec& k : kKeys) {
        if (parent_of(k.path) != section) continue;
        const bool has_children = !child_keys(k.path).empty() || !child_keys(std::string(k.path) + "[]").empty();
        std::string reload = k.reload == Reload::live ? "live" : "restart";
        if (k.kind == KeyKind::section || (has_children && k.kind != KeyKind::list)) reload = "by key";
        out += "| `" + std::string(name_of(k.path)) + "` | " + cell(k.type_text) + " | " + cell(k.default_text) +
               " | " + reload + " | " + cell(k.help) + " |\n";
    }
    return out;
}

std::string all_keys_markdown() {
    std::vector<std::string_view> sections{""};
    for (const KeySpec& k : kKeys) {
        const std::string_view p = parent_of(k.path);
        if (std::find(sections.begin(), sections.end(), p) == sections.end()) sections.push_back(p);
    }
    std::string out;
    for (auto s : sections)
        out += "### " + (s.empty() ? std::string("Top level") : "`" + std::string(s) + "`") + "\n\n" + keys_markdown(s) +
               "\n";
    return out;
}

std::string render_key_tables(const std::string& readme) {
    static constexpr std::string_view open = "<!-- keys: ", close = "<!-- /keys -->";
    std::string out;
    std::size_t at = 0;
    while (at < readme.size()) {
        std::size_t eol = readme.find('\n', at);
        if (eol == std::string::npos) eol = readme.size();
        const std::string_view line(readme.data() + at, eol - at);
        out.append(line);
        if (eol < readme.size()) out += '\n';
        at = eol + 1;
        if (!line.starts_with(open) || !line.ends_with(" -->")) continue;
        std::string_view section = line.substr(open.size(), line.size() - open.size() - 4);
        if (section == "top") section = {};
        if (child_keys(section).empty())
            throw PresetError("README: <!-- keys: " + std::string(section) + " --> names no section of the key table");
        const std::size_t end = readme.find(close, at);
        if (end == std::string::npos)
            throw PresetError("README: <!-- keys: " + std::string(section) + " --> has no " + std::string(close));
        out += keys_markdown(section);
        at = end;
    }
    return out;
}

namespace {

// The struct owning a section's scalar keys in `p`, or nullptr (no such stream, a list item).
const void* owner_in(const Preset& p, std::string_view section) {
    if (section.empty()) return &p;
    if (section == "source") return &p.source;
    if (section == "video") return p.video ? &*p.video : nullptr;
    if (section == "audio") return p.audio ? &*p.audio : nullptr;
    if (section == "asf") return &p.asf;
    if (section == "metadata") return &p.metadata;
    if (section == "outputs" || section == "outputs.archive") return &p.outputs;
    if (section == "outputs.pull") return &p.outputs.pull;
    if (section == "outputs.push") return &p.outputs.push;
    if (section == "outputs.multicast") return &p.outputs.multicast;
    if (section == "outputs.msbd") return &p.outputs.msbd;
    if (section == "script_commands") return &p.script_commands;
    if (section == "drm") return &p.drm;
    if (section == "playlist") return &p.playlist;
    if (section == "control") return &p.control;
    return nullptr;
}

std::string join_strings(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += s + '\n';
    return out;
}

// Keys whose value is not one scalar field: compared as a whole. nullopt: not compared here.
std::optional<std::string> custom_value(const Preset& p, std::string_view path) {
    const auto opt = [](bool has, auto&& f) { return has ? f() : std::string("(none)"); };
    if (path == "name") return p.name;
    if (path == "video.fourcc") return opt(p.video.has_value(), [&] { return p.video->fourcc; });
    if (path == "video.tune") return opt(p.video.has_value(), [&] { return p.video->tune; });
    if (path == "video.framerate")
        return opt(p.video.has_value(),
                   [&] { return std::to_string(p.video->fps_num) + "/" + std::to_string(p.video->fps_den); });
    if (path == "video.renditions")
        return opt(p.video.has_value(), [&] {
            // The alternatives only: the main video's own keys are compared one by one.
            std::string s;
            const std::vector<VideoPreset> all = video_renditions(*p.video);
            for (std::size_t i = 1; i < all.size(); ++i) {
                const VideoPreset& r = all[i];
                s += std::to_string(r.width) + "x" + std::to_string(r.height) + "@" + std::to_string(r.fps_num) + "/" +
                     std::to_string(r.fps_den) + " " + std::to_string(r.bitrate_kbps) + "/" +
                     std::to_string(r.max_bitrate_kbps) + "/" + std::to_string(r.vbv_buffer_kbit) + " " + r.profile +
                     " " + r.x264_preset + " " + r.name + "\n";
            }
            return s;
        });
    if (path == "audio.renditions")
        return opt(p.audio.has_value(), [&] {
            std::string s;
            const std::vector<AudioPreset> all = audio_renditions(*p.audio);
            for (std::size_t i = 1; i < all.size(); ++i) s += std::to_string(all[i].bitrate_kbps) + " " + all[i].name + "\n";
            return s;
        });
    if (path == "outputs.archive") return p.outputs.archive + '\n' + p.outputs.archive_entry_pattern;
    if (path == "outputs.pull.auth") return join_strings(p.outputs.pull.auth);
    if (path == "outputs.pull.users") {
        std::string s;
        for (const auto& u : p.outputs.pull.users) s += u.name + '\0' + u.password + '\n';
        return s;
    }
    if (path == "outputs.pull.allow") return join_strings(p.outputs.pull.allow);
    if (path == "outputs.pull.deny") return join_strings(p.outputs.pull.deny);
    if (path == "outputs.msbd.allow") return join_strings(p.outputs.msbd.allow);
    if (path == "outputs.msbd.deny") return join_strings(p.outputs.msbd.deny);
    if (path == "outputs.push.targets") {
        std::string s;
        for (const auto& t : p.outputs.push.targets)
            s += t.url + '\0' + t.user + '\0' + t.password + '\0' + t.password_file + '\0' + t.template_url + '\0' +
                 (t.auto_remove ? "1" : "0") + '\n';
        return s;
    }
    if (path == "script_commands.captions_start") return std::to_string(p.script_commands.captions_start_us);
    if (path == "drm.program") return join_strings(p.drm.program);
    if (path == "playlist.entries") {
        std::string s;
        for (const auto& e : p.playlist.entries)
            s += e.name + '\0' + e.file + '\0' + (e.live ? "1" : "0") + '\0' + std::to_string(e.repeat) + '\0' +
                 show_number(e.duration_s) + '\n';
        return s;
    }
    return std::nullopt;
}

}  // namespace

std::vector<PresetChange> diff_presets(const Preset& running, const Preset& next) {
    std::vector<PresetChange> out;
    if (running.video.has_value() != next.video.has_value()) out.push_back({"video", Reload::restart});
    if (running.audio.has_value() != next.audio.has_value()) out.push_back({"audio", Reload::restart});
    for (const KeySpec& k : kKeys) {
        if (k.path.find("[]") != std::string_view::npos) continue;  // compared with their list
        std::optional<std::string> a, b;
        if (k.field) {
            const std::string_view section = parent_of(k.path);
            const void* ra = owner_in(running, section);
            const void* nb = owner_in(next, section);
            if (!ra || !nb) continue;
            a = k.field.show(ra);
            b = k.field.show(nb);
        } else {
            a = custom_value(running, k.path);
            b = custom_value(next, k.path);
            if (!a || !b) continue;
        }
        if (*a != *b) out.push_back({std::string(k.path), k.reload});
    }
    return out;
}

}  // namespace asfcast::presets
