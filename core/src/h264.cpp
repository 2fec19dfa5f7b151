// H.264 Annex B splitting and SPS parsing (h264.hpp). Every read is bounds-checked.
#include "asfcast/core/h264.hpp"

#include <array>
#include <numeric>
#include <string>

namespace asfcast::h264 {

namespace {

// Exp-Golomb and fixed-width reads over an RBSP (7.2, 9.1). Throws past the end.
class BitReader {
public:
    explicit BitReader(ByteView data) : data_(data) {}

    std::uint32_t u(int bits, const char* what) {
        std::uint32_t v = 0;
        for (int i = 0; i < bits; ++i) v = (v << 1) | bit(what);
        return v;
    }
    bool flag(const char* what) { return bit(what) != 0; }
    std::uint32_t ue(const char* what) {
        int zeros = 0;
        while (bit(what) == 0) {
            if (++zeros > 31) throw H264Error(std::string("SPS: ") + what + ": Exp-Golomb code longer than 32 bits");
        }
        if (zeros == 0) return 0;
        const std::uint64_t rest = u(zeros, what);
        const std::uint64_t value = (std::uint64_t{1} << zeros) - 1 + rest;
        if (value > 0xFFFFFFFEu) throw H264Error(std::string("SPS: ") + what + ": value out of range");
        return static_cast<std::uint32_t>(value);
    }
    std::int32_t se(const char* what) {
        const std::uint32_t k = ue(what);
        const auto magnitude = static_cast<std::int64_t>((static_cast<std::uint64_t>(k) + 1) / 2);
        return static_cast<std::int32_t>(k % 2 ? magnitude : -magnitude);
    }

private:
    std::uint32_t bit(const char* what) {
        if (pos_ >= data_.size() * 8) throw H264Error(std::string("SPS truncated at ") + what);
        const std::uint32_t b = (data_[pos_ / 8] >> (7 - pos_ % 8)) & 1u;
        ++pos_;
        return b;
    }
    ByteView data_;
    std::size_t pos_ = 0;
};

std::uint32_t ue_max(BitReader& r, const char* what, std::uint32_t max) {
    const std::uint32_t v = r.ue(what);
    if (v > max)
        throw H264Error("SPS: " + std::string(what) + " = " + std::to_string(v) + " (allowed 0.." +
                        std::to_string(max) + ")");
    return v;
}

// scaling_list() (7.3.2.1.1.1): only read past; asfcast does not need the values.
void skip_scaling_list(BitReader& r, int size) {
    int last = 8, next = 8;
    for (int j = 0; j < size; ++j) {
        if (next != 0) {
            const std::int32_t delta = r.se("delta_scale");
            if (delta < -128 || delta > 127)
                throw H264Error("SPS: delta_scale = " + std::to_string(delta) + " (allowed -128..127)");
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

bool high_profile_syntax(std::uint8_t profile_idc) {
    constexpr std::array<std::uint8_t, 13> kProfiles = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
    for (auto p : kProfiles)
        if (p == profile_idc) return true;
    return false;
}

// Table E-1: sample aspect ratios of aspect_ratio_idc 1..16.
constexpr std::array<std::array<std::uint32_t, 2>, 17> kSar = {{{0, 0},
                                                                 {1, 1},
                                                                 {12, 11},
                                                                 {10, 11},
                                                                 {16, 11},
                                                                 {40, 33},
                                                                 {24, 11},
                                                                 {20, 11},
                                                                 {32, 11},
                                                                 {80, 33},
                                                                 {18, 11},
                                                                 {15, 11},
                                                                 {64, 33},
                                                                 {160, 99},
                                                                 {4, 3},
                                                                 {3, 2},
                                                                 {2, 1}}};

// vui_parameters() up to the timing information (E.1.1); the HRD and restriction parts after it
// are not needed.
void read_vui(BitReader& r, Sps& s) {
    if (r.flag("aspect_ratio_info_present_flag")) {
        const std::uint32_t idc = r.u(8, "aspect_ratio_idc");
        if (idc == 255) {
            s.sar_num = r.u(16, "sar_width");
            s.sar_den = r.u(16, "sar_height");
        } else if (idc < kSar.size()) {
            s.sar_num = kSar[idc][0];
            s.sar_den = kSar[idc][1];
        }
    }
    if (r.flag("overscan_info_present_flag")) r.flag("overscan_appropriate_flag");
    if (r.flag("video_signal_type_present_flag")) {
        r.u(3, "video_format");
        r.flag("video_full_range_flag");
        if (r.flag("colour_description_present_flag")) r.u(24, "colour_description");
    }
    if (r.flag("chroma_loc_info_present_flag")) {
        ue_max(r, "chroma_sample_loc_type_top_field", 5);
        ue_max(r, "chroma_sample_loc_type_bottom_field", 5);
    }
    if (r.flag("timing_info_present_flag")) {
        const std::uint32_t units = r.u(32, "num_units_in_tick");
        const std::uint32_t scale = r.u(32, "time_scale");
        s.fixed_frame_rate = r.flag("fixed_frame_rate_flag");
        if (units > 0 && scale > 0) {
            // A frame is two ticks (one per field): frame rate = time_scale / (2 num_units_in_tick).
            std::uint64_t num = scale, den = std::uint64_t{2} * units;
            const std::uint64_t g = std::gcd(num, den);
            num /= g;
            den /= g;
            if (num <= 0xFFFFFFFFu && den <= 0xFFFFFFFFu) {
                s.fps_num = static_cast<std::uint32_t>(num);
                s.fps_den = static_cast<std::uint32_t>(den);
            }
        }
    }
}

}  // namespace

std::vector<ByteView> split_annexb(ByteView stream) {
    std::vector<ByteView> units;
    const std::size_t n = stream.size();
    std::size_t i = 0;
    std::size_t start = n;  // payload start of the unit being read; n = none yet
    while (i + 2 < n) {
        if (stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1) {
            if (start < n) {
                std::size_t end = i;
                while (end > start && stream[end - 1] == 0) --end;  // trailing_zero_8bits, 4-byte start codes
                if (end > start) units.push_back(stream.subspan(start, end - start));
            }
            i += 3;
            start = i;
            continue;
        }
        ++i;
    }
    if (start < n) {
        std::size_t end = n;
        while (end > start && stream[end - 1] == 0) --end;
        if (end > start) units.push_back(stream.subspan(start, end - start));
    }
    return units;
}

std::uint8_t nal_type(ByteView nal) {
    if (nal.empty()) throw H264Error("empty NAL unit");
    if (nal[0] & 0x80) throw H264Error("NAL unit with forbidden_zero_bit set");
    return nal[0] & 0x1F;
}

Bytes nal_to_rbsp(ByteView nal) {
    Bytes out;
    if (nal.size() <= 1) return out;
    out.reserve(nal.size() - 1);
    int zeros = 0;
    for (std::size_t i = 1; i < nal.size(); ++i) {
        const std::uint8_t b = nal[i];
        if (zeros >= 2 && b == 3) {  // emulation_prevention_three_byte
            zeros = 0;
            continue;
        }
        out.push_back(b);
        zeros = b == 0 ? zeros + 1 : 0;
    }
    return out;
}

Sps parse_sps(ByteView nal) {
    if (nal_type(nal) != kNalSps) throw H264Error("not an SPS NAL unit (type " + std::to_string(nal_type(nal)) + ")");
    const Bytes rbsp = nal_to_rbsp(nal);
    BitReader r(rbsp);
    Sps s;
    s.profile_idc = static_cast<std::uint8_t>(r.u(8, "profile_idc"));
    s.constraint_flags = static_cast<std::uint8_t>(r.u(8, "constraint_set_flags"));
    s.level_idc = static_cast<std::uint8_t>(r.u(8, "level_idc"));
    s.id = ue_max(r, "seq_parameter_set_id", 31);
    bool separate_colour_plane = false;
    if (high_profile_syntax(s.profile_idc)) {
        s.chroma_format_idc = ue_max(r, "chroma_format_idc", 3);
        if (s.chroma_format_idc == 3) separate_colour_plane = r.flag("separate_colour_plane_flag");
        s.bit_depth_luma = ue_max(r, "bit_depth_luma_minus8", 6) + 8;
        s.bit_depth_chroma = ue_max(r, "bit_depth_chroma_minus8", 6) + 8;
        r.flag("qpprime_y_zero_transform_bypass_flag");
        if (r.flag("seq_scaling_matrix_present_flag")) {
            const int lists = s.chroma_format_idc != 3 ? 8 : 12;
            for (int i = 0; i < lists; ++i)
                if (r.flag("seq_scaling_list_present_flag")) skip_scaling_list(r, i < 6 ? 16 : 64);
        }
    }
    ue_max(r, "log2_max_frame_num_minus4", 12);
    const std::uint32_t poc_type = ue_max(r, "pic_order_cnt_type", 2);
    if (poc_type == 0) {
        ue_max(r, "log2_max_pic_order_cnt_lsb_minus4", 12);
    } else if (poc_type == 1) {
        r.flag("delta_pic_order_always_zero_flag");
        r.se("offset_for_non_ref_pic");
        r.se("offset_for_top_to_bottom_field");
        const std::uint32_t cycle = ue_max(r, "num_ref_frames_in_pic_order_cnt_cycle", 255);
        for (std::uint32_t i = 0; i < cycle; ++i) r.se("offset_for_ref_frame");
    }
    s.max_num_ref_frames = ue_max(r, "max_num_ref_frames", 16);
    r.flag("gaps_in_frame_num_value_allowed_flag");
    const std::uint32_t width_mbs = ue_max(r, "pic_width_in_mbs_minus1", kMaxDimension / 16 - 1) + 1;
    const std::uint32_t height_units = ue_max(r, "pic_height_in_map_units_minus1", kMaxDimension / 16 - 1) + 1;
    s.frame_mbs_only = r.flag("frame_mbs_only_flag");
    if (!s.frame_mbs_only) r.flag("mb_adaptive_frame_field_flag");
    r.flag("direct_8x8_inference_flag");
    s.coded_width = static_cast<int>(width_mbs * 16);
    s.coded_height = static_cast<int>((s.frame_mbs_only ? 1 : 2) * height_units * 16);
    if (s.coded_height > kMaxDimension)
        throw H264Error("SPS: coded height " + std::to_string(s.coded_height) + " exceeds " +
                        std::to_string(kMaxDimension));
    s.width = s.coded_width;
    s.height = s.coded_height;
    if (r.flag("frame_cropping_flag")) {
        const std::uint32_t left = ue_max(r, "frame_crop_left_offset", kMaxDimension);
        const std::uint32_t right = ue_max(r, "frame_crop_right_offset", kMaxDimension);
        const std::uint32_t top = ue_max(r, "frame_crop_top_offset", kMaxDimension);
        const std::uint32_t bottom = ue_max(r, "frame_crop_bottom_offset", kMaxDimension);
        // Crop units (7.4.2.1.1, Table 6-1): chroma subsampling and field pairs.
        const std::uint32_t chroma_array_type = separate_colour_plane ? 0 : s.chroma_format_idc;
        const std::uint32_t sub_w = chroma_array_type == 1 || chroma_array_type == 2 ? 2 : 1;
        const std::uint32_t sub_h = chroma_array_type == 1 ? 2 : 1;
        const std::uint32_t unit_x = chroma_array_type == 0 ? 1 : sub_w;
        const std::uint32_t unit_y = (chroma_array_type == 0 ? 1 : sub_h) * (s.frame_mbs_only ? 1 : 2);
        const std::uint64_t crop_w = std::uint64_t{unit_x} * (std::uint64_t{left} + right);
        const std::uint64_t crop_h = std::uint64_t{unit_y} * (std::uint64_t{top} + bottom);
        if (crop_w >= static_cast<std::uint64_t>(s.coded_width) || crop_h >= static_cast<std::uint64_t>(s.coded_height))
            throw H264Error("SPS: frame cropping leaves no picture (" + std::to_string(s.coded_width) + "x" +
                            std::to_string(s.coded_height) + " cropped by " + std::to_string(crop_w) + "x" +
                            std::to_string(crop_h) + ")");
        s.width = s.coded_width - static_cast<int>(crop_w);
        s.height = s.coded_height - static_cast<int>(crop_h);
    }
    if (r.flag("vui_parameters_present_flag")) read_vui(r, s);
    return s;
}

std::uint32_t parse_pps_id(ByteView nal) {
    if (nal_type(nal) != kNalPps) throw H264Error("not a PPS NAL unit (type " + std::to_string(nal_type(nal)) + ")");
    const Bytes rbsp = nal_to_rbsp(nal);
    BitReader r(rbsp);
    return ue_max(r, "pic_parameter_set_id", 255);  // 7.4.2.2: 0..255
}

AccessUnitInfo inspect_access_unit(ByteView annexb) {
    AccessUnitInfo info;
    for (ByteView nal : split_annexb(annexb)) {
        ++info.nal_units;
        if (nal[0] & 0x80) throw H264Error("NAL unit with forbidden_zero_bit set");
        switch (nal_type(nal)) {
            case kNalIdr:
                info.idr = true;
                info.slices = true;
                break;
            case kNalSlice: info.slices = true; break;
            case kNalSps:
                if (!info.has_sps) info.sps = parse_sps(nal);
                info.has_sps = true;
                break;
            case kNalPps: info.has_pps = true; break;
            default: break;
        }
    }
    return info;
}

}  // namespace asfcast::h264
