// Presets: the drm: and script_commands: sections (issue 13).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "asfcast/presets/presets.hpp"

namespace {

using asfcast::presets::parse_preset;
using asfcast::presets::Preset;
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

TEST(DrmPreset, OffByDefaultAndEveryKeyRead) {
    EXPECT_FALSE(parse_preset(kMinimal, "t").drm.enabled());
    const Preset p = parse_preset(kMinimal + R"(drm:
  packager: playready
  kid: 10000000-1000-1000-1000-100000000001
  key_file: /etc/asfcast/event.key
  la_url: https://license.example/rightsmanager.asmx
  lui_url: https://license.example/ui
  ds_id: AH+03juKbUGbHl1V/QIwRA==
  header_version: 4.2.0.0
  checksum: false
  deadline_ms: 250
)",
                                  "t");
    EXPECT_TRUE(p.drm.enabled());
    EXPECT_EQ(p.drm.packager, "playready");
    EXPECT_EQ(p.drm.kid, "10000000-1000-1000-1000-100000000001");
    EXPECT_EQ(p.drm.key_file, "/etc/asfcast/event.key");
    EXPECT_EQ(p.drm.la_url, "https://license.example/rightsmanager.asmx");
    EXPECT_EQ(p.drm.header_version, "4.2.0.0");
    EXPECT_FALSE(p.drm.checksum);
    EXPECT_EQ(p.drm.deadline_ms, 250);
    const Preset q = parse_preset(kMinimal + "drm: {packager: program, program: [/usr/bin/pkg, --fast], config: x}\n", "t");
    EXPECT_EQ(q.drm.program, (std::vector<std::string>{"/usr/bin/pkg", "--fast"}));
    EXPECT_EQ(parse_preset(kMinimal + "drm: {packager: program, program: /usr/bin/pkg}\n", "t").drm.program.size(), 1u);
    EXPECT_EQ(parse_preset(kMinimal + "drm: {packager: shared-object, library: /x.so}\n", "t").drm.library, "/x.so");
}

TEST(DrmPreset, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: widevine}\n"),
                HasSubstr("drm.packager: 'widevine' is not allowed (allowed: playready, program, shared-object)"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: playready}\n"),
                HasSubstr("drm: packager playready needs exactly one of key_file, key_seed_file or key (0 given)"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: playready, key: 00, key_file: /k}\n"), HasSubstr("(2 given)"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: playready, key_file: /k, kid: nope}\n"),
                HasSubstr("drm.kid: 'nope' is not a GUID"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: playready, key_file: /k, la_url: license.example}\n"),
                HasSubstr("drm.la_url: 'license.example' is not an absolute http:// or https:// URL"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: playready, key_file: /k, header_version: 4.3.0.0}\n"),
                HasSubstr("drm.header_version"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: program}\n"), HasSubstr("drm.program: is required"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: shared-object}\n"), HasSubstr("drm.library: is required"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packager: program, program: x, deadline_ms: 0}\n"),
                HasSubstr("drm.deadline_ms: 0 is out of range (allowed 1..60000)"));
    EXPECT_THAT(error_of(kMinimal + "drm: {packagr: playready}\n"), HasSubstr("did you mean 'packager'?"));
}

TEST(ScriptCommandsPreset, SectionTurnsItOnWithDefaults) {
    EXPECT_FALSE(parse_preset(kMinimal, "t").script_commands.enabled);
    const Preset on = parse_preset(kMinimal + "script_commands: on\n", "t");
    EXPECT_TRUE(on.script_commands.enabled);
    EXPECT_EQ(on.script_commands.header_reserve_bytes, 4096);
    const Preset p = parse_preset(kMinimal + R"(script_commands:
  input: /run/asfcast/commands
  captions: /srv/captions/show.vtt
  captions_start: "00:01:30.5"
  header_reserve_bytes: 2000
  bitrate_bps: 4000
)",
                                  "t");
    EXPECT_TRUE(p.script_commands.enabled);
    EXPECT_EQ(p.script_commands.input, "/run/asfcast/commands");
    EXPECT_EQ(p.script_commands.captions, "/srv/captions/show.vtt");
    EXPECT_EQ(p.script_commands.captions_start_us, 90'500'000);
    EXPECT_EQ(p.script_commands.header_reserve_bytes, 2000);
    EXPECT_EQ(p.script_commands.bitrate_bps, 4000);
    EXPECT_EQ(parse_preset(kMinimal + "script_commands: {captions_start: \"12\"}\n", "t").script_commands.captions_start_us,
              12'000'000);
    EXPECT_EQ(parse_preset(kMinimal + "script_commands: {captions_wallclock: \"2026-05-01T19:00:00Z\"}\n", "t")
                  .script_commands.captions_wallclock,
              "2026-05-01T19:00:00Z");
    EXPECT_FALSE(parse_preset(kMinimal + "script_commands: {enabled: false}\n", "t").script_commands.enabled);
}

TEST(ScriptCommandsPreset, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "script_commands: {captions_start: \"1:70:00\"}\n"),
                HasSubstr("script_commands.captions_start: '1:70:00' is not a media time"));
    EXPECT_THAT(error_of(kMinimal + "script_commands: {captions_wallclock: \"7pm\"}\n"),
                HasSubstr("script_commands.captions_wallclock: '7pm' is not a time of day"));
    EXPECT_THAT(error_of(kMinimal + "script_commands: {header_reserve_bytes: 10}\n"),
                HasSubstr("script_commands.header_reserve_bytes: 10 is out of range (allowed 0, or 24..60000"));
    EXPECT_THAT(error_of(kMinimal + "script_commands: {header_reserve_bytes: 70000}\n"), HasSubstr("out of range"));
    EXPECT_THAT(error_of(kMinimal + "script_commands: {captions: [a]}\n"), HasSubstr("script_commands.captions"));
}

}  // namespace
