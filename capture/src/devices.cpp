// Device lists as JSON and tables, device selection from preset specs, and the choice of a
// device mode for a requested output. Pure functions over the plain structs of devices.hpp.
#include "asfcast/capture/devices.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <tuple>

namespace asfcast::capture {

std::string Fraction::str() const { return fmt::format("{}/{}", num, den); }

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool contains_ci(const std::string& hay, const std::string& needle) {
    return !needle.empty() && lower(hay).find(lower(needle)) != std::string::npos;
}

std::string basename_of(const std::string& p) { return std::filesystem::path(p).filename().string(); }

// ------------------------------------------------------------------ JSON / table

nlohmann::json video_json(const VideoDevice& d) {
    nlohmann::json formats = nlohmann::json::array();
    for (const auto& f : d.formats) {
        nlohmann::json sizes = nlohmann::json::array();
        for (const auto& s : f.sizes) {
            nlohmann::json rates = nlohmann::json::array();
            for (const auto& r : s.rates) rates.push_back(r.str());
            sizes.push_back({{"width", s.width}, {"height", s.height}, {"rates", rates}, {"interlaced", s.interlaced}});
        }
        formats.push_back({{"fourcc", f.fourcc}, {"description", f.description}, {"sizes", sizes}});
    }
    nlohmann::json j = {{"path", d.path},         {"by_id", d.by_id_paths}, {"name", d.name},
                        {"driver", d.driver},     {"bus_info", d.bus_info}, {"formats", formats}};
    if (!d.note.empty()) j["note"] = d.note;
    return j;
}

nlohmann::json audio_json(const AudioDevice& a) {
    nlohmann::json j = {{"card", a.card},
                        {"card_id", a.card_id},
                        {"card_name", a.card_name},
                        {"device", a.device},
                        {"device_name", a.device_name},
                        {"alsa_name", a.alsa_name},
                        {"channels_min", a.channels_min},
                        {"channels_max", a.channels_max},
                        {"rate_min", a.rate_min},
                        {"rate_max", a.rate_max},
                        {"rates", a.rates}};
    if (!a.note.empty()) j["note"] = a.note;
    return j;
}

// "640x480 (30, 15)" lists, compact: rates as decimals when not whole.
std::string rate_text(const Fraction& r) {
    if (r.den != 0 && r.num % r.den == 0) return std::to_string(r.num / r.den);
    return fmt::format("{:.4g}", r.value());
}

std::string sizes_text(const VideoFormat& f) {
    std::string out;
    for (const auto& s : f.sizes) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{}x{}{}@", s.width, s.height, s.interlaced ? "i" : "");
        std::string rates;
        for (const auto& r : s.rates) rates += (rates.empty() ? "" : "/") + rate_text(r);
        out += rates.empty() ? "?" : rates;
    }
    return out;
}

std::string describe_video_list(const std::vector<VideoDevice>& devices) {
    if (devices.empty()) return "no video capture devices found (no /dev/video* capture nodes)";
    std::string out = "devices:";
    for (const auto& d : devices) {
        out += fmt::format(" {} ({})", d.path, d.name.empty() ? "?" : d.name);
        if (!d.by_id_paths.empty()) out += " [" + basename_of(d.by_id_paths.front()) + "]";
        out += ";";
    }
    out.pop_back();
    return out;
}

std::string describe_audio_list(const std::vector<AudioDevice>& devices) {
    if (devices.empty()) return "no ALSA capture devices found";
    std::string out = "devices:";
    for (const auto& a : devices) out += fmt::format(" {} ({}: {});", a.alsa_name, a.card_name, a.device_name);
    out.pop_back();
    return out;
}

// ------------------------------------------------------------------ mode choice

bool is_jpeg(const std::string& fourcc) { return fourcc == "MJPG" || fourcc == "JPEG"; }

