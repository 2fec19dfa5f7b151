#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "asfcast/presets/presets.hpp"
#include "parse.hpp"

namespace {

using asfcast::presets::builtin_preset;
using asfcast::presets::builtin_presets;
using asfcast::presets::load_preset_file;
using asfcast::presets::parse_preset;
using asfcast::presets::Preset;
using asfcast::presets::PullPreset;
using asfcast::presets::PresetError;
using asfcast::presets::resolve_preset;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small valid preset with video and audio; tests add or replace keys.
const std::string kMinimal = "video: {}\naudio: {}\n";

std::string error_of(const std::string& yaml, const std::string& origin = "test.yaml") {
    try {
        parse_preset(yaml, origin);
    } catch (const PresetError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << yaml;
    return {};
}

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "presets_test.XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        auto p = path_ / name;
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// --- built-in presets ---------------------------------------------------------------------------

TEST(Builtin, ListHasTheRequiredPresetsWithDescriptions) {
    std::map<std::string, std::string> all;
    for (auto& [name, description] : builtin_presets()) all[name] = description;
    for (const char* name : {"default", "low-latency", "audio-only", "radio-mp3", "legacy-wmv2", "radio"}) {
        ASSERT_TRUE(all.count(name)) << name;
        EXPECT_FALSE(all[name].empty()) << name;
    }
}

TEST(Builtin, EveryBuiltinParsesAndIsNamedAfterItsFile) {
    for (auto& [name, description] : builtin_presets()) {
        Preset p = builtin_preset(name);
        EXPECT_EQ(p.name, name);
        EXPECT_EQ(p.origin, "built-in:" + name);
        EXPECT_EQ(p.description, description);
        EXPECT_TRUE(p.video || p.audio);
    }
}

TEST(Builtin, DefaultValues) {
    Preset p = builtin_preset("default");
    EXPECT_EQ(p.source.type, "test");
    EXPECT_EQ(p.source.pattern, "smpte");
    EXPECT_EQ(p.source.tone_hz, 1000.0);
    ASSERT_TRUE(p.video);
    EXPECT_EQ(p.video->codec, "h264");
    EXPECT_EQ(p.video->fourcc, "H264");
    EXPECT_EQ(p.video->width, 1280);
    EXPECT_EQ(p.video->height, 720);
    EXPECT_EQ(p.video->fps_num, 30);
    EXPECT_EQ(p.video->fps_den, 1);
    EXPECT_EQ(p.video->bitrate_kbps, 2000);
    EXPECT_EQ(p.video->max_bitrate_kbps, 2000);
    EXPECT_EQ(p.video->vbv_buffer_kbit, 2000);
    EXPECT_EQ(p.video->keyframe_interval_s, 2.0);
    EXPECT_EQ(p.video->profile, "main");
    EXPECT_EQ(p.video->x264_preset, "veryfast");
    EXPECT_EQ(p.video->tune, "");
    EXPECT_EQ(p.video->bframes, 0);
    ASSERT_TRUE(p.audio);
    EXPECT_EQ(p.audio->codec, "wma2");
    EXPECT_EQ(p.audio->bitrate_kbps, 128);
    EXPECT_EQ(p.audio->sample_rate, 44100);
    EXPECT_EQ(p.audio->channels, 2);
    EXPECT_EQ(p.asf.packet_size, 8192u);
    EXPECT_EQ(p.asf.preroll_ms, 3000u);
    EXPECT_EQ(p.asf.max_packet_delay_ms, 100u);
    EXPECT_EQ(p.metadata.title, "asfcast live");
    EXPECT_EQ(p.outputs.archive, "");
}

TEST(Builtin, DefaultEqualsStructDefaults) {
    // The struct defaults and the default preset say the same thing.
    Preset p = builtin_preset("default");
    Preset d = parse_preset(kMinimal, "x.yaml");
    ASSERT_TRUE(p.video && d.video && p.audio && d.audio);
    EXPECT_EQ(p.video->width, d.video->width);
    EXPECT_EQ(p.video->bitrate_kbps, d.video->bitrate_kbps);
    EXPECT_EQ(p.video->max_bitrate_kbps, d.video->max_bitrate_kbps);
    EXPECT_EQ(p.video->vbv_buffer_kbit, d.video->vbv_buffer_kbit);
    EXPECT_EQ(p.video->keyframe_interval_s, d.video->keyframe_interval_s);
    EXPECT_EQ(p.video->x264_preset, d.video->x264_preset);
    EXPECT_EQ(p.audio->bitrate_kbps, d.audio->bitrate_kbps);
    EXPECT_EQ(p.asf.packet_size, d.asf.packet_size);
    EXPECT_EQ(p.asf.preroll_ms, d.asf.preroll_ms);
}

TEST(Builtin, LowLatency) {
    Preset p = builtin_preset("low-latency");
    ASSERT_TRUE(p.video && p.audio);
    EXPECT_EQ(p.video->width, 1280);
    EXPECT_EQ(p.video->fps_num, 30);
    EXPECT_EQ(p.video->tune, "zerolatency");
    EXPECT_EQ(p.video->bitrate_kbps, 1500);
    EXPECT_EQ(p.video->max_bitrate_kbps, 1500);
    EXPECT_EQ(p.video->vbv_buffer_kbit, 500);
    EXPECT_EQ(p.video->keyframe_interval_s, 1.0);
    EXPECT_EQ(p.video->bframes, 0);
    EXPECT_EQ(p.asf.packet_size, 1450u);
    EXPECT_EQ(p.asf.preroll_ms, 500u);
    EXPECT_EQ(p.asf.max_packet_delay_ms, 20u);
}

TEST(Builtin, AudioOnlyAndRadio) {
    Preset a = builtin_preset("audio-only");
    EXPECT_FALSE(a.video);
    ASSERT_TRUE(a.audio);
    EXPECT_EQ(a.audio->codec, "wma2");
    EXPECT_EQ(a.audio->bitrate_kbps, 128);
    EXPECT_EQ(a.asf.packet_size, 2048u);

    Preset r = builtin_preset("radio-mp3");
    EXPECT_EQ(r.name, "radio-mp3");
    EXPECT_FALSE(r.video);
    ASSERT_TRUE(r.audio);
    EXPECT_EQ(r.audio->codec, "mp3");
    EXPECT_EQ(r.audio->bitrate_kbps, 128);
    EXPECT_EQ(r.audio->sample_rate, 44100);
    EXPECT_EQ(r.asf.packet_size, 2048u);  // inherited from audio-only
}

TEST(Builtin, LegacyWmv2) {
    Preset p = builtin_preset("legacy-wmv2");
    ASSERT_TRUE(p.video && p.audio);
    EXPECT_EQ(p.video->codec, "wmv2");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    EXPECT_EQ(p.video->width, 320);
    EXPECT_EQ(p.video->height, 240);
    EXPECT_EQ(p.video->fps_num, 30);
    EXPECT_EQ(p.video->fps_den, 1);
    EXPECT_EQ(p.video->bitrate_kbps, 700);
    EXPECT_EQ(p.video->max_bitrate_kbps, 700);
    EXPECT_EQ(p.video->vbv_buffer_kbit, 2100);
    EXPECT_EQ(p.video->keyframe_interval_s, 4.0);
    EXPECT_EQ(p.video->bframes, 0);
    EXPECT_EQ(p.audio->codec, "wma2");
    EXPECT_EQ(p.audio->bitrate_kbps, 64);
    EXPECT_EQ(p.audio->sample_rate, 44100);
    EXPECT_EQ(p.audio->channels, 2);
    EXPECT_EQ(p.asf.packet_size, 5000u);
    EXPECT_LE(p.asf.packet_size, 8192u);
    EXPECT_EQ(p.asf.preroll_ms, 3000u);
}

TEST(Builtin, Radio) {
    Preset r = builtin_preset("radio");
    EXPECT_FALSE(r.video);
    ASSERT_TRUE(r.audio);
    EXPECT_EQ(r.audio->codec, "wma2");
    EXPECT_EQ(r.audio->bitrate_kbps, 64);
    EXPECT_EQ(r.audio->sample_rate, 44100);
    EXPECT_EQ(r.audio->channels, 2);
    EXPECT_EQ(r.asf.packet_size, 1024u);  // two WMA2 frames of 372 bytes
    EXPECT_EQ(r.asf.max_packet_delay_ms, 200u);
    // audio-only and radio-mp3 stay as they were.
    EXPECT_EQ(builtin_preset("audio-only").audio->bitrate_kbps, 128);
}

TEST(Builtin, DevicePresets) {
    Preset w = builtin_preset("webcam-720p");
    EXPECT_EQ(w.source.type, "device");
    EXPECT_EQ(w.source.video_device, "");  // the first camera
    EXPECT_EQ(w.source.audio_device, "");  // ALSA default
    EXPECT_EQ(w.source.on_loss, "slate");
    ASSERT_TRUE(w.video && w.audio);
    EXPECT_EQ(w.video->width, 1280);
    EXPECT_EQ(w.video->height, 720);
    EXPECT_EQ(w.video->fps_num, 30);
    Preset c = builtin_preset("capture-card-1080p");
    EXPECT_EQ(c.source.type, "device");
    EXPECT_EQ(c.source.deinterlace, "auto");
    ASSERT_TRUE(c.video && c.audio);
    EXPECT_EQ(c.video->width, 1920);
    EXPECT_EQ(c.video->height, 1080);
    EXPECT_EQ(c.video->bitrate_kbps, 4500);
    EXPECT_EQ(c.audio->sample_rate, 48000);  // HDMI/SDI embedded audio
    // Naming the card in a child preset.
    Preset named = parse_preset("base: capture-card-1080p\nsource: {video_device: HDMI, audio_device: HDMI}\n", "hdmi.yaml");
    EXPECT_EQ(named.source.video_device, "HDMI");
    EXPECT_EQ(named.video->width, 1920);
}

TEST(Builtin, UnknownNameListsAvailable) {
    try {
        builtin_preset("nope");
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("unknown preset 'nope'"), HasSubstr("default"),
                                    HasSubstr("low-latency"), HasSubstr("audio-only")));
    }
}

