// GStreamer capture graphs (C API). One pipeline per source; appsinks hand tightly packed I420
// frames and interleaved S16 blocks, timestamped with the pipeline running time, to callbacks.
#include "asfcast/core/thread_name.hpp"
#include "asfcast/capture/capture.hpp"
#include "asfcast/capture/devices.hpp"

#include "asfcast/capture/network.hpp"

#include "gst_frame.hpp"
#include "network_gst.hpp"

#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

namespace asfcast::capture {

namespace {

struct GErrorHolder {
    GError* err = nullptr;
    ~GErrorHolder() {
        if (err) g_error_free(err);
    }
    std::string message() const { return err && err->message ? err->message : "unknown error"; }
};

std::string take_gchar(gchar* s) {
    if (!s) return {};
    std::string out(s);
    g_free(s);
    return out;
}

// A file path or URI resolved to a URI; `local` is the local path when the URI is file://.
struct ResolvedInput {
    std::string uri;
    std::string local;
};

ResolvedInput resolve_input(const std::string& path_or_uri) {
    ResolvedInput r;
    if (path_or_uri.empty()) throw CaptureError("file source: no input path given");
    if (gst_uri_is_valid(path_or_uri.c_str())) {
        r.uri = path_or_uri;
        if (path_or_uri.rfind("file:", 0) == 0) {
            GErrorHolder e;
            r.local = take_gchar(g_filename_from_uri(path_or_uri.c_str(), nullptr, &e.err));
            if (r.local.empty())
                throw CaptureError("invalid file URI '" + path_or_uri + "': " + e.message());
        }
    } else {
        GErrorHolder e;
        r.uri = take_gchar(gst_filename_to_uri(path_or_uri.c_str(), &e.err));
        if (r.uri.empty()) throw CaptureError("cannot make a URI of '" + path_or_uri + "': " + e.message());
        r.local = path_or_uri;
    }
    if (!r.local.empty()) {
        std::error_code ec;
        auto st = std::filesystem::status(r.local, ec);
        if (ec || !std::filesystem::exists(st))
            throw CaptureError("input file not found: " + path_or_uri);
        if (std::filesystem::is_directory(st))
            throw CaptureError("input file is a directory: " + path_or_uri);
    }
    return r;
}

// Valid nicks of videotestsrc's "pattern" enum; throws when the element is missing.
std::vector<std::string> pattern_names(bool& valid, const std::string& wanted) {
    GstElement* src = gst_element_factory_make("videotestsrc", nullptr);
    if (!src) throw CaptureError("GStreamer element 'videotestsrc' not found (gst-plugins-base missing?)");
    std::vector<std::string> names;
    valid = false;
    GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(src), "pattern");
    if (spec && G_IS_PARAM_SPEC_ENUM(spec)) {
        GEnumClass* klass = G_PARAM_SPEC_ENUM(spec)->enum_class;
        for (guint i = 0; i < klass->n_values; ++i) {
            names.emplace_back(klass->values[i].value_nick);
            if (wanted == klass->values[i].value_nick) valid = true;
        }
    }
    gst_object_unref(src);
    return names;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

std::string video_caps(const RawFormat& f) {
    return fmt::format("video/x-raw,format=I420,width={},height={},framerate={}/{}", f.width, f.height,
                       f.fps_num, f.fps_den);
}

std::string audio_caps(const RawFormat& f) {
    return fmt::format("audio/x-raw,format=S16LE,layout=interleaved,rate={},channels={}", f.sample_rate,
                       f.channels);
}

void validate_format(const RawFormat& f) {
    if (!f.video && !f.audio) throw CaptureError("capture: neither video nor audio requested");
    if (f.video) {
        if (f.width <= 0 || f.height <= 0 || f.width % 2 || f.height % 2)
            throw CaptureError(fmt::format("capture: invalid video size {}x{} (must be positive and even)",
                                           f.width, f.height));
        if (f.fps_num <= 0 || f.fps_den <= 0)
            throw CaptureError(fmt::format("capture: invalid frame rate {}/{}", f.fps_num, f.fps_den));
    }
    if (f.audio) {
        if (f.sample_rate < 8000 || f.sample_rate > 192000)
            throw CaptureError(fmt::format("capture: invalid sample rate {}", f.sample_rate));
        if (f.channels < 1 || f.channels > 8)
            throw CaptureError(fmt::format("capture: invalid channel count {}", f.channels));
    }
}

// A YUV4MPEG2 file of 8-bit 4:2:0 pictures is raw I420 already. uridecodebin would hand it to
// y4mdec through typefind, whose pull loop pushes fixed 4 KiB pieces: ~340 pushes per 720p
// frame and a reassembly copy of every frame. Such files get `filesrc ! y4mdec` instead, with
// reads of several frames at a time (see build_y4m).
struct Y4mInfo {
    int width = 0;
    int height = 0;
    int fps_num = 0;
    int fps_den = 0;
    std::size_t header_bytes = 0;  // stream header line, '\n' included
    std::size_t frame_bytes = 0;   // one picture
    std::uintmax_t frames = 0;     // complete "FRAME\n" + picture records in the file
    std::size_t record_bytes() const { return 6 + frame_bytes; }
};

bool have_element(const char* name) {
    GstElementFactory* f = gst_element_factory_find(name);
    if (!f) return false;
    gst_object_unref(f);
    return true;
}

// Reads the stream header of a local y4m file; nullopt when the file is not y4m, or is y4m of a
// kind this fast path does not take (not 8-bit 4:2:0, frame parameters, y4mdec missing): those
// go through uridecodebin as any other file.
std::optional<Y4mInfo> read_y4m_header(const std::string& local) {
    if (local.empty()) return std::nullopt;
    std::ifstream in(local, std::ios::binary);
    if (!in) return std::nullopt;
    char buf[512];
    in.read(buf, sizeof buf);
    const std::string_view head(buf, static_cast<std::size_t>(in.gcount()));
    if (head.rfind("YUV4MPEG2 ", 0) != 0) return std::nullopt;
    const std::size_t eol = head.find('\n');
    if (eol == std::string_view::npos) return std::nullopt;
    Y4mInfo y;
    std::string_view chroma = "420jpeg";  // the format's default
    for (std::size_t at = 10; at < eol;) {
        std::size_t end = head.find(' ', at);
        if (end == std::string_view::npos || end > eol) end = eol;
        const std::string_view tok = head.substr(at, end - at);
        at = end + 1;
        if (tok.empty()) continue;
        const std::string val(tok.substr(1));
        try {
            switch (tok[0]) {
                case 'W': y.width = std::stoi(val); break;
                case 'H': y.height = std::stoi(val); break;
                case 'F': {
                    const std::size_t colon = val.find(':');
                    if (colon == std::string::npos) return std::nullopt;
                    y.fps_num = std::stoi(val.substr(0, colon));
                    y.fps_den = std::stoi(val.substr(colon + 1));
                    break;
                }
                case 'C': chroma = tok.substr(1); break;
                default: break;  // interlacing, aspect ratio, X extensions: y4mdec reads them
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (y.width <= 0 || y.height <= 0 || y.fps_num <= 0 || y.fps_den <= 0) return std::nullopt;
    if (chroma != "420jpeg" && chroma != "420mpeg2" && chroma != "420paldv" && chroma != "420") return std::nullopt;
    y.header_bytes = eol + 1;
    const auto w = static_cast<std::size_t>(y.width);
    const auto h = static_cast<std::size_t>(y.height);
    y.frame_bytes = w * h + 2 * (((w + 1) / 2) * ((h + 1) / 2));
    // Frames must be plain "FRAME\n" for the record size (and so the duration) to be known.
    if (head.size() >= y.header_bytes + 6 && head.substr(y.header_bytes, 6) != "FRAME\n") return std::nullopt;
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(local, ec);
    if (ec) return std::nullopt;
    y.frames = size > y.header_bytes ? (size - y.header_bytes) / y.record_bytes() : 0;
    if (y.frames == 0) return std::nullopt;  // let the discoverer say what is wrong with it
    if (!have_element("filesrc") || !have_element("y4mdec")) return std::nullopt;
    return y;
}

// The job probes its input before building the graph, and the capture pipeline probes it again:
// the discoverer decodes the start of the file each time, so the last answer is kept for as long
// as the file is unchanged.
struct ProbeCache {
    std::mutex m;
    std::string uri;
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime{};
    FileProbe probe;
    bool valid = false;
};

ProbeCache& probe_cache() {
    static ProbeCache cache;
    return cache;
}

}  // namespace

void ensure_gstreamer() {
    static std::once_flag once;
    std::call_once(once, [] {
        GErrorHolder e;
        if (!gst_init_check(nullptr, nullptr, &e.err))
            throw CaptureError("GStreamer initialization failed: " + e.message());
    });
}

namespace {

FileProbe discover(const std::string& path_or_uri, const ResolvedInput& in) {
    GErrorHolder e;
    GstDiscoverer* disc = gst_discoverer_new(10 * GST_SECOND, &e.err);
    if (!disc) throw CaptureError("cannot create GstDiscoverer: " + e.message());
    GstDiscovererInfo* info = gst_discoverer_discover_uri(disc, in.uri.c_str(), &e.err);
    g_object_unref(disc);
    if (!info) throw CaptureError("cannot read media file " + path_or_uri + ": " + e.message());

    FileProbe probe;
    GstDiscovererResult result = gst_discoverer_info_get_result(info);
    std::string why;
    switch (result) {
        case GST_DISCOVERER_OK: break;
        case GST_DISCOVERER_URI_INVALID: why = "invalid URI"; break;
        case GST_DISCOVERER_TIMEOUT: why = "timed out while probing"; break;
        case GST_DISCOVERER_BUSY: why = "discoverer busy"; break;
        case GST_DISCOVERER_MISSING_PLUGINS: {
            why = "missing GStreamer plugins";
            const gchar** details = gst_discoverer_info_get_missing_elements_installer_details(info);
            for (std::size_t i = 0; details && details[i]; ++i) why += std::string(i ? ", " : ": ") + details[i];
            break;
        }
        case GST_DISCOVERER_ERROR:
        default: why = e.err ? e.message() : "cannot be decoded"; break;
    }
    if (result == GST_DISCOVERER_OK) {
        GList* v = gst_discoverer_info_get_video_streams(info);
        GList* a = gst_discoverer_info_get_audio_streams(info);
        probe.has_video = v != nullptr;
        probe.has_audio = a != nullptr;
        gst_discoverer_stream_info_list_free(v);
        gst_discoverer_stream_info_list_free(a);
        GstClockTime d = gst_discoverer_info_get_duration(info);
        probe.duration = GST_CLOCK_TIME_IS_VALID(d) ? static_cast<Micros>(d / 1000) : 0;
    }
    g_object_unref(info);
    if (result != GST_DISCOVERER_OK)
        throw CaptureError("cannot decode media file " + path_or_uri + ": " + why);
    if (!probe.has_video && !probe.has_audio)
        throw CaptureError("media file " + path_or_uri + " has neither audio nor video");
    return probe;
}

}  // namespace

FileProbe probe_file(const std::string& path_or_uri) {
    ensure_gstreamer();
    ResolvedInput in = resolve_input(path_or_uri);
    if (auto y4m = read_y4m_header(in.local)) {
        FileProbe probe;
        probe.has_video = true;
        probe.duration = static_cast<Micros>(y4m->frames * 1'000'000ull * static_cast<unsigned>(y4m->fps_den) /
                                             static_cast<unsigned>(y4m->fps_num));
        return probe;
    }
    // Only local files are cached: their size and modification time tell when they change.
    std::error_code ec;
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime{};
    bool cacheable = !in.local.empty();
    if (cacheable) {
        size = std::filesystem::file_size(in.local, ec);
        if (!ec) mtime = std::filesystem::last_write_time(in.local, ec);
        cacheable = !ec;
    }
    ProbeCache& cache = probe_cache();
    if (cacheable) {
        std::lock_guard lk(cache.m);
        if (cache.valid && cache.uri == in.uri && cache.size == size && cache.mtime == mtime) return cache.probe;
    }
    FileProbe probe = discover(path_or_uri, in);
    if (cacheable) {
        std::lock_guard lk(cache.m);
        cache.uri = in.uri;
        cache.size = size;
        cache.mtime = mtime;
        cache.probe = probe;
        cache.valid = true;
    }
    return probe;
}

struct CapturePipeline::Impl {
    SourceConfig source;
    RawFormat format;
    CaptureCallbacks cb;
    CaptureStats stats;
    std::string desc;

    GstElement* pipeline = nullptr;
    GstElement* vbranch = nullptr;  // file source: bins fed from uridecodebin pads (not owned)
    GstElement* abranch = nullptr;
    std::atomic<bool> vlinked{false};
    std::atomic<bool> alinked{false};
    bool live = true;

    std::thread bus_thread;
    std::atomic<bool> quit{false};
    std::mutex m;
    std::condition_variable cv;
    bool eos = false;
    bool errored = false;
    std::atomic<bool> end_called{false};

    std::mutex stop_mutex;
    bool started = false;
    bool stopped = false;
    std::atomic<bool> aborted{false};
    std::atomic<Micros> base_us{0};

    ~Impl() { release(); }

    void release() {
        if (pipeline) {
            gst_element_set_state(pipeline, GST_STATE_NULL);
            gst_object_unref(pipeline);
            pipeline = nullptr;
        }
    }

    void fire_end() {
        if (!end_called.exchange(true) && cb.on_end) {
            try {
                cb.on_end();
            } catch (const std::exception& ex) {
                spdlog::error("capture: on_end callback threw: {}", ex.what());
            }
        }
    }

    void configure_sink(GstElement* sink, bool video) {
        const bool coded = video ? copying_video() : copying_audio();
        bool sync = false;
        bool drop = false;
        guint max_buffers = 4;
        if (live) {
            drop = true;  // bounded memory if the consumer stalls
        } else if (!source.fast) {
            sync = true;  // real-time pacing of a file
            max_buffers = 8;
        }
        g_object_set(sink, "sync", sync ? TRUE : FALSE, "drop", drop ? TRUE : FALSE, "max-buffers", max_buffers,
                     "emit-signals", FALSE, "enable-last-sample", FALSE, nullptr);
        GstAppSinkCallbacks cbs;
        std::memset(&cbs, 0, sizeof cbs);
        cbs.new_sample = video ? (coded ? &Impl::on_coded_video_sample : &Impl::on_video_sample)
                               : (coded ? &Impl::on_coded_audio_sample : &Impl::on_audio_sample);
        gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, this, nullptr);
        if (video && !coded) {
            GstPad* pad = gst_element_get_static_pad(sink, "sink");
            gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, &Impl::answer_allocation, nullptr, nullptr);
            gst_object_unref(pad);
        }
    }

    // on_video_sample maps frames with their GstVideoMeta (any strides and plane offsets), so the
    // video appsink says so when upstream asks: producers then need not copy frames into the
    // default layout for it (y4mdec does exactly that copy otherwise). The appsink itself does
    // not answer allocation queries.
    static GstPadProbeReturn answer_allocation(GstPad*, GstPadProbeInfo* info, gpointer) {
        GstQuery* q = GST_PAD_PROBE_INFO_QUERY(info);
        if (!q || GST_QUERY_TYPE(q) != GST_QUERY_ALLOCATION) return GST_PAD_PROBE_OK;
        if (!gst_query_find_allocation_meta(q, GST_VIDEO_META_API_TYPE, nullptr))
            gst_query_add_allocation_meta(q, GST_VIDEO_META_API_TYPE, nullptr);
        return GST_PAD_PROBE_HANDLED;  // answered: the query succeeds
    }

    // Running time of the buffer in microseconds (may be slightly negative for file sources).
    Micros running_us(GstSample* sample, GstBuffer* buf) { return running_us(sample, GST_BUFFER_PTS(buf)); }

    Micros running_us(GstSample* sample, GstClockTime pts) {
        const GstSegment* seg = gst_sample_get_segment(sample);
        if (GST_CLOCK_TIME_IS_VALID(pts) && seg && seg->format == GST_FORMAT_TIME) {
            guint64 rt = 0;
            int sign = gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, pts, &rt);
            if (sign > 0) return static_cast<Micros>(rt / 1000);
            if (sign < 0) return -static_cast<Micros>(rt / 1000);
        }
        // No usable timestamp: take "now" on the pipeline clock.
        GstClock* clock = gst_element_get_clock(pipeline);
        if (!clock) return 0;
        GstClockTime now = gst_clock_get_time(clock);
        gst_object_unref(clock);
        GstClockTime base = gst_element_get_base_time(pipeline);
        return now > base ? static_cast<Micros>((now - base) / 1000) : 0;
    }