// The GStreamer raw format name of a V4L2 fourcc this pipeline takes; empty when unsupported
// (compressed formats other than JPEG, Bayer, RGB variants we do not need).
std::string gst_raw_format(const std::string& fourcc) {
    if (fourcc == "YUYV") return "YUY2";
    if (fourcc == "UYVY") return "UYVY";
    if (fourcc == "NV12") return "NV12";
    if (fourcc == "YU12") return "I420";
    if (fourcc == "YV12") return "YV12";
    return {};
}

// Raw formats cheapest to turn into I420 first; JPEG last.
int format_rank(const std::string& fourcc) {
    static const char* order[] = {"YU12", "NV12", "YV12", "YUYV", "UYVY", "MJPG", "JPEG"};
    for (int i = 0; i < 7; ++i)
        if (fourcc == order[i]) return i;
    return 99;
}

bool matches_forced(PixelFormatChoice c, const std::string& fourcc) {
    switch (c) {
        case PixelFormatChoice::auto_: return !gst_raw_format(fourcc).empty() || is_jpeg(fourcc);
        case PixelFormatChoice::yuyv: return fourcc == "YUYV";
        case PixelFormatChoice::nv12: return fourcc == "NV12";
        case PixelFormatChoice::i420: return fourcc == "YU12";
        case PixelFormatChoice::mjpeg: return is_jpeg(fourcc);
    }
    return false;
}

const char* forced_name(PixelFormatChoice c) {
    switch (c) {
        case PixelFormatChoice::auto_: return "auto";
        case PixelFormatChoice::yuyv: return "yuyv";
        case PixelFormatChoice::nv12: return "nv12";
        case PixelFormatChoice::i420: return "i420";
        case PixelFormatChoice::mjpeg: return "mjpeg";
    }
    return "?";
}

// Rates within 0.2% count as the same for the choice (a 29.97 fps card serves a 30 fps request
// better than its 59.94 mode would); a difference still means rate conversion.
int compare_rate(const Fraction& a, const Fraction& b) {
    const double x = a.value();
    const double y = b.value();
    if (std::abs(x - y) <= 0.002 * y) return 0;
    return x < y ? -1 : 1;
}

}  // namespace

std::string devices_json(const DeviceLists& lists, int indent) {
    nlohmann::json j = {{"video", nlohmann::json::array()}, {"audio", nlohmann::json::array()}};
    for (const auto& d : lists.video) j["video"].push_back(video_json(d));
    for (const auto& a : lists.audio) j["audio"].push_back(audio_json(a));
    return j.dump(indent);
}

std::string devices_table(const DeviceLists& lists) {
    std::string out = "Video capture devices (V4L2):\n";
    if (lists.video.empty()) out += "  (none)\n";
    for (const auto& d : lists.video) {
        out += fmt::format("  {:<12} {}  [driver {}, bus {}]\n", d.path, d.name.empty() ? "?" : d.name,
                           d.driver.empty() ? "?" : d.driver, d.bus_info.empty() ? "?" : d.bus_info);
        for (const auto& id : d.by_id_paths) out += fmt::format("  {:<12} by-id: {}\n", "", id);
        if (!d.note.empty()) out += fmt::format("  {:<12} note: {}\n", "", d.note);
        for (const auto& f : d.formats)
            out += fmt::format("  {:<12} {:<5} {}\n", "", f.fourcc, sizes_text(f));
    }
    out += "Audio capture devices (ALSA):\n";
    if (lists.audio.empty()) out += "  (none)\n";
    for (const auto& a : lists.audio) {
        std::string caps;
        if (a.channels_max > 0) caps += fmt::format("{}-{} ch", a.channels_min, a.channels_max);
        if (!a.rates.empty()) {
            std::string rates;
            for (int r : a.rates) rates += (rates.empty() ? "" : "/") + std::to_string(r);
            caps += (caps.empty() ? "" : ", ") + rates + " Hz";
        } else if (a.rate_max > 0) {
            caps += (caps.empty() ? "" : ", ") + fmt::format("{}-{} Hz", a.rate_min, a.rate_max);
        }
        out += fmt::format("  {:<22} {}: {}  [card id {}{}{}]\n", a.alsa_name, a.card_name, a.device_name, a.card_id,
                           caps.empty() ? "" : ", ", caps);
        if (!a.note.empty()) out += fmt::format("  {:<22} note: {}\n", "", a.note);
    }
    return out;
}

