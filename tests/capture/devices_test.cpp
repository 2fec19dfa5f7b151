// Device discovery, selection and mode choice against recorded devices (tests/capture/devices/),
// the device source pipeline description, and the real backend on this machine.
#include "asfcast/capture/devices.hpp"

#include <linux/videodev2.h>

#include <cerrno>
#include <cstring>

#include "v4l2_enum.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <nlohmann/json.hpp>

#include <regex>

#include <filesystem>
#include <string>

using namespace asfcast::capture;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

RecordedDevices rec(const std::string& name) {
    return RecordedDevices::load(std::string(DEVICES_DIR) + "/" + name + ".yaml");
}

VideoDevice first_video(const std::string& name) {
    auto v = rec(name).list_video();
    EXPECT_FALSE(v.empty());
    return v.at(0);
}

VideoModeChoice choose(const VideoDevice& d, int w, int h, Fraction rate,
                       PixelFormatChoice f = PixelFormatChoice::auto_, DeinterlaceMode di = DeinterlaceMode::auto_) {
    VideoRequest r;
    r.width = w;
    r.height = h;
    r.rate = rate;
    r.format = f;
    r.deinterlace = di;
    return choose_video_mode(d, r);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const DeviceError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no DeviceError";
    return {};
}

// --- loader ------------------------------------------------------------------------------------

TEST(DeviceRecording, LoadsTheWebcam) {
    auto r = rec("uvc-webcam-c920");
    auto v = r.list_video();
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0].path, "/dev/video0");
    EXPECT_EQ(v[0].name, "HD Pro Webcam C920");
    EXPECT_EQ(v[0].driver, "uvcvideo");
    EXPECT_EQ(v[0].bus_info, "usb-0000:00:14.0-1");
    ASSERT_EQ(v[0].by_id_paths.size(), 1u);
    ASSERT_EQ(v[0].formats.size(), 3u);
    EXPECT_EQ(v[0].formats[0].fourcc, "YUYV");
    EXPECT_EQ(v[0].formats[2].fourcc, "MJPG");
    // 7.5 fps is 15/2.
    const auto& rates = v[0].formats[0].sizes[0].rates;
    ASSERT_EQ(rates.size(), 7u);
    EXPECT_TRUE((rates[5] == Fraction{15, 2})) << rates[5].str();
    auto a = r.list_audio();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].alsa_name, "hw:CARD=C920,DEV=0");
    EXPECT_EQ(a[0].rate_min, 16000);
    EXPECT_EQ(a[0].rate_max, 32000);
    EXPECT_EQ(a[0].channels_max, 2);
}

TEST(DeviceRecording, NtscRatesAndInterlace) {
    auto d = first_video("hdmi-pcie-1080i");
    const auto& s = d.formats[0].sizes[0];
    EXPECT_TRUE(s.interlaced);
    ASSERT_EQ(s.rates.size(), 1u);
    EXPECT_EQ(s.rates[0].num, 30000);
    EXPECT_EQ(s.rates[0].den, 1001);
    EXPECT_FALSE(d.formats[0].sizes[1].interlaced);
    // Decimal NTSC rates are read as /1001 fractions.
    auto r = RecordedDevices::parse(
        "video: [{path: /dev/video5, formats: [{fourcc: YUYV, sizes: [{size: 720x480, rates: [29.97, 59.94, 23.976]}]}]}]\n",
        "x");
    const auto rr = r.list_video().at(0).formats.at(0).sizes.at(0).rates;
    ASSERT_EQ(rr.size(), 3u);
    EXPECT_TRUE((rr[0] == Fraction{30000, 1001}));
    EXPECT_TRUE((rr[1] == Fraction{60000, 1001}));
    EXPECT_TRUE((rr[2] == Fraction{24000, 1001}));
}

TEST(DeviceRecording, EmptyMachine) {
    auto r = rec("empty");
    EXPECT_TRUE(r.list_video().empty());
    EXPECT_TRUE(r.list_audio().empty());
    auto blank = RecordedDevices::parse("", "blank");
    EXPECT_TRUE(blank.list_video().empty());
}

TEST(DeviceRecording, ErrorsNameOriginAndKey) {
    EXPECT_THAT(error_of([] { RecordedDevices::parse("video: [{path: /dev/video0, nmae: x}]\n", "r.yaml"); }),
                HasSubstr("r.yaml: video[0].nmae: unknown key"));
    EXPECT_THAT(error_of([] {
                    RecordedDevices::parse(
                        "video: [{path: /dev/video0, formats: [{fourcc: YUYV, sizes: [{size: 640by480, rates: [30]}]}]}]\n",
                        "r.yaml");
                }),
                HasSubstr("r.yaml: video[0].formats[0].sizes[0].size: '640by480' is not WIDTHxHEIGHT"));
    EXPECT_THAT(error_of([] {
                    RecordedDevices::parse(
                        "video: [{path: /dev/video0, formats: [{fourcc: YUYV, sizes: [{size: 640x480, rates: [0]}]}]}]\n",
                        "r.yaml");
                }),
                HasSubstr("rates[0]: '0' is not a frame rate"));
    EXPECT_THAT(error_of([] { RecordedDevices::parse("audio: [{card_id: X}]\n", "r.yaml"); }),
                HasSubstr("r.yaml: audio[0].card: required"));
    EXPECT_THAT(error_of([] { RecordedDevices::parse("video: {a: 1}\n", "r.yaml"); }), HasSubstr("expected a list"));
    EXPECT_THAT(error_of([] { RecordedDevices::parse("video: [\n", "r.yaml"); }), HasSubstr("r.yaml: not valid YAML"));
    EXPECT_THAT(error_of([] { RecordedDevices::load("/nonexistent/rec.yaml"); }),
                HasSubstr("cannot read device recording /nonexistent/rec.yaml"));
}

