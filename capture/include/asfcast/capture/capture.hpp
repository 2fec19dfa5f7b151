// capture: owns GStreamer. Builds a pipeline per source whose appsinks hand raw I420 video
// frames and interleaved S16 audio blocks, timestamped on one clock (the pipeline's running
// time), to whoever registered the callbacks. Nothing downstream sees GStreamer types.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "asfcast/core/media.hpp"

namespace asfcast::capture {

class CaptureError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// rtsp, srt and uri are network sources (network.hpp): always live, decoded by uridecodebin.
enum class SourceType { test, file, device, rtsp, srt, uri };
inline bool is_network(SourceType t) { return t == SourceType::rtsp || t == SourceType::srt || t == SourceType::uri; }

class DeviceBackend;  // devices.hpp

struct SourceConfig {
    SourceType type = SourceType::test;
    std::string path;                 // file path or URI (file sources)
    std::string pattern = "smpte";    // videotestsrc pattern name (test source)
    double tone_hz = 1000.0;          // audiotestsrc sine frequency (test source)
    bool fast = false;                // file source: no real-time pacing (archiving only)
    // Device source (devices.hpp): specs as in the preset; "none" leaves that branch out.
    std::string video_device;         // "" = first V4L2 capture device, /dev/videoN, by-id, name
    std::string audio_device;         // "" = ALSA default, hw:..., card id, name
    std::string video_format = "auto";  // auto | yuyv | nv12 | i420 | mjpeg
    std::string deinterlace = "auto";   // auto | on | off
    std::shared_ptr<const DeviceBackend> devices;  // null: the machine's (SystemDevices)
    // Network sources (network.hpp). Secrets here are never logged: see redact().
    std::string url;                  // rtsp://..., srt://host:port (caller), any URI (uri)
    std::string rtsp_transport = "auto";  // rtsp: tcp | udp | auto (rtspsrc tries UDP, then TCP)
    std::string user;                 // rtsp: Basic/Digest user
    std::string password;             // rtsp: its password (read from password_file by the app)
    std::string srt_mode = "caller";  // srt: listener | caller
    std::string srt_address = "0.0.0.0";  // srt listener: local address to listen on
    int srt_port = 0;                 // srt listener: port
    std::string passphrase;           // srt: encryption passphrase (10..79 characters), "" = none
    std::string streamid;             // srt: stream id sent by the caller
    int latency_ms = 200;             // rtsp: jitter buffer; srt: SRT latency
};

// The raw format the encoders want; the pipeline converts, scales and changes rate to it.
struct RawFormat {
    bool video = true;
    int width = 1280;
    int height = 720;
    int fps_num = 30;
    int fps_den = 1;
    bool audio = true;
    int sample_rate = 44100;
    int channels = 2;
    // Network sources with video.codec copy (issue 15): the source's H.264 is not decoded; its
    // access units (Annex B, one picture each) go to on_coded_video. Video in another codec is
    // refused with an error naming it.
    bool video_copy = false;
    // Network sources with audio.codec copy (issue 15, point 3): the source's AAC is not decoded;
    // its frames (raw AAC, one raw_data_block each) go to on_coded_audio. Audio in another codec is
    // refused with an error naming it.
    bool audio_copy = false;
};

// What a media file contains (found with GstDiscoverer before the pipeline is built; a plain
// 4:2:0 YUV4MPEG2 file is described from its header). The last discoverer answer is reused while
// the file is unchanged, so probing again right before building the pipeline costs nothing.
struct FileProbe {
    bool has_video = false;
    bool has_audio = false;
    Micros duration = 0;
};
// Throws CaptureError naming the file when it is missing or GStreamer cannot decode it.
FileProbe probe_file(const std::string& path_or_uri);

struct CaptureCallbacks {
    std::function<void(RawVideoFrame&&)> on_video;
    std::function<void(RawAudioBlock&&)> on_audio;
    // RawFormat::video_copy: one H.264 access unit (Annex B), kind video, stream 0, pts/dts on the
    // same clock as the raw media (dts = pts when the source gives none), keyframe = not a delta unit.
    std::function<void(EncodedFrame&&)> on_coded_video;
    // RawFormat::audio_copy: one AAC frame (raw, no ADTS header), kind audio, stream 0, pts = dts on
    // the raw media's clock, duration when the source says, codec_config = the stream's
    // AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1; the same pointer while it does not change).
    std::function<void(EncodedFrame&&)> on_coded_audio;
    std::function<void()> on_end;                       // end of stream (file ended or stop())
    std::function<void(const std::string&)> on_error;   // fatal pipeline error, human-readable
};

struct CaptureStats {
    std::atomic<std::uint64_t> video_frames{0};
    std::atomic<std::uint64_t> audio_blocks{0};
};

// What LiveSource supervises: something that can be started, drained, dropped at once and told
// apart from its successor. CapturePipeline is the real one.
class MediaSource {
public:
    virtual ~MediaSource() = default;
    virtual void start() = 0;  // throws CaptureError with a message for the user
    virtual void stop() = 0;   // drains (end of stream through the graph), then on_end
    virtual void abort() = 0;  // stops at once without draining and without callbacks (a lost device)
    virtual std::string description() const = 0;
    // Monotonic time (monotonic_us) at which the source's timestamps are 0, once started.
    virtual Micros clock_base_us() const = 0;
    // True for a source that waits for a sender to connect (an SRT listener): not delivering is
    // then not a failure, and re-attaching would only close the port the sender is looking for.
    virtual bool waits_for_sender() const { return false; }
};

// One capture graph. Calls on_video/on_audio from GStreamer streaming threads (concurrently with
// each other) and on_end/on_error from the pipeline's bus thread. stop() may be called from
// on_end/on_error but not from on_video/on_audio; no callback may destroy the pipeline.
// Every pipeline runs on the system monotonic clock, so that the timestamps of successive
// pipelines (a device re-attached) and of audio and video lie on one time line.
class CapturePipeline final : public MediaSource {
public:
    CapturePipeline(SourceConfig source, RawFormat format, CaptureCallbacks callbacks);
    ~CapturePipeline() override;
    CapturePipeline(const CapturePipeline&) = delete;
    CapturePipeline& operator=(const CapturePipeline&) = delete;

    // Builds and starts the pipeline; throws CaptureError with a clear message on failure
    // (missing file, missing GStreamer element, caps that cannot be negotiated).
    void start() override;
    // Sends end-of-stream through the pipeline so every buffered frame is delivered, then
    // on_end is called; idempotent. Returns once the pipeline has stopped.
    void stop() override;
    // Sets the pipeline to NULL at once: no draining, no further callbacks; idempotent.
    void abort() override;
    Micros clock_base_us() const override;
    bool waits_for_sender() const override;

    const CaptureStats& stats() const;
    // The pipeline description actually used (logged, and useful in error reports).
    std::string description() const override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Initializes GStreamer once per process (safe to call repeatedly).
void ensure_gstreamer();

}  // namespace asfcast::capture