// ------------------------------------------------------------------ selection

VideoDevice select_video(const std::vector<VideoDevice>& devices, const std::string& spec) {
    if (spec.empty()) {
        if (devices.empty())
            throw DeviceError("no video capture device found (source.video_device is empty = the first one; "
                              "there are no /dev/video* capture nodes: is the camera or capture card plugged in "
                              "and its driver loaded?)");
        return devices.front();
    }
    const auto fail = [&](const std::string& why) -> VideoDevice {
        throw DeviceError(fmt::format("no video device matches '{}'{}; {}", spec, why, describe_video_list(devices)));
    };
    if (spec.find('/') != std::string::npos) {
        // A path: the node itself, a by-id link, or any other link resolving to a listed node.
        for (const auto& d : devices) {
            if (d.path == spec) return d;
            for (const auto& id : d.by_id_paths)
                if (id == spec) return d;
        }
        std::error_code ec;
        const auto target = std::filesystem::canonical(spec, ec);
        if (!ec)
            for (const auto& d : devices)
                if (std::filesystem::equivalent(target, d.path, ec)) return d;
        return fail(ec ? " (no such file)" : "");
    }
    // A by-id link name or a node name (video2).
    for (const auto& d : devices) {
        if (basename_of(d.path) == spec) return d;
        for (const auto& id : d.by_id_paths)
            if (basename_of(id) == spec) return d;
    }
    std::vector<const VideoDevice*> hits;
    for (const auto& d : devices)
        if (contains_ci(d.name, spec)) hits.push_back(&d);
    if (hits.size() == 1) return *hits.front();
    if (hits.size() > 1) {
        std::string list;
        for (const auto* d : hits) list += fmt::format("{}{} ({})", list.empty() ? "" : ", ", d->path, d->name);
        throw DeviceError(fmt::format("video device '{}' is ambiguous: it matches {}; name one by path or by-id",
                                      spec, list));
    }
    return fail("");
}

AudioSelection select_audio(const std::vector<AudioDevice>& devices, const std::string& spec) {
    AudioSelection sel;
    if (spec.empty() || spec == "default" || spec == "null" || spec.find(':') != std::string::npos) {
        sel.alsa_name = spec.empty() ? "default" : spec;
        // hw:N,M / hw:CARD=id,DEV=n (and plughw: of the same) name a listed device: keep its
        // capabilities (plughw converts, so they matter only for hw:).
        if (sel.alsa_name.rfind("hw:", 0) == 0) {
            const std::string rest = sel.alsa_name.substr(3);
            for (const auto& a : devices) {
                const std::string idx = fmt::format("{},{}", a.card, a.device);
                const std::string byid = fmt::format("CARD={},DEV={}", a.card_id, a.device);
                const bool first_dev_of_card =
                    a.device == 0 && (rest == std::to_string(a.card) || rest == a.card_id || rest == "CARD=" + a.card_id);
                if (rest == idx || rest == byid || first_dev_of_card || rest == a.card_id + "," + std::to_string(a.device)) {
                    sel.device = a;
                    break;
                }
            }
        }
        return sel;
    }
    for (const auto& a : devices)
        if (lower(a.card_id) == lower(spec)) {
            sel.alsa_name = a.alsa_name;
            sel.device = a;
            return sel;  // first capture PCM of that card (listed in device order)
        }
    std::vector<const AudioDevice*> hits;
    for (const auto& a : devices)
        if (contains_ci(a.card_name, spec) || contains_ci(a.device_name, spec)) hits.push_back(&a);
    if (hits.size() == 1) {
        sel.alsa_name = hits.front()->alsa_name;
        sel.device = *hits.front();
        return sel;
    }
    if (hits.size() > 1) {
        std::string list;
        for (const auto* a : hits)
            list += fmt::format("{}{} ({}: {})", list.empty() ? "" : ", ", a->alsa_name, a->card_name, a->device_name);
        throw DeviceError(fmt::format("audio device '{}' is ambiguous: it matches {}; name one as hw:CARD=<id>,DEV=<n>",
                                      spec, list));
    }
    throw DeviceError(fmt::format("no audio device matches '{}'; {} (ALSA names such as default, hw:1,0 or "
                                  "plughw:CARD=<id>,DEV=0 are used as given)",
                                  spec, describe_audio_list(devices)));
}

