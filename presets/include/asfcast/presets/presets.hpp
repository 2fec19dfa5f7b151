// presets: YAML job profiles parsed with yaml-cpp into plain structs and validated. No YAML node
// leaves this library. Every error names the file, the key and what is allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace asfcast::presets {

class PresetError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct SourcePreset {
    std::string type = "test";      // test | file | device | rtsp | srt | uri
    std::string path;               // file: path or URI
    std::string pattern = "smpte";  // test: videotestsrc pattern
    double tone_hz = 1000.0;        // test: sine frequency
    std::string video_device;       // device: "" = first V4L2 device, path, by-id, name; "none"
    std::string audio_device;       // device: "" = ALSA default, hw:..., card id, name; "none"
    std::string video_format = "auto";  // device: auto | yuyv | nv12 | i420 | mjpeg
    std::string deinterlace = "auto";   // device: auto | on | off
    // Timing and resilience (live sources, and files with on_loss: slate).
    int av_offset_ms = 0;           // added to audio times: positive delays audio (a device's known latency)
    bool drift_correction = true;   // resample audio to the video clock (sound card clock drift)
    std::string on_loss = "auto";   // auto | slate | stop; auto: slate for live sources, stop for files
    int loss_timeout_ms = 2000;     // no media for this long = source lost
    int reattach_interval_ms = 2000;  // how often a lost source is tried again
    std::string slate_image;        // still image shown while the source is lost; empty: colour bars
    std::string slate_text = "Signal lost - back shortly";  // written over the slate
    // Network sources (issue 15). Secrets are never logged.
    std::string url;                // rtsp: rtsp://host[:port]/path; srt caller: srt://host:port; uri: any URI
    std::string transport = "auto"; // rtsp: tcp | udp | auto
    std::string user;               // rtsp: user name
    std::string password;           // rtsp: password (or password_file)
    std::string password_file;      // rtsp: read at start; must not be readable by group or others
    std::string mode = "caller";    // srt: listener | caller
    std::string address = "0.0.0.0";  // srt listener: local address
    int port = 0;                   // srt listener: local port
    int latency_ms = 200;           // rtsp: jitter buffer; srt: SRT receive latency
    std::string passphrase;         // srt: encryption passphrase (10..79 characters)
    std::string streamid;           // srt: stream id
    int reattach_max_interval_ms = 0;  // back-off cap for re-attach attempts; 0: 10000 for network sources
};

// One MBR alternative of the main video (video.renditions[i]). Keys left out take the main
// video's values; resolve with video_renditions().
struct VideoRenditionPreset {
    std::optional<int> width, height, fps_num, fps_den, bitrate_kbps, max_bitrate_kbps, vbv_buffer_kbit;
    std::optional<std::string> profile, x264_preset, name;
};

struct VideoPreset {
    std::string codec = "h264";     // h264 | wmv2 | copy (network H.264 passed through)
    std::string fourcc = "H264";    // h264: H264 | h264 | X264 | x264 | AVC1 | avc1; wmv2: WMV2
    int width = 1280;
    int height = 720;
    int fps_num = 30;
    int fps_den = 1;
    int bitrate_kbps = 2000;
    int max_bitrate_kbps = 2000;    // VBV max rate
    int vbv_buffer_kbit = 2000;
    double keyframe_interval_s = 2.0;
    // x264 only (with wmv2 they are left at these defaults).
    std::string profile = "main";   // baseline | main | high
    std::string x264_preset = "veryfast";
    std::string tune;               // "", zerolatency, film, animation, grain, stillimage, fastdecode
    int bframes = 0;
    int threads = 0;
    std::string name;               // stream name; "" = none (MBR: "<height>p <kbps>k")
    std::vector<VideoRenditionPreset> renditions;  // MBR alternatives, after this (main) one
};

// One more encoding of the same audio (audio.renditions[i]); left-out keys take the main audio's.
struct AudioRenditionPreset {
    std::optional<int> bitrate_kbps;
    std::optional<std::string> name;
};

struct AudioPreset {
    std::string codec = "wma2";     // wma2 | mp3 | copy (a network source's AAC carried as it is)
    // audio.codec copy only: AAC in ASF is not what Windows Media servers and players expect, so
    // copy is refused unless this is true (issue 15, point 3; docs/network-sources.md "AAC copy").
    bool allow_copy = false;
    int bitrate_kbps = 128;
    int sample_rate = 44100;
    int channels = 2;
    std::string name;               // stream name; "" = none (MBR: "<CODEC> <kbps>k")
    std::vector<AudioRenditionPreset> renditions;
};

// MBR: every video rendition, the main one first, each a complete VideoPreset (inherited keys
// filled in, renditions empty, names set when there are several). The same for audio.
std::vector<VideoPreset> video_renditions(const VideoPreset& main);
std::vector<AudioPreset> audio_renditions(const AudioPreset& main);

