// Presets: network sources (issue 15): rtsp, srt and uri keys, and the errors that name them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "asfcast/presets/presets.hpp"

namespace {

using asfcast::presets::parse_preset;
using asfcast::presets::PresetError;
using ::testing::HasSubstr;

const std::string kMinimal = "video: {}\naudio: {}\n";

std::string error_of(const std::string& yaml) {
    try {
        parse_preset(yaml, "test.yaml");
    } catch (const PresetError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << yaml;
    return {};
}

TEST(NetworkSourcePreset, RtspKeys) {
    const auto p = parse_preset(kMinimal + "source: {type: rtsp, url: \"rtsp://10.0.0.5:554/h264\", transport: tcp, "
                                           "user: admin, password_file: /etc/asfcast/cam.pw, latency_ms: 300, "
                                           "reattach_max_interval_ms: 30000}\n",
                                "t.yaml");
    EXPECT_EQ(p.source.type, "rtsp");
    EXPECT_EQ(p.source.url, "rtsp://10.0.0.5:554/h264");
    EXPECT_EQ(p.source.transport, "tcp");
    EXPECT_EQ(p.source.user, "admin");
    EXPECT_EQ(p.source.password_file, "/etc/asfcast/cam.pw");
    EXPECT_EQ(p.source.latency_ms, 300);
    EXPECT_EQ(p.source.reattach_max_interval_ms, 30000);
}

TEST(NetworkSourcePreset, SrtAndUriKeys) {
    auto p = parse_preset(kMinimal + "source: {type: srt, mode: listener, address: 127.0.0.1, port: 9000, "
                                     "passphrase: 0123456789, streamid: obs, latency_ms: 120}\n",
                          "t.yaml");
    EXPECT_EQ(p.source.mode, "listener");
    EXPECT_EQ(p.source.address, "127.0.0.1");
    EXPECT_EQ(p.source.port, 9000);
    EXPECT_EQ(p.source.passphrase, "0123456789");
    EXPECT_EQ(p.source.streamid, "obs");
    p = parse_preset(kMinimal + "source: {type: srt, url: \"srt://enc:9000\"}\n", "t.yaml");
    EXPECT_EQ(p.source.mode, "caller");
    p = parse_preset(kMinimal + "source: {type: uri, url: \"http://example.com/live.ts\"}\n", "t.yaml");
    EXPECT_EQ(p.source.type, "uri");
}

TEST(NetworkSourcePreset, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "source: {type: rtsp}\n"), HasSubstr("source.url: is required when source.type is rtsp"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: rtsp, url: \"http://x/\"}\n"), HasSubstr("source.url"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: rtsp, url: \"rtsp://x/\", transport: sctp}\n"),
                HasSubstr("source.transport: 'sctp' is not allowed"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: rtsp, url: \"rtsp://x/\", user: u, password: p, password_file: f}\n"),
                HasSubstr("source.password_file: and source.password are both set"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: rtsp, url: \"rtsp://x/\", password: p}\n"),
                HasSubstr("source.user: is required with source.password"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: srt, mode: listener}\n"), HasSubstr("source.port: is required"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: srt, mode: caller}\n"), HasSubstr("source.url: is required"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: srt, url: \"srt://h:1\", passphrase: short}\n"),
                HasSubstr("source.passphrase: must be 10 to 79 characters"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: srt, mode: listener, port: 70000}\n"), HasSubstr("source.port"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: test, passphrase: 0123456789}\n"),
                HasSubstr("apply to source.type srt only"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: uri}\n"), HasSubstr("source.url: is required when source.type is uri"));
}

}  // namespace

namespace {

const std::string kRtsp = "source: {type: rtsp, url: \"rtsp://10.0.0.5:554/cam\"}\nvideo: {codec: copy}\n";

// audio.codec copy (issue 15, point 3): only behind audio.allow_copy, and the refusal names both
// keys and says which players take AAC in ASF and which do not.
TEST(NetworkSourcePreset, AacCopyNeedsAllowCopy) {
    const std::string e = error_of(kRtsp + "audio: {codec: copy}\n");
    EXPECT_THAT(e, HasSubstr("audio.codec"));
    EXPECT_THAT(e, HasSubstr("audio.allow_copy: true"));
    EXPECT_THAT(e, HasSubstr("VLC"));
    EXPECT_THAT(e, HasSubstr("ffmpeg"));
    EXPECT_THAT(e, HasSubstr("GStreamer"));
    EXPECT_THAT(e, HasSubstr("Windows Media servers"));
    EXPECT_THAT(e, HasSubstr("Windows Media Player"));
    EXPECT_THAT(error_of(kRtsp + "audio: {codec: copy, allow_copy: false}\n"), HasSubstr("audio.allow_copy: true"));

    const auto p = parse_preset(kRtsp + "audio: {codec: copy, allow_copy: true, sample_rate: 48000, channels: 2}\n", "t.yaml");
    ASSERT_TRUE(p.audio.has_value());
    EXPECT_EQ(p.audio->codec, "copy");
    EXPECT_TRUE(p.audio->allow_copy);
    EXPECT_EQ(p.audio->sample_rate, 48000);
    EXPECT_FALSE(parse_preset(kRtsp + "audio: {}\n", "t.yaml").audio->allow_copy);  // default false
    // AAC's rates, not WMA2's: 24 kHz is an AAC rate.
    EXPECT_EQ(parse_preset(kRtsp + "audio: {codec: copy, allow_copy: true, sample_rate: 24000}\n", "t.yaml")
                  .audio->sample_rate,
              24000);
}

TEST(NetworkSourcePreset, AacCopyRefusals) {
    EXPECT_THAT(error_of(kRtsp + "audio: {codec: copy, allow_copy: true, renditions: [{bitrate_kbps: 64}]}\n"),
                HasSubstr("audio.renditions: is not allowed with audio.codec copy"));
    EXPECT_THAT(error_of(kRtsp + "audio: {codec: wma2, allow_copy: true}\n"),
                HasSubstr("audio.allow_copy: is for audio.codec copy only"));
    EXPECT_THAT(error_of(kRtsp + "audio: {codec: copy, allow_copy: true, sample_rate: 22000}\n"),
                HasSubstr("audio.sample_rate"));
}

}  // namespace
