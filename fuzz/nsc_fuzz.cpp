// libFuzzer target for the .nsc reader (multicast/, MS-MSB 2.2.1): any input either parses or
// throws NscError; nothing else may escape, crash, overread or hang. What parses is written
// back (both string forms) and must read back the same, and every "02" value of the input is
// also given to the encoded-block decoder on its own.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asfcast/multicast/nsc.hpp"

using namespace asfcast::multicast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const NscAnnouncement a = parse_nsc(text);
        for (NscStrings mode : {NscStrings::encoded, NscStrings::plain_when_possible})
            if (!(parse_nsc(make_nsc(a, mode)) == a)) __builtin_trap();
    } catch (const NscError&) {
    }
    // The block decoder alone, on the input taken as one value.
    try {
        const NscBlock b = decode_nsc_block(text);
        if (encode_nsc_block(b.data, b.key) != text) __builtin_trap();  // a valid block has one spelling
    } catch (const NscError&) {
    }
    try {
        (void)decode_nsc_string(text);
    } catch (const NscError&) {
    }
    return 0;
}