    // Hands one unit downstream (not after abort()); a callback that throws stops the stream.
    template <class T>
    GstFlowReturn deliver(const std::function<void(T&&)>& callback, T&& unit, const char* name) {
        if (!callback || aborted.load()) return GST_FLOW_OK;
        try {
            callback(std::move(unit));
        } catch (const std::exception& ex) {
            spdlog::error("capture: {} callback threw: {}", name, ex.what());
            return GST_FLOW_ERROR;
        }
        return GST_FLOW_OK;
    }

    static GstFlowReturn on_video_sample(GstAppSink* sink, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        GstSample* sample = gst_app_sink_pull_sample(sink);
        if (!sample) return GST_FLOW_EOS;
        GstFlowReturn ret = GST_FLOW_OK;
        GstBuffer* buf = gst_sample_get_buffer(sample);
        RawVideoFrame f;
        if (buf && copy_i420_frame(sample, f)) {
            f.pts = self->running_us(sample, buf);
            self->stats.video_frames.fetch_add(1, std::memory_order_relaxed);
            ret = self->deliver(self->cb.on_video, std::move(f), "on_video");
        } else {
            spdlog::warn("capture: cannot map a video sample; dropped");
        }
        gst_sample_unref(sample);
        return ret;
    }

    // video.codec copy: one H.264 access unit as the source sent it (h264parse only aligned it to
    // whole pictures in Annex B form).
    static GstFlowReturn on_coded_video_sample(GstAppSink* sink, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        GstSample* sample = gst_app_sink_pull_sample(sink);
        if (!sample) return GST_FLOW_EOS;
        GstFlowReturn ret = GST_FLOW_OK;
        GstBuffer* buf = gst_sample_get_buffer(sample);
        GstMapInfo map;
        if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
            EncodedFrame f;
            f.kind = MediaKind::video;
            f.pts = self->running_us(sample, buf);
            f.dts = GST_CLOCK_TIME_IS_VALID(GST_BUFFER_DTS(buf)) ? self->running_us(sample, GST_BUFFER_DTS(buf)) : f.pts;
            f.keyframe = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
            if (GST_CLOCK_TIME_IS_VALID(GST_BUFFER_DURATION(buf)))
                f.duration = static_cast<Micros>(GST_BUFFER_DURATION(buf) / 1000);
            f.data.assign(map.data, map.data + map.size);
            gst_buffer_unmap(buf, &map);
            self->stats.video_frames.fetch_add(1, std::memory_order_relaxed);
            if (!f.data.empty()) ret = self->deliver(self->cb.on_coded_video, std::move(f), "on_coded_video");
        }
        gst_sample_unref(sample);
        return ret;
    }