struct AsfPreset {
    std::uint32_t packet_size = 8192;
    std::uint32_t preroll_ms = 3000;
    std::uint32_t max_packet_delay_ms = 100;
};

struct MetadataPreset {
    std::string title, author, copyright, description;
};

struct PullUserPreset {
    std::string name;
    std::string password;           // never logged
};

// The MS-WMSP pull source (pullserver/). Defaults serve 127.0.0.1:8080 with no authentication.
struct PullPreset {
    bool enabled = true;
    std::string address = "127.0.0.1";
    int port = 8080;
    std::string mount;              // extra path serving this stream ("/live"); "/" always serves it
    int max_clients = 20000;
    int max_clients_per_ip = 0;     // 0: no per-address limit
    // Authentication schemes offered, in order of preference: basic | digest | ntlm; empty: none.
    std::vector<std::string> auth;
    std::string realm = "asfcast";
    std::vector<PullUserPreset> users;
    std::vector<std::string> allow; // CIDR blocks; empty: everyone not denied
    std::vector<std::string> deny;
    int max_head_bytes = 8192;
    int header_timeout_ms = 10000;
    int idle_timeout_ms = 60000;
    int max_lag_ms = 4000;
    std::string lag_policy = "skip";  // skip | disconnect
    int send_interval_ms = 100;     // packets arriving within this go out in one write; 0 = at once
};

// One MS-WMHTTP push target (push/).
struct PushTargetPreset {
    std::string url;                // http://server[:port]/pubpoint or server:port/pubpoint
    std::string user;
    std::string password;           // never logged
    std::string password_file;      // read at start; must not be readable by group or others
    std::string template_url;       // publishing point the server copies when it creates this one
    bool auto_remove = false;       // the server removes the publishing point at the end
};

struct PushPreset {
    std::vector<PushTargetPreset> targets;
    int backoff_initial_ms = 1000;
    int backoff_max_ms = 30000;
    int queue_kbytes = 2048;        // per target; overflow skips to the next key frame
};

// MS-MSB multicast with its .nsc announcement (multicast/): off unless `group` is set.
struct MulticastPreset {
    std::string group;              // IPv4 224.0.0.0/4 or IPv6 ff00::/8; empty: off
    int port = 0;                   // UDP port, 1..65535, required with a group
    int ttl = 1;                    // IPv4 TTL / IPv6 hop limit, 0..255
    std::string interface;          // address or interface name to send from; empty: loopback only
    int fec_span = 10;              // packets per error correction cycle, 1..15; 0: none
    int beacon_interval_s = 5;      // Beacons while there is nothing to send, 1..10 s
    std::string nsc_path;           // the .nsc file written at start; empty: not written
    std::string nsc_strings = "encoded";  // encoded | plain (printable ASCII as it is)
    std::string name;               // .nsc Name; empty: "<host name>, <preset name>"
    std::string unicast_url;        // .nsc Unicast URL: where players the multicast misses go
    int network_buffer_ms = 0;      // .nsc Network Buffer Time; 0: not written
    bool enabled() const { return !group.empty(); }
};

// The MS-MSBD server (msbd/): off unless an `msbd:` section (or `--msbd`) turns it on.
struct MsbdPreset {
    bool enabled = false;
    std::string address = "127.0.0.1";  // IPv4 (MS-MSBD runs over IPv4); 0.0.0.0 for every interface
    int port = 7007;                    // MS-MSBD 2.1: no assigned port, servers often use 7007
    int max_clients = 1000;
    int max_clients_per_ip = 0;         // 0: no per-address limit
    std::vector<std::string> allow;     // CIDR blocks; empty: everyone not denied
    std::vector<std::string> deny;
    int connect_timeout_ms = 10000;     // MSB_MSG_REQ_CONNECT must arrive within this
    int ping_interval_ms = 120000;      // MSB_MSG_REQ_PING period (about 2 minutes, 2.2.3); 0: none
    int ping_timeout_ms = 120000;       // no MSB_MSG_RES_PING within this closes (3.1.6)
    int max_lag_ms = 4000;
    std::string lag_policy = "skip";    // skip | disconnect
    int send_interval_ms = 100;         // packets arriving within this go out in one write; 0 = at once
};

struct OutputsPreset {
    std::string archive;            // path, empty = none
    // Names the archive's files after a header change (playlist entries): `{n}` the file's
    // number, `{entry}` the entry's name (archive::ArchiveConfig::entry_pattern). Empty: PATH-N.ext.
    std::string archive_entry_pattern;
    PullPreset pull;
    PushPreset push;
    MsbdPreset msbd;
    MulticastPreset multicast;
};