// --- listing -----------------------------------------------------------------------------------

TEST(DeviceListing, JsonOfEveryRecording) {
    for (const char* name : {"uvc-webcam-c920", "hdmi-usb-capture", "hdmi-pcie-1080i", "two-webcams", "empty"}) {
        auto r = rec(name);
        DeviceLists lists{r.list_video(), r.list_audio()};
        auto j = nlohmann::json::parse(devices_json(lists));
        ASSERT_TRUE(j["video"].is_array()) << name;
        ASSERT_TRUE(j["audio"].is_array()) << name;
        EXPECT_EQ(j["video"].size(), lists.video.size()) << name;
        EXPECT_EQ(j["audio"].size(), lists.audio.size()) << name;
    }
    auto r = rec("uvc-webcam-c920");
    auto j = nlohmann::json::parse(devices_json({r.list_video(), r.list_audio()}));
    EXPECT_EQ(j["video"][0]["path"], "/dev/video0");
    EXPECT_EQ(j["video"][0]["driver"], "uvcvideo");
    EXPECT_EQ(j["video"][0]["by_id"][0], "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8F5B6A3F-video-index0");
    EXPECT_EQ(j["video"][0]["formats"][2]["fourcc"], "MJPG");
    EXPECT_EQ(j["video"][0]["formats"][2]["sizes"][5]["width"], 1280);
    EXPECT_EQ(j["video"][0]["formats"][2]["sizes"][5]["rates"][0], "30/1");
    EXPECT_EQ(j["audio"][0]["alsa_name"], "hw:CARD=C920,DEV=0");
    EXPECT_EQ(j["audio"][0]["rates"], nlohmann::json::array({16000, 24000, 32000}));
    EXPECT_EQ(nlohmann::json::parse(devices_json({})), nlohmann::json::parse(R"({"video":[],"audio":[]})"));
}

TEST(DeviceListing, Table) {
    auto r = rec("two-webcams");
    std::string t = devices_table({r.list_video(), r.list_audio()});
    EXPECT_THAT(t, HasSubstr("/dev/video2  C922 Pro Stream Webcam  [driver uvcvideo, bus usb-0000:00:14.0-1.2]"));
    EXPECT_THAT(t, HasSubstr("MJPG  1280x720@60/30, 1920x1080@30"));
    EXPECT_THAT(t, HasSubstr("hw:CARD=C920,DEV=0     HD Pro Webcam C920: USB Audio  [card id C920, 2-2 ch, "
                             "16000/24000/32000 Hz]"));
    EXPECT_THAT(t, HasSubstr("note: device busy"));
    EXPECT_THAT(devices_table({}), AllOf(HasSubstr("Video capture devices (V4L2):\n  (none)"),
                                         HasSubstr("Audio capture devices (ALSA):\n  (none)")));
    auto i = rec("hdmi-pcie-1080i");
    EXPECT_THAT(devices_table({i.list_video(), {}}), HasSubstr("1920x1080i@29.97"));
}

// --- selection ---------------------------------------------------------------------------------

TEST(VideoSelection, ByPathByIdAndName) {
    auto v = rec("two-webcams").list_video();
    EXPECT_EQ(select_video(v, "").path, "/dev/video0");
    EXPECT_EQ(select_video(v, "/dev/video2").name, "C922 Pro Stream Webcam");
    EXPECT_EQ(select_video(v, "video2").path, "/dev/video2");
    EXPECT_EQ(select_video(v, "/dev/v4l/by-id/usb-046d_C922_Pro_Stream_Webcam_A1B2C3D4-video-index0").path,
              "/dev/video2");
    EXPECT_EQ(select_video(v, "usb-046d_HD_Pro_Webcam_C920_8F5B6A3F-video-index0").path, "/dev/video0");
    EXPECT_EQ(select_video(v, "c922").path, "/dev/video2");
    EXPECT_EQ(select_video(v, "HD PRO").path, "/dev/video0");
}

TEST(VideoSelection, AmbiguousAndMissing) {
    auto v = rec("two-webcams").list_video();
    EXPECT_EQ(error_of([&] { select_video(v, "webcam"); }),
              "video device 'webcam' is ambiguous: it matches /dev/video0 (HD Pro Webcam C920), /dev/video2 (C922 Pro "
              "Stream Webcam); name one by path or by-id");
    EXPECT_THAT(error_of([&] { select_video(v, "hdmi"); }),
                AllOf(HasSubstr("no video device matches 'hdmi'; devices: /dev/video0 (HD Pro Webcam C920)"),
                      HasSubstr("/dev/video2 (C922 Pro Stream Webcam)")));
    EXPECT_THAT(error_of([&] { select_video(v, "/dev/video7"); }),
                HasSubstr("no video device matches '/dev/video7' (no such file); devices: /dev/video0"));
    auto none = rec("empty").list_video();
    EXPECT_THAT(error_of([&] { select_video(none, ""); }), HasSubstr("no video capture device found"));
    EXPECT_THAT(error_of([&] { select_video(none, "/dev/video0"); }),
                HasSubstr("no video device matches '/dev/video0' (no such file); no video capture devices found"));
}