// ------------------------------------------------------------------ mode choice

PixelFormatChoice parse_pixel_format(const std::string& s) {
    if (s == "auto" || s.empty()) return PixelFormatChoice::auto_;
    if (s == "yuyv") return PixelFormatChoice::yuyv;
    if (s == "nv12") return PixelFormatChoice::nv12;
    if (s == "i420") return PixelFormatChoice::i420;
    if (s == "mjpeg") return PixelFormatChoice::mjpeg;
    throw DeviceError("video format '" + s + "' unknown (allowed: auto, yuyv, nv12, i420, mjpeg)");
}

DeinterlaceMode parse_deinterlace(const std::string& s) {
    if (s == "auto" || s.empty()) return DeinterlaceMode::auto_;
    if (s == "on") return DeinterlaceMode::on;
    if (s == "off") return DeinterlaceMode::off;
    throw DeviceError("deinterlace '" + s + "' unknown (allowed: auto, on, off)");
}

// Order of preference (lexicographic, smaller wins):
//  1. the exact size and rate;
//  2. modes reaching the request (size >= requested in both dimensions, rate >= requested);
//  3. size: the smallest that reaches the request (never upscale when a larger-or-equal size
//     exists), else the largest;
//  4. raw before JPEG, among raw the cheapest to convert (so a UVC camera's YUYV 640x480@30
//     wins over its MJPEG, but its MJPEG 720p30 wins over YUYV 720p10);
//  5. rate: the nearest at or above the request, else the highest (a mode short of the rate
//     loses to a faster one before the format counts: MJPEG 1080p30 beats YUYV 1080p5);
//  6. progressive before interlaced.
VideoModeChoice choose_video_mode(const VideoDevice& dev, const VideoRequest& req) {
    struct Cand {
        const VideoFormat* f;
        const FrameSize* s;
        Fraction rate;
    };
    std::vector<Cand> cands;
    std::vector<std::string> offered;
    for (const auto& f : dev.formats) {
        offered.push_back(f.fourcc);
        if (!matches_forced(req.format, f.fourcc)) continue;
        for (const auto& s : f.sizes) {
            if (s.width <= 0 || s.height <= 0) continue;
            for (const auto& r : s.rates)
                if (r.num > 0 && r.den > 0) cands.push_back({&f, &s, r});
        }
    }
    if (cands.empty()) {
        std::string list;
        for (const auto& o : offered) list += (list.empty() ? "" : ", ") + o;
        if (req.format != PixelFormatChoice::auto_)
            throw DeviceError(fmt::format("{} ({}) does not offer video_format {} (it offers: {})", dev.path, dev.name,
                                          forced_name(req.format), list.empty() ? "nothing" : list));
        throw DeviceError(fmt::format("{} ({}) offers no usable capture mode (formats: {}; usable: YUYV, UYVY, NV12, "
                                      "YU12, YV12, MJPG){}",
                                      dev.path, dev.name, list.empty() ? "none" : list,
                                      dev.note.empty() ? "" : "; " + dev.note));
    }
    const std::int64_t want_area = static_cast<std::int64_t>(req.width) * req.height;
    auto key = [&](const Cand& c) {
        const bool size_exact = c.s->width == req.width && c.s->height == req.height;
        const bool size_reach = c.s->width >= req.width && c.s->height >= req.height;
        const int rc = compare_rate(c.rate, req.rate);
        const std::int64_t area = static_cast<std::int64_t>(c.s->width) * c.s->height;
        const double r = c.rate.value();
        return std::make_tuple(size_exact && rc == 0 ? 0 : 1,              // 1
                               size_reach && rc >= 0 ? 0 : 1,               // 2
                               size_reach ? 0 : 1, size_reach ? area - want_area : -area,  // 3
                               rc >= 0 ? 0 : 1, rc >= 0 ? 0.0 : -r,         // 5 short of the rate: the highest
                               format_rank(c.f->fourcc),                    // 4
                               rc >= 0 ? r : 0.0,                           // 5 reaching it: the nearest
                               c.s->interlaced ? 1 : 0);                    // 6
    };
    const Cand* best = &cands.front();
    for (const auto& c : cands)
        if (key(c) < key(*best)) best = &c;

    VideoModeChoice m;
    m.fourcc = best->f->fourcc;
    m.width = best->s->width;
    m.height = best->s->height;
    m.rate = best->rate;
    m.interlaced = best->s->interlaced;
    m.scale = m.width != req.width || m.height != req.height;
    m.rate_convert = !(m.rate == req.rate);
    m.jpeg_decode = is_jpeg(m.fourcc);
    m.deinterlace = req.deinterlace == DeinterlaceMode::on || (req.deinterlace == DeinterlaceMode::auto_ && m.interlaced);
    const std::string dims = fmt::format("width={},height={},framerate={}", m.width, m.height, m.rate.str());
    m.gst_caps = m.jpeg_decode ? "image/jpeg," + dims : fmt::format("video/x-raw,format={},{}", gst_raw_format(m.fourcc), dims);
    std::string notes = m.scale ? fmt::format("scaling to {}x{}", req.width, req.height) : "no scaling";
    notes += m.rate_convert ? fmt::format(", rate conversion to {}", req.rate.str()) : ", no rate conversion";
    if (m.jpeg_decode) notes += ", JPEG decoding";
    if (m.deinterlace) notes += ", deinterlacing";
    m.summary = fmt::format("chose {} {}x{}{} @ {} from {} ({})", m.fourcc, m.width, m.height, m.interlaced ? "i" : "",
                            m.rate.str(), dev.path, notes);
    return m;
}