// --- parsing and defaults -----------------------------------------------------------------------

TEST(Parse, FullDocument) {
    Preset p = parse_preset(R"(
name: event
description: An event
source: {type: file, path: /media/in.mp4}
video:
  width: 1920
  height: 1080
  framerate: 30000/1001
  bitrate_kbps: 4500
  max_bitrate_kbps: 5000
  vbv_buffer_kbit: 9000
  keyframe_interval_s: 2.5
  profile: high
  x264_preset: superfast
  tune: film,fastdecode
  bframes: 2
  threads: 4
  fourcc: avc1
audio: {codec: mp3, bitrate_kbps: 192, sample_rate: 48000, channels: 1}
asf: {packet_size: 4096, preroll_ms: 2000, max_packet_delay_ms: 50}
metadata: {title: T, author: A, copyright: C, description: "D é"}
outputs: {archive: /tmp/out.wmv}
)",
                            "/etc/asfcast/event.yaml");
    EXPECT_EQ(p.name, "event");
    EXPECT_EQ(p.description, "An event");
    EXPECT_EQ(p.origin, "/etc/asfcast/event.yaml");
    EXPECT_EQ(p.source.type, "file");
    EXPECT_EQ(p.source.path, "/media/in.mp4");
    ASSERT_TRUE(p.video && p.audio);
    EXPECT_EQ(p.video->width, 1920);
    EXPECT_EQ(p.video->height, 1080);
    EXPECT_EQ(p.video->fps_num, 30000);
    EXPECT_EQ(p.video->fps_den, 1001);
    EXPECT_EQ(p.video->max_bitrate_kbps, 5000);
    EXPECT_EQ(p.video->keyframe_interval_s, 2.5);
    EXPECT_EQ(p.video->tune, "film,fastdecode");
    EXPECT_EQ(p.video->bframes, 2);
    EXPECT_EQ(p.video->threads, 4);
    EXPECT_EQ(p.video->fourcc, "avc1");
    EXPECT_EQ(p.audio->codec, "mp3");
    EXPECT_EQ(p.audio->channels, 1);
    EXPECT_EQ(p.asf.packet_size, 4096u);
    EXPECT_EQ(p.metadata.description, "D é");
    EXPECT_EQ(p.outputs.archive, "/tmp/out.wmv");
}

TEST(Parse, NameDefaultsToFileStem) {
    EXPECT_EQ(parse_preset(kMinimal, "/x/my-event.yaml").name, "my-event");
    EXPECT_EQ(parse_preset(kMinimal, "built-in:foo").name, "foo");
}

TEST(Parse, FrameRates) {
    auto fr = [](const std::string& v) {
        Preset p = parse_preset("video: {framerate: " + v + "}\n", "f.yaml");
        return std::make_pair(p.video->fps_num, p.video->fps_den);
    };
    EXPECT_EQ(fr("25"), std::make_pair(25, 1));
    EXPECT_EQ(fr("30000/1001"), std::make_pair(30000, 1001));
    EXPECT_EQ(fr("60/2"), std::make_pair(30, 1));
    EXPECT_EQ(fr("29.97"), std::make_pair(30000, 1001));
    EXPECT_EQ(fr("23.976"), std::make_pair(24000, 1001));
    EXPECT_EQ(fr("59.94"), std::make_pair(60000, 1001));
    EXPECT_EQ(fr("12.5"), std::make_pair(25, 2));
    EXPECT_EQ(fr("120"), std::make_pair(120, 1));
    EXPECT_THAT(error_of("video: {framerate: 121}\n"),
                HasSubstr("test.yaml: video.framerate: 121 is out of range (allowed 1..120"));
    EXPECT_THAT(error_of("video: {framerate: 0}\n"), HasSubstr("video.framerate: 0 is out of range"));
    EXPECT_THAT(error_of("video: {framerate: 1/0}\n"), HasSubstr("video.framerate: 1/0 is out of range"));
    EXPECT_THAT(error_of("video: {framerate: 1/2}\n"), HasSubstr("video.framerate: 1/2 is out of range"));
    EXPECT_THAT(error_of("video: {framerate: fast}\n"), HasSubstr("video.framerate: expected a frame rate"));
    EXPECT_THAT(error_of("video: {framerate: 30/-1}\n"), HasSubstr("video.framerate: expected a frame rate"));
    EXPECT_THAT(error_of("video: {framerate: 99999999999999999999}\n"), HasSubstr("is out of range"));
}

TEST(Parse, AudioOnlyAndVideoOnly) {
    for (const char* yaml : {"audio: {}\n", "video: none\naudio: {}\n", "video:\naudio: {}\n", "video: ~\naudio: {}\n"}) {
        Preset p = parse_preset(yaml, "a.yaml");
        EXPECT_FALSE(p.video) << yaml;
        ASSERT_TRUE(p.audio) << yaml;
    }
    Preset v = parse_preset("video: {}\naudio: none\n", "v.yaml");
    EXPECT_TRUE(v.video);
    EXPECT_FALSE(v.audio);
}

TEST(Parse, NullStringIsEmpty) {
    Preset p = parse_preset("video: {tune: }\naudio: {}\nmetadata: {title: ~}\n", "n.yaml");
    EXPECT_EQ(p.video->tune, "");
    EXPECT_EQ(p.metadata.title, "");
}

TEST(Parse, Tunes) {
    EXPECT_EQ(parse_preset("video: {tune: zerolatency}\n", "t").video->tune, "zerolatency");
    EXPECT_EQ(parse_preset("video: {tune: 'animation,zerolatency,fastdecode'}\n", "t").video->tune,
              "animation,zerolatency,fastdecode");
    EXPECT_THAT(error_of("video: {tune: 'film,grain'}\n"),
                AllOf(HasSubstr("video.tune: 'film,grain' is not allowed (allowed: "), HasSubstr("zerolatency")));
    EXPECT_THAT(error_of("video: {tune: fast}\n"), HasSubstr("video.tune: 'fast' is not allowed"));
    EXPECT_THAT(error_of("video: {tune: 'zerolatency,'}\n"), HasSubstr("is not allowed"));
}

// --- inheritance --------------------------------------------------------------------------------

TEST(Base, OverridesABuiltin) {
    Preset p = parse_preset("base: low-latency\nvideo: {bitrate_kbps: 1000}\nasf: {preroll_ms: 800}\n",
                            "/p/mine.yaml");
    EXPECT_EQ(p.name, "mine");
    EXPECT_EQ(p.description, "");  // the base's description is not this preset's
    EXPECT_EQ(p.origin, "/p/mine.yaml");
    ASSERT_TRUE(p.video && p.audio);
    EXPECT_EQ(p.video->bitrate_kbps, 1000);
    EXPECT_EQ(p.video->tune, "zerolatency");  // kept from the base
    EXPECT_EQ(p.asf.preroll_ms, 800u);
    EXPECT_EQ(p.asf.packet_size, 1450u);
}

TEST(Base, MayComeAfterOverridesAndRemoveAStream) {
    Preset p = parse_preset("audio: none\nbase: default\n", "v.yaml");
    EXPECT_TRUE(p.video);
    EXPECT_FALSE(p.audio);
}

TEST(Base, MergedResultIsValidated) {
    // default has max_bitrate 2000; raising only the bit rate breaks the VBV rule.
    EXPECT_THAT(error_of("base: default\nvideo: {bitrate_kbps: 3000}\n"),
                HasSubstr("test.yaml: video.max_bitrate_kbps: 2000 is out of range (allowed 0 for no VBV, or "
                          "video.bitrate_kbps (3000)..200000)"));
}

TEST(Base, UnknownBase) {
    EXPECT_THAT(error_of("base: nope\n"),
                AllOf(HasSubstr("test.yaml: base: unknown preset 'nope' (allowed: "), HasSubstr("default")));
}

TEST(Base, CycleIsDetected) {
    std::map<std::string, std::string> texts = {
        {"a", "base: b\n"}, {"b", "base: c\n"}, {"c", "base: a\n"}, {"self", "base: self\n"}};
    asfcast::presets::detail::BaseLookup lookup{
        [&](const std::string& n) -> std::optional<std::string> {
            auto it = texts.find(n);
            if (it == texts.end()) return std::nullopt;
            return it->second;
        },
        [&] {
            std::vector<std::string> names;
            for (auto& [n, t] : texts) names.push_back(n);
            return names;
        }};
    std::vector<std::string> chain;
    try {
        asfcast::presets::detail::parse_preset_with("base: a\n", "top.yaml", lookup, chain);
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), HasSubstr("built-in:c: base: inheritance cycle: a -> b -> c -> a"));
    }
    EXPECT_TRUE(chain.empty());
    chain = {"self"};
    EXPECT_THROW(asfcast::presets::detail::parse_preset_with("base: self\n", "built-in:self", lookup, chain),
                 PresetError);
}

// --- validation ---------------------------------------------------------------------------------