TEST(AudioSelection, NamesIdsAndSubstrings) {
    auto a = rec("hdmi-usb-capture").list_audio();
    auto s = select_audio(a, "");
    EXPECT_EQ(s.alsa_name, "default");
    EXPECT_FALSE(s.device);
    EXPECT_EQ(select_audio(a, "null").alsa_name, "null");
    EXPECT_FALSE(select_audio(a, "null").device);
    // ALSA names pass through; hw: names of listed devices keep their capabilities.
    s = select_audio(a, "hw:2,0");
    EXPECT_EQ(s.alsa_name, "hw:2,0");
    ASSERT_TRUE(s.device);
    EXPECT_EQ(s.device->card_id, "HDMI");
    s = select_audio(a, "hw:CARD=CODEC,DEV=0");
    ASSERT_TRUE(s.device);
    EXPECT_EQ(s.device->card, 1);
    s = select_audio(a, "plughw:CARD=HDMI,DEV=0");
    EXPECT_EQ(s.alsa_name, "plughw:CARD=HDMI,DEV=0");
    EXPECT_FALSE(s.device);  // plughw converts: any rate goes
    EXPECT_EQ(select_audio(a, "hw:7,0").alsa_name, "hw:7,0");  // not listed: opened as given (and checked later)
    // Card id (case-insensitive), then a name substring.
    s = select_audio(a, "hdmi");
    EXPECT_EQ(s.alsa_name, "hw:CARD=HDMI,DEV=0");
    s = select_audio(a, "codec");
    EXPECT_EQ(s.alsa_name, "hw:CARD=CODEC,DEV=0");
    s = select_audio(a, "Capture");
    EXPECT_EQ(s.alsa_name, "hw:CARD=HDMI,DEV=0");
    auto i = rec("hdmi-pcie-1080i").list_audio();
    EXPECT_EQ(select_audio(i, "ALC887").alsa_name, "hw:CARD=PCH,DEV=0");
}

TEST(AudioSelection, AmbiguousAndMissing) {
    auto a = rec("hdmi-usb-capture").list_audio();
    EXPECT_THAT(error_of([&] { select_audio(a, "usb audio"); }),
                HasSubstr("audio device 'usb audio' is ambiguous: it matches hw:CARD=CODEC,DEV=0 (USB Audio CODEC: USB "
                          "Audio), hw:CARD=HDMI,DEV=0 (USB Capture HDMI: USB Audio)"));
    EXPECT_THAT(error_of([&] { select_audio(a, "scarlett"); }),
                AllOf(HasSubstr("no audio device matches 'scarlett'; devices: hw:CARD=CODEC,DEV=0 (USB Audio CODEC: "
                                "USB Audio); hw:CARD=HDMI,DEV=0"),
                      HasSubstr("are used as given")));
    EXPECT_THAT(error_of([] { select_audio({}, "C920"); }),
                HasSubstr("no audio device matches 'C920'; no ALSA capture devices found"));
}

// --- video mode choice -------------------------------------------------------------------------

TEST(VideoMode, WebcamTakesMjpegFor720p30) {
    auto m = choose(first_video("uvc-webcam-c920"), 1280, 720, {30, 1});
    EXPECT_EQ(m.fourcc, "MJPG");
    EXPECT_EQ(m.width, 1280);
    EXPECT_EQ(m.height, 720);
    EXPECT_TRUE((m.rate == Fraction{30, 1}));
    EXPECT_TRUE(m.jpeg_decode);
    EXPECT_FALSE(m.scale);
    EXPECT_FALSE(m.rate_convert);
    EXPECT_FALSE(m.deinterlace);
    EXPECT_EQ(m.gst_caps, "image/jpeg,width=1280,height=720,framerate=30/1");
    EXPECT_EQ(m.summary,
              "chose MJPG 1280x720 @ 30/1 from /dev/video0 (no scaling, no rate conversion, JPEG decoding)");
}

TEST(VideoMode, WebcamTakesRawWhenItReaches) {
    auto d = first_video("uvc-webcam-c920");
    auto m = choose(d, 640, 480, {30, 1});
    EXPECT_EQ(m.fourcc, "YUYV");
    EXPECT_EQ(m.gst_caps, "video/x-raw,format=YUY2,width=640,height=480,framerate=30/1");
    EXPECT_FALSE(m.jpeg_decode);
    // 720p at 10 fps: raw reaches it exactly.
    m = choose(d, 1280, 720, {10, 1});
    EXPECT_EQ(m.fourcc, "YUYV");
    // 720p at 15 fps: raw YUYV tops at 10, MJPEG reaches 15 exactly.
    m = choose(d, 1280, 720, {15, 1});
    EXPECT_EQ(m.fourcc, "MJPG");
    EXPECT_TRUE((m.rate == Fraction{15, 1}));
    // The H.264 format is never chosen, even for sizes only it and others offer.
    m = choose(d, 1920, 1080, {30, 1});
    EXPECT_EQ(m.fourcc, "MJPG");
}

TEST(VideoMode, NearestSizeAtOrAboveAndRateAbove) {
    auto d = first_video("uvc-webcam-c920");
    // 854x480 is not offered: 960x720 is the smallest reaching it (MJPEG, since YUYV 960x720 is 15 fps).
    auto m = choose(d, 854, 480, {30, 1});
    EXPECT_EQ(m.width, 960);
    EXPECT_EQ(m.height, 720);
    EXPECT_EQ(m.fourcc, "MJPG");
    EXPECT_TRUE(m.scale);
    EXPECT_FALSE(m.rate_convert);
    // 320x240 at 12 fps: raw 320x240, nearest rate above is 15.
    m = choose(d, 320, 240, {12, 1});
    EXPECT_EQ(m.fourcc, "YUYV");
    EXPECT_TRUE((m.rate == Fraction{15, 1}));
    EXPECT_TRUE(m.rate_convert);
    EXPECT_FALSE(m.scale);
    EXPECT_EQ(m.summary, "chose YUYV 320x240 @ 15/1 from /dev/video0 (no scaling, rate conversion to 12/1)");
}