// Rate: the requested one when offered, else the nearest above, else the highest (ranges without
// a list: clamped). Channels: clamped to the device's range.
AudioModeChoice choose_audio_mode(const AudioSelection& sel, int rate, int channels) {
    AudioModeChoice c;
    c.rate = rate;
    c.channels = channels;
    const AudioDevice* d = sel.device ? &*sel.device : nullptr;
    if (!d || (d->rates.empty() && d->rate_max <= 0) || d->channels_max <= 0) {
        c.summary = fmt::format("audio from ALSA '{}' as {} Hz {} ch (the device's formats are not known here: "
                                "ALSA and GStreamer negotiate, converting when needed)",
                                sel.alsa_name, rate, channels);
        return c;
    }
    c.known = true;
    if (!d->rates.empty()) {
        std::vector<int> rates = d->rates;
        std::sort(rates.begin(), rates.end());
        auto it = std::lower_bound(rates.begin(), rates.end(), rate);
        c.rate = it != rates.end() ? *it : rates.back();
    } else {
        c.rate = std::clamp(rate, d->rate_min, d->rate_max);
    }
    c.channels = std::clamp(channels, std::max(1, d->channels_min), d->channels_max);
    c.resample = c.rate != rate;
    c.remix = c.channels != channels;
    c.summary = fmt::format("chose {} Hz {} ch from {} ({}, {})", c.rate, c.channels, sel.alsa_name,
                            c.resample ? fmt::format("resampling to {} Hz", rate) : "no resampling",
                            c.remix ? fmt::format("remixing to {} ch", channels) : "no remixing");
    return c;
}

// ------------------------------------------------------------------ pipeline plan

namespace {
// GStreamer parse-launch quoting of a property value.
std::string gst_quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}
}  // namespace

