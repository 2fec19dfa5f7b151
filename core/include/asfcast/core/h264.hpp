// H.264 bitstream reading for `video.codec: copy` (issue 15, point 2): the access units come from
// the network (an IP camera, an SRT encoder), so everything here is input from outside and is
// bounds-checked; a malformed unit throws H264Error, never reads past its buffer. What asfcast
// needs from the stream: where the NAL units are (Annex B), which access units are key frames
// (IDR) and carry SPS/PPS, and from the SPS the picture size (after cropping), profile, level and
// frame rate (VUI timing), so that a changed SPS can become a header change. Written from ITU-T
// H.264 (08/2021) 7.3.1, 7.3.2.1.1, 7.4.2.1.1, E.1.1.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast::h264 {

class H264Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// nal_unit_type values asfcast acts on (Table 7-1).
enum NalType : std::uint8_t {
    kNalSlice = 1,
    kNalIdr = 5,
    kNalSei = 6,
    kNalSps = 7,
    kNalPps = 8,
    kNalAud = 9,
};

// The NAL units of an Annex B byte stream (start codes 00 00 01 or 00 00 00 01), without their
// start codes and without the trailing zero bytes before the next start code. Bytes before the
// first start code are ignored; empty units are skipped.
std::vector<ByteView> split_annexb(ByteView stream);

// nal_unit_type of a NAL unit (its first byte's low 5 bits); throws on an empty unit or a set
// forbidden_zero_bit.
std::uint8_t nal_type(ByteView nal);

// The RBSP of a NAL unit: the header byte dropped and every emulation prevention byte
// (00 00 03 -> 00 00) removed (7.4.1).
Bytes nal_to_rbsp(ByteView nal);

// A sequence parameter set, with what the muxer and the header change logic need.
struct Sps {
    std::uint8_t profile_idc = 0;
    std::uint8_t constraint_flags = 0;  // constraint_set0..5 flags and the reserved bits, as sent
    std::uint8_t level_idc = 0;
    std::uint32_t id = 0;               // seq_parameter_set_id, 0..31
    std::uint32_t chroma_format_idc = 1;  // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
    std::uint32_t bit_depth_luma = 8;
    std::uint32_t bit_depth_chroma = 8;
    bool frame_mbs_only = true;         // false: the stream may carry fields (interlaced)
    std::uint32_t max_num_ref_frames = 0;
    int coded_width = 0;                // in macroblocks x 16
    int coded_height = 0;
    int width = 0;                      // displayed: after frame cropping
    int height = 0;
    std::uint32_t sar_num = 0, sar_den = 0;  // sample aspect ratio; 0/0 when not given
    std::uint32_t fps_num = 0, fps_den = 0;  // from VUI timing (time_scale / 2 num_units_in_tick); 0/0 when not given
    bool fixed_frame_rate = false;
};

// Parses an SPS NAL unit (header byte included, emulation prevention bytes still in). Throws
// H264Error naming what is wrong: a truncated unit, a value out of the range the standard
// allows, a picture larger than kMaxDimension or cropped to nothing.
Sps parse_sps(ByteView nal);
constexpr int kMaxDimension = 16384;

// pic_parameter_set_id of a PPS NAL unit (7.3.2.2, 0..255); throws H264Error on anything else.
std::uint32_t parse_pps_id(ByteView nal);

// What an access unit (one picture's NAL units, Annex B) contains.
struct AccessUnitInfo {
    std::size_t nal_units = 0;
    bool idr = false;        // an IDR slice: a key frame a decoder can start at
    bool slices = false;     // any coded slice (IDR or not)
    bool has_sps = false;
    bool has_pps = false;
    std::optional<Sps> sps;  // the first SPS in the unit, parsed
};
// Throws H264Error when an SPS in the unit is malformed.
AccessUnitInfo inspect_access_unit(ByteView annexb);

}  // namespace asfcast::h264