TEST(Validate, UnknownTopLevelKey) {
    EXPECT_THAT(error_of(kMinimal + "vidoe: {}\n"),
                AllOf(StartsWith("test.yaml: unknown key 'vidoe' (allowed keys: name, description, base, source, "
                                 "video, audio, asf, metadata, outputs, script_commands, drm, playlist, control)"),
                      HasSubstr("did you mean 'video'?")));
}

TEST(Validate, UnknownNestedKey) {
    EXPECT_THAT(error_of("video: {bitrat: 5}\n"),
                AllOf(StartsWith("test.yaml: unknown key 'video.bitrat' (allowed keys: codec, fourcc, width"),
                      HasSubstr("bitrate_kbps"), HasSubstr("did you mean 'bitrate_kbps'?")));
    EXPECT_THAT(error_of(kMinimal + "asf: {packet: 1}\n"), HasSubstr("unknown key 'asf.packet'"));
    EXPECT_THAT(error_of(kMinimal + "source: {typ: test}\n"), HasSubstr("unknown key 'source.typ'"));
    EXPECT_THAT(error_of(kMinimal + "metadata: {album: x}\n"), HasSubstr("unknown key 'metadata.album'"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pushh: x}\n"), HasSubstr("unknown key 'outputs.pushh'"));
    EXPECT_THAT(error_of("audio: {rate: 1}\n"), HasSubstr("unknown key 'audio.rate'"));
}

TEST(Validate, DuplicateKey) {
    EXPECT_THAT(error_of("video: {width: 640, width: 320}\naudio: {}\n"), HasSubstr("duplicate key 'video.width'"));
}

TEST(Validate, OutOfRangeNamesOriginKeyAndRange) {
    struct Case {
        std::string yaml, message;
    };
    const Case cases[] = {
        {"video: {bitrate_kbps: 5}\n", "/etc/p.yaml: video.bitrate_kbps: 5 is out of range (allowed 32..100000)"},
        {"video: {bitrate_kbps: 100001}\n", "video.bitrate_kbps: 100001 is out of range (allowed 32..100000)"},
        {"video: {width: 8}\n", "video.width: 8 is out of range (allowed 16..4096)"},
        {"video: {width: 1279}\n", "video.width: 1279 is out of range (allowed even values 16..4096)"},
        {"video: {height: 5000}\n", "video.height: 5000 is out of range (allowed 16..4096)"},
        {"video: {max_bitrate_kbps: -1}\n", "video.max_bitrate_kbps: -1 is out of range (allowed 0..200000)"},
        {"video: {vbv_buffer_kbit: 300000}\n", "video.vbv_buffer_kbit: 300000 is out of range (allowed 0..200000)"},
        {"video: {keyframe_interval_s: 31}\n", "video.keyframe_interval_s: 31 is out of range (allowed 0.1..30)"},
        {"video: {keyframe_interval_s: 0.05}\n", "video.keyframe_interval_s: 0.05 is out of range (allowed 0.1..30)"},
        {"video: {bframes: 17}\n", "video.bframes: 17 is out of range (allowed 0..16)"},
        {"video: {threads: 65}\n", "video.threads: 65 is out of range (allowed 0..64)"},
        {"audio: {bitrate_kbps: 16}\n", "audio.bitrate_kbps: 16 is out of range (allowed 32..320)"},
        {"audio: {channels: 6}\n", "audio.channels: 6 is out of range (allowed 1..2)"},
        {"audio: {}\nasf: {packet_size: 100}\n", "asf.packet_size: 100 is out of range (allowed 512..65535)"},
        {"audio: {}\nasf: {packet_size: 70000}\n", "asf.packet_size: 70000 is out of range (allowed 512..65535)"},
        {"audio: {}\nasf: {preroll_ms: 60001}\n", "asf.preroll_ms: 60001 is out of range (allowed 0..60000)"},
        {"audio: {}\nasf: {max_packet_delay_ms: 0}\n",
         "asf.max_packet_delay_ms: 0 is out of range (allowed 1..10000)"},
        {"audio: {}\nsource: {tone_hz: 30000}\n", "source.tone_hz: 30000 is out of range (allowed 1..20000)"},
        {"video: {bitrate_kbps: 99999999999999999999999}\n", "video.bitrate_kbps: 99999999999999999999999 is out"},
        {"video: {keyframe_interval_s: 1e400}\n", "video.keyframe_interval_s: expected a number"},
    };
    for (const auto& c : cases) EXPECT_THAT(error_of(c.yaml, "/etc/p.yaml"), HasSubstr(c.message)) << c.yaml;
}

TEST(Validate, EnumsListTheAllowedValues) {
    EXPECT_THAT(error_of("video: {profile: extended}\n"),
                HasSubstr("test.yaml: video.profile: 'extended' is not allowed (allowed: baseline, main, high)"));
    EXPECT_THAT(error_of("video: {x264_preset: turbo}\n"),
                HasSubstr("video.x264_preset: 'turbo' is not allowed (allowed: ultrafast, superfast, veryfast"));
    EXPECT_THAT(error_of("video: {fourcc: H265}\n"),
                HasSubstr("video.fourcc: 'H265' is not allowed with video.codec h264 (allowed: H264, h264, X264, "
                          "x264, AVC1, avc1)"));
    EXPECT_THAT(error_of("video: {codec: vp8}\n"), HasSubstr("video.codec: 'vp8' is not allowed (allowed: h264, wmv2, copy)"));
    // H.264 pass-through is one stream as the source sent it: no renditions to make.
    EXPECT_THAT(error_of("video: {codec: copy, renditions: [{width: 320, height: 180, bitrate_kbps: 300}]}\n"),
                HasSubstr("video.renditions: is not allowed with video.codec copy"));
    EXPECT_THAT(error_of("audio: {codec: aac}\n"), HasSubstr("audio.codec: 'aac' is not allowed (allowed: wma2, mp3, copy)"));
    EXPECT_THAT(error_of("audio: {}\nsource: {type: v4l2}\n"),
                HasSubstr("source.type: 'v4l2' is not allowed (allowed: test, file, device, rtsp, srt, uri)"));
    EXPECT_THAT(error_of("audio: {}\nsource: {pattern: plaid}\n"),
                AllOf(HasSubstr("source.pattern: 'plaid' is not allowed (allowed: smpte, snow"),
                      HasSubstr("smpte-rp-219")));
    for (const char* pattern : {"ball", "checkers-8", "chroma-zone-plate", "smpte-rp-219", "pinwheel"})
        EXPECT_NO_THROW(parse_preset(std::string("audio: {}\nsource: {pattern: ") + pattern + "}\n", "p"));
}

TEST(Validate, WrongType) {
    EXPECT_THAT(error_of("video: {width: wide}\n"), HasSubstr("test.yaml: video.width: expected an integer, got 'wide'"));
    EXPECT_THAT(error_of("video: {width: 1280.5}\n"), HasSubstr("video.width: expected an integer, got '1280.5'"));
    EXPECT_THAT(error_of("video: {width: [1280]}\n"), HasSubstr("video.width: expected an integer, got a sequence"));
    EXPECT_THAT(error_of("video: {width: }\n"), HasSubstr("video.width: expected an integer, got null"));
    EXPECT_THAT(error_of("video: {keyframe_interval_s: soon}\n"),
                HasSubstr("video.keyframe_interval_s: expected a number, got 'soon'"));
    EXPECT_THAT(error_of("video: {keyframe_interval_s: nan}\n"), HasSubstr("keyframe_interval_s: nan is out of range"));
    EXPECT_THAT(error_of("video: 1280x720\n"), HasSubstr("video: expected a mapping or none, got '1280x720'"));
    EXPECT_THAT(error_of("video: {}\naudio: [wma2]\n"), HasSubstr("audio: expected a mapping or none, got a sequence"));
    EXPECT_THAT(error_of(kMinimal + "asf: 8192\n"), HasSubstr("asf: expected a mapping, got '8192'"));
    EXPECT_THAT(error_of(kMinimal + "metadata: {title: {a: b}}\n"),
                HasSubstr("metadata.title: expected a string, got a mapping"));
    EXPECT_THAT(error_of("- video\n- audio\n"), HasSubstr("test.yaml: expected a mapping of preset keys at the top "
                                                          "level, got a sequence"));
    EXPECT_THAT(error_of("{[a]: 1}\n"), HasSubstr("keys must be plain names"));
}

TEST(Validate, BaselineWithBframes) {
    EXPECT_THAT(error_of("video: {profile: baseline, bframes: 2}\n"),
                HasSubstr("test.yaml: video.bframes: 2 is not allowed with video.profile baseline (allowed 0"));
    EXPECT_NO_THROW(parse_preset("video: {profile: baseline, bframes: 0}\n", "b"));
}

TEST(Validate, FileSourceNeedsPath) {
    EXPECT_THAT(error_of(kMinimal + "source: {type: file}\n"),
                HasSubstr("test.yaml: source.path: is required when source.type is file"));
}

TEST(Validate, NeitherAudioNorVideo) {
    for (const char* yaml : {"name: x\n", "video: none\naudio: none\n", "base: audio-only\naudio: ~\n"})
        EXPECT_THAT(error_of(yaml), HasSubstr("test.yaml: video, audio: a preset needs at least one of video and audio"))
            << yaml;
}

TEST(Validate, VbvRules) {
    EXPECT_THAT(error_of("video: {bitrate_kbps: 3000, max_bitrate_kbps: 2500}\n"),
                HasSubstr("video.max_bitrate_kbps: 2500 is out of range (allowed 0 for no VBV, or "
                          "video.bitrate_kbps (3000)..200000)"));
    EXPECT_THAT(error_of("video: {vbv_buffer_kbit: 0}\n"),
                HasSubstr("video.vbv_buffer_kbit: 0 is out of range (allowed 1..200000 when video.max_bitrate_kbps is set)"));
    Preset p = parse_preset("video: {bitrate_kbps: 3000, max_bitrate_kbps: 0}\n", "x");
    EXPECT_EQ(p.video->max_bitrate_kbps, 0);
}

TEST(Validate, AudioPerCodec) {
    EXPECT_THAT(error_of("audio: {codec: mp3, sample_rate: 22050}\n"),
                HasSubstr("audio.sample_rate: 22050 is not allowed for audio.codec mp3 (allowed 32000, 44100, 48000)"));
    EXPECT_THAT(error_of("audio: {codec: wma2, sample_rate: 24000}\n"),
                HasSubstr("audio.sample_rate: 24000 is not allowed for audio.codec wma2 (allowed 22050, 32000, 44100, "
                          "48000)"));
    EXPECT_THAT(error_of("audio: {sample_rate: 8000}\n"), HasSubstr("audio.sample_rate: 8000 is out of range"));
    EXPECT_THAT(error_of("audio: {codec: mp3, bitrate_kbps: 130}\n"),
                HasSubstr("audio.bitrate_kbps: 130 is not allowed for audio.codec mp3 (allowed 32, 40, 48"));
    EXPECT_NO_THROW(parse_preset("audio: {codec: wma2, bitrate_kbps: 130, sample_rate: 22050, channels: 1}\n", "w"));
    EXPECT_NO_THROW(parse_preset("audio: {codec: mp3, bitrate_kbps: 320, sample_rate: 32000}\n", "m"));
}

TEST(Validate, AudioFrameMustFitInAPacket) {
    // MP3 320 kbit/s at 32 kHz: 1441-byte frames.
    EXPECT_THAT(error_of("audio: {codec: mp3, bitrate_kbps: 320, sample_rate: 32000}\nasf: {packet_size: 1024}\n"),
                HasSubstr("asf.packet_size: 1024 is out of range (allowed 1505..65535: an audio frame of mp3"));
    EXPECT_NO_THROW(parse_preset("audio: {}\nasf: {packet_size: 1024}\n", "p"));
}

TEST(Validate, Strings) {
    EXPECT_THAT(error_of(kMinimal + "metadata: {title: \"a\\x01b\"}\n"),
                HasSubstr("metadata.title: contains a control character"));
    EXPECT_THAT(error_of(kMinimal + "metadata: {title: \"" + std::string(1100, 'x') + "\"}\n"),
                HasSubstr("metadata.title: is 1100 bytes long (allowed 0..1024 bytes)"));
    EXPECT_THAT(error_of(kMinimal + "name: \"\"\n"), HasSubstr("name: must not be empty"));
    EXPECT_THAT(error_of(kMinimal + "metadata: {title: \"\xff\xfe\"}\n"), AllOf(StartsWith("test.yaml: ")));
}

TEST(Validate, YamlSyntaxErrorHasLine) {
    EXPECT_THAT(error_of("name: x\nvideo: {width: 640\naudio: {}\n"),
                AllOf(StartsWith("test.yaml: line "), HasSubstr(": YAML syntax error: ")));
    EXPECT_THAT(error_of("name: x\nvideo:\n  width: 640\n   height: 480\n"),
                StartsWith("test.yaml: line 4: YAML syntax error: "));
    EXPECT_THAT(error_of("name: x\ndescription: a: b\n"), StartsWith("test.yaml: line 2: YAML syntax error: "));
    EXPECT_THAT(error_of("video: {width: 640]\n"), HasSubstr("YAML syntax error"));
}

TEST(Validate, EmptyAndMultipleDocuments) {
    EXPECT_THAT(error_of(""), HasSubstr("test.yaml: "));
    EXPECT_THAT(error_of("# nothing\n"), HasSubstr("test.yaml: "));
    EXPECT_THAT(error_of(kMinimal + "---\n" + kMinimal), HasSubstr("test.yaml: holds more than one YAML document"));
    EXPECT_THAT(error_of(kMinimal + "---\nx: [1\n"), StartsWith("test.yaml: line 5: YAML syntax error: "));
}

TEST(Validate, HostileInputsGivePresetError) {
    // Deep nesting (flow and block), huge input, self-referencing aliases, NUL bytes.
    EXPECT_THAT(error_of(std::string(100000, '[')), StartsWith("test.yaml: "));
    EXPECT_THAT(error_of(std::string(100000, '{')), StartsWith("test.yaml: "));
    std::string block;
    for (int i = 0; i < 3000; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
    EXPECT_THAT(error_of(block), StartsWith("test.yaml: "));
    std::string dashes;
    for (int i = 0; i < 5000; ++i) dashes += "- ";
    EXPECT_THAT(error_of(dashes + "x\n"), StartsWith("test.yaml: "));
    EXPECT_THAT(error_of(std::string(2 << 20, ' ')), HasSubstr("bytes long"));
    EXPECT_THAT(error_of("video: &a {width: *a}\n"), HasSubstr("video.width: expected an integer"));
    EXPECT_THAT(error_of("a: &a [*a]\n"), HasSubstr("unknown key 'a'"));
    EXPECT_THAT(error_of(std::string("video: {width: 6\0 40}\n", 23)), StartsWith("test.yaml: "));
    EXPECT_THAT(error_of("!<tag:x> {video: {}}\n&x\n"), StartsWith("test.yaml: "));
    // yaml-cpp 0.7 loops forever in LoadAll on these (jbeder/yaml-cpp#1319), and its scanner on "[:".
    for (const char* s : {", n", ",", "a: b\n,\n", "[:", "{:", "- !+(.,.)"})
        EXPECT_THAT(error_of(s), StartsWith("test.yaml: ")) << s;
}

// --- files and resolution -----------------------------------------------------------------------

TEST(Files, LoadPresetFile) {
    TempDir dir;
    const std::string path = dir.write("event.yaml", "base: default\nvideo: {bitrate_kbps: 1000, max_bitrate_kbps: 1000}\n");
    Preset p = load_preset_file(path);
    EXPECT_EQ(p.name, "event");
    EXPECT_EQ(p.origin, path);
    EXPECT_EQ(p.video->bitrate_kbps, 1000);
}

TEST(Files, ErrorsNameThePath) {
    TempDir dir;
    const std::string bad = dir.write("bad.yaml", "video: {bitrat: 1}\n");
    try {
        load_preset_file(bad);
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), StartsWith(bad + ": unknown key 'video.bitrat'"));
    }
    const std::string missing = (dir.path() / "missing.yaml").string();
    try {
        load_preset_file(missing);
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), AllOf(StartsWith(missing + ": cannot open"), HasSubstr("No such file")));
    }
    try {
        load_preset_file(dir.path().string());
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), HasSubstr("is a directory"));
    }
}