TEST(VideoMode, RequestAboveTheMaximumTakesTheLargest) {
    auto d = first_video("uvc-webcam-c920");
    auto m = choose(d, 3840, 2160, {30, 1});
    EXPECT_EQ(m.width, 1920);
    EXPECT_EQ(m.height, 1080);
    EXPECT_EQ(m.fourcc, "MJPG");
    EXPECT_TRUE(m.scale);
    // Above the maximum rate too: the largest size, then the highest rate.
    m = choose(first_video("hdmi-usb-capture"), 3840, 2160, {120, 1});
    EXPECT_EQ(m.width, 1920);
    EXPECT_TRUE((m.rate == Fraction{60, 1}));
    EXPECT_EQ(m.fourcc, "NV12");
    EXPECT_TRUE(m.scale);
    EXPECT_TRUE(m.rate_convert);
}

TEST(VideoMode, CaptureCard1080p60Exact) {
    auto d = first_video("hdmi-usb-capture");
    auto m = choose(d, 1920, 1080, {60, 1});
    EXPECT_EQ(m.fourcc, "NV12");  // 4:2:0 already: cheaper than YUYV
    EXPECT_FALSE(m.scale);
    EXPECT_FALSE(m.rate_convert);
    EXPECT_EQ(m.gst_caps, "video/x-raw,format=NV12,width=1920,height=1080,framerate=60/1");
    m = choose(d, 1920, 1080, {60, 1}, PixelFormatChoice::yuyv);
    EXPECT_EQ(m.fourcc, "YUYV");
    EXPECT_FALSE(m.scale);
    m = choose(d, 1280, 720, {25, 1});
    EXPECT_EQ(m.fourcc, "NV12");
    EXPECT_TRUE((m.rate == Fraction{25, 1}));
    // 720x576 exists only as YUYV: exact beats the NV12 sizes around it.
    m = choose(d, 720, 576, {25, 1});
    EXPECT_EQ(m.fourcc, "YUYV");
    EXPECT_FALSE(m.scale);
    // BGR3 is never taken; forcing an absent format names what is there.
    EXPECT_THAT(error_of([&] { choose(d, 1920, 1080, {30, 1}, PixelFormatChoice::mjpeg); }),
                HasSubstr("/dev/video0 (USB Capture HDMI: USB Capture H) does not offer video_format mjpeg (it offers: "
                          "YUYV, NV12, BGR3)"));
    EXPECT_THAT(error_of([&] { choose(d, 1920, 1080, {30, 1}, PixelFormatChoice::i420); }),
                HasSubstr("does not offer video_format i420"));
}

TEST(VideoMode, OddRatesMatchNtsc) {
    auto d = first_video("hdmi-usb-capture");
    // 720x480 at 29.97: offered exactly.
    auto m = choose(d, 720, 480, {30000, 1001});
    EXPECT_TRUE((m.rate == Fraction{30000, 1001}));
    EXPECT_FALSE(m.rate_convert);
    // 30 requested from a 29.97 mode: the 29.97 mode (not 59.94), with rate conversion.
    m = choose(d, 720, 480, {30, 1});
    EXPECT_TRUE((m.rate == Fraction{30000, 1001}));
    EXPECT_TRUE(m.rate_convert);
    // 24 fps from a card offering 25 and 30: the nearest above.
    m = choose(d, 1920, 1080, {24, 1});
    EXPECT_TRUE((m.rate == Fraction{25, 1}));
    // 7.5 fps from the webcam: exact 15/2.
    m = choose(first_video("uvc-webcam-c920"), 640, 480, {15, 2});
    EXPECT_TRUE((m.rate == Fraction{15, 2}));
    EXPECT_FALSE(m.rate_convert);
    EXPECT_EQ(m.gst_caps, "video/x-raw,format=YUY2,width=640,height=480,framerate=15/2");
}

TEST(VideoMode, Interlaced1080iIsDeinterlaced) {
    auto d = first_video("hdmi-pcie-1080i");
    auto m = choose(d, 1920, 1080, {30000, 1001});
    EXPECT_TRUE(m.interlaced);
    EXPECT_TRUE(m.deinterlace);
    EXPECT_EQ(m.fourcc, "NV12");
    EXPECT_EQ(m.summary,
              "chose NV12 1920x1080i @ 30000/1001 from /dev/video0 (no scaling, no rate conversion, deinterlacing)");
    m = choose(d, 1920, 1080, {30000, 1001}, PixelFormatChoice::auto_, DeinterlaceMode::off);
    EXPECT_TRUE(m.interlaced);
    EXPECT_FALSE(m.deinterlace);
    // A 720p request takes the progressive 720p mode: no deinterlacing in auto, forced with on.
    m = choose(d, 1280, 720, {30, 1});
    EXPECT_FALSE(m.interlaced);
    EXPECT_FALSE(m.deinterlace);
    EXPECT_TRUE((m.rate == Fraction{30000, 1001}));
    m = choose(d, 1280, 720, {30, 1}, PixelFormatChoice::auto_, DeinterlaceMode::on);
    EXPECT_TRUE(m.deinterlace);
}

TEST(VideoMode, NoUsableMode) {
    VideoDevice d;
    d.path = "/dev/video4";
    d.name = "Bayer sensor";
    d.formats.push_back({"BA81", "8-bit Bayer BGBG/GRGR", {{640, 480, {{30, 1}}, false}}});
    EXPECT_THAT(error_of([&] { choose(d, 640, 480, {30, 1}); }),
                HasSubstr("/dev/video4 (Bayer sensor) offers no usable capture mode (formats: BA81;"));
    EXPECT_EQ(parse_pixel_format("mjpeg"), PixelFormatChoice::mjpeg);
    EXPECT_THAT(error_of([] { parse_pixel_format("h264"); }), HasSubstr("video format 'h264' unknown"));
    EXPECT_THAT(error_of([] { parse_deinterlace("yes"); }), HasSubstr("deinterlace 'yes' unknown"));
}

