// libFuzzer target for H.264 pass-through (video.codec: copy, issue 15): arbitrary bytes become a
// sequence of access units (h264_access_unit_fuzz.hpp) handed to encode::VideoPassthrough as a
// network source would, with the odd slate picture, resync() and flush() in between. Everything
// read from the network runs here: split_annexb, nal_type, inspect_access_unit, parse_sps,
// parse_pps_id, the parameter sets put in front of an IDR, new picture sizes. A bad unit is
// dropped and counted, never thrown; a slate the encoder cannot make at a fuzzed size is an
// EncodeError, never a crash. What comes out is checked: key frames are IDRs with their SPS and
// PPS, a new format is the current one and comes on a key frame, nothing but IDRs until the
// source has one after a resync or the slate, the counters add up.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <spdlog/spdlog.h>

#include "asfcast/core/h264.hpp"
#include "asfcast/encode/passthrough.hpp"
#include "h264_access_unit_fuzz.hpp"

using namespace asfcast;
using namespace asfcast::encode;
namespace fz = asfcast::fuzz_h264;

namespace {

constexpr int kSlateWidth = 64, kSlateHeight = 48;
constexpr int kMaxSlatePictures = 3;        // x264 is the cost of an input: a few pictures at most
constexpr long kMaxSlateArea = 256 * 256;   // and only at a small size (a fuzzed SPS says up to 16384x16384)

PassthroughConfig config() {
    PassthroughConfig c;
    c.slate.stream = 3;
    c.slate.width = kSlateWidth;
    c.slate.height = kSlateHeight;
    c.slate.preset = "ultrafast";
    c.slate.threads = 1;
    c.slate.keyframe_interval = 30;
    c.slate.bitrate_kbps = 100;
    c.slate.max_bitrate_kbps = 100;
    c.slate.vbv_buffer_kbit = 100;
    c.stream_name = "fuzz";
    return c;
}

const RawVideoFrame& slate_picture() {
    static const RawVideoFrame f = [] {
        RawVideoFrame s;
        s.width = kSlateWidth;
        s.height = kSlateHeight;
        s.i420.resize(static_cast<std::size_t>(kSlateWidth) * kSlateHeight * 3 / 2);
        for (std::size_t i = 0; i < s.i420.size(); ++i) s.i420[i] = static_cast<std::uint8_t>(i * 7);
        return s;
    }();
    return f;
}

void check_unit_out(const VideoPassthrough& copy, const EncodedFrame& f, bool& have_idr) {
    if (f.stream != 3 || f.kind != MediaKind::video || f.data.empty()) __builtin_trap();
    const h264::AccessUnitInfo info = h264::inspect_access_unit(f.data);  // it read once: it reads again
    if (!info.slices || info.idr != f.keyframe) __builtin_trap();
    if (f.keyframe) {
        // What a late joiner starts at: the parameter sets are in the unit.
        if (!info.has_sps || !info.has_pps) __builtin_trap();
        have_idr = true;
    } else if (!have_idr) {
        __builtin_trap();  // a picture a decoder cannot begin with, after a resync or the slate
    }
    if (f.new_format) {
        const VideoStreamFormat& nf = *f.new_format;
        if (!f.keyframe || nf.width != copy.format().width || nf.height != copy.format().height) __builtin_trap();
        if (nf.width <= 0 || nf.height <= 0 || nf.width > h264::kMaxDimension || nf.height > h264::kMaxDimension)
            __builtin_trap();
        if (nf.stream != 3 || nf.stream_name != "fuzz" || nf.codec_private.empty()) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    VideoPassthrough copy(config());
    std::vector<EncodedFrame> out;
    std::int64_t dts = 0;
    std::uint64_t units = 0, unit_outputs = 0, slate_outputs = 0;
    int slates = 0;
    bool have_idr = false;  // since the last resync or slate picture
    std::size_t pos = 0;
    while (pos < size) {
        const std::uint8_t c = data[pos++];
        if (fz::is_event(c)) {
            switch (c & 3) {
                case 0: {
                    // After a slate picture, units waiting for an IDR show the slate again (x264
                    // at the stream's size): only at a small size, as for the slate itself.
                    const VideoStreamFormat& f = copy.format();
                    if (slates > 0 && static_cast<long>(f.width) * f.height > kMaxSlateArea) break;
                    copy.resync();
                    have_idr = false;
                    break;
                }
                case 1: {
                    const VideoStreamFormat& f = copy.format();
                    if (slates >= kMaxSlatePictures || static_cast<long>(f.width) * f.height > kMaxSlateArea) break;
                    ++slates;
                    out.clear();
                    RawVideoFrame s = slate_picture();
                    s.pts = dts;
                    try {
                        copy.add(s, out);
                        have_idr = false;  // the source goes on from its next IDR
                    } catch (const EncodeError&) {  // x264 refuses the size the source's SPS gave
                    }
                    for (const EncodedFrame& e : out)
                        if (e.stream != 3 || e.data.empty() || e.new_format) __builtin_trap();
                    slate_outputs += out.size();
                    break;
                }
                case 2:
                    out.clear();
                    copy.flush(out);
                    slate_outputs += out.size();
                    break;
                default: break;
            }
            continue;
        }
        std::size_t len = 0;
        if (pos < size) len = std::size_t{data[pos++]} << 8;
        if (pos < size) len |= data[pos++];
        len = std::min(len, size - pos);
        EncodedFrame unit;
        unit.kind = MediaKind::video;
        dts += fz::dts_step_us(c);
        unit.dts = dts;
        unit.pts = dts + fz::pts_delay_us(c);
        unit.duration = fz::kPeriodUs;
        unit.data.assign(data + pos, data + pos + len);
        pos += len;
        out.clear();
        const std::uint64_t slate_before = copy.stats().slate_frames;
        const std::uint64_t malformed_before = copy.stats().malformed;
        copy.add(unit, out);  // never throws
        ++units;
        if (out.size() > 1) __builtin_trap();
        if (copy.stats().slate_frames != slate_before) {
            // Back from the slate mid-GOP: the slate again at this unit's time, the unit dropped.
            if (copy.stats().slate_frames != slate_before + out.size() || slates == 0) __builtin_trap();
            for (const EncodedFrame& f : out)
                if (f.stream != 3 || f.data.empty() || f.new_format || f.pts != unit.pts) __builtin_trap();
            slate_outputs += out.size();
            continue;
        }
        if (copy.stats().malformed != malformed_before && !out.empty()) __builtin_trap();
        for (const EncodedFrame& f : out) {
            if (f.pts != unit.pts || f.dts != unit.dts) __builtin_trap();
            check_unit_out(copy, f, have_idr);
        }
        unit_outputs += out.size();
    }
    const PassthroughStats& st = copy.stats();
    if (st.units_in != units || st.units_out != unit_outputs + slate_outputs) __builtin_trap();
    if (st.idr_units > unit_outputs || st.units_in != unit_outputs + st.waiting_for_idr + st.malformed) __builtin_trap();
    if (copy.format().width <= 0 || copy.format().height <= 0) __builtin_trap();
    return 0;
}