TEST(Files, ResolveByNameAndByPath) {
    EXPECT_EQ(resolve_preset("low-latency").name, "low-latency");
    EXPECT_EQ(resolve_preset("audio-only").origin, "built-in:audio-only");
    TempDir dir;
    const std::string path = dir.write("x.yml", "name: custom\naudio: {}\n");
    Preset p = resolve_preset(path);
    EXPECT_EQ(p.name, "custom");
    EXPECT_EQ(p.origin, path);
    EXPECT_THROW(resolve_preset("nope.yaml"), PresetError);  // a path (ends .yaml), and missing
    try {
        resolve_preset("nope");
        FAIL();
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("unknown preset 'nope' (available: "), HasSubstr("radio-mp3")));
    }
}

}  // namespace

namespace {

TEST(Readme, ExamplesParse) {
    Preset p = parse_preset(R"(
name: town-hall
description: Town hall meeting, 1080p30 at 4.5 Mbit/s
base: default
source:
  type: file
  path: /srv/media/town-hall.mp4
video:
  width: 1920
  height: 1080
  framerate: 30000/1001
  bitrate_kbps: 4500
  max_bitrate_kbps: 4500
  vbv_buffer_kbit: 4500
  x264_preset: superfast      # 1080p30 stays real-time on 2 cores
audio:
  bitrate_kbps: 160
  sample_rate: 48000
asf:
  preroll_ms: 2000
metadata:
  title: Town hall
  author: City of Example
  copyright: (c) 2025 City of Example
outputs:
  archive: /srv/archive/town-hall.wmv
)",
                            "/etc/asfcast/town-hall.yaml");
    EXPECT_EQ(p.video->height, 1080);
    EXPECT_EQ(p.video->profile, "main");  // from default
    EXPECT_EQ(p.audio->bitrate_kbps, 160);
    Preset r = parse_preset("name: studio-radio\naudio: {codec: mp3, bitrate_kbps: 192, sample_rate: 48000}\n"
                            "asf: {packet_size: 2048}\n",
                            "r.yaml");
    EXPECT_FALSE(r.video);
    EXPECT_EQ(r.audio->codec, "mp3");
    EXPECT_EQ(error_of("name: x\nvideo:\n  width: 640\naudio: {x: [1, 2}\n", "/etc/asfcast/event.yaml"),
              "/etc/asfcast/event.yaml: line 4: YAML syntax error: illegal flow end");
}

}  // namespace