    // audio.codec copy: one raw AAC frame as the source sent it (aacparse only took off an ADTS
    // header, if the source had one). The AudioSpecificConfig is the caps' codec_data (aacparse
    // makes it from the ADTS header when the source sent none).
    std::shared_ptr<const Bytes> audio_config;  // streaming thread only

    static GstFlowReturn on_coded_audio_sample(GstAppSink* sink, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        GstSample* sample = gst_app_sink_pull_sample(sink);
        if (!sample) return GST_FLOW_EOS;
        GstFlowReturn ret = GST_FLOW_OK;
        if (GstCaps* caps = gst_sample_get_caps(sample); caps && gst_caps_get_size(caps) > 0) {
            const GValue* v = gst_structure_get_value(gst_caps_get_structure(caps, 0), "codec_data");
            GstBuffer* cd = v && G_VALUE_HOLDS(v, GST_TYPE_BUFFER) ? gst_value_get_buffer(v) : nullptr;
            GstMapInfo cm;
            if (cd && gst_buffer_map(cd, &cm, GST_MAP_READ)) {
                if (!self->audio_config || !std::equal(self->audio_config->begin(), self->audio_config->end(), cm.data,
                                                       cm.data + cm.size))
                    self->audio_config = std::make_shared<const Bytes>(cm.data, cm.data + cm.size);
                gst_buffer_unmap(cd, &cm);
            }
        }
        GstBuffer* buf = gst_sample_get_buffer(sample);
        GstMapInfo map;
        if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
            EncodedFrame f;
            f.kind = MediaKind::audio;
            f.pts = f.dts = self->running_us(sample, buf);
            f.keyframe = true;
            if (GST_CLOCK_TIME_IS_VALID(GST_BUFFER_DURATION(buf)))
                f.duration = static_cast<Micros>(GST_BUFFER_DURATION(buf) / 1000);
            f.data.assign(map.data, map.data + map.size);
            f.codec_config = self->audio_config;
            gst_buffer_unmap(buf, &map);
            self->stats.audio_blocks.fetch_add(1, std::memory_order_relaxed);
            if (!f.codec_config) {
                spdlog::warn("capture: an AAC frame of {} came without an AudioSpecificConfig; dropped", self->source_name());
            } else if (!f.data.empty()) {
                ret = self->deliver(self->cb.on_coded_audio, std::move(f), "on_coded_audio");
            }
        }
        gst_sample_unref(sample);
        return ret;
    }

    static GstFlowReturn on_audio_sample(GstAppSink* sink, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        GstSample* sample = gst_app_sink_pull_sample(sink);
        if (!sample) return GST_FLOW_EOS;
        GstFlowReturn ret = GST_FLOW_OK;
        GstBuffer* buf = gst_sample_get_buffer(sample);
        GstMapInfo map;
        if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
            RawAudioBlock b;
            b.pts = self->running_us(sample, buf);
            b.sample_rate = self->format.sample_rate;
            b.channels = self->format.channels;
            if (GstCaps* caps = gst_sample_get_caps(sample)) {
                GstAudioInfo ainfo;
                if (gst_audio_info_from_caps(&ainfo, caps)) {
                    b.sample_rate = GST_AUDIO_INFO_RATE(&ainfo);
                    b.channels = GST_AUDIO_INFO_CHANNELS(&ainfo);
                }
            }
            const std::size_t per_frame = sizeof(std::int16_t) * static_cast<std::size_t>(b.channels);
            const std::size_t n = map.size / per_frame * static_cast<std::size_t>(b.channels);
            b.samples.resize(n);
            std::memcpy(b.samples.data(), map.data, n * sizeof(std::int16_t));
            gst_buffer_unmap(buf, &map);
            self->stats.audio_blocks.fetch_add(1, std::memory_order_relaxed);
            if (!b.samples.empty()) ret = self->deliver(self->cb.on_audio, std::move(b), "on_audio");
        }
        gst_sample_unref(sample);
        return ret;
    }

    // --- file source: uridecodebin pads go to the branch of their kind or to a fakesink ---
    static void on_pad_added(GstElement*, GstPad* pad, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        GstCaps* caps = gst_pad_get_current_caps(pad);
        if (!caps) caps = gst_pad_query_caps(pad, nullptr);
        std::string kind;
        if (caps && gst_caps_get_size(caps) > 0) kind = gst_structure_get_name(gst_caps_get_structure(caps, 0));
        GstCaps* caps_copy = caps;  // owned until the end of this function
        struct Unref {
            GstCaps* c;
            ~Unref() {
                if (c) gst_caps_unref(c);
            }
        } unref{caps_copy};

        GstElement* target = nullptr;
        if (kind.rfind("video/", 0) == 0 && self->vbranch && self->copying_video() && kind != "video/x-h264") {
            self->refuse_copy(kind);  // the pad runs into the fakesink below
        } else if (kind.rfind("audio/", 0) == 0 && self->abranch && self->copying_audio() && !is_aac(caps_copy)) {
            self->refuse_audio_copy(caps_copy);  // the pad runs into the fakesink below
        } else if (kind.rfind("video/", 0) == 0 && self->vbranch && !self->vlinked.exchange(true))
            target = self->vbranch;
        else if (kind.rfind("audio/", 0) == 0 && self->abranch && !self->alinked.exchange(true))
            target = self->abranch;

        if (target) {
            GstPad* sinkpad = gst_element_get_static_pad(target, "sink");
            GstPadLinkReturn lr = gst_pad_link(pad, sinkpad);
            gst_object_unref(sinkpad);
            if (GST_PAD_LINK_FAILED(lr))
                spdlog::error("capture: cannot link decoded {} pad (error {})", kind, static_cast<int>(lr));
            else
                spdlog::debug("capture: linked decoded {} stream", kind);
            return;
        }
        // A stream nobody asked for (or a second one of a kind): let it run into a fakesink so
        // it does not stop the demuxer.
        spdlog::debug("capture: ignoring decoded stream {}", kind.empty() ? "(no caps)" : kind);
        GstElement* sink = gst_element_factory_make("fakesink", nullptr);
        if (!sink) return;
        g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
        gst_bin_add(GST_BIN(self->pipeline), sink);
        gst_element_sync_state_with_parent(sink);
        GstPad* sinkpad = gst_element_get_static_pad(sink, "sink");
        gst_pad_link(pad, sinkpad);
        gst_object_unref(sinkpad);
    }

    bool copying_video() const { return format.video && format.video_copy && is_network(source.type); }

    // video.codec copy carries H.264 only: another codec is an error the operator must act on
    // (LiveSource keeps the slate on air and tries again, in case the camera is reconfigured).
    void refuse_copy(const std::string& caps_name) {
        static const std::pair<const char*, const char*> kNames[] = {
            {"video/x-h265", "H.265 (HEVC)"}, {"video/mpeg", "MPEG video"}, {"image/jpeg", "Motion JPEG"},
            {"video/x-vp8", "VP8"},           {"video/x-vp9", "VP9"},       {"video/x-av1", "AV1"},
            {"video/x-raw", "uncompressed or a codec GStreamer decoded"}};
        std::string name = caps_name;
        for (auto [caps, text] : kNames)
            if (caps_name == caps) name = text;
        const std::string msg = fmt::format(
            "video.codec copy takes H.264 only, and the source sends {} video: set video.codec to h264 to re-encode it",
            name);
        vlinked = true;  // refused, not missing: no "no decodable video" warning on top
        GError* err = g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND, msg.c_str());
        gst_element_post_message(pipeline, gst_message_new_error(GST_OBJECT(pipeline), err, nullptr));
        g_error_free(err);
    }

    bool copying_audio() const { return format.audio && format.audio_copy && is_network(source.type); }

    // AAC: audio/mpeg with mpegversion 2 or 4 (MPEG-2 and MPEG-4 AAC share the raw frame format).
    static bool is_aac(GstCaps* caps) {
        if (!caps || gst_caps_get_size(caps) == 0) return false;
        const GstStructure* st = gst_caps_get_structure(caps, 0);
        int version = 0;
        return gst_structure_has_name(st, "audio/mpeg") && gst_structure_get_int(st, "mpegversion", &version) &&
               (version == 2 || version == 4);
    }

    // audio.codec copy carries AAC only: another codec is named (as refuse_copy does for video).
    void refuse_audio_copy(GstCaps* caps) {
        std::string name = "an unknown codec";
        if (caps && gst_caps_get_size(caps) > 0) {
            const GstStructure* st = gst_caps_get_structure(caps, 0);
            const std::string kind = gst_structure_get_name(st);
            int version = 0, layer = 0;
            gst_structure_get_int(st, "mpegversion", &version);
            gst_structure_get_int(st, "layer", &layer);
            static const std::pair<const char*, const char*> kNames[] = {
                {"audio/x-ac3", "AC-3 (Dolby Digital)"}, {"audio/x-eac3", "E-AC-3"},       {"audio/x-opus", "Opus"},
                {"audio/x-alaw", "G.711 A-law"},         {"audio/x-mulaw", "G.711 mu-law"}, {"audio/x-adpcm", "ADPCM"},
                {"audio/x-vorbis", "Vorbis"},            {"audio/x-flac", "FLAC"},          {"audio/x-dts", "DTS"},
                {"audio/x-raw", "uncompressed (PCM) or a codec GStreamer decoded"}};
            name = kind;
            if (kind == "audio/mpeg" && version == 1)
                // tsdemux's caps say no layer (the parser after it would): MPEG-TS carries both.
                name = layer == 3 ? "MPEG-1 layer III (MP3)" : layer == 2 ? "MPEG-1 layer II (MP2)" : "MPEG-1/2 (MP2 or MP3)";
            for (auto [c, text] : kNames)
                if (kind == c) name = text;
        }
        const std::string msg = fmt::format(
            "audio.codec copy takes AAC only, and {} sends {} audio: set audio.codec to wma2 or mp3 to re-encode it",
            source_name(), name);
        GError* err = g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND, msg.c_str());
        gst_element_post_message(pipeline, gst_message_new_error(GST_OBJECT(pipeline), err, nullptr));
        g_error_free(err);
    }

    static void on_no_more_pads(GstElement*, gpointer user) {
        auto* self = static_cast<Impl*>(user);
        // A branch we built but the decoder never fed would block preroll: end it.
        for (auto [branch, linked, name] : {std::tuple{self->vbranch, &self->vlinked, "video"},
                                            std::tuple{self->abranch, &self->alinked, "audio"}}) {
            if (branch && !linked->load()) {
                spdlog::warn("capture: {} has no decodable {} stream", self->source_name(), name);
                GstPad* sinkpad = gst_element_get_static_pad(branch, "sink");
                gst_pad_send_event(sinkpad, gst_event_new_eos());
                gst_object_unref(sinkpad);
            }
        }
    }

    GstElement* make_branch(const std::string& d) {
        GErrorHolder e;
        GstElement* bin = gst_parse_bin_from_description(d.c_str(), TRUE, &e.err);
        if (!bin || e.err) {
            if (bin) gst_object_unref(bin);
            throw CaptureError("cannot build capture branch '" + d + "': " + e.message());
        }
        return bin;
    }

    GstElement* sink_named(GstElement* in, const char* name) {
        GstElement* s = gst_bin_get_by_name(GST_BIN(in), name);
        if (!s) throw CaptureError(std::string("capture: appsink '") + name + "' missing from the pipeline");
        return s;
    }

    void build_test() {
        live = true;
        bool valid = false;
        auto names = pattern_names(valid, source.pattern);
        if (!valid)
            throw CaptureError("unknown test pattern '" + source.pattern + "' (valid: " + join(names, ", ") + ")");
        if (!(source.tone_hz >= 0.0) || source.tone_hz * 2 >= format.sample_rate)
            throw CaptureError(fmt::format("test tone {} Hz out of range (0 to below half of {} Hz)",
                                           source.tone_hz, format.sample_rate));
        std::string d;
        if (format.video)
            d += fmt::format(
                "videotestsrc is-live=true pattern={} ! videoconvert ! videoscale ! videorate ! "
                "capsfilter caps=\"{}\" ! appsink name=vsink",
                source.pattern, video_caps(format));
        if (format.audio) {
            if (!d.empty()) d += "  ";
            d += fmt::format(
                "audiotestsrc is-live=true wave=sine freq={} ! audioconvert ! audioresample ! "
                "capsfilter caps=\"{}\" ! appsink name=asink",
                source.tone_hz, audio_caps(format));
        }
        desc = d;
        GErrorHolder e;
        GstElement* p = gst_parse_launch(d.c_str(), &e.err);
        if (!p || e.err) {
            if (p) gst_object_unref(p);
            throw CaptureError("cannot build test pipeline: " + e.message() + " [" + d + "]");
        }
        pipeline = p;
        if (format.video) {
            GstElement* s = sink_named(pipeline, "vsink");
            configure_sink(s, true);
            gst_object_unref(s);
        }
        if (format.audio) {
            GstElement* s = sink_named(pipeline, "asink");
            configure_sink(s, false);
            gst_object_unref(s);
        }
    }

    // V4L2 / ALSA devices (devices.hpp chooses devices and modes; see plan_device_source).
    void build_device() {
        live = true;
        static const SystemDevices system_devices;
        const DeviceBackend& backend = source.devices ? *source.devices : system_devices;
        DevicePlan plan = plan_device_source(source, format, backend);
        if (plan.video) spdlog::info("capture: {}", plan.video->summary);
        if (plan.audio) spdlog::info("capture: {}", plan.audio->summary);
        desc = plan.description;
        GErrorHolder e;
        GstElement* p = gst_parse_launch(desc.c_str(), &e.err);
        if (!p || e.err) {
            if (p) gst_object_unref(p);
            throw CaptureError("cannot build device pipeline: " + e.message() + " [" + desc + "]");
        }
        pipeline = p;
        // Device sources run on the system monotonic clock, never on alsasrc's sound-card clock:
        // video and audio timestamps share it, and the capture supervisor measures the sound
        // card's drift against it (alsasrc has slave-method=none).
        GstClock* clock = gst_system_clock_obtain();
        g_object_set(clock, "clock-type", GST_CLOCK_TYPE_MONOTONIC, nullptr);
        gst_pipeline_use_clock(GST_PIPELINE(pipeline), clock);
        gst_object_unref(clock);
        for (auto [want, name, video] : {std::tuple{plan.video.has_value(), "vsink", true},
                                         std::tuple{plan.audio.has_value(), "asink", false}}) {
            if (!want) continue;
            GstElement* s = sink_named(pipeline, name);
            configure_sink(s, video);
            gst_object_unref(s);
        }
    }

    // Builds one decoded-stream branch of a file pipeline, adds it and configures its appsink.
    GstElement* add_file_branch(const std::string& d, const char* sink_name, bool video) {
        GstElement* branch = make_branch(d);
        gst_bin_add(GST_BIN(pipeline), branch);
        GstElement* s = sink_named(branch, sink_name);
        configure_sink(s, video);
        gst_object_unref(s);
        desc += "  dec. ! " + d;
        return branch;
    }

    // filesrc ! y4mdec for a raw 4:2:0 y4m file (see read_y4m_header). filesrc reads whole groups
    // of frames, so y4mdec hands most frames on as sub-buffers of a read without copying them
    // (only the one frame of each group that straddles two reads is copied), and the appsink's
    // video meta support spares y4mdec its stride-conversion copy. The branch after it is the
    // same as uridecodebin's: converters are passthrough when the file already has the size and
    // rate wanted, and pacing, back-pressure and timestamps work as for any file.
    void build_y4m(const ResolvedInput& in, const Y4mInfo& y4m) {
        const std::size_t record = y4m.record_bytes();
        const std::size_t per_read = std::max<std::size_t>(2, (std::size_t{4} << 20) / record + 1);
        const auto blocksize = static_cast<guint>(std::min<std::size_t>(record * per_read, G_MAXUINT));
        GstElement* src = gst_element_factory_make("filesrc", "src");
        GstElement* dec = gst_element_factory_make("y4mdec", "dec");
        if (!src || !dec) {
            if (src) gst_object_unref(src);
            if (dec) gst_object_unref(dec);
            throw CaptureError("GStreamer elements 'filesrc' and 'y4mdec' not found");
        }
        g_object_set(src, "location", in.local.c_str(), "blocksize", blocksize, nullptr);
        gst_bin_add_many(GST_BIN(pipeline), src, dec, nullptr);
        if (!gst_element_link(src, dec)) throw CaptureError("capture: cannot link filesrc to y4mdec");
        desc = fmt::format("filesrc location={} blocksize={} ! y4mdec name=dec", in.local, blocksize);
        vbranch = add_file_branch(
            fmt::format("queue ! videoconvert ! videoscale ! videorate ! capsfilter caps=\"{}\" ! appsink name=vsink",
                        video_caps(format)),
            "vsink", true);
        if (!gst_element_link(dec, vbranch)) throw CaptureError("capture: cannot link y4mdec to the video branch");
        vlinked = true;
        spdlog::debug("capture: {} is {}x{} {}/{} fps 4:2:0 y4m, {} frames", source.path, y4m.width, y4m.height,
                      y4m.fps_num, y4m.fps_den, y4m.frames);
    }

    void build_file() {
        live = false;
        ResolvedInput in = resolve_input(source.path);  // missing file: error before anything else
        FileProbe probe = probe_file(source.path);
        const bool want_video = format.video && probe.has_video;
        const bool want_audio = format.audio && probe.has_audio;
        if (!want_video && !want_audio)
            throw CaptureError(fmt::format("media file {} has no {} to capture (it has video: {}, audio: {})",
                                           source.path,
                                           format.video && format.audio ? "video or audio"
                                           : format.video              ? "video"
                                                                       : "audio",
                                           probe.has_video ? "yes" : "no", probe.has_audio ? "yes" : "no"));
        pipeline = gst_pipeline_new("capture");
        if (want_video && !want_audio) {
            if (auto y4m = read_y4m_header(in.local)) {
                build_y4m(in, *y4m);
                return;
            }
        }
        GstElement* dec = gst_element_factory_make("uridecodebin", "dec");
        if (!dec) throw CaptureError("GStreamer element 'uridecodebin' not found (gst-plugins-base missing?)");
        g_object_set(dec, "uri", in.uri.c_str(), nullptr);
        gst_bin_add(GST_BIN(pipeline), dec);
        desc = "uridecodebin uri=" + in.uri + " name=dec";
        if (want_video) {
            std::string d = fmt::format(
                "queue ! videoconvert ! videoscale ! videorate ! capsfilter caps=\"{}\" ! appsink name=vsink",
                video_caps(format));
            vbranch = add_file_branch(d, "vsink", true);
        }
        if (want_audio) {
            std::string d = fmt::format(
                "queue ! audioconvert ! audioresample ! capsfilter caps=\"{}\" ! appsink name=asink",
                audio_caps(format));
            abranch = add_file_branch(d, "asink", false);
        }
        g_signal_connect(dec, "pad-added", G_CALLBACK(&Impl::on_pad_added), this);
        g_signal_connect(dec, "no-more-pads", G_CALLBACK(&Impl::on_no_more_pads), this);
    }

    // RTSP, SRT and other URIs: uridecodebin opens the source element for the URI (configured in
    // on_source_setup: transport, latency, credentials as properties) and plugs demuxer, parsers and
    // decoders; the decoded pads go to the same branches as a file's. Live: the appsinks drop rather
    // than hold the network source back, and timestamps are the pipeline's running time (rtspsrc's
    // jitter buffer and tsdemux map the sender's clock onto it).
    void build_network() {
        live = true;
        const std::string uri = network_uri(source);
        pipeline = gst_pipeline_new("capture");
        GstElement* dec = gst_element_factory_make("uridecodebin", "dec");
        if (!dec) throw CaptureError("GStreamer element 'uridecodebin' not found (gst-plugins-base missing?)");
        g_object_set(dec, "uri", uri.c_str(), nullptr);
        gst_bin_add(GST_BIN(pipeline), dec);
        desc = "uridecodebin uri=" + redact(uri, source) + " name=dec";
        // videorate skip-to-first: a sender's segment starts at 0, long before its first picture
        // when it connected late; videorate would fill the difference with copies of that picture.
        if (copying_video() || copying_audio()) {
            // Decoding stops at compressed video (copy): H.264 goes on as access units (h264parse
            // aligns and converts to Annex B; it changes no byte of a NAL unit), and at compressed
            // audio (audio copy): AAC goes on as raw frames (aacparse takes off ADTS headers and
            // puts the AudioSpecificConfig in the caps); anything else is named and refused in
            // on_pad_added. Raw, text and subtitle caps are uridecodebin's defaults.
            std::string stop_caps =
                "video/x-raw(ANY); audio/x-raw(ANY); text/x-raw(ANY); subpicture/x-dvd; subpicture/x-dvb; "
                "subpicture/x-pgs";
            if (copying_video())
                stop_caps += "; video/x-h264; video/x-h265; video/mpeg; image/jpeg; video/x-vp8; video/x-vp9; video/x-av1";
            if (copying_audio())
                stop_caps += "; audio/mpeg; audio/x-ac3; audio/x-eac3; audio/x-opus; audio/x-alaw; audio/x-mulaw; "
                             "audio/x-adpcm; audio/x-vorbis; audio/x-flac; audio/x-dts";
            GstCaps* stop = gst_caps_from_string(stop_caps.c_str());
            g_object_set(dec, "caps", stop, nullptr);
            gst_caps_unref(stop);
        }
        if (copying_video()) {
            vbranch = add_file_branch(
                "queue ! h264parse ! capsfilter caps=\"video/x-h264,stream-format=byte-stream,alignment=au\" ! "
                "appsink name=vsink",
                "vsink", true);
        } else if (format.video) {
            vbranch = add_file_branch(
                fmt::format("queue ! videoconvert ! videoscale ! videorate skip-to-first=true ! capsfilter caps=\"{}\" ! appsink name=vsink",
                            video_caps(format)),
                "vsink", true);
        }
        if (copying_audio())
            abranch = add_file_branch(
                "queue ! aacparse ! capsfilter caps=\"audio/mpeg,stream-format=raw,framed=true\" ! appsink name=asink",
                "asink", false);
        else if (format.audio)
            abranch = add_file_branch(
                fmt::format("queue ! audioconvert ! audioresample ! capsfilter caps=\"{}\" ! appsink name=asink",
                            audio_caps(format)),
                "asink", false);
        g_signal_connect(dec, "source-setup", G_CALLBACK(&Impl::on_source_setup), this);
        g_signal_connect(dec, "pad-added", G_CALLBACK(&Impl::on_pad_added), this);
        g_signal_connect(dec, "no-more-pads", G_CALLBACK(&Impl::on_no_more_pads), this);
    }

    static void on_source_setup(GstElement*, GstElement* element, gpointer user) {
        detail::configure_network_element(element, static_cast<Impl*>(user)->source);
    }

    // What the source is called in log lines (a network URL without its credentials).
    std::string source_name() const {
        if (source.type == SourceType::srt && source.srt_mode == "listener")
            return fmt::format("srt listener {}:{}", source.srt_address, source.srt_port);
        return is_network(source.type) ? redact_url(source.url.empty() ? desc : source.url) : source.path;
    }

    // error_text, and for network sources what it means for the operator, credentials redacted.
    std::string describe_error(GstMessage* msg) const {
        std::string text = error_text(msg);
        if (!is_network(source.type)) return text;
        GError* err = nullptr;
        gst_message_parse_error(msg, &err, nullptr);
        text = detail::explain_network_error(err, text, source);
        if (err) g_error_free(err);
        return text;
    }

    static std::string error_text(GstMessage* msg) {
        GError* err = nullptr;
        gchar* dbg = nullptr;
        gst_message_parse_error(msg, &err, &dbg);
        std::string text = fmt::format("{}: {}", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                                       err && err->message ? err->message : "unknown error");
        if (dbg) text += fmt::format(" ({})", dbg);
        if (err) g_error_free(err);
        g_free(dbg);
        return text;
    }

    void bus_loop() {
        set_thread_name("asfcast-gst-bus");
        GstBus* bus = gst_element_get_bus(pipeline);
        bool error_reported = false;
        while (!quit.load()) {
            GstMessage* msg = gst_bus_timed_pop_filtered(
                bus, 50 * GST_MSECOND,
                static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING));
            if (!msg) continue;
            switch (GST_MESSAGE_TYPE(msg)) {
                case GST_MESSAGE_ERROR: {
                    std::string text = describe_error(msg);
                    // A network source's errors repeat at every re-attach attempt: LiveSource, which
                    // gets them through on_error, logs each distinct one once.
                    if (is_network(source.type) && cb.on_error) spdlog::debug("capture: {}", text);
                    else spdlog::error("capture: {}", text);
                    {
                        std::lock_guard lk(m);
                        errored = true;
                    }
                    cv.notify_all();
                    if (!error_reported && cb.on_error && !aborted.load()) {
                        error_reported = true;
                        try {
                            cb.on_error(text);
                        } catch (const std::exception& ex) {
                            spdlog::error("capture: on_error callback threw: {}", ex.what());
                        }
                    }
                    break;
                }
                case GST_MESSAGE_EOS: {
                    spdlog::debug("capture: end of stream");
                    {
                        std::lock_guard lk(m);
                        eos = true;
                    }
                    cv.notify_all();
                    fire_end();
                    break;
                }
                case GST_MESSAGE_WARNING: {
                    GError* err = nullptr;
                    gchar* dbg = nullptr;
                    gst_message_parse_warning(msg, &err, &dbg);
                    spdlog::warn("capture: {}: {}", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
                                 redact(err && err->message ? err->message : "warning", source));
                    if (err) g_error_free(err);
                    g_free(dbg);
                    break;
                }
                default: break;
            }
            gst_message_unref(msg);
        }
        gst_object_unref(bus);
    }

    void start() {
        std::lock_guard lk(stop_mutex);
        if (started) return;
        if (stopped) throw CaptureError("capture pipeline already stopped");
        ensure_gstreamer();
        validate_format(format);
        try {
            if (source.type == SourceType::test)
                build_test();
            else if (source.type == SourceType::device)
                build_device();
            else if (is_network(source.type))
                build_network();
            else
                build_file();
        } catch (...) {
            release();
            throw;
        }
        spdlog::info("capture: {}", desc);
        // The system clock (CLOCK_MONOTONIC) rather than a source's own (alsasrc would offer the
        // sound card's): timestamps of every pipeline then map to monotonic_us() through the
        // base time, and audio drift is measured and corrected downstream.
        GstClock* sysclock = gst_system_clock_obtain();
        g_object_set(sysclock, "clock-type", GST_CLOCK_TYPE_MONOTONIC, nullptr);
        gst_pipeline_use_clock(GST_PIPELINE(pipeline), sysclock);
        if (is_network(source.type)) {
            // A network source's first data comes when the sender connects (an SRT caller may come
            // minutes later); its sinks then finish the asynchronous state change, and GstPipeline
            // would pick a new base time, moving the running time of buffers already stamped
            // against the old one. The base time is fixed here instead, so clock_base_us() holds
            // for every buffer.
            gst_element_set_start_time(pipeline, GST_CLOCK_TIME_NONE);
            gst_element_set_base_time(pipeline, gst_clock_get_time(sysclock));
        }
        gst_object_unref(sysclock);
        GstStateChangeReturn r = gst_element_set_state(pipeline, GST_STATE_PLAYING);
        // A network source connects on its own threads after this (its errors come on the bus);
        // its sinks preroll once the sender's first data is decoded, which may take a while.
        if (r == GST_STATE_CHANGE_ASYNC && !is_network(source.type))
            r = gst_element_get_state(pipeline, nullptr, nullptr, 5 * GST_SECOND);
        if (r == GST_STATE_CHANGE_FAILURE) {
            std::string why = "state change failed";
            GstBus* bus = gst_element_get_bus(pipeline);
            if (GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
                why = describe_error(msg);
                gst_message_unref(msg);
            }
            gst_object_unref(bus);
            release();
            throw CaptureError("cannot start capture (" + why + ") [" + desc + "]");
        }
        if (r == GST_STATE_CHANGE_ASYNC && !is_network(source.type))
            spdlog::warn("capture: pipeline still prerolling after 5 s");
        // Running time 0 on the monotonic clock: base time (ns of the system clock) in us.
        base_us = static_cast<Micros>(gst_element_get_base_time(pipeline) / 1000);
        started = true;
        bus_thread = std::thread([this] { bus_loop(); });
    }

    void abort() {
        std::lock_guard lk(stop_mutex);
        if (stopped) return;
        stopped = true;
        aborted = true;  // no callbacks from here on
        end_called = true;
        if (!started) return;
        if (std::this_thread::get_id() == bus_thread.get_id())
            throw CaptureError("capture: abort() called from the pipeline's own bus thread");
        quit = true;
        if (bus_thread.joinable()) bus_thread.join();
        gst_element_set_state(pipeline, GST_STATE_NULL);
    }

    void stop() {
        std::lock_guard lk(stop_mutex);
        if (stopped) return;
        stopped = true;
        if (!started) return;
        const bool on_bus_thread = std::this_thread::get_id() == bus_thread.get_id();
        bool need_eos = false;
        {
            std::lock_guard g(m);
            need_eos = !eos && !errored;
        }
        if (need_eos) {
            // Sources push EOS; everything queued downstream is delivered before it reaches the sinks.
            gst_element_send_event(pipeline, gst_event_new_eos());
            if (!on_bus_thread) {
                std::unique_lock g(m);
                if (!cv.wait_for(g, std::chrono::seconds(3), [this] { return eos || errored; }))
                    spdlog::warn("capture: no end of stream within 3 s of stop; stopping anyway");
            }
        }
        gst_element_set_state(pipeline, GST_STATE_NULL);
        quit = true;
        if (!on_bus_thread && bus_thread.joinable()) bus_thread.join();
        fire_end();
    }
};