// --- audio mode choice -------------------------------------------------------------------------

TEST(AudioMode, NearestSupportedRateAndChannels) {
    auto a = rec("hdmi-usb-capture").list_audio();
    // The HDMI card is 48 kHz only: a 44.1 kHz preset resamples.
    auto c = choose_audio_mode(select_audio(a, "HDMI"), 44100, 2);
    EXPECT_TRUE(c.known);
    EXPECT_EQ(c.rate, 48000);
    EXPECT_EQ(c.channels, 2);
    EXPECT_TRUE(c.resample);
    EXPECT_FALSE(c.remix);
    EXPECT_EQ(c.summary, "chose 48000 Hz 2 ch from hw:CARD=HDMI,DEV=0 (resampling to 44100 Hz, no remixing)");
    // The USB codec does 44.1 kHz: no resampling. Mono requested from a stereo-only device: remix.
    c = choose_audio_mode(select_audio(a, "CODEC"), 44100, 1);
    EXPECT_EQ(c.rate, 44100);
    EXPECT_FALSE(c.resample);
    EXPECT_EQ(c.channels, 2);
    EXPECT_TRUE(c.remix);
    // The webcam mic tops at 32 kHz: the highest, resampled up.
    c = choose_audio_mode(select_audio(rec("uvc-webcam-c920").list_audio(), "C920"), 48000, 2);
    EXPECT_EQ(c.rate, 32000);
    EXPECT_TRUE(c.resample);
    // 8-channel card, stereo wanted: 2 channels, no remix.
    c = choose_audio_mode(select_audio(rec("hdmi-pcie-1080i").list_audio(), "Capture"), 48000, 2);
    EXPECT_EQ(c.channels, 2);
    EXPECT_FALSE(c.remix);
    EXPECT_FALSE(c.resample);
    // Unknown capabilities (default, null, plughw, a busy device): negotiated.
    c = choose_audio_mode(select_audio(a, "default"), 44100, 2);
    EXPECT_FALSE(c.known);
    EXPECT_EQ(c.rate, 44100);
    c = choose_audio_mode(select_audio(rec("two-webcams").list_audio(), "C922"), 44100, 2);
    EXPECT_FALSE(c.known);
}

// --- device source plan ------------------------------------------------------------------------

TEST(DevicePlan, WebcamPipeline) {
    auto backend = rec("uvc-webcam-c920");
    SourceConfig s;
    s.type = SourceType::device;
    s.audio_device = "C920";
    RawFormat f;  // 1280x720 30/1, 44100 Hz stereo
    auto p = plan_device_source(s, f, backend);
    EXPECT_EQ(p.description,
              "v4l2src name=vsrc device=\"/dev/video0\" ! capsfilter caps=\"image/jpeg,width=1280,height=720,"
              "framerate=30/1\" ! queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream ! "
              "jpegdec ! videoconvert ! capsfilter caps=\"video/x-raw,format=I420,width=1280,height=720,"
              "framerate=30/1\" ! appsink name=vsink  "
              "alsasrc name=asrc device=\"hw:CARD=C920,DEV=0\" slave-method=none ! capsfilter "
              "caps=\"audio/x-raw,rate=32000,channels=2\" ! audioconvert ! audioresample ! capsfilter "
              "caps=\"audio/x-raw,format=S16LE,layout=interleaved,rate=44100,channels=2\" ! appsink name=asink");
    ASSERT_TRUE(p.video_device);
    EXPECT_EQ(p.video_device->path, "/dev/video0");
}

TEST(DevicePlan, CaptureCardScalingRateAndDeinterlace) {
    auto backend = rec("hdmi-pcie-1080i");
    SourceConfig s;
    s.type = SourceType::device;
    s.video_device = "pro capture";
    s.audio_device = "none";
    RawFormat f;
    f.width = 1280;
    f.height = 720;
    f.fps_num = 25;
    f.fps_den = 1;
    auto p = plan_device_source(s, f, backend);
    EXPECT_THAT(p.description, HasSubstr("format=NV12,width=1280,height=720,framerate=30000/1001"));
    EXPECT_THAT(p.description, HasSubstr("videoconvert ! videorate ! capsfilter"));
    EXPECT_THAT(p.description, Not(HasSubstr("alsasrc")));
    EXPECT_THAT(p.description, Not(HasSubstr("deinterlace")));
    f.width = 1920;
    f.height = 1080;
    f.fps_num = 30000;
    f.fps_den = 1001;
    p = plan_device_source(s, f, backend);
    EXPECT_THAT(p.description, HasSubstr("! deinterlace fields=top ! videoconvert ! videorate ! capsfilter"));
    // 1080i29.97 to 59.94 fps: a frame per field.
    f.fps_num = 60000;
    p = plan_device_source(s, f, backend);
    EXPECT_THAT(p.description, HasSubstr("format=NV12,width=1920,height=1080,framerate=30000/1001"));
    EXPECT_THAT(p.description, HasSubstr("! deinterlace fields=all ! videoconvert ! videorate ! capsfilter"));
    s.deinterlace = "on";
    f.width = 640;
    f.height = 360;
    f.fps_num = 30000;
    p = plan_device_source(s, f, backend);
    EXPECT_THAT(p.description,
                HasSubstr("! deinterlace mode=interlaced fields=top ! videoconvert ! videoscale ! videorate ! capsfilter"));
}

