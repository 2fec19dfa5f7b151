// libFuzzer target for the ASF reader: parse_header, parse_packet, parse_wire_packet, to_wire_form,
// filter_packet_streams and the pull server's filter_payloads (every kind of payload filter) must
// throw ParseError on malformed input and never crash or allocate without bound.
#include <array>
#include <cstddef>
#include <cstdint>

#include "asfcast/asfmux/asfmux.hpp"
#include "payload_filter.hpp"

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
        try {
            // Streams 1..5 each with another filter kind; the others dropped.
            pull::PayloadFilter filter{};
            filter[1] = pull::PayloadKeep::all;
            filter[2] = pull::PayloadKeep::key_frames;
            filter[3] = pull::PayloadKeep::from_key_frame;
            filter[4] = pull::PayloadKeep::from_object_start;
            filter[5] = pull::PayloadKeep::none;
            (void)pull::filter_payloads(packet, packet_size, filter);
        } catch (const ParseError&) {
        }
    }
    return 0;
}