DevicePlan plan_device_source(const SourceConfig& source, const RawFormat& format, const DeviceBackend& backend) {
    DevicePlan plan;
    const bool want_video = format.video && source.video_device != "none";
    const bool want_audio = format.audio && source.audio_device != "none";
    if (!want_video && !want_audio)
        throw CaptureError("device source: neither video nor audio to capture (video_device and audio_device are "
                           "none, or the preset has neither)");
    std::string d;
    if (want_video) {
        VideoRequest req;
        req.width = format.width;
        req.height = format.height;
        req.rate = {format.fps_num, format.fps_den};
        req.format = parse_pixel_format(source.video_format);
        req.deinterlace = parse_deinterlace(source.deinterlace);
        VideoDevice dev = select_video(backend.list_video(), source.video_device);
        if (dev.formats.empty() && !dev.note.empty())
            throw DeviceError(fmt::format("video device {} ({}) cannot be used: {}", dev.path, dev.name, dev.note));
        VideoModeChoice m = choose_video_mode(dev, req);
        d += fmt::format("v4l2src name=vsrc device={} ! capsfilter caps=\"{}\" ! ", gst_quoted(dev.path), m.gst_caps);
        // A queue decouples the driver's buffer pool from conversion: v4l2src keeps few buffers.
        d += "queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream ! ";
        if (m.jpeg_decode) d += "jpegdec ! ";
        if (m.deinterlace) {
            // One frame per field only when the output needs more frames than the device sends
            // (1080i29.97 -> 720p59.94); else one per frame. The deinterlacer's output rate then
            // depends on what it detects (auto mode passes progressive frames through), so
            // videorate always follows it.
            const bool doubled = compare_rate(req.rate, m.rate) > 0;
            d += fmt::format("deinterlace{} fields={} ! ",
                             req.deinterlace == DeinterlaceMode::on ? " mode=interlaced" : "", doubled ? "all" : "top");
        }
        d += "videoconvert ! ";
        if (m.scale) d += "videoscale ! ";
        if (m.rate_convert || m.deinterlace) d += "videorate ! ";
        d += fmt::format("capsfilter caps=\"video/x-raw,format=I420,width={},height={},framerate={}/{}\" ! "
                         "appsink name=vsink",
                         format.width, format.height, format.fps_num, format.fps_den);
        plan.video_device = std::move(dev);
        plan.video = std::move(m);
    }
    if (want_audio) {
        AudioSelection sel = select_audio(backend.list_audio(), source.audio_device);
        if (auto why = backend.check_audio_open(sel.alsa_name))
            throw DeviceError(fmt::format("audio device '{}'{} cannot be opened for capture: {}", sel.alsa_name,
                                          source.audio_device.empty() || source.audio_device == sel.alsa_name
                                              ? ""
                                              : " (from '" + source.audio_device + "')",
                                          *why));
        AudioModeChoice a = choose_audio_mode(sel, format.sample_rate, format.channels);
        if (!d.empty()) d += "  ";
        // slave-method=none: alsasrc timestamps by its sample count and is not slaved to the
        // pipeline clock; the drift between the sound card and the monotonic clock is measured
        // and corrected downstream (the capture supervisor), not by alsasrc resampling/skipping.
        d += fmt::format("alsasrc name=asrc device={} slave-method=none ! ", gst_quoted(sel.alsa_name));
        if (a.known) d += fmt::format("capsfilter caps=\"audio/x-raw,rate={},channels={}\" ! ", a.rate, a.channels);
        d += "audioconvert ! ";
        if (!a.known || a.resample) d += "audioresample ! ";
        d += fmt::format("capsfilter caps=\"audio/x-raw,format=S16LE,layout=interleaved,rate={},channels={}\" ! "
                         "appsink name=asink",
                         format.sample_rate, format.channels);
        plan.audio_device = std::move(sel);
        plan.audio = std::move(a);
    }
    plan.description = d;
    return plan;
}

}  // namespace asfcast::capture