TEST(Pull, DefaultsServeLoopback8080WithoutAuth) {
    Preset p = builtin_preset("default");
    Preset d = parse_preset(kMinimal, "x.yaml");
    for (const Preset* q : {&p, &d}) {
        EXPECT_TRUE(q->outputs.pull.enabled);
        EXPECT_EQ(q->outputs.pull.address, "127.0.0.1");
        EXPECT_EQ(q->outputs.pull.port, 8080);
        EXPECT_TRUE(q->outputs.pull.auth.empty());
        EXPECT_EQ(q->outputs.pull.max_clients, 20000);
        EXPECT_EQ(q->outputs.pull.lag_policy, "skip");
    }
}

TEST(Pull, EveryKeyParses) {
    Preset p = parse_preset(kMinimal + R"(outputs:
  pull:
    address: 0.0.0.0
    port: 8081
    mount: /live
    max_clients: 100
    max_clients_per_ip: 4
    auth: digest
    realm: studio
    users: [{name: alice, password: "s3cret"}, {name: bob, password: x}]
    allow: [10.0.0.0/8, "::1"]
    deny: [10.1.0.0/16]
    max_head_bytes: 4096
    header_timeout_ms: 5000
    idle_timeout_ms: 30000
    max_lag_ms: 2000
    lag_policy: disconnect
)",
                            "x.yaml");
    const PullPreset& pull = p.outputs.pull;
    EXPECT_EQ(pull.address, "0.0.0.0");
    EXPECT_EQ(pull.port, 8081);
    EXPECT_EQ(pull.mount, "/live");
    EXPECT_EQ(pull.max_clients_per_ip, 4);
    EXPECT_EQ(pull.auth, (std::vector<std::string>{"digest"}));
    ASSERT_EQ(pull.users.size(), 2u);
    EXPECT_EQ(pull.users[0].name, "alice");
    EXPECT_EQ(pull.users[0].password, "s3cret");
    EXPECT_EQ(pull.allow, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
    EXPECT_EQ(pull.deny, (std::vector<std::string>{"10.1.0.0/16"}));
    EXPECT_EQ(pull.lag_policy, "disconnect");
    EXPECT_FALSE(parse_preset(kMinimal + "outputs: {pull: false}\n", "x.yaml").outputs.pull.enabled);
}

TEST(Pull, AuthIsOneSchemeOrAListInOrderOfPreference) {
    const std::string users = "    users: [{name: a, password: b}]\n";
    auto auth_of = [&](const std::string& value) {
        return parse_preset(kMinimal + "outputs:\n  pull:\n    auth: " + value + "\n" + users, "x.yaml").outputs.pull.auth;
    };
    EXPECT_EQ(auth_of("none"), std::vector<std::string>{});
    EXPECT_EQ(auth_of("ntlm"), (std::vector<std::string>{"ntlm"}));
    EXPECT_EQ(auth_of("[ntlm, digest]"), (std::vector<std::string>{"ntlm", "digest"}));
    EXPECT_EQ(auth_of("[digest, basic, ntlm]"), (std::vector<std::string>{"digest", "basic", "ntlm"}));
    const std::string pull = kMinimal + "outputs:\n  pull:\n    auth: ";
    EXPECT_THAT(error_of(pull + "[ntlm, kerberos]\n" + users),
                HasSubstr("outputs.pull.auth[1]: 'kerberos' is not allowed (allowed: basic, digest, ntlm)"));
    EXPECT_THAT(error_of(pull + "[digest, digest]\n" + users), HasSubstr("outputs.pull.auth[1]: 'digest' is listed twice"));
    EXPECT_THAT(error_of(pull + "[none, digest]\n" + users), HasSubstr("outputs.pull.auth[0]: 'none' is not allowed"));
    EXPECT_THAT(error_of(pull + "[]\n" + users), HasSubstr("outputs.pull.auth: is an empty list"));
    EXPECT_THAT(error_of(pull + "{ntlm: 1}\n" + users), HasSubstr("outputs.pull.auth"));
    EXPECT_THAT(error_of(pull + "NTLM\n" + users), HasSubstr("outputs.pull.auth: 'NTLM' is not allowed"));
    EXPECT_THAT(error_of(pull + "[ntlm, digest]\n"),
                HasSubstr("outputs.pull.users: is empty but outputs.pull.auth is [ntlm, digest]"));
}

TEST(Pull, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {port: 70000}}\n"),
                HasSubstr("outputs.pull.port: 70000 is out of range (allowed 1..65535)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {auth: basic}}\n"),
                HasSubstr("outputs.pull.users: is empty but outputs.pull.auth is basic"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {mount: live}}\n"), HasSubstr("outputs.pull.mount"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {lag_policy: wait}}\n"),
                HasSubstr("outputs.pull.lag_policy: 'wait' is not allowed (allowed: skip, disconnect)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {users: [{name: a, pass: b}]}}\n"),
                HasSubstr("unknown key 'outputs.pull.users.pass'"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {pull: {allow: 10.0.0.0/8}}\n"),
                HasSubstr("outputs.pull.allow: expected a list"));
}

TEST(Push, TargetsAsAListOrWithSettings) {
    Preset p = parse_preset(kMinimal + R"(outputs:
  push:
    - {url: "http://wms1/live", user: enc, password: "p w"}
    - {url: "wms2:8080/live", template: /pub, auto_remove: true}
)",
                            "x.yaml");
    ASSERT_EQ(p.outputs.push.targets.size(), 2u);
    EXPECT_EQ(p.outputs.push.targets[0].url, "http://wms1/live");
    EXPECT_EQ(p.outputs.push.targets[0].password, "p w");
    EXPECT_EQ(p.outputs.push.targets[1].template_url, "/pub");
    EXPECT_TRUE(p.outputs.push.targets[1].auto_remove);
    Preset q = parse_preset(kMinimal + R"(outputs:
  push: {targets: [{url: "http://a/b", password_file: /etc/asfcast/a.pw}], backoff_initial_ms: 500, backoff_max_ms: 8000, queue_kbytes: 512}
)",
                            "x.yaml");
    ASSERT_EQ(q.outputs.push.targets.size(), 1u);
    EXPECT_EQ(q.outputs.push.targets[0].password_file, "/etc/asfcast/a.pw");
    EXPECT_EQ(q.outputs.push.backoff_initial_ms, 500);
    EXPECT_EQ(q.outputs.push.queue_kbytes, 512);
    EXPECT_TRUE(parse_preset(kMinimal, "x.yaml").outputs.push.targets.empty());
}

TEST(Push, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "outputs: {push: [{user: a}]}\n"),
                HasSubstr("outputs.push.url: is required for every push target"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {push: [{url: x, password: a, password_file: b}]}\n"),
                HasSubstr("outputs.push.password_file: and password are both set"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {push: {backoff_initial_ms: 5000, backoff_max_ms: 1000}}\n"),
                HasSubstr("outputs.push.backoff_max_ms: 1000 is out of range"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {push: [{url: x, passwd: a}]}\n"),
                HasSubstr("unknown key 'outputs.push.passwd'"));
}

// --- outputs.multicast ---------------------------------------------------------------------------

TEST(Multicast, OffByDefaultAndEveryKey) {
    EXPECT_FALSE(parse_preset(kMinimal, "x.yaml").outputs.multicast.enabled());
    const Preset p = parse_preset(kMinimal + R"(outputs:
  multicast:
    group: 239.255.1.2
    port: 19009
    ttl: 8
    interface: 10.0.0.7
    fec_span: 5
    beacon_interval_s: 2
    nsc_path: /srv/www/live.nsc
    nsc_strings: plain
    name: "enc1, live"
    unicast_url: "http://enc1:8080/"
    network_buffer_ms: 500
)",
                                  "x.yaml");
    const auto& m = p.outputs.multicast;
    EXPECT_TRUE(m.enabled());
    EXPECT_EQ(m.group, "239.255.1.2");
    EXPECT_EQ(m.port, 19009);
    EXPECT_EQ(m.ttl, 8);
    EXPECT_EQ(m.interface, "10.0.0.7");
    EXPECT_EQ(m.fec_span, 5);
    EXPECT_EQ(m.beacon_interval_s, 2);
    EXPECT_EQ(m.nsc_path, "/srv/www/live.nsc");
    EXPECT_EQ(m.nsc_strings, "plain");
    EXPECT_EQ(m.name, "enc1, live");
    EXPECT_EQ(m.unicast_url, "http://enc1:8080/");
    EXPECT_EQ(m.network_buffer_ms, 500);
    const auto d = parse_preset(kMinimal + "outputs: {multicast: {group: \"ff15::1\", port: 5000}}\n", "x.yaml").outputs.multicast;
    EXPECT_EQ(d.ttl, 1);
    EXPECT_EQ(d.fec_span, 10);
    EXPECT_EQ(d.beacon_interval_s, 5);
    EXPECT_EQ(d.interface, "");
    EXPECT_EQ(d.nsc_strings, "encoded");
    EXPECT_FALSE(parse_preset(kMinimal + "outputs: {multicast: off}\n", "x.yaml").outputs.multicast.enabled());
}

TEST(Multicast, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 10.1.2.3, port: 5000}}\n", "m.yaml"),
                AllOf(StartsWith("m.yaml"), HasSubstr("outputs.multicast.group: '10.1.2.3' is not a multicast address")));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1}}\n"),
                HasSubstr("outputs.multicast.port: is required with outputs.multicast.group"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1, port: 5000, fec_span: 16}}\n"),
                HasSubstr("outputs.multicast.fec_span: 16 is out of range (allowed 0..15)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1, port: 5000, beacon_interval_s: 30}}\n"),
                HasSubstr("outputs.multicast.beacon_interval_s: 30 is out of range (allowed 1..10)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1, port: 5000, ttl: 256}}\n"),
                HasSubstr("outputs.multicast.ttl: 256 is out of range (allowed 0..255)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1, port: 5000, nsc_strings: utf8}}\n"),
                HasSubstr("outputs.multicast.nsc_strings: 'utf8' is not allowed (allowed: encoded, plain)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {multicast: {group: 239.1.1.1, prot: 5000}}\n"),
                HasSubstr("unknown key 'outputs.multicast.prot'"));
}