TEST(DevicePlan, AudioOnlyAndErrors) {
    auto backend = rec("empty");
    SourceConfig s;
    s.type = SourceType::device;
    s.video_device = "none";
    s.audio_device = "null";
    RawFormat f;
    auto p = plan_device_source(s, f, backend);
    EXPECT_FALSE(p.video);
    EXPECT_EQ(p.description,
              "alsasrc name=asrc device=\"null\" slave-method=none ! audioconvert ! audioresample ! capsfilter "
              "caps=\"audio/x-raw,format=S16LE,layout=interleaved,rate=44100,channels=2\" ! appsink name=asink");
    // No video device although one is wanted: a DeviceError naming the spec.
    s.video_device = "/dev/video0";
    EXPECT_THAT(error_of([&] { plan_device_source(s, f, backend); }),
                HasSubstr("no video device matches '/dev/video0'"));
    // A video-only format does not need an audio device.
    f.audio = false;
    s.video_device = "none";
    EXPECT_THROW(plan_device_source(s, f, backend), CaptureError);
    // An audio device that cannot be opened.
    auto webcams = rec("two-webcams");
    s.video_device = "none";
    s.audio_device = "C922";
    f.audio = true;
    EXPECT_EQ(error_of([&] { plan_device_source(s, f, webcams); }),
              "audio device 'hw:CARD=C922,DEV=0' (from 'C922') cannot be opened for capture: device busy (another "
              "program is capturing from it)");
    s.audio_device = "";
    EXPECT_THAT(error_of([&] { plan_device_source(s, f, backend); }),
                HasSubstr("audio device 'default' cannot be opened for capture"));
}

