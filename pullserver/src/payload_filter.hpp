// Stream selection on finished data packets, payload by payload: which payloads of each stream a
// client gets (MS-WMSP 2.2.1.4.27 thinning; 3.2.5.7 a new stream starts on a key-frame payload).
// The result is a packet in the wire form (MS-WMSP 2.2.3.3: no Packet Length, no Padding Length
// field, no padding), in the multiple-payloads layout, so a client that pads it back to the packet
// size reads exactly the kept payloads. The packet's send time and duration are kept.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "asfcast/core/bytes.hpp"

namespace asfcast::pull {

enum class PayloadKeep : std::uint8_t {
    none,               // thinning level 2, or a stream not selected
    all,                // thinning level 0
    key_frames,         // thinning level 1: payloads whose Stream Number has the key-frame bit
    from_key_frame,     // a video stream starting in this packet: from its first payload that
                        // starts a key-frame media object (key bit, offset 0), then every payload
    from_object_start,  // another stream starting in this packet: from its first payload that
                        // starts a media object (offset 0, or a compressed payload), then every one
};
using PayloadFilter = std::array<PayloadKeep, 128>;  // indexed by ASF stream number

// `packet` is a file-form packet of fixed size `packet_size`, or a wire-form packet shorter than
// that. Returns the packet holding only the payloads `keep` selects, or nullopt when none is left.
// Throws ParseError (asfmux) for a malformed packet.
std::optional<Bytes> filter_payloads(ByteView packet, std::uint32_t packet_size, const PayloadFilter& keep);

}  // namespace asfcast::pull
