// H.264 reading for video.codec: copy (issue 15): Annex B splitting, emulation prevention, SPS
// fields from hand-assembled and real SPS units, and the refusal of malformed ones.
#include "asfcast/core/h264.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace asfcast;
using namespace asfcast::h264;

namespace {

Bytes hex(const std::string& s) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        while (i < s.size() && s[i] == ' ') ++i;
        out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
    }
    return out;
}

// Builds an RBSP bit by bit (u, ue, se), then the NAL unit with emulation prevention.
class BitWriter {
public:
    void u(std::uint32_t v, int bits) {
        for (int i = bits - 1; i >= 0; --i) bits_.push_back((v >> i) & 1);
    }
    void ue(std::uint32_t v) {
        const std::uint64_t x = std::uint64_t{v} + 1;
        int n = 0;
        while ((x >> (n + 1)) != 0) ++n;
        u(0, n);
        for (int i = n; i >= 0; --i) bits_.push_back(static_cast<int>((x >> i) & 1));
    }
    void se(std::int32_t v) { ue(v > 0 ? static_cast<std::uint32_t>(2 * v - 1) : static_cast<std::uint32_t>(-2 * v)); }
    Bytes nal(std::uint8_t header) {
        std::vector<int> b = bits_;
        b.push_back(1);  // rbsp_stop_one_bit
        while (b.size() % 8) b.push_back(0);
        Bytes out{header};
        int zeros = 0;
        for (std::size_t i = 0; i < b.size(); i += 8) {
            std::uint8_t byte = 0;
            for (int k = 0; k < 8; ++k) byte = static_cast<std::uint8_t>((byte << 1) | b[i + static_cast<std::size_t>(k)]);
            if (zeros >= 2 && byte <= 3) {
                out.push_back(3);
                zeros = 0;
            }
            out.push_back(byte);
            zeros = byte == 0 ? zeros + 1 : 0;
        }
        return out;
    }

private:
    std::vector<int> bits_;
};

// A High profile 1920x1080 SPS (coded 1088, cropped by 8 lines), 4:2:0, 25 fps, SAR 1:1.
Bytes sps_1080p25(bool interlaced = false) {
    BitWriter w;
    w.u(100, 8);  // profile_idc high
    w.u(0, 8);
    w.u(40, 8);   // level 4.0
    w.ue(0);      // sps id
    w.ue(1);      // chroma_format_idc 4:2:0
    w.ue(0);
    w.ue(0);      // 8-bit
    w.u(0, 1);    // qpprime
    w.u(1, 1);    // seq_scaling_matrix_present_flag: one list present, the rest not
    w.u(1, 1);
    for (int j = 0; j < 16; ++j) w.se(j == 0 ? 8 : 0);
    for (int i = 1; i < 8; ++i) w.u(0, 1);
    w.ue(0);      // log2_max_frame_num_minus4
    w.ue(0);      // poc type 0
    w.ue(2);
    w.ue(4);      // max_num_ref_frames
    w.u(0, 1);
    w.ue(119);    // 120 MBs = 1920
    if (interlaced) {
        w.ue(33);  // 34 map units of field pairs = 1088
        w.u(0, 1);
        w.u(1, 1);  // mb_adaptive_frame_field_flag
    } else {
        w.ue(67);  // 68 MBs = 1088
        w.u(1, 1);
    }
    w.u(1, 1);    // direct_8x8_inference_flag
    w.u(1, 1);    // frame_cropping_flag
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.ue(interlaced ? 2 : 4);  // bottom: 4 x 2 lines (frame) or 2 x 4 lines (fields)
    w.u(1, 1);    // vui
    w.u(1, 1);    // aspect_ratio_info_present_flag
    w.u(1, 8);    // 1:1
    w.u(0, 1);    // overscan
    w.u(1, 1);    // video_signal_type_present_flag
    w.u(5, 3);
    w.u(0, 1);
    w.u(1, 1);
    w.u(0x010101, 24);
    w.u(0, 1);    // chroma loc
    w.u(1, 1);    // timing
    w.u(1, 32);   // num_units_in_tick
    w.u(50, 32);  // time_scale
    w.u(1, 1);    // fixed
    w.u(0, 1);    // nal hrd
    w.u(0, 1);    // vcl hrd
    return w.nal(0x67);
}

TEST(H264, SplitAnnexB) {
    const Bytes s = hex("ff 00 00 00 01 67 42 00 00 01 68 ce 00 00 00 00 01 65 88 00 00 01 00 00 01 06 05");
    const auto units = split_annexb(s);
    ASSERT_EQ(units.size(), 4u);
    EXPECT_EQ(Bytes(units[0].begin(), units[0].end()), hex("67 42"));
    EXPECT_EQ(Bytes(units[1].begin(), units[1].end()), hex("68 ce"));
    EXPECT_EQ(Bytes(units[2].begin(), units[2].end()), hex("65 88"));
    EXPECT_EQ(Bytes(units[3].begin(), units[3].end()), hex("06 05"));
    EXPECT_TRUE(split_annexb(Bytes{}).empty());
    EXPECT_TRUE(split_annexb(hex("00 00 01")).empty());
    EXPECT_TRUE(split_annexb(hex("01 02 03")).empty());
}

