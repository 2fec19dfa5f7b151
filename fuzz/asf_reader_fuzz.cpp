// libFuzzer target for the ASF reader: parse_header, parse_packet and strip_padding must throw
// ParseError on malformed input and never crash or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "asfcast/asfmux/asfmux.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace asfcast;
    const ByteView input(data, size);
    try {
        (void)asfmux::parse_header(input);
    } catch (const ParseError&) {
    }
    // The fixed packet size comes from the first two bytes (so both "fits" and "too short" cases
    // are reached); the packet is the rest of the input.
    if (size >= 2) {
        const std::uint32_t packet_size = static_cast<std::uint32_t>(data[0] | (data[1] << 8));
        const ByteView packet = input.subspan(2);
        try {
            (void)asfmux::parse_packet(packet, packet_size);
        } catch (const ParseError&) {
        }
        try {
            (void)asfmux::strip_padding(packet, packet_size);
        } catch (const ParseError&) {
        }
    }
    return 0;
}
