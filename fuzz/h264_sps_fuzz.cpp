// libFuzzer target for the H.264 reader (core/h264.hpp) that video.codec: copy runs on every access
// unit a camera or an SRT encoder sends (issue 15): any input either reads or throws H264Error;
// nothing else may escape, crash, overread or hang. The input goes through as an Annex B access
// unit, and as one NAL unit given to the SPS parser directly (with an SPS header byte forced, so
// that the parser's deeper branches are reached without the fuzzer finding the start code first).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "asfcast/core/h264.hpp"

using namespace asfcast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView input(data, size);
    try {
        const h264::AccessUnitInfo info = h264::inspect_access_unit(input);
        if (info.sps && (info.sps->width <= 0 || info.sps->height <= 0 || info.sps->width > info.sps->coded_width ||
                         info.sps->height > info.sps->coded_height || info.sps->coded_width > h264::kMaxDimension ||
                         info.sps->coded_height > h264::kMaxDimension))
            __builtin_trap();  // a parsed SPS always describes a picture
    } catch (const h264::H264Error&) {
    }
    std::vector<std::uint8_t> nal(data, data + size);
    if (!nal.empty()) nal[0] = static_cast<std::uint8_t>((nal[0] & 0x60) | h264::kNalSps);
    try {
        const h264::Sps sps = h264::parse_sps(nal);
        if (sps.width <= 0 || sps.height <= 0 || sps.id > 31 || sps.chroma_format_idc > 3) __builtin_trap();
        if ((sps.fps_num == 0) != (sps.fps_den == 0)) __builtin_trap();
    } catch (const h264::H264Error&) {
    }
    const std::vector<ByteView> units = h264::split_annexb(input);
    for (ByteView u : units) {
        if (u.empty() || u.data() < data || u.data() + u.size() > data + size) __builtin_trap();
        (void)h264::nal_to_rbsp(u);
    }
    return 0;
}
