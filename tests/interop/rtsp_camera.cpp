// A test IP camera: an RTSP server (gst-rtsp-server) on 127.0.0.1 serving H.264 (x264enc) and AAC
// (avenc_aac) from live test sources, like a real camera, at rtsp://127.0.0.1:PORT/cam.
//
//   rtsp_camera --port PORT [--user USER --password PASSWORD] [--size WxH] [--fps N] [--seconds S]
//
// With --user/--password every request needs Basic authentication (GstRTSPAuth), so wrong
// credentials get 401 as from a real camera. Prints "ready rtsp://127.0.0.1:PORT/cam" once
// serving. Stops on SIGTERM/SIGINT or after --seconds (bounded for tests); tests restart it by
// running it again on the same port. The media is shared between clients, as a camera's is.
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <glib-unix.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

gboolean quit_loop(gpointer loop) {
    g_main_loop_quit(static_cast<GMainLoop*>(loop));
    return G_SOURCE_REMOVE;
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "rtsp_camera: %s\nusage: rtsp_camera --port PORT [--user USER --password PASSWORD] "
                 "[--size WxH] [--fps N] [--seconds S]\n",
                 why);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    gst_init(&argc, &argv);
    std::string port, user, password, size = "640x360";
    int fps = 30;
    int seconds = 600;
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
        else usage(("unknown option " + a).c_str());
    }
    if (port.empty()) usage("--port is required");
    if (user.empty() != password.empty()) usage("--user and --password go together");
    const std::size_t x = size.find('x');
    if (x == std::string::npos || fps <= 0 || seconds <= 0) usage("bad --size, --fps or --seconds");
    const std::string width = size.substr(0, x), height = size.substr(x + 1);

    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    GstRTSPServer* server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, "127.0.0.1");
    gst_rtsp_server_set_service(server, port.c_str());

    // A camera's encoder: constant frame rate, key frame every second, no B-frames; AAC-LC audio.
    const std::string launch =
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=" + width + ",height=" + height +
        ",framerate=" + std::to_string(fps) +
        "/1 ! timeoverlay ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max=" +
        std::to_string(fps) +
        " ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 "
        "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! "
        "avenc_aac bitrate=128000 ! rtpmp4gpay name=pay1 pt=97 )";
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, TRUE);

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
    return 0;
}