TEST(H264, EmulationPreventionRemoved) {
    EXPECT_EQ(nal_to_rbsp(hex("67 00 00 03 01 00 00 03 00 00 00 03")), hex("00 00 01 00 00 00 00 00"));
    EXPECT_EQ(nal_to_rbsp(hex("67 00 03 00")), hex("00 03 00"));  // 03 after a single zero is data
    EXPECT_THROW(nal_type(Bytes{}), H264Error);
    EXPECT_THROW(nal_type(hex("e7")), H264Error);
}

TEST(H264, SpsOf1080pWithCroppingScalingListAndVuiTiming) {
    const Sps s = parse_sps(sps_1080p25());
    EXPECT_EQ(s.profile_idc, 100);
    EXPECT_EQ(s.level_idc, 40);
    EXPECT_EQ(s.coded_width, 1920);
    EXPECT_EQ(s.coded_height, 1088);
    EXPECT_EQ(s.width, 1920);
    EXPECT_EQ(s.height, 1080);
    EXPECT_TRUE(s.frame_mbs_only);
    EXPECT_EQ(s.max_num_ref_frames, 4u);
    EXPECT_EQ(s.sar_num, 1u);
    EXPECT_EQ(s.sar_den, 1u);
    EXPECT_EQ(s.fps_num, 25u);
    EXPECT_EQ(s.fps_den, 1u);
    EXPECT_TRUE(s.fixed_frame_rate);

    const Sps i = parse_sps(sps_1080p25(true));  // 1080i: field pairs, crop units of 4 lines
    EXPECT_FALSE(i.frame_mbs_only);
    EXPECT_EQ(i.coded_height, 1088);
    EXPECT_EQ(i.height, 1080);
}

TEST(H264, RealBaselineSps) {
    // x264 (ffmpeg -c:v libx264 -profile:v baseline -s 640x360 -r 30): 640x368 cropped to 360.
    const Sps s = parse_sps(hex("67 42 c0 1e d9 00 a0 2f f9 70 11 00 00 03 00 01 00 00 03 00 3c 0f 16 2e 48"));
    EXPECT_EQ(s.profile_idc, 66);
    EXPECT_EQ(s.level_idc, 30);
    EXPECT_EQ(s.width, 640);
    EXPECT_EQ(s.height, 360);
    EXPECT_EQ(s.fps_num, 30u);
    EXPECT_EQ(s.fps_den, 1u);
}

TEST(H264, MalformedSpsRefusedWithAReason) {
    const Bytes good = sps_1080p25();
    for (std::size_t n = 1; n < 12; ++n) EXPECT_THROW(parse_sps(ByteView(good).first(n)), H264Error) << n << " bytes";
    EXPECT_THROW(parse_sps(hex("68 42 00 1e")), H264Error);  // a PPS
    // sps id 32 (ue 000001 00001)
    try {
        parse_sps(hex("67 42 00 1e 04 20"));
        ADD_FAILURE() << "sps id 32 accepted";
    } catch (const H264Error& e) {
        EXPECT_NE(std::string(e.what()).find("seq_parameter_set_id = 32 (allowed 0..31)"), std::string::npos) << e.what();
    }
    // 33 zero bits: an Exp-Golomb code longer than 32 bits.
    EXPECT_THROW(parse_sps(hex("67 42 00 1e 00 00 00 00 00 80")), H264Error);
    // Cropping that leaves nothing.
    BitWriter w;
    w.u(66, 8);
    w.u(0, 8);
    w.u(30, 8);
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.ue(1);
    w.u(0, 1);
    w.ue(0);  // 16 wide
    w.ue(0);  // 16 high
    w.u(1, 1);
    w.u(1, 1);
    w.u(1, 1);
    w.ue(8);  // 16 pixels cropped on the left
    w.ue(0);
    w.ue(0);
    w.ue(0);
    w.u(0, 1);
    EXPECT_THROW(parse_sps(w.nal(0x67)), H264Error);
}

TEST(H264, AccessUnitKinds) {
    Bytes au = hex("00 00 00 01 09 10");  // AUD
    const Bytes sps = sps_1080p25();
    au.insert(au.end(), {0, 0, 0, 1});
    au.insert(au.end(), sps.begin(), sps.end());
    const Bytes rest = hex("00 00 00 01 68 ee 3c 80 00 00 01 65 88 84 00");
    au.insert(au.end(), rest.begin(), rest.end());
    const AccessUnitInfo key = inspect_access_unit(au);
    EXPECT_EQ(key.nal_units, 4u);
    EXPECT_TRUE(key.idr);
    EXPECT_TRUE(key.slices);
    EXPECT_TRUE(key.has_sps);
    EXPECT_TRUE(key.has_pps);
    ASSERT_TRUE(key.sps);
    EXPECT_EQ(key.sps->height, 1080);

    const AccessUnitInfo delta = inspect_access_unit(hex("00 00 00 01 41 9a 00 00 01 41 9b"));
    EXPECT_FALSE(delta.idr);
    EXPECT_TRUE(delta.slices);
    EXPECT_FALSE(delta.has_sps);
    EXPECT_THROW(inspect_access_unit(hex("00 00 01 67 42")), H264Error);
}

}  // namespace