// --- outputs.msbd ------------------------------------------------------------------------------

TEST(Msbd, OffByDefaultAndEveryKey) {
    EXPECT_FALSE(parse_preset(kMinimal, "x.yaml").outputs.msbd.enabled);
    EXPECT_FALSE(builtin_preset("default").outputs.msbd.enabled);
    const Preset p = parse_preset(kMinimal + R"(outputs:
  msbd:
    address: 0.0.0.0
    port: 7008
    max_clients: 50
    max_clients_per_ip: 2
    allow: [10.0.0.0/8, "::1"]
    deny: [10.1.0.0/16]
    connect_timeout_ms: 5000
    ping_interval_ms: 60000
    ping_timeout_ms: 30000
    max_lag_ms: 2000
    lag_policy: disconnect
    send_interval_ms: 0
)",
                                  "x.yaml");
    const asfcast::presets::MsbdPreset& m = p.outputs.msbd;
    EXPECT_TRUE(m.enabled);  // a section turns it on
    EXPECT_EQ(m.address, "0.0.0.0");
    EXPECT_EQ(m.port, 7008);
    EXPECT_EQ(m.max_clients, 50);
    EXPECT_EQ(m.max_clients_per_ip, 2);
    EXPECT_EQ(m.allow, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
    EXPECT_EQ(m.deny, (std::vector<std::string>{"10.1.0.0/16"}));
    EXPECT_EQ(m.connect_timeout_ms, 5000);
    EXPECT_EQ(m.ping_interval_ms, 60000);
    EXPECT_EQ(m.ping_timeout_ms, 30000);
    EXPECT_EQ(m.max_lag_ms, 2000);
    EXPECT_EQ(m.lag_policy, "disconnect");
    EXPECT_EQ(m.send_interval_ms, 0);
    // `msbd: on`: the defaults, 127.0.0.1:7007, a ping every 2 minutes (MS-MSBD 2.2.3).
    const asfcast::presets::MsbdPreset d = parse_preset(kMinimal + "outputs: {msbd: on}\n", "x.yaml").outputs.msbd;
    EXPECT_TRUE(d.enabled);
    EXPECT_EQ(d.address, "127.0.0.1");
    EXPECT_EQ(d.port, 7007);
    EXPECT_EQ(d.ping_interval_ms, 120000);
    EXPECT_EQ(d.ping_timeout_ms, 120000);
    EXPECT_EQ(d.lag_policy, "skip");
    EXPECT_FALSE(parse_preset(kMinimal + "outputs: {msbd: {enabled: false, port: 7010}}\n", "x.yaml").outputs.msbd.enabled);
    // The default preset lists every key with the built-in defaults, switched off; a preset based
    // on it turns MSBD on with a section of its own.
    const asfcast::presets::MsbdPreset listed = builtin_preset("default").outputs.msbd;
    EXPECT_EQ(listed.port, d.port);
    EXPECT_EQ(listed.address, d.address);
    EXPECT_EQ(listed.max_clients, d.max_clients);
    EXPECT_EQ(listed.ping_interval_ms, d.ping_interval_ms);
    EXPECT_EQ(listed.send_interval_ms, d.send_interval_ms);
    EXPECT_TRUE(parse_preset("base: default\noutputs: {msbd: {port: 7011}}\n", "x.yaml").outputs.msbd.enabled);
    EXPECT_FALSE(parse_preset(kMinimal + "outputs: {msbd: off}\n", "x.yaml").outputs.msbd.enabled);
    EXPECT_EQ(parse_preset(kMinimal + "outputs: {msbd: {ping_interval_ms: 0}}\n", "x.yaml").outputs.msbd.ping_interval_ms, 0);
}

TEST(Msbd, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {address: \"::1\"}}\n", "m.yaml"),
                AllOf(StartsWith("m.yaml"), HasSubstr("outputs.msbd.address: '::1' is not an IPv4 address")));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {address: 10.0.0.256}}\n"),
                HasSubstr("outputs.msbd.address: '10.0.0.256' is not an IPv4 address"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {port: 0}}\n"),
                HasSubstr("outputs.msbd.port: 0 is out of range (allowed 1..65535)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {allow: [10.0.0.0/33]}}\n"),
                HasSubstr("outputs.msbd.allow: '10.0.0.0/33' is not a CIDR block"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {deny: 10.0.0.0/8}}\n"), HasSubstr("outputs.msbd.deny: expected a list"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {ping_interval_ms: 50}}\n"),
                HasSubstr("outputs.msbd.ping_interval_ms: 50 is out of range (allowed 0 for no pings, or 100..3600000)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {lag_policy: wait}}\n"),
                HasSubstr("outputs.msbd.lag_policy: 'wait' is not allowed (allowed: skip, disconnect)"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {prot: 7007}}\n"), HasSubstr("unknown key 'outputs.msbd.prot'"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {msbd: {port: 8080}}\n"),
                HasSubstr("outputs.msbd.port: 8080 is also outputs.pull.port on 127.0.0.1"));
    EXPECT_NO_THROW(parse_preset(kMinimal + "outputs: {pull: off, msbd: {port: 8080}}\n", "x.yaml"));
    EXPECT_THAT(error_of(kMinimal + "asf: {packet_size: 65535}\noutputs: {msbd: on}\n"),
                HasSubstr("asf.packet_size: 65535 is out of range (allowed ..65511 with outputs.msbd: "));
}

// Issue 11: a packet size an enabled output cannot carry is refused at validation, naming the key
// and the output whose limit binds first (push 8192, multicast 65496, MSBD 65511, pull 65527).
TEST(Presets, PacketSizeMustFitEveryEnabledOutput) {
    const std::string push = "outputs: {push: [{url: 'http://wms.example/live'}]}\n";
    EXPECT_THAT(error_of(kMinimal + "asf: {packet_size: 8193}\n" + push),
                HasSubstr("test.yaml: asf.packet_size: 8193 is out of range (allowed ..8192 with outputs.push: a push "
                          "chunk ($D) carries one whole packet and is at most 8192 bytes)"));
    EXPECT_NO_THROW(parse_preset(kMinimal + "asf: {packet_size: 8192}\n" + push, "x.yaml"));
    EXPECT_NO_THROW(parse_preset(kMinimal + "asf: {packet_size: 16000}\n", "x.yaml"));  // no push target
    EXPECT_THAT(error_of(kMinimal + "asf: {packet_size: 65528}\n"),
                HasSubstr("asf.packet_size: 65528 is out of range (allowed ..65527 with outputs.pull: a pull $D "
                          "carries one packet after 8 bytes of its own in at most 65,535 (MS-WMSP 2.2.3.1.2))"));
    EXPECT_NO_THROW(parse_preset(kMinimal + "asf: {packet_size: 65527}\n", "x.yaml"));
    EXPECT_NO_THROW(parse_preset(kMinimal + "asf: {packet_size: 65535}\noutputs: {pull: off}\n", "x.yaml"));
    EXPECT_THAT(error_of(kMinimal + "asf: {packet_size: 65500}\noutputs: {multicast: {group: 239.1.2.3, port: 1234}}\n"),
                HasSubstr("asf.packet_size: 65500 is out of range (allowed ..65496 with outputs.multicast: "));
    // The command line adds outputs after parsing: the same check, run again.
    Preset p = parse_preset(kMinimal + "asf: {packet_size: 9000}\n", "x.yaml");
    EXPECT_NO_THROW(check_packet_size_for_outputs(p, "x.yaml"));
    p.outputs.push.targets.push_back({});
    try {
        check_packet_size_for_outputs(p, "x.yaml");
        ADD_FAILURE() << "9000-byte packets accepted with a push target";
    } catch (const PresetError& e) {
        EXPECT_THAT(e.what(), HasSubstr("x.yaml: asf.packet_size: 9000 is out of range (allowed ..8192 with outputs.push"));
    }
    // Every built-in preset fits every output it enables (and push, which the command line may add).
    for (const auto& [name, description] : builtin_presets()) {
        Preset b = builtin_preset(name);
        b.outputs.push.targets.push_back({});
        EXPECT_NO_THROW(check_packet_size_for_outputs(b, name)) << name;
    }
}

// --- video.codec wmv2 ---------------------------------------------------------------------------

namespace {

// Bases of our own next to the built-ins, to test how fourcc is inherited.
Preset parse_with_bases(const std::string& yaml) {
    static const std::map<std::string, std::string> texts = {
        {"avc", "video: {codec: h264, fourcc: avc1, bframes: 2, profile: high, tune: film, threads: 3}\n"},
        {"w", "video: {codec: wmv2, width: 640, height: 480}\n"},
        {"w-explicit", "video: {codec: wmv2, fourcc: WMV2}\n"}};
    asfcast::presets::detail::BaseLookup lookup{
        [&](const std::string& n) -> std::optional<std::string> {
            auto it = texts.find(n);
            if (it != texts.end()) return it->second;
            return asfcast::presets::detail::builtin_lookup().find(n);
        },
        [&] { return asfcast::presets::detail::builtin_lookup().names(); }};
    std::vector<std::string> chain;
    return asfcast::presets::detail::parse_preset_with(yaml, "test.yaml", lookup, chain);
}

}  // namespace

