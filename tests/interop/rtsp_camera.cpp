// A test IP camera: an RTSP server (gst-rtsp-server) on 127.0.0.1 serving H.264 (x264enc) and AAC
// (avenc_aac) from live test sources, like a real camera, at rtsp://127.0.0.1:PORT/cam.
//
//   rtsp_camera --port PORT [--user USER --password PASSWORD] [--size WxH] [--fps N] [--seconds S]
//               [--bitrate KBPS] [--pattern NAME] [--motion PX] [--dump-h264 FILE]
//               [--resize-after S --resize WxH]
//
// With --user/--password every request needs Basic authentication (GstRTSPAuth), so wrong
// credentials get 401 as from a real camera. Prints "ready rtsp://127.0.0.1:PORT/cam" once
// serving. Stops on SIGTERM/SIGINT or after --seconds (bounded for tests); tests restart it by
// running it again on the same port. The media is shared between clients, as a camera's is.
//
// --bitrate: x264enc's bit rate in kbit/s (default 1500). x264enc (ultrafast, ABR) spends it only on
// content that needs it: the default bouncing ball at 1920x1080 comes out near 1.2 Mbit/s whatever
// the bit rate; `--pattern smpte --motion 8` (colour bars moving 8 pixels a frame) fills 4 Mbit/s at
// 1080p30 and costs the camera less CPU than the ball (measured: 4.2 Mbit/s, 30% of a core).
//
// --pattern NAME: the videotestsrc pattern (default ball; smpte, snow, zone-plate...).
// --motion PX: moves the pattern horizontally by PX pixels a frame (videotestsrc horizontal-speed,
// default 0).
//
// --dump-h264 FILE: writes the H.264 the camera sends, as x264enc produced it before RTP
// payloading: an Annex B byte stream (x264enc is asked for stream-format=byte-stream), one write per
// access unit, in encoding order, flushed after each, so a test can compare what a relay carried
// with what the camera sent. x264enc puts an access unit delimiter (type 9) before every picture and
// SPS + PPS before every IDR; with them in-band rtph264pay (config-interval=1) inserts no other copy,
// so the payloader sends these NAL units unchanged. A client that writes what it receives as Annex B
// (ffmpeg -c copy -f h264) has the same NAL units with the same bytes, a contiguous run of the dump's;
// only start codes may differ in length (x264 writes 3-byte ones before SEI and slices, RTP
// depacketizers usually write 4-byte ones everywhere): compare NAL units, not files. The media
// pipeline is built at the first client's DESCRIBE, so the file starts there; gst-rtsp-server then
// restarts the media (a flushing seek) and x264enc encodes the first picture again, so the dump
// begins with the same first access unit twice (byte-identical; clients get the second). A client
// that connects later receives a later part, from its first key frame on. The file is opened once
// (truncated) at start and covers the whole time the camera runs: when every client has left,
// gst-rtsp-server drops the media and builds a new one for the next client, whose x264enc starts
// again with SPS + PPS + IDR, appended to the same file.
//
// --resize-after S --resize WxH: S seconds (media time) after the media's first frame, the camera
// changes its picture size to WxH mid-stream, like a camera whose resolution its operator changed:
// the capsfilter before x264enc gets the new size, videotestsrc renegotiates, x264enc reinitialises
// and starts the new size with SPS + PPS (new size) + IDR, which rtph264pay sends in-band (clients
// already playing get it there; the SDP of a client that connects later describes the new size).
// Each new media (see above) starts again at --size and changes again S seconds later. Stderr gets
// "resized to WxH at S s".
//
// As gst-rtsp-server does with a shared media, a client's PLAY with a Range (ffmpeg sends npt=0-)
// seeks the media: when a second client starts playing, x264enc starts again with an IDR and the
// media's timestamps go back to the start for every client (a real camera's would not); the access
// unit in flight at the time is dropped. The dump has what x264enc produced, restarts included.
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <glib-unix.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

gboolean quit_loop(gpointer loop) {
    g_main_loop_quit(static_cast<GMainLoop*>(loop));
    return G_SOURCE_REMOVE;
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "rtsp_camera: %s\nusage: rtsp_camera --port PORT [--user USER --password PASSWORD] "
                 "[--size WxH] [--fps N] [--seconds S] [--bitrate KBPS] [--pattern NAME] [--motion PX] "
                 "[--dump-h264 FILE] [--resize-after S --resize WxH]\n",
                 why);
    std::exit(2);
}

// Splits "WxH" into its two positive numbers; false when it is not that.
bool parse_size(const std::string& s, int& w, int& h) {
    char tail = 0;
    return std::sscanf(s.c_str(), "%dx%d%c", &w, &h, &tail) == 2 && w > 0 && h > 0;
}

