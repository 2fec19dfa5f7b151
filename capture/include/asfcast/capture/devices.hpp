// capture devices: what V4L2 video and ALSA audio capture devices a machine has, which one a
// preset's device spec means, and which of a device's modes (pixel format, size, rate) serves a
// requested output best. Plain structs; no GStreamer, V4L2 or ALSA types leave this header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asfcast/capture/capture.hpp"

namespace asfcast::capture {

// A device spec matched nothing (or several things), or a device cannot be opened. The message
// names the spec and lists what exists.
class DeviceError : public CaptureError {
public:
    using CaptureError::CaptureError;
};

struct Fraction {
    int num = 0;
    int den = 1;
    double value() const { return den ? static_cast<double>(num) / den : 0.0; }
    std::string str() const;  // "30/1", "30000/1001"
    friend bool operator==(const Fraction& a, const Fraction& b) {
        return static_cast<std::int64_t>(a.num) * b.den == static_cast<std::int64_t>(b.num) * a.den;
    }
};

struct FrameSize {
    int width = 0;
    int height = 0;
    std::vector<Fraction> rates;      // frames per second, highest first
    bool interlaced = false;          // known interlaced (driver field type or recording)
};

struct VideoFormat {
    std::string fourcc;               // V4L2 pixel format: YUYV, NV12, YU12, MJPG, H264 ...
    std::string description;          // driver's text ("YUYV 4:2:2", "Motion-JPEG")
    std::vector<FrameSize> sizes;
};

struct VideoDevice {
    std::string path;                 // /dev/video0
    std::vector<std::string> by_id_paths;  // /dev/v4l/by-id/... links pointing to path
    std::string name;                 // card ("HD Pro Webcam C920")
    std::string driver;               // uvcvideo
    std::string bus_info;             // usb-0000:00:14.0-1
    std::vector<VideoFormat> formats;
    std::string note;                 // why the device is incomplete ("permission denied ..."), empty when fine
};

struct AudioDevice {
    int card = -1;                    // ALSA card index
    std::string card_id;              // "C920", "U0x46d0x825"
    std::string card_name;            // "HD Pro Webcam C920"
    int device = 0;                   // PCM device index on the card
    std::string device_name;          // "USB Audio"
    std::string alsa_name;            // hw:CARD=<id>,DEV=<n>
    int channels_min = 0;             // 0: unknown
    int channels_max = 0;
    int rate_min = 0;                 // Hz; 0: unknown
    int rate_max = 0;
    std::vector<int> rates;           // common rates the device accepts (subset of min..max)
    std::string note;                 // busy / permission problems, empty when fine
};

struct DeviceLists {
    std::vector<VideoDevice> video;
    std::vector<AudioDevice> audio;
};

class DeviceBackend {
public:
    virtual ~DeviceBackend() = default;
    // Never throw for "no devices": empty lists. Devices that cannot be opened carry a note.
    virtual std::vector<VideoDevice> list_video() const = 0;
    virtual std::vector<AudioDevice> list_audio() const = 0;
    // Checks that an ALSA PCM name can be opened for capture now; returns the reason when not.
    // The recorded backend answers from its recording (names of listed devices, "null", "default").
    virtual std::optional<std::string> check_audio_open(const std::string& alsa_name) const = 0;
};

// The machine's devices: /dev/video* through V4L2 ioctls, sound cards through alsa-lib.
class SystemDevices final : public DeviceBackend {
public:
    std::vector<VideoDevice> list_video() const override;
    std::vector<AudioDevice> list_audio() const override;
    std::optional<std::string> check_audio_open(const std::string& alsa_name) const override;
};

// Devices described by a recording (YAML; see tests/capture/devices/*.yaml for the schema), so
// selection, mode choice and `asfcast devices` can be tested without hardware.
class RecordedDevices final : public DeviceBackend {
public:
    // Throws DeviceError naming `origin` and the bad key.
    static RecordedDevices parse(const std::string& yaml_text, const std::string& origin);
    static RecordedDevices load(const std::string& path);
    std::vector<VideoDevice> list_video() const override { return lists_.video; }
    std::vector<AudioDevice> list_audio() const override { return lists_.audio; }
    std::optional<std::string> check_audio_open(const std::string& alsa_name) const override;

private:
    DeviceLists lists_;
};

// `asfcast devices` output. JSON: {"video":[...],"audio":[...]} (pretty with indent >= 0).
std::string devices_json(const DeviceLists& lists, int indent = 2);
std::string devices_table(const DeviceLists& lists);

// --- selection -----------------------------------------------------------------------------
// Video spec: "" = first capture device; a path (/dev/video2); a /dev/v4l/by-id path or link
// name; else a case-insensitive substring of the card name (must match exactly one device).
// Throws DeviceError naming the spec and listing the devices.
VideoDevice select_video(const std::vector<VideoDevice>& devices, const std::string& spec);

struct AudioSelection {
    std::string alsa_name;               // what alsasrc opens
    std::optional<AudioDevice> device;   // known capabilities, when the name is a listed device
};
// Audio spec: "" = ALSA "default"; ALSA names (default, null, hw:1,0, hw:CARD=x,DEV=0, plughw:...,
// anything with ':') pass through (and are matched to a listed device when they name one); else
// a card id (exact, case-insensitive), else a substring of the card or PCM name.
AudioSelection select_audio(const std::vector<AudioDevice>& devices, const std::string& spec);

// --- mode choice ---------------------------------------------------------------------------
enum class PixelFormatChoice { auto_, yuyv, nv12, i420, mjpeg };
enum class DeinterlaceMode { auto_, on, off };
// "auto", "yuyv", ... ; throws DeviceError on anything else.
PixelFormatChoice parse_pixel_format(const std::string& s);
DeinterlaceMode parse_deinterlace(const std::string& s);

struct VideoRequest {
    int width = 1280;
    int height = 720;
    Fraction rate{30, 1};
    PixelFormatChoice format = PixelFormatChoice::auto_;
    DeinterlaceMode deinterlace = DeinterlaceMode::auto_;
};

struct VideoModeChoice {
    std::string fourcc;               // as the device names it (YUYV, NV12, YU12, MJPG ...)
    std::string gst_caps;             // caps for v4l2src's output ("video/x-raw,format=YUY2,...")
    int width = 0;
    int height = 0;
    Fraction rate;
    bool interlaced = false;
    bool scale = false;               // device size != requested size
    bool rate_convert = false;        // device rate != requested rate
    bool jpeg_decode = false;         // MJPG/JPEG
    bool deinterlace = false;         // per DeinterlaceMode and `interlaced`
    std::string summary;              // "chose MJPG 1280x720 @ 30/1 from /dev/video0 (no scaling, ...)"
};
// Pure: the best mode of `dev` for `req` (see devices.cpp for the order of preference). Throws
// DeviceError when the device offers no usable mode (or not the forced format).
VideoModeChoice choose_video_mode(const VideoDevice& dev, const VideoRequest& req);

struct AudioModeChoice {
    bool known = false;               // false: device capabilities unknown, ALSA/GStreamer negotiate
    int rate = 0;                     // device rate (requested rate when unknown)
    int channels = 0;
    bool resample = false;
    bool remix = false;
    std::string summary;
};
AudioModeChoice choose_audio_mode(const AudioSelection& sel, int rate, int channels);

// The GStreamer description of a device source (what CapturePipeline::start builds for
// SourceType::device): v4l2src / alsasrc branches ending in appsinks "vsink" / "asink".
struct DevicePlan {
    std::string description;
    std::optional<VideoDevice> video_device;
    std::optional<VideoModeChoice> video;
    std::optional<AudioSelection> audio_device;
    std::optional<AudioModeChoice> audio;
};
// Resolves source.video_device / audio_device against `backend`, chooses modes and checks that
// the ALSA device opens. `format.video` / `format.audio` false, or a spec "none", leave that
// branch out. Throws DeviceError (clear, names the spec/device) or CaptureError.
DevicePlan plan_device_source(const SourceConfig& source, const RawFormat& format, const DeviceBackend& backend);

}  // namespace asfcast::capture