TEST(VideoCodec, FourccFollowsTheCodec) {
    Preset p = parse_preset("video: {codec: wmv2}\n", "x.yaml");
    ASSERT_TRUE(p.video);
    EXPECT_EQ(p.video->codec, "wmv2");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    // Order of keys does not matter.
    p = parse_preset("video: {fourcc: WMV2, codec: wmv2}\n", "x.yaml");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    // default.yaml says `fourcc: H264` explicitly; a wmv2 child must not inherit it.
    p = parse_preset("base: default\nvideo: {codec: wmv2, width: 640, height: 480}\n", "x.yaml");
    EXPECT_EQ(p.video->codec, "wmv2");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    EXPECT_EQ(p.video->width, 640);
    EXPECT_EQ(p.video->bitrate_kbps, 2000);  // other keys are inherited as usual
    // And back: an h264 child of a wmv2 base gets H264.
    p = parse_preset("base: legacy-wmv2\nvideo: {codec: h264}\n", "x.yaml");
    EXPECT_EQ(p.video->codec, "h264");
    EXPECT_EQ(p.video->fourcc, "H264");
    // Keeping the codec keeps the base's fourcc.
    p = parse_preset("base: legacy-wmv2\nvideo: {width: 640, height: 480}\n", "x.yaml");
    EXPECT_EQ(p.video->codec, "wmv2");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    EXPECT_EQ(p.video->width, 640);
}

TEST(VideoCodec, ExplicitFourccIsInheritedOnlyWithTheSameCodec) {
    Preset p = parse_with_bases("base: avc\nvideo: {bitrate_kbps: 1000, max_bitrate_kbps: 1000}\n");
    EXPECT_EQ(p.video->fourcc, "avc1");
    p = parse_with_bases("base: avc\nvideo: {codec: h264}\n");  // same codec written again
    EXPECT_EQ(p.video->fourcc, "avc1");
    p = parse_with_bases("base: avc\nvideo: {codec: wmv2}\n");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    p = parse_with_bases("base: w-explicit\nvideo: {codec: h264, fourcc: x264}\n");
    EXPECT_EQ(p.video->fourcc, "x264");
    p = parse_with_bases("base: w\nvideo: {bitrate_kbps: 500, max_bitrate_kbps: 500}\n");
    EXPECT_EQ(p.video->codec, "wmv2");
    EXPECT_EQ(p.video->fourcc, "WMV2");
    EXPECT_EQ(p.video->width, 640);
    // A base without video: the child's video starts from the defaults with its own codec.
    p = parse_preset("base: radio\nvideo: {codec: wmv2, width: 320, height: 240}\n", "x.yaml");
    EXPECT_EQ(p.video->fourcc, "WMV2");
}

TEST(VideoCodec, InheritedX264SettingsAreDropped) {
    // bframes, profile, tune, threads from an h264 base mean nothing to wmv2.
    Preset p = parse_with_bases("base: avc\nvideo: {codec: wmv2}\n");
    EXPECT_EQ(p.video->bframes, 0);
    EXPECT_EQ(p.video->profile, "main");
    EXPECT_EQ(p.video->tune, "");
    EXPECT_EQ(p.video->threads, 0);
    EXPECT_EQ(p.video->x264_preset, "veryfast");
}

TEST(VideoCodec, FourccMustMatchTheCodec) {
    EXPECT_THAT(error_of("video: {codec: wmv2, fourcc: H264}\n"),
                HasSubstr("test.yaml: video.fourcc: 'H264' is not allowed with video.codec wmv2 (allowed: WMV2)"));
    EXPECT_THAT(error_of("video: {fourcc: H264, codec: wmv2}\n"),
                HasSubstr("video.fourcc: 'H264' is not allowed with video.codec wmv2 (allowed: WMV2)"));
    EXPECT_THAT(error_of("video: {codec: wmv2, fourcc: wmv2}\n"),
                HasSubstr("video.fourcc: 'wmv2' is not allowed with video.codec wmv2 (allowed: WMV2)"));
    EXPECT_THAT(error_of("video: {fourcc: WMV2}\n"),
                HasSubstr("video.fourcc: 'WMV2' is not allowed with video.codec h264 (allowed: H264, h264"));
    EXPECT_THAT(error_of("base: legacy-wmv2\nvideo: {fourcc: avc1}\n"),
                HasSubstr("video.fourcc: 'avc1' is not allowed with video.codec wmv2 (allowed: WMV2)"));
}

TEST(VideoCodec, X264KeysAreErrors) {
    for (const std::string kv : {"profile: main", "x264_preset: fast", "tune: zerolatency", "bframes: 0",
                                 "threads: 2"}) {
        const std::string key = kv.substr(0, kv.find(':'));
        EXPECT_THAT(error_of("video: {codec: wmv2, " + kv + "}\n"),
                    HasSubstr("test.yaml: video." + key +
                              ": is an x264 setting and not allowed with video.codec wmv2 (remove it;"))
            << kv;
    }
    EXPECT_THAT(error_of("base: legacy-wmv2\nvideo: {profile: high}\n"),
                HasSubstr("video.profile: is an x264 setting and not allowed with video.codec wmv2"));
    // A VBV buffer smaller than one frame is refused by libavcodec's wmv2: a preset error first.
    EXPECT_THAT(error_of("base: legacy-wmv2\nvideo: {vbv_buffer_kbit: 20}\n"),
                HasSubstr("video.vbv_buffer_kbit: 20 is out of range (allowed 24..200000 with video.codec wmv2: "
                          "one frame at 700 kbit/s must fit)"));
    // Fine when the same section switches back to h264.
    Preset p = parse_preset("base: legacy-wmv2\nvideo: {codec: h264, profile: high}\n", "x.yaml");
    EXPECT_EQ(p.video->profile, "high");
}
// --- device sources (source.type: device) ------------------------------------------------------

TEST(DeviceSource, DefaultsAndKeys) {
    Preset d = builtin_preset("default");
    EXPECT_EQ(d.source.video_device, "");
    EXPECT_EQ(d.source.audio_device, "");
    EXPECT_EQ(d.source.video_format, "auto");
    EXPECT_EQ(d.source.deinterlace, "auto");
    Preset p = parse_preset(kMinimal +
                                "source: {type: device, video_device: /dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0,\n"
                                "         audio_device: 'hw:CARD=C920,DEV=0', video_format: mjpeg, deinterlace: on}\n",
                            "p.yaml");
    EXPECT_EQ(p.source.type, "device");
    EXPECT_EQ(p.source.video_device, "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920-video-index0");
    EXPECT_EQ(p.source.audio_device, "hw:CARD=C920,DEV=0");
    EXPECT_EQ(p.source.video_format, "mjpeg");
    EXPECT_EQ(p.source.deinterlace, "on");
    Preset off = parse_preset(kMinimal + "source: {type: device, deinterlace: off, video_device: none}\n", "p.yaml");
    EXPECT_EQ(off.source.deinterlace, "off");
    EXPECT_EQ(off.source.video_device, "none");
    for (const char* f : {"auto", "yuyv", "nv12", "i420", "mjpeg"})
        EXPECT_EQ(parse_preset(kMinimal + "source: {type: device, video_format: " + f + "}\n", "p").source.video_format, f);
}

TEST(DeviceSource, Validation) {
    EXPECT_THAT(error_of(kMinimal + "source: {type: device, video_format: h264}\n"),
                HasSubstr("test.yaml: source.video_format: 'h264' is not allowed (allowed: auto, yuyv, nv12, i420, mjpeg)"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: device, deinterlace: yes}\n"),
                HasSubstr("test.yaml: source.deinterlace: 'yes' is not allowed (allowed: auto, on, off)"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: device, video_device: none, audio_device: none}\n"),
                HasSubstr("test.yaml: source.video_device: and source.audio_device are both none"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: device, video_device: [a]}\n"), HasSubstr("source.video_device"));
    EXPECT_THAT(error_of(kMinimal + "source: {type: device, audio_devcie: null}\n"),
                HasSubstr("unknown key 'source.audio_devcie'"));
    // Audio-only from the ALSA null device: valid.
    EXPECT_NO_THROW(parse_preset("base: audio-only\nsource: {type: device, video_device: none, audio_device: 'null'}\n", "p"));
}

namespace {

// The webcam example of presets/README.md.
TEST(DeviceSource, ReadmeWebcamExampleParses) {
    Preset p = parse_preset(R"(
name: webcam
base: default
source:
  type: device
  video_device: /dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8F5B6A3F-video-index0
  audio_device: C920            # card id; or hw:CARD=C920,DEV=0
  video_format: auto            # picks MJPEG for 720p30 on a USB 2 webcam (its YUYV tops at 10 fps there)
)",
                            "webcam.yaml");
    EXPECT_EQ(p.source.type, "device");
    EXPECT_EQ(p.source.audio_device, "C920");
    EXPECT_EQ(p.video->width, 1280);  // from default
}

}  // namespace

// --- MBR renditions ------------------------------------------------------------------------------

using asfcast::presets::audio_renditions;
using asfcast::presets::video_renditions;