// What the media hooks share; lives as long as main().
struct Camera {
    std::FILE* dump = nullptr;  // --dump-h264, or null
    std::mutex dump_mutex;      // two medias may overlap briefly (one torn down, the next built)
    double resize_after = -1;   // seconds; < 0: no resize
    int resize_w = 0, resize_h = 0;
    int fps = 30;
};

// One media's resize state: the first frame's time, and whether the change is done.
struct Resize {
    Camera* camera;
    GstElement* capsfilter;  // owned (a reference)
    GstClockTime first_pts = GST_CLOCK_TIME_NONE;
    bool requested = false;
};

void free_resize(gpointer p) {
    auto* r = static_cast<Resize*>(p);
    gst_object_unref(r->capsfilter);
    delete r;
}

// On the main loop: the new size into the capsfilter before x264enc (videotestsrc renegotiates at its
// next frame, x264enc reinitialises with the new caps).
gboolean apply_resize(gpointer p) {
    auto* r = static_cast<Resize*>(p);
    Camera* c = r->camera;
    GstCaps* caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, c->resize_w, "height", G_TYPE_INT,
                                        c->resize_h, "framerate", GST_TYPE_FRACTION, c->fps, 1, nullptr);
    g_object_set(r->capsfilter, "caps", caps, nullptr);
    gst_caps_unref(caps);
    std::fprintf(stderr, "rtsp_camera: resized to %dx%d at %g s\n", c->resize_w, c->resize_h, c->resize_after);
    return G_SOURCE_REMOVE;
}

// On the capsfilter's sink pad: once a frame is --resize-after seconds after the first, asks the main
// loop for the change (properties are not changed from inside the streaming thread's probe).
GstPadProbeReturn watch_time(GstPad*, GstPadProbeInfo* info, gpointer p) {
    auto* r = static_cast<Resize*>(p);
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    const GstClockTime pts = GST_BUFFER_PTS(buf);
    if (r->requested || !GST_CLOCK_TIME_IS_VALID(pts)) return GST_PAD_PROBE_OK;
    if (!GST_CLOCK_TIME_IS_VALID(r->first_pts)) r->first_pts = pts;
    if (static_cast<double>(pts - r->first_pts) / GST_SECOND >= r->camera->resize_after) {
        r->requested = true;
        g_object_ref(r->capsfilter);  // the idle callback's own reference
        auto* idle = new Resize{r->camera, r->capsfilter};
        g_idle_add_full(G_PRIORITY_DEFAULT, apply_resize, idle, free_resize);
        return GST_PAD_PROBE_REMOVE;
    }
    return GST_PAD_PROBE_OK;
}

// On x264enc's source pad: each access unit, as produced, appended to the dump.
GstPadProbeReturn dump_au(GstPad*, GstPadProbeInfo* info, gpointer p) {
    auto* c = static_cast<Camera*>(p);
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo map;
    if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
        std::lock_guard<std::mutex> lock(c->dump_mutex);
        if (std::fwrite(map.data, 1, map.size, c->dump) != map.size || std::fflush(c->dump) != 0)
            std::fprintf(stderr, "rtsp_camera: cannot write the H.264 dump: %s\n", std::strerror(errno));
        gst_buffer_unmap(buf, &map);
    }
    return GST_PAD_PROBE_OK;
}

// A media was built (first DESCRIBE, or the first after every client left): hooks the dump and the
// resize onto its pipeline.
void media_configure(GstRTSPMediaFactory*, GstRTSPMedia* media, gpointer p) {
    auto* c = static_cast<Camera*>(p);
    GstElement* bin = gst_rtsp_media_get_element(media);
    if (c->dump) {
        GstElement* enc = gst_bin_get_by_name(GST_BIN(bin), "venc");
        GstPad* pad = gst_element_get_static_pad(enc, "src");
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, dump_au, c, nullptr);
        gst_object_unref(pad);
        gst_object_unref(enc);
    }
    if (c->resize_after >= 0) {
        GstElement* caps = gst_bin_get_by_name(GST_BIN(bin), "vcaps");
        GstPad* pad = gst_element_get_static_pad(caps, "sink");
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, watch_time, new Resize{c, caps}, free_resize);
        gst_object_unref(pad);
    }
    gst_object_unref(bin);
}

}  // namespace

