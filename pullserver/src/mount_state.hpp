// What one mount point holds for its streaming clients, on the pull server's network thread: the
// current header as $H packets, and a ring of the packets made with it.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "asfcast/core/muxed.hpp"
#include "asfcast/core/packet_ring.hpp"
#include "payload_filter.hpp"
#include "wmsp_responder.hpp"

namespace asfcast::pull {

// One ASF data packet in a mount's ring. The bytes are the muxer's wire form (no copy); variants
// for clients that take only some payloads (a stream selection, thinning, a switch) are made on
// first use and shared by every client with the same filter; a null variant: no payload is left.
struct MountPacket {
    PacketPtr packet;
    std::uint32_t header_version = 0;
    mutable std::vector<std::pair<PayloadFilter, std::shared_ptr<const Bytes>>> filtered;

    ByteView wire() const { return packet->wire_form(); }
    std::uint32_t send_time_ms() const { return packet->send_time_ms; }
    // MS-WMSP 2.2.3.1.2: LocationId is the ASF packet number.
    std::uint32_t location_id() const { return static_cast<std::uint32_t>(packet->number); }
};
using MountPacketPtr = std::shared_ptr<const MountPacket>;

struct MountState {
    explicit MountState(std::size_t ring_packets) : ring(ring_packets) {}
    HeaderPtr header;
    Bytes header_frames;  // the current header as $H packets (MS-WMSP 2.2.3.5)
    std::uint32_t header_version = 0;
    PacketRing<MountPacket> ring;
    bool ended = false;  // the broadcast is over: clients get what is left, then $E
};

}  // namespace asfcast::pull