TEST(Mbr, BuiltinMbr3HasThreeVideoRenditionsAndAudio) {
    Preset p = builtin_preset("mbr-3");
    ASSERT_TRUE(p.video && p.audio);
    const auto v = video_renditions(*p.video);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].width, 1920);
    EXPECT_EQ(v[0].height, 1080);
    EXPECT_EQ(v[0].bitrate_kbps, 4500);
    EXPECT_EQ(v[0].name, "1080p 4500k");
    EXPECT_EQ(v[1].width, 1280);
    EXPECT_EQ(v[1].bitrate_kbps, 2500);
    EXPECT_EQ(v[1].name, "720p 2500k");
    EXPECT_EQ(v[2].height, 360);
    EXPECT_EQ(v[2].bitrate_kbps, 800);
    for (const auto& r : v) {
        EXPECT_EQ(r.fps_num, 30);
        EXPECT_EQ(r.keyframe_interval_s, 2.0);
        EXPECT_TRUE(r.renditions.empty());
    }
    EXPECT_EQ(audio_renditions(*p.audio).size(), 1u);
    EXPECT_NE(p.name.find("mbr"), std::string::npos);
}

TEST(Mbr, OmittedKeysTakeTheMainValuesAndVbvScales) {
    Preset p = parse_preset(R"(video:
  width: 1280
  height: 720
  framerate: 30
  bitrate_kbps: 2000
  max_bitrate_kbps: 3000
  vbv_buffer_kbit: 1000
  x264_preset: faster
  renditions:
    - {width: 640, height: 360, bitrate_kbps: 500, framerate: 15}
    - {bitrate_kbps: 1000, max_bitrate_kbps: 1000, vbv_buffer_kbit: 800, profile: baseline, name: low}
audio:
  bitrate_kbps: 128
  renditions: [{bitrate_kbps: 64}, {name: same}]
)",
                            "x.yaml");
    const auto v = video_renditions(*p.video);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].name, "720p 2000k");  // named once there are several
    EXPECT_EQ(v[1].width, 640);
    EXPECT_EQ(v[1].fps_num, 15);
    EXPECT_EQ(v[1].max_bitrate_kbps, 750);  // 500 * 3000/2000
    EXPECT_EQ(v[1].vbv_buffer_kbit, 250);
    EXPECT_EQ(v[1].x264_preset, "faster");
    EXPECT_EQ(v[1].name, "360p 500k");
    EXPECT_EQ(v[2].width, 1280);
    EXPECT_EQ(v[2].fps_num, 30);
    EXPECT_EQ(v[2].profile, "baseline");
    EXPECT_EQ(v[2].vbv_buffer_kbit, 800);
    EXPECT_EQ(v[2].name, "low");
    const auto a = audio_renditions(*p.audio);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[0].name, "WMA2 128k");
    EXPECT_EQ(a[1].bitrate_kbps, 64);
    EXPECT_EQ(a[1].sample_rate, 44100);
    EXPECT_EQ(a[2].bitrate_kbps, 128);
    EXPECT_EQ(a[2].name, "same");
    // One rendition: no names (the header stays as before).
    Preset one = parse_preset(kMinimal, "x.yaml");
    EXPECT_EQ(video_renditions(*one.video)[0].name, "");
    EXPECT_EQ(audio_renditions(*one.audio)[0].name, "");
}

TEST(Mbr, RenditionsFollowTheBasePresetMainVideo) {
    // Inherited keys are resolved at use, so a preset based on mbr-3 that changes the main
    // x264 preset changes every rendition that does not set its own.
    Preset p = parse_preset("base: mbr-3\nvideo: {x264_preset: ultrafast}\n", "x.yaml");
    for (const auto& r : video_renditions(*p.video)) EXPECT_EQ(r.x264_preset, "ultrafast");
}

TEST(Mbr, ErrorsNameTheKey) {
    EXPECT_THAT(error_of("video: {width: 640, height: 360, renditions: [{width: 1280, height: 720}]}\n"),
                AllOf(HasSubstr("test.yaml: video.renditions[0]: 1280x720 is larger than the main video 640x360"),
                      HasSubstr("must be the largest")));
    EXPECT_THAT(error_of("video: {framerate: 25, renditions: [{framerate: 30}]}\n"),
                HasSubstr("video.renditions[0].framerate: 30/1 is above the main video's 25/1"));
    EXPECT_THAT(error_of("video: {renditions: [{bitrate: 100}]}\n"),
                HasSubstr("unknown key 'video.renditions[0].bitrate'"));
    EXPECT_THAT(error_of("video: {renditions: [{width: 641}]}\n"),
                HasSubstr("video.renditions[0].width: 641 is out of range"));
    EXPECT_THAT(error_of("video: {renditions: {width: 640}}\n"), HasSubstr("video.renditions: expected a list"));
    EXPECT_THAT(error_of("video: {renditions: [{}, {}, {}, {}, {}, {}, {}, {}]}\n"),
                HasSubstr("video.renditions: 8 entries is out of range (allowed 0..7"));
    EXPECT_THAT(error_of("video: {renditions: [{bitrate_kbps: 500, max_bitrate_kbps: 400}]}\n"),
                HasSubstr("video.renditions[0].max_bitrate_kbps: 400 is out of range"));
    EXPECT_THAT(error_of("audio: {codec: mp3, renditions: [{bitrate_kbps: 100}]}\n"),
                HasSubstr("audio.renditions[0].bitrate_kbps: 100 is not allowed for audio.codec mp3"));
    EXPECT_THAT(error_of("audio: {renditions: [{sample_rate: 22050}]}\n"),
                HasSubstr("unknown key 'audio.renditions[0].sample_rate'"));
}

// --- playlist and the archive's entry pattern (issue 11, points 4 and 5) -------------------------

TEST(Playlist, EntriesLoopAndDefaults) {
    const Preset p = parse_preset(kMinimal + "playlist:\n  loop: true\n  entries:\n"
                                             "    - {file: /srv/promo.wmv, repeat: 3}\n"
                                             "    - {live: true, duration_s: 90, name: show}\n"
                                             "    - {live: true}\n"
                                             "    - {file: closing.asf, name: bye}\n"
                                             "outputs: {archive: {path: show.wmv, entry_pattern: 'show-{n}-{entry}.wmv'}}\n",
                                  "pl.yaml");
    EXPECT_TRUE(p.playlist.loop);
    ASSERT_EQ(p.playlist.entries.size(), 4u);
    EXPECT_EQ(p.playlist.entries[0].name, "promo");
    EXPECT_EQ(p.playlist.entries[0].file, "/srv/promo.wmv");
    EXPECT_EQ(p.playlist.entries[0].repeat, 3);
    EXPECT_TRUE(p.playlist.entries[1].live);
    EXPECT_EQ(p.playlist.entries[1].name, "show");
    EXPECT_DOUBLE_EQ(p.playlist.entries[1].duration_s, 90);
    EXPECT_EQ(p.playlist.entries[2].name, "live");
    EXPECT_DOUBLE_EQ(p.playlist.entries[2].duration_s, 0);
    EXPECT_EQ(p.playlist.entries[3].name, "bye");
    EXPECT_EQ(p.outputs.archive, "show.wmv");
    EXPECT_EQ(p.outputs.archive_entry_pattern, "show-{n}-{entry}.wmv");
    // A list alone is the entries.
    const Preset q = parse_preset(kMinimal + "playlist: [{file: a.wmv}, {live: true}]\n", "pl.yaml");
    EXPECT_FALSE(q.playlist.loop);
    EXPECT_EQ(q.playlist.entries.size(), 2u);
    EXPECT_EQ(parse_preset(kMinimal + "outputs: {archive: x.wmv}\n", "a.yaml").outputs.archive_entry_pattern, "");
}

TEST(Playlist, BadEntriesAndPatternsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "playlist: [{file: a.wmv, live: true}]\n"),
                HasSubstr("playlist[0]: an entry is either `file: PATH`"));
    EXPECT_THAT(error_of(kMinimal + "playlist: [{name: x}]\n"), HasSubstr("playlist[0]: an entry is either"));
    EXPECT_THAT(error_of(kMinimal + "playlist: [{live: true}, {live: true, repeat: 2}]\n"),
                HasSubstr("playlist[1].repeat: applies to file entries only"));
    EXPECT_THAT(error_of(kMinimal + "playlist: [{file: a.wmv, duration_s: 5}]\n"),
                HasSubstr("playlist[0].duration_s: applies to live entries only"));
    EXPECT_THAT(error_of(kMinimal + "playlist: [{file: a.wmv, repeat: 0}]\n"), HasSubstr("playlist[0].repeat"));
    EXPECT_THAT(error_of(kMinimal + "playlist: [{file: a.wmv, start: 0}]\n"), HasSubstr("unknown key"));
    EXPECT_THAT(error_of(kMinimal + "playlist: []\n"), HasSubstr("playlist: has no entry"));
    EXPECT_THAT(error_of(kMinimal + "playlist: {loop: true}\n"), HasSubstr("playlist.entries: is required"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {archive: {path: a.wmv, entry_pattern: 'a-{entry}.wmv'}}\n"),
                HasSubstr("outputs.archive.entry_pattern: 'a-{entry}.wmv' must contain {n}"));
    EXPECT_THAT(error_of(kMinimal + "outputs: {archive: {entry_pattern: 'a-{n}-{date}.wmv'}}\n"),
                HasSubstr("unknown placeholder"));
}

TEST(Playlist, LargestPacketTheOutputsCarry) {
    EXPECT_EQ(asfcast::presets::max_packet_size_for_outputs(parse_preset(kMinimal + "outputs: {pull: off}\n", "a.yaml")), 65535u);
    EXPECT_EQ(asfcast::presets::max_packet_size_for_outputs(parse_preset(kMinimal, "a.yaml")), 65527u);  // pull on by default
    EXPECT_EQ(asfcast::presets::max_packet_size_for_outputs(
                  parse_preset(kMinimal + "outputs: {push: [{url: 'http://h/p'}]}\n", "a.yaml")),
              8192u);
}
