// Network sources (issue 15): IP cameras over RTSP (rtspsrc), encoders sending MPEG-TS over SRT
// (srtsrc, listener or caller) and any other URI GStreamer opens. Every one is decoded by
// uridecodebin (tsdemux, h264parse/h265parse, aacparse/mpegaudioparse/ac3parse and the libav
// decoders are plugged by it) and runs as a live source under LiveSource. Credentials
// (RTSP password, SRT passphrase) are set as element properties, never put into the URI GStreamer
// logs, and every text that may contain them goes through redact() before it is logged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "asfcast/capture/capture.hpp"

namespace asfcast::capture {

// The URI uridecodebin opens for a network source (no passphrase in it; an RTSP URL's own
// user:password@ is kept, since rtspsrc reads it from there: log only redact(uri)).
// Throws CaptureError when the configuration cannot make one (no URL, listener without port).
std::string network_uri(const SourceConfig& source);

// `text` with every credential the source knows replaced by "***": the password and passphrase
// wherever they appear, user:password@ in URLs, and passphrase=... in query strings.
std::string redact(std::string_view text, const SourceConfig& source);
// The same for a URL alone, without knowing the source's secrets (user:password@, passphrase=).
std::string redact_url(std::string_view url);

// What a network source offers, found by GstDiscoverer within a time limit.
struct ProbedStream {
    bool video = false;
    std::string codec;            // human-readable, e.g. "H.264 (Constrained Baseline Profile)"
    std::string caps;             // the stream's caps name, e.g. video/x-h264
    int width = 0, height = 0;    // video
    int fps_num = 0, fps_den = 0; // video; 0/0 when the source does not say
    int sample_rate = 0, channels = 0;  // audio
    unsigned bitrate = 0;         // bits per second when the source says, else 0
};
struct NetworkProbe {
    std::string uri;              // redacted
    bool live = false;
    std::vector<ProbedStream> streams;
};
// Throws CaptureError with a message for the user (unreachable, refused credentials, timeout,
// nothing decodable) — credentials redacted.
NetworkProbe probe_network(const SourceConfig& source, int timeout_s);

}  // namespace asfcast::capture