// Script commands (issue 13): a command stream in the header (captions, URLs, FILENAME and custom
// events), fed by the line protocol on a FIFO or stdin and by a caption file; markers. Off unless a
// `script_commands:` section (or --commands / --captions) turns it on.
struct ScriptCommandsPreset {
    bool enabled = false;
    std::string input;                 // FIFO path (created, mode 0600) or "-" for stdin; empty: none
    std::string captions;              // SRT or WebVTT file; empty: none
    std::int64_t captions_start_us = 0;  // media time at which the file's 00:00:00 plays
    std::string captions_wallclock;    // "HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS" local time (Z: UTC); empty: captions_start
    int header_reserve_bytes = 4096;   // room in the header for the archive's Script Command and Marker Objects
    int bitrate_bps = 2000;            // declared for the command stream
};

// DRM packaging (issue 13, docs/drm.md): off unless `drm.packager` is set.
struct DrmPreset {
    std::string packager;           // playready | program | shared-object; empty: off
    // playready (the reference packager, in process)
    std::string kid;                // GUID; empty: a random KID, logged at start
    std::string key_file;           // content key, hex or base64; mode 600 (checked at start)
    std::string key;                // the content key in the preset itself (discouraged; never logged)
    std::string key_seed_file;      // key seed (>= 30 bytes); the key is derived from it and the KID
    std::string la_url;             // license acquisition URL (absolute http or https)
    std::string lui_url;
    std::string ds_id;
    std::string header_version = "4.0.0.0";  // 4.0.0.0 | 4.2.0.0
    bool checksum = true;
    // program / shared-object
    std::vector<std::string> program;  // argv of the external packager
    std::string library;               // path of the packager shared object
    std::string config;                // text handed to the program / shared object
    int deadline_ms = 1000;            // per answer
    bool enabled() const { return !packager.empty(); }
};

// A playlist (issue 11, point 5): entries played in order, each the live encode or a pre-encoded
// ASF/WMV file played out without re-encoding (playlist/playlist.hpp).
struct PlaylistEntryPreset {
    std::string name;               // default: the file's stem, or "live"
    std::string file;               // a file entry's path; empty for a live entry
    bool live = false;
    int repeat = 1;                 // file entries: plays in a row
    double duration_s = 0;          // live entries: seconds on air; 0 = until the live source ends
};
struct PlaylistPreset {
    bool loop = false;
    std::vector<PlaylistEntryPreset> entries;
    bool enabled() const { return !entries.empty(); }
};

// The control API, metrics and status page (control/, docs/api.md): off unless a `control:` section
// (or `asfcast run --control`) turns it on. A token is required on any non-loopback address.
struct ControlPreset {
    bool enabled = false;
    std::string address = "127.0.0.1";
    int port = 8090;
    std::string token;       // never logged; prefer token_file
    std::string token_file;  // first line; the file must not be readable by group or others
};

struct Preset {
    std::string name;
    std::string description;
    std::string origin;             // "built-in:NAME" or the file path
    SourcePreset source;
    std::optional<VideoPreset> video;   // absent: audio-only
    std::optional<AudioPreset> audio;   // absent: video-only
    AsfPreset asf;
    MetadataPreset metadata;
    OutputsPreset outputs;
    ScriptCommandsPreset script_commands;
    DrmPreset drm;
    PlaylistPreset playlist;        // empty: the live encode only
    ControlPreset control;
};

// Parses and validates YAML text; `origin` names it in errors (a path or "built-in:NAME").
Preset parse_preset(const std::string& yaml_text, const std::string& origin);
// The largest ASF packet the push output carries: its chunk limit (push::PushConfig::max_chunk).
inline constexpr std::uint32_t kPushMaxPacketSize = 8192;
// Throws PresetError naming asf.packet_size and the output when an enabled output cannot carry
// packets of the preset's size (push 8192, multicast 65,496, MSBD 65,511, pull 65,527 bytes).
// parse_preset checks it; `asfcast run` checks it again once its command line has added outputs.
void check_packet_size_for_outputs(const Preset& preset, const std::string& origin);
// The largest ASF packet every enabled output carries (65,535 with none): a playlist's file entry
// with larger packets is refused before it goes on air.
std::uint32_t max_packet_size_for_outputs(const Preset& preset);
// Reads a file; errors name the path.
Preset load_preset_file(const std::string& path);
// Built-in presets compiled into the binary (from presets/builtin/*.yaml).
std::vector<std::pair<std::string, std::string>> builtin_presets();  // name, description
Preset builtin_preset(const std::string& name);
// NAME of a built-in preset, or a path to a YAML file (anything containing '/' or ending .yaml/.yml).
Preset resolve_preset(const std::string& name_or_path);

}  // namespace asfcast::presets