CapturePipeline::CapturePipeline(SourceConfig source, RawFormat format, CaptureCallbacks callbacks)
    : impl_(std::make_unique<Impl>()) {
    impl_->source = std::move(source);
    impl_->format = format;
    impl_->cb = std::move(callbacks);
}

CapturePipeline::~CapturePipeline() {
    if (!impl_) return;
    try {
        impl_->stop();
    } catch (...) {
    }
    if (impl_->bus_thread.joinable()) {
        if (std::this_thread::get_id() == impl_->bus_thread.get_id())
            impl_->bus_thread.detach();  // destroyed from its own callback; the loop ends on quit
        else
            impl_->bus_thread.join();
    }
}

void CapturePipeline::start() { impl_->start(); }
void CapturePipeline::stop() { impl_->stop(); }
void CapturePipeline::abort() { impl_->abort(); }
Micros CapturePipeline::clock_base_us() const {
    // Media can arrive while start() still waits for the state change: read the base time
    // GstPipeline set on its way to PLAYING (before any source produced a buffer).
    if (GstElement* p = impl_->pipeline) return static_cast<Micros>(gst_element_get_base_time(p) / 1000);
    return impl_->base_us.load();
}
bool CapturePipeline::waits_for_sender() const {
    return impl_->source.type == SourceType::srt && impl_->source.srt_mode == "listener";
}
const CaptureStats& CapturePipeline::stats() const { return impl_->stats; }
std::string CapturePipeline::description() const { return impl_->desc; }

}  // namespace asfcast::capture
