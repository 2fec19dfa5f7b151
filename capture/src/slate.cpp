// The slate: one I420 picture rendered once at start with GStreamer (decoder, scaler, pango text).
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "asfcast/capture/live_source.hpp"
#include "gst_frame.hpp"

namespace asfcast::capture {
namespace {

struct PipelineRef {
    GstElement* p = nullptr;
    ~PipelineRef() {
        if (p) {
            gst_element_set_state(p, GST_STATE_NULL);
            gst_object_unref(p);
        }
    }
};

bool have_factory(const char* name) {
    GstElementFactory* f = gst_element_factory_find(name);
    if (!f) return false;
    gst_object_unref(f);
    return true;
}

}  // namespace

RawVideoFrame render_slate(int width, int height, const std::string& image, const std::string& text) {
    ensure_gstreamer();
    if (!image.empty() && !std::filesystem::is_regular_file(image))
        throw CaptureError("slate image " + image + " does not exist or is not a file (source.slate_image)");
    const bool with_text = !text.empty() && have_factory("textoverlay");
    if (!text.empty() && !with_text)
        spdlog::warn("slate: GStreamer's textoverlay (gstreamer1.0-x) is missing; the slate has no text");
    // Text about 1/18 of the picture height; pango sizes are in points at 72 dpi here.
    const int font_px = std::max(8, height / 18);
    std::string d = image.empty() ? "videotestsrc pattern=smpte100 num-buffers=1"
                                  : "filesrc name=file ! decodebin ! videoconvert ! imagefreeze num-buffers=1";
    d += fmt::format(" ! videoconvert ! videoscale add-borders=true ! video/x-raw,width={},height={},pixel-aspect-ratio=1/1",
                     width, height);
    if (with_text)
        d += fmt::format(" ! textoverlay name=text valignment=center halignment=center shaded-background=true "
                         "font-desc=\"Sans Bold {}px\"",
                         font_px);
    d += fmt::format(" ! videoconvert ! video/x-raw,format=I420,width={},height={} ! appsink name=sink sync=false", width,
                     height);
    GError* err = nullptr;
    PipelineRef pipe{gst_parse_launch(d.c_str(), &err)};
    if (!pipe.p || err) {
        std::string why = err && err->message ? err->message : "unknown error";
        if (err) g_error_free(err);
        throw CaptureError("cannot build the slate pipeline: " + why);
    }
    if (!image.empty()) {
        GstElement* file = gst_bin_get_by_name(GST_BIN(pipe.p), "file");
        g_object_set(file, "location", image.c_str(), nullptr);
        gst_object_unref(file);
    }
    if (with_text) {
        GstElement* overlay = gst_bin_get_by_name(GST_BIN(pipe.p), "text");
        g_object_set(overlay, "text", text.c_str(), nullptr);  // a property: no escaping concerns
        gst_object_unref(overlay);
    }
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipe.p), "sink");
    gst_element_set_state(pipe.p, GST_STATE_PLAYING);
    GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND);
    gst_object_unref(sink);
    RawVideoFrame frame;
    const bool ok = sample && copy_i420_frame(sample, frame);
    if (sample) gst_sample_unref(sample);
    if (!ok || frame.width != width || frame.height != height) {
        std::string why = "no picture came out";
        GstBus* bus = gst_element_get_bus(pipe.p);
        if (GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
            GError* e = nullptr;
            gst_message_parse_error(msg, &e, nullptr);
            if (e && e->message) why = e->message;
            if (e) g_error_free(e);
            gst_message_unref(msg);
        }
        gst_object_unref(bus);
        throw CaptureError(image.empty() ? "cannot render the slate: " + why
                                         : "slate image " + image + " cannot be decoded: " + why);
    }
    return frame;
}

}  // namespace asfcast::capture
