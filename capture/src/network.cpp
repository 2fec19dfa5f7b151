// Network sources: the URI, the source element's settings, error texts and probing (network.hpp).
#include "asfcast/capture/network.hpp"

#include "network_gst.hpp"

#include <gst/pbutils/pbutils.h>

#include <fmt/format.h>

#include <algorithm>
#include <regex>

namespace asfcast::capture {

namespace {

bool has_property(GObject* object, const char* name) {
    return g_object_class_find_property(G_OBJECT_GET_CLASS(object), name) != nullptr;
}

std::string element_factory_name(GstElement* element) {
    GstElementFactory* f = gst_element_get_factory(element);
    return f ? GST_OBJECT_NAME(f) : "";
}

// host:port of a URL, for error messages ("" when it has none).
std::string host_port(const std::string& url) {
    static const std::regex re(R"(^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/?#]+))");
    std::smatch m;
    return std::regex_search(url, m, re) ? m[1].str() : std::string();
}

void replace_all(std::string& text, const std::string& secret) {
    if (secret.empty()) return;
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
        text.replace(at, secret.size(), "***");
}

}  // namespace

std::string redact_url(std::string_view url) {
    std::string out(url);
    // scheme://user:password@host -> scheme://user:***@host (and user@ alone is kept).
    static const std::regex userinfo(R"(([A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*):[^@/\s]*@)");
    out = std::regex_replace(out, userinfo, "$1:***@");
    static const std::regex passphrase(R"(((?:passphrase|password|pw)=)(?!\*\*\*)[^&\s"']*)", std::regex::icase);
    return std::regex_replace(out, passphrase, "$1***");
}

std::string redact(std::string_view text, const SourceConfig& source) {
    std::string out = redact_url(text);
    replace_all(out, source.password);
    replace_all(out, source.passphrase);
    return out;
}

std::string network_uri(const SourceConfig& source) {
    switch (source.type) {
        case SourceType::rtsp:
            if (source.url.rfind("rtsp://", 0) != 0 && source.url.rfind("rtsps://", 0) != 0 &&
                source.url.rfind("rtspt://", 0) != 0)
                throw CaptureError("rtsp source: url '" + redact_url(source.url) +
                                   "' is not an rtsp:// URL (source.url)");
            return source.url;
        case SourceType::srt: {
            if (source.srt_mode == "listener") {
                if (source.srt_port <= 0 || source.srt_port > 65535)
                    throw CaptureError("srt listener: source.port is required (1..65535)");
                const bool v6 = source.srt_address.find(':') != std::string::npos;
                return fmt::format("srt://{}{}{}:{}?mode=listener", v6 ? "[" : "", source.srt_address, v6 ? "]" : "",
                                   source.srt_port);
            }
            if (source.url.rfind("srt://", 0) != 0)
                throw CaptureError("srt caller: url '" + redact_url(source.url) +
                                   "' is not an srt://host:port URL (source.url)");
            if (source.url.find("mode=") != std::string::npos) return source.url;
            return source.url + (source.url.find('?') == std::string::npos ? "?" : "&") + "mode=caller";
        }
        case SourceType::uri:
            if (!gst_uri_is_valid(source.url.c_str()))
                throw CaptureError("uri source: '" + redact_url(source.url) + "' is not a URI (source.url)");
            return source.url;
        default: throw CaptureError("not a network source");
    }
}

namespace detail {

void configure_network_element(GstElement* element, const SourceConfig& source) {
    GObject* obj = G_OBJECT(element);
    const std::string kind = element_factory_name(element);
    if (kind == "rtspsrc") {
        if (source.rtsp_transport == "tcp") gst_util_set_object_arg(obj, "protocols", "tcp");
        else if (source.rtsp_transport == "udp") gst_util_set_object_arg(obj, "protocols", "udp+udp-mcast");
        g_object_set(obj, "latency", static_cast<guint>(std::max(0, source.latency_ms)), nullptr);
        // A camera that does not answer is reported in 5 s, not rtspsrc's 20 s: the slate is on
        // air meanwhile, and the next attempt comes sooner.
        g_object_set(obj, "tcp-timeout", static_cast<guint64>(5'000'000), nullptr);
        if (!source.user.empty()) g_object_set(obj, "user-id", source.user.c_str(), nullptr);
        if (!source.password.empty()) g_object_set(obj, "user-pw", source.password.c_str(), nullptr);
    } else if (kind == "srtsrc") {
        g_object_set(obj, "latency", std::max(0, source.latency_ms), nullptr);
        if (!source.passphrase.empty()) g_object_set(obj, "passphrase", source.passphrase.c_str(), nullptr);
        if (!source.streamid.empty() && has_property(obj, "streamid"))
            g_object_set(obj, "streamid", source.streamid.c_str(), nullptr);
        // LiveSource re-attaches (with the slate on air and one log line per state change);
        // srtsrc's own silent reconnection would hide a lost encoder behind a "late" source.
        if (has_property(obj, "auto-reconnect")) g_object_set(obj, "auto-reconnect", FALSE, nullptr);
        // Arrival times on the buffers: tsdemux maps the sender's PCR onto them (skew corrected),
        // so decoded media carries running times of our clock. Without them it starts the time
        // line at 0 when the first packet comes, seconds off when the sender connects late.
        g_object_set(obj, "do-timestamp", TRUE, nullptr);
    }
}

std::string explain_network_error(const GError* error, const std::string& raw, const SourceConfig& source) {
    const std::string where = redact_url(source.type == SourceType::srt && source.srt_mode == "listener"
                                             ? fmt::format("srt listener {}:{}", source.srt_address, source.srt_port)
                                             : source.url);
    const std::string host = host_port(source.url);
    std::string what;
    if (error && error->domain == GST_RESOURCE_ERROR) {
        switch (error->code) {
            case GST_RESOURCE_ERROR_NOT_AUTHORIZED:
                what = source.type == SourceType::rtsp
                           ? "the camera refused the credentials (401 Unauthorized): check source.user and "
                             "source.password or source.password_file"
                           : "the server refused the credentials: check the source's user and password";
                break;
            case GST_RESOURCE_ERROR_NOT_FOUND:
                what = "the server has no stream at that address (404 Not Found): check the path in source.url";
                break;
            case GST_RESOURCE_ERROR_OPEN_READ:
            case GST_RESOURCE_ERROR_OPEN_READ_WRITE:
            case GST_RESOURCE_ERROR_OPEN_WRITE:
            case GST_RESOURCE_ERROR_READ:
                if (source.type == SourceType::srt && source.srt_mode == "listener")
                    what = "cannot listen or receive: check that the port is free and the sender's passphrase and "
                           "stream id";
                else
                    what = fmt::format("cannot connect to {}: check that the {} is on and reachable, the host and "
                                       "port in source.url, and firewalls{}",
                                       host.empty() ? std::string("the server") : host,
                                       source.type == SourceType::rtsp ? "camera" : "sender",
                                       source.type == SourceType::srt ? ", the passphrase and the stream id" : "");
                break;
            default: break;
        }
    }
    std::string out = what.empty() ? fmt::format("{}: {}", where, raw) : fmt::format("{}: {} [{}]", where, what, raw);
    std::replace(out.begin(), out.end(), '\n', ' ');  // GStreamer's debug text spans lines: one log line
    return redact(out, source);
}

}  // namespace detail

namespace {

struct ProbeContext {
    const SourceConfig* source;
};

void on_source_setup(GstElement*, GstElement* element, gpointer user) {
    detail::configure_network_element(element, *static_cast<ProbeContext*>(user)->source);
}

std::string codec_of(GstDiscovererStreamInfo* info, std::string& caps_name) {
    GstCaps* caps = gst_discoverer_stream_info_get_caps(info);
    std::string desc;
    if (caps) {
        if (gst_caps_get_size(caps) > 0) caps_name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
        gchar* d = gst_pb_utils_get_codec_description(caps);
        if (d) desc = d;
        g_free(d);
        gst_caps_unref(caps);
    }
    return desc.empty() ? caps_name : desc;
}

}  // namespace

NetworkProbe probe_network(const SourceConfig& source, int timeout_s) {
    ensure_gstreamer();
    gst_pb_utils_init();  // codec descriptions
    const std::string uri = network_uri(source);
    NetworkProbe probe;
    probe.uri = redact(uri, source);
    GError* err = nullptr;
    GstDiscoverer* disc = gst_discoverer_new(static_cast<GstClockTime>(std::max(1, timeout_s)) * GST_SECOND, &err);
    if (!disc) {
        std::string why = err && err->message ? err->message : "unknown error";
        if (err) g_error_free(err);
        throw CaptureError("cannot create GstDiscoverer: " + why);
    }
    ProbeContext ctx{&source};
    g_signal_connect(disc, "source-setup", G_CALLBACK(&on_source_setup), &ctx);
    GstDiscovererInfo* info = gst_discoverer_discover_uri(disc, uri.c_str(), &err);
    g_object_unref(disc);
    const GstDiscovererResult result = info ? gst_discoverer_info_get_result(info) : GST_DISCOVERER_ERROR;
    if (result != GST_DISCOVERER_OK) {
        std::string why;
        switch (result) {
            case GST_DISCOVERER_TIMEOUT:
                why = fmt::format("nothing decodable within {} s (is the source sending? for an SRT listener, did a "
                                  "caller connect?)",
                                  timeout_s);
                break;
            case GST_DISCOVERER_MISSING_PLUGINS: why = "GStreamer plugins are missing for this stream"; break;
            case GST_DISCOVERER_URI_INVALID: why = "invalid URI"; break;
            default:
                why = detail::explain_network_error(err, err && err->message ? err->message : "cannot be opened",
                                                    source);
                break;
        }
        if (err) g_error_free(err);
        if (info) g_object_unref(info);
        const bool named = result != GST_DISCOVERER_TIMEOUT && result != GST_DISCOVERER_MISSING_PLUGINS &&
                           result != GST_DISCOVERER_URI_INVALID;  // explain_network_error names the source
        throw CaptureError(redact(named ? "probe: " + why : "probe " + probe.uri + ": " + why, source));
    }
    if (err) g_error_free(err);
    probe.live = gst_discoverer_info_get_live(info);
    GList* list = gst_discoverer_info_get_stream_list(info);
    for (GList* l = list; l; l = l->next) {
        auto* s = static_cast<GstDiscovererStreamInfo*>(l->data);
        ProbedStream ps;
        if (GST_IS_DISCOVERER_VIDEO_INFO(s)) {
            auto* v = GST_DISCOVERER_VIDEO_INFO(s);
            ps.video = true;
            ps.width = static_cast<int>(gst_discoverer_video_info_get_width(v));
            ps.height = static_cast<int>(gst_discoverer_video_info_get_height(v));
            ps.fps_num = static_cast<int>(gst_discoverer_video_info_get_framerate_num(v));
            ps.fps_den = static_cast<int>(gst_discoverer_video_info_get_framerate_denom(v));
            ps.bitrate = gst_discoverer_video_info_get_bitrate(v);
        } else if (GST_IS_DISCOVERER_AUDIO_INFO(s)) {
            auto* a = GST_DISCOVERER_AUDIO_INFO(s);
            ps.sample_rate = static_cast<int>(gst_discoverer_audio_info_get_sample_rate(a));
            ps.channels = static_cast<int>(gst_discoverer_audio_info_get_channels(a));
            ps.bitrate = gst_discoverer_audio_info_get_bitrate(a);
        } else {
            continue;  // containers and subtitles: the streams inside are listed on their own
        }
        ps.codec = codec_of(s, ps.caps);
        probe.streams.push_back(std::move(ps));
    }
    gst_discoverer_stream_info_list_free(list);
    g_object_unref(info);
    if (probe.streams.empty()) throw CaptureError("probe " + probe.uri + ": the source offers no audio or video");
    return probe;
}

}  // namespace asfcast::capture
