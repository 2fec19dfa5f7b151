// libFuzzer target for the ASF reader: parse_header, parse_packet, parse_wire_packet, to_wire_form and
// filter_packet_streams must throw
// ParseError on malformed input and never crash or allocate without bound.
#include <array>
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
            (void)asfmux::parse_wire_packet(packet, packet_size);
        } catch (const ParseError&) {
        }
        try {
            (void)asfmux::to_wire_form(packet, packet_size);
        } catch (const ParseError&) {
        }
        try {
            std::array<bool, 128> keep{};
            keep[1] = keep[3] = true;
            (void)asfmux::filter_packet_streams(packet, packet_size, keep);
        } catch (const ParseError&) {
        }
    }
    return 0;
}