// The planned descriptions are valid GStreamer graphs that negotiate: the device sources are
// swapped for test sources producing the chosen device caps (JPEG through jpegenc), and every
// branch must deliver its target format to its appsink.
std::pair<std::size_t, std::size_t> run_with_stand_ins(std::string d) {
    d = std::regex_replace(d, std::regex(R"(v4l2src name=vsrc device="[^"]*" ! capsfilter caps="image/jpeg)"),
                           R"(videotestsrc is-live=true num-buffers=5 ! jpegenc ! capsfilter caps="image/jpeg)");
    d = std::regex_replace(d, std::regex(R"(v4l2src name=vsrc device="[^"]*")"),
                           "videotestsrc is-live=true num-buffers=5");
    d = std::regex_replace(d, std::regex(R"(alsasrc name=asrc device="[^"]*" slave-method=none)"),
                           "audiotestsrc is-live=true num-buffers=5");
    ensure_gstreamer();
    GError* err = nullptr;
    GstElement* p = gst_parse_launch(d.c_str(), &err);
    EXPECT_TRUE(p && !err) << (err ? err->message : "") << " [" << d << "]";
    if (err) g_error_free(err);
    if (!p) return {0, 0};
    gst_element_set_state(p, GST_STATE_PLAYING);
    std::size_t counts[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
        const char* name = k == 0 ? "vsink" : "asink";
        GstElement* sink = gst_bin_get_by_name(GST_BIN(p), name);
        if (!sink) continue;
        for (int i = 0; i < 5; ++i) {  // bounded: num-buffers=5, 5 s each at most
            GstSample* s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND);
            if (!s) break;
            GstCaps* caps = gst_sample_get_caps(s);
            gchar* text = gst_caps_to_string(caps);
            const std::string c = text;
            g_free(text);
            if (std::string(name) == "vsink")
                EXPECT_THAT(c, HasSubstr("format=(string)I420")) << d;
            else
                EXPECT_THAT(c, HasSubstr("format=(string)S16LE")) << d;
            gst_sample_unref(s);
            ++counts[k];
        }
        gst_object_unref(sink);
    }
    GstBus* bus = gst_element_get_bus(p);
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (m) {
        GError* e = nullptr;
        gst_message_parse_error(m, &e, nullptr);
        ADD_FAILURE() << (e ? e->message : "error") << " [" << d << "]";
        if (e) g_error_free(e);
        gst_message_unref(m);
    }
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    return {counts[0], counts[1]};
}

TEST(DevicePlan, DescriptionsRunWithStandInSources) {
    struct Case {
        const char* recording;
        int w, h, num, den;
        const char* format;
        const char* deint;
        const char* video;
        const char* audio;
    };
    const Case cases[] = {
        {"uvc-webcam-c920", 1280, 720, 30, 1, "auto", "auto", "", "C920"},         // MJPEG + jpegdec, 32 kHz -> 44.1
        {"uvc-webcam-c920", 320, 180, 12, 1, "auto", "auto", "", "none"},          // YUYV 320x240 scaled, 15 -> 12 fps
        {"hdmi-usb-capture", 1920, 1080, 60, 1, "auto", "auto", "", "HDMI"},      // NV12 exact, 48 kHz
        {"hdmi-usb-capture", 640, 360, 25, 1, "yuyv", "on", "", "none"},          // forced YUYV + deinterlacer
        {"hdmi-pcie-1080i", 1280, 720, 30000, 1001, "auto", "auto", "", "none"},  // progressive scaled
        {"hdmi-pcie-1080i", 1920, 1080, 30000, 1001, "auto", "auto", "", "Capture"},  // 1080i deinterlaced
        {"hdmi-pcie-1080i", 1280, 720, 60000, 1001, "auto", "on", "", "none"},    // forced, a frame per field
    };
    for (const auto& c : cases) {
        auto backend = rec(c.recording);
        SourceConfig s;
        s.type = SourceType::device;
        s.video_device = c.video;
        s.audio_device = c.audio;
        s.video_format = c.format;
        s.deinterlace = c.deint;
        RawFormat f;
        f.width = c.w;
        f.height = c.h;
        f.fps_num = c.num;
        f.fps_den = c.den;
        f.sample_rate = 44100;
        auto plan = plan_device_source(s, f, backend);
        // 5 buffers in: at least 3 out of each branch (videorate may drop one to reach a lower rate).
        auto [video, audio] = run_with_stand_ins(plan.description);
        EXPECT_GE(video, 3u) << plan.description;
        if (std::string(c.audio) != "none") {
            EXPECT_GE(audio, 3u) << plan.description;
        }
    }
}

// --- V4L2 enumeration against drivers that answer oddly ----------------------------------------

void set_desc(v4l2_fmtdesc* d, __u32 fourcc, const char* text) {
    d->pixelformat = fourcc;
    std::strncpy(reinterpret_cast<char*>(d->description), text, sizeof d->description - 1);
}

int einval() {
    errno = EINVAL;
    return -1;
}

TEST(V4l2Enumeration, EndlessAnswersAreCapped) {
    std::size_t calls = 0;
    auto io = [&](unsigned long req, void* arg) -> int {
        ++calls;
        if (req == VIDIOC_ENUM_FMT) {
            set_desc(static_cast<v4l2_fmtdesc*>(arg), V4L2_PIX_FMT_YUYV, "YUYV 4:2:2");
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMESIZES) {
            auto* fs = static_cast<v4l2_frmsizeenum*>(arg);
            fs->type = V4L2_FRMSIZE_TYPE_DISCRETE;
            fs->discrete.width = 640 + 2 * fs->index;
            fs->discrete.height = 480;
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMEINTERVALS) {
            auto* iv = static_cast<v4l2_frmivalenum*>(arg);
            iv->type = V4L2_FRMIVAL_TYPE_DISCRETE;
            iv->discrete = {1, iv->index + 1};
            return 0;
        }
        return einval();
    };
    VideoDevice dev;
    detail::enum_v4l2_formats(io, V4L2_BUF_TYPE_VIDEO_CAPTURE, dev);
    ASSERT_EQ(dev.formats.size(), 64u);
    ASSERT_EQ(dev.formats[0].sizes.size(), 128u);
    EXPECT_EQ(dev.formats[0].sizes[0].rates.size(), 64u);
    EXPECT_TRUE((dev.formats[0].sizes[0].rates.front() == Fraction{64, 1}));  // highest first
    EXPECT_LT(calls, 600000u);
}

TEST(V4l2Enumeration, StepwiseRangesBecomeCommonModes) {
    auto io = [](unsigned long req, void* arg) -> int {
        if (req == VIDIOC_ENUM_FMT) {
            auto* d = static_cast<v4l2_fmtdesc*>(arg);
            if (d->index > 0) return einval();
            set_desc(d, V4L2_PIX_FMT_NV12, "Y/CbCr 4:2:0");
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMESIZES) {
            auto* fs = static_cast<v4l2_frmsizeenum*>(arg);
            if (fs->index > 0) return einval();
            fs->type = V4L2_FRMSIZE_TYPE_STEPWISE;
            fs->stepwise = {16, 1920, 16, 16, 1080, 8};
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMEINTERVALS) {
            auto* iv = static_cast<v4l2_frmivalenum*>(arg);
            if (iv->index > 0) return einval();
            iv->type = V4L2_FRMIVAL_TYPE_CONTINUOUS;
            iv->stepwise.min = {1, 60};
            iv->stepwise.max = {1, 1};
            iv->stepwise.step = {1, 1};
            return 0;
        }
        return einval();
    };
    VideoDevice dev;
    dev.path = "/dev/video9";
    detail::enum_v4l2_formats(io, V4L2_BUF_TYPE_VIDEO_CAPTURE, dev);
    ASSERT_EQ(dev.formats.size(), 1u);
    EXPECT_EQ(dev.formats[0].fourcc, "NV12");
    EXPECT_EQ(dev.formats[0].description, "Y/CbCr 4:2:0");
    std::string sizes;
    for (const auto& sz : dev.formats[0].sizes) sizes += std::to_string(sz.width) + "x" + std::to_string(sz.height) + " ";
    // Sizes on the 16x8 grid from 16x16, within 1920x1080 (960x540 is off the grid).
    EXPECT_EQ(sizes, "320x240 640x360 640x480 720x480 720x576 800x600 1024x768 1280x720 1280x1024 1920x1080 ");
    const auto& rates = dev.formats[0].sizes[0].rates;
    ASSERT_EQ(rates.size(), 10u);
    EXPECT_TRUE((rates.front() == Fraction{60, 1}));
    EXPECT_TRUE((rates.back() == Fraction{5, 1}));
    auto m = choose(dev, 1280, 720, {30000, 1001});
    EXPECT_EQ(m.summary, "chose NV12 1280x720 @ 30000/1001 from /dev/video9 (no scaling, no rate conversion)");
}

TEST(V4l2Enumeration, NoSizeEnumerationFallsBackToTheCurrentFormat) {
    auto io = [](unsigned long req, void* arg) -> int {
        if (req == VIDIOC_ENUM_FMT) {
            auto* d = static_cast<v4l2_fmtdesc*>(arg);
            if (d->index > 0) return einval();
            set_desc(d, V4L2_PIX_FMT_YUYV, "YUYV 4:2:2");
            return 0;
        }
        if (req == VIDIOC_G_FMT) {
            auto* f = static_cast<v4l2_format*>(arg);
            f->fmt.pix.width = 1920;
            f->fmt.pix.height = 1080;
            f->fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
            f->fmt.pix.field = V4L2_FIELD_INTERLACED_TB;
            return 0;
        }
        if (req == VIDIOC_G_PARM) {
            static_cast<v4l2_streamparm*>(arg)->parm.capture.timeperframe = {1001, 30000};
            return 0;
        }
        errno = ENOTTY;
        return -1;
    };
    VideoDevice dev;
    detail::enum_v4l2_formats(io, V4L2_BUF_TYPE_VIDEO_CAPTURE, dev);
    ASSERT_EQ(dev.formats.size(), 1u);
    ASSERT_EQ(dev.formats[0].sizes.size(), 1u);
    const auto& sz = dev.formats[0].sizes[0];
    EXPECT_EQ(sz.width, 1920);
    EXPECT_TRUE(sz.interlaced);
    ASSERT_EQ(sz.rates.size(), 1u);
    EXPECT_EQ(sz.rates[0].num, 30000);
    EXPECT_EQ(sz.rates[0].den, 1001);
}

TEST(V4l2Enumeration, NonsenseAnswersAreDropped) {
    auto io = [](unsigned long req, void* arg) -> int {
        if (req == VIDIOC_ENUM_FMT) {
            auto* d = static_cast<v4l2_fmtdesc*>(arg);
            if (d->index > 0) return einval();
            set_desc(d, V4L2_PIX_FMT_MJPEG, "Motion-JPEG");
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMESIZES) {
            auto* fs = static_cast<v4l2_frmsizeenum*>(arg);
            if (fs->index > 1) return einval();
            fs->type = V4L2_FRMSIZE_TYPE_DISCRETE;
            fs->discrete = {fs->index == 0 ? 0u : 1280u, 720};  // a zero width, then a real size
            return 0;
        }
        if (req == VIDIOC_ENUM_FRAMEINTERVALS) {
            auto* iv = static_cast<v4l2_frmivalenum*>(arg);
            if (iv->index > 2) return einval();
            iv->type = V4L2_FRMIVAL_TYPE_DISCRETE;
            const v4l2_fract answers[] = {{0, 30}, {1, 0}, {333333, 10000000}};  // 0/30, 1/0, 100 ns units
            iv->discrete = answers[iv->index];
            return 0;
        }
        return einval();
    };
    VideoDevice dev;
    detail::enum_v4l2_formats(io, V4L2_BUF_TYPE_VIDEO_CAPTURE, dev);
    ASSERT_EQ(dev.formats.size(), 1u);
    ASSERT_EQ(dev.formats[0].sizes.size(), 1u);
    EXPECT_EQ(dev.formats[0].sizes[0].width, 1280);
    ASSERT_EQ(dev.formats[0].sizes[0].rates.size(), 1u);
    EXPECT_EQ(dev.formats[0].sizes[0].rates[0].str(), "10000000/333333");
    // 30.0003 fps counts as 30 for the choice; the caps keep the driver's fraction.
    auto m = choose(dev, 1280, 720, {30, 1});
    EXPECT_EQ(m.gst_caps, "image/jpeg,width=1280,height=720,framerate=10000000/333333");
}

// --- the machine's own devices -----------------------------------------------------------------

TEST(SystemDevices, ListsWithoutErrors) {
    SystemDevices sys;
    auto v = sys.list_video();
    auto a = sys.list_audio();
    bool any_node = false;
    for (int i = 0; i < 64; ++i) any_node = any_node || std::filesystem::exists("/dev/video" + std::to_string(i));
    if (!any_node) {
        EXPECT_TRUE(v.empty());
    }
    if (!std::filesystem::exists("/dev/snd")) {
        EXPECT_TRUE(a.empty());
    }
    for (const auto& d : v) EXPECT_EQ(d.path.rfind("/dev/video", 0), 0u);
    for (const auto& d : a) EXPECT_EQ(d.alsa_name.rfind("hw:", 0), 0u);
    // The null PCM always opens; a card that does not exist does not.
    EXPECT_FALSE(sys.check_audio_open("null"));
    auto why = sys.check_audio_open("hw:CARD=NoSuchCard,DEV=0");
    ASSERT_TRUE(why);
    EXPECT_THAT(*why, HasSubstr("no such device"));
}

// The device pipeline fails to start, typed and clearly, when a listed node is gone.
TEST(DevicePipeline, VanishedNodeFailsAtStart) {
    auto backend = std::make_shared<RecordedDevices>(RecordedDevices::parse(
        "video: [{path: /dev/video63, name: Gone, formats: [{fourcc: YUYV, sizes: [{size: 640x480, rates: [30]}]}]}]\n",
        "gone"));
    if (std::filesystem::exists("/dev/video63")) GTEST_SKIP() << "/dev/video63 exists here";
    SourceConfig s;
    s.type = SourceType::device;
    s.audio_device = "none";
    s.devices = backend;
    RawFormat f;
    f.width = 640;
    f.height = 480;
    CapturePipeline p(s, f, {});
    try {
        p.start();
        FAIL() << "started without /dev/video63";
    } catch (const CaptureError& e) {
        EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("cannot start capture"), HasSubstr("/dev/video63")));
    }
}

TEST(DevicePipeline, MissingDeviceIsADeviceError) {
    SourceConfig s;
    s.type = SourceType::device;
    s.video_device = "/dev/video0";
    s.audio_device = "none";
    s.devices = std::make_shared<RecordedDevices>(rec("empty"));
    CapturePipeline p(s, RawFormat{}, {});
    EXPECT_THROW(p.start(), DeviceError);
}

}  // namespace