int main(int argc, char** argv) {
    gst_init(&argc, &argv);
    std::string port, user, password, size = "640x360", dump_path, resize, pattern = "ball";
    int motion = 0;
    int fps = 30;
    int seconds = 600;
    int bitrate = 1500;
    double resize_after = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value after " + a).c_str());
        const char* v = argv[++i];
        if (a == "--port") port = v;
        else if (a == "--user") user = v;
        else if (a == "--password") password = v;
        else if (a == "--size") size = v;
        else if (a == "--fps") fps = std::atoi(v);
        else if (a == "--seconds") seconds = std::atoi(v);
        else if (a == "--bitrate") bitrate = std::atoi(v);
        else if (a == "--pattern") pattern = v;
        else if (a == "--motion") motion = std::atoi(v);
        else if (a == "--dump-h264") dump_path = v;
        else if (a == "--resize-after") resize_after = std::atof(v);
        else if (a == "--resize") resize = v;
        else usage(("unknown option " + a).c_str());
    }
    if (port.empty()) usage("--port is required");
    if (user.empty() != password.empty()) usage("--user and --password go together");
    int width = 0, height = 0;
    if (!parse_size(size, width, height) || fps <= 0 || seconds <= 0) usage("bad --size, --fps or --seconds");
    if (bitrate <= 0) usage("bad --bitrate");
    if (pattern.empty() || pattern.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
        usage("bad --pattern (a videotestsrc pattern name: ball, smpte, snow...)");
    Camera camera;
    camera.fps = fps;
    if ((resize_after >= 0) != !resize.empty()) usage("--resize-after and --resize go together");
    if (!resize.empty()) {
        if (!parse_size(resize, camera.resize_w, camera.resize_h)) usage("bad --resize");
        camera.resize_after = resize_after;
    }
    if (!dump_path.empty()) {
        camera.dump = std::fopen(dump_path.c_str(), "wb");
        if (!camera.dump) {
            std::fprintf(stderr, "rtsp_camera: cannot write %s: %s\n", dump_path.c_str(), std::strerror(errno));
            return 1;
        }
    }

    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    GstRTSPServer* server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, "127.0.0.1");
    gst_rtsp_server_set_service(server, port.c_str());

    // A camera's encoder: constant frame rate, key frame every second, no B-frames; AAC-LC audio.
    // x264enc writes Annex B (byte-stream): every IDR carries its SPS and PPS in-band, which is what
    // --resize needs the payloader to send and what --dump-h264 writes.
    const std::string launch =
        "( videotestsrc is-live=true pattern=" + pattern + " horizontal-speed=" + std::to_string(motion) +
        " ! capsfilter name=vcaps caps=video/x-raw,width=" +
        std::to_string(width) + ",height=" + std::to_string(height) + ",framerate=" + std::to_string(fps) +
        "/1 ! timeoverlay ! x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate=" +
        std::to_string(bitrate) + " key-int-max=" + std::to_string(fps) +
        " ! video/x-h264,profile=baseline,stream-format=byte-stream,alignment=au ! rtph264pay name=pay0 pt=96 "
        "config-interval=1 "
        "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! "
        "avenc_aac bitrate=128000 ! rtpmp4gpay name=pay1 pt=97 )";
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    if (camera.dump || camera.resize_after >= 0)
        g_signal_connect(factory, "media-configure", G_CALLBACK(media_configure), &camera);

    if (!user.empty()) {
        GstRTSPAuth* auth = gst_rtsp_auth_new();
        gst_rtsp_auth_set_supported_methods(auth, GST_RTSP_AUTH_BASIC);
        GstRTSPToken* token =
            gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", nullptr);
        gchar* basic = gst_rtsp_auth_make_basic(user.c_str(), password.c_str());
        gst_rtsp_auth_add_basic(auth, basic, token);
        g_free(basic);
        gst_rtsp_token_unref(token);
        gst_rtsp_server_set_auth(server, auth);
        g_object_unref(auth);
        // Only the authenticated role may see and play the media.
        gst_rtsp_media_factory_add_role(factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                        GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, nullptr);
    }

    GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
    gst_rtsp_mount_points_add_factory(mounts, "/cam", factory);
    g_object_unref(mounts);

    if (gst_rtsp_server_attach(server, nullptr) == 0) {
        std::fprintf(stderr, "rtsp_camera: cannot listen on 127.0.0.1:%s (in use?)\n", port.c_str());
        return 1;
    }
    g_unix_signal_add(SIGTERM, quit_loop, loop);
    g_unix_signal_add(SIGINT, quit_loop, loop);
    g_timeout_add_seconds(static_cast<guint>(seconds), quit_loop, loop);
    std::printf("ready rtsp://127.0.0.1:%s/cam%s\n", port.c_str(), user.empty() ? "" : " (Basic auth)");
    std::fflush(stdout);
    g_main_loop_run(loop);
    g_object_unref(server);
    g_main_loop_unref(loop);
    if (camera.dump) std::fclose(camera.dump);
    return 0;
}
