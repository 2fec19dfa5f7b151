// Presets: the control: section (the control API, docs/api.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "asfcast/presets/presets.hpp"

namespace {

using asfcast::presets::builtin_preset;
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

TEST(ControlPreset, OffByDefaultOnWithASection) {
    const auto off = parse_preset(kMinimal, "t").control;
    EXPECT_FALSE(off.enabled);
    EXPECT_EQ(off.address, "127.0.0.1");
    EXPECT_EQ(off.port, 8090);
    EXPECT_TRUE(parse_preset(kMinimal + "control: on\n", "t").control.enabled);
    const auto c = parse_preset(kMinimal + "control: {address: 0.0.0.0, port: 9000, token_file: /etc/asfcast/t}\n", "t").control;
    EXPECT_TRUE(c.enabled);
    EXPECT_EQ(c.address, "0.0.0.0");
    EXPECT_EQ(c.port, 9000);
    EXPECT_EQ(c.token_file, "/etc/asfcast/t");
    EXPECT_EQ(parse_preset(kMinimal + "control: {address: \"::1\", token: 0123456789abcdef}\n", "t").control.token,
              "0123456789abcdef");
    EXPECT_FALSE(parse_preset(kMinimal + "control: {enabled: false, port: 9001}\n", "t").control.enabled);
}

TEST(ControlPreset, TheDefaultPresetListsItOff) {
    const auto listed = builtin_preset("default").control;
    EXPECT_FALSE(listed.enabled);
    EXPECT_EQ(listed.port, 8090);
    EXPECT_TRUE(parse_preset("base: default\ncontrol: {port: 8091}\n", "t").control.enabled);
}

TEST(ControlPreset, ErrorsNameTheKey) {
    EXPECT_THAT(error_of(kMinimal + "control: {address: localhost}\n"),
                HasSubstr("control.address: 'localhost' is not an IP address"));
    EXPECT_THAT(error_of(kMinimal + "control: {port: 0}\n"), HasSubstr("control.port"));
    EXPECT_THAT(error_of(kMinimal + "control: {port: 70000}\n"), HasSubstr("control.port"));
    EXPECT_THAT(error_of(kMinimal + "control: {token: short}\n"), HasSubstr("control.token: is shorter than 16"));
    EXPECT_THAT(error_of(kMinimal + "control: {tokn: x}\n"), HasSubstr("control.tokn"));
}

}  // namespace
