// What one pull client takes of a mount's streams (MS-WMSP 2.2.1.4.27 stream-switch-entry): a
// thinning level per ASF stream, as a Play or a SelectStream request leaves it. The responder
// computes it, the edge hands it to the client's ClientCursor, which applies it payload by payload.
#pragma once

#include <array>
#include <cstdint>

namespace asfcast::pull {

// MS-WMSP 2.2.1.4.27: thinning level 0 (everything), 1 (key-frame media objects only), 2 (nothing).
enum class Thinning : std::uint8_t { all = 0, key_frames = 1, off = 2 };

struct StreamSelection {
    // Indexed by ASF stream number (1..127); streams not in the header stay off.
    std::array<Thinning, 128> thinning;
    // A stream turned on by this selection that takes the place of another one (a stream-switch
    // entry "from:to:level", or another rendition of the same kind turned off in the same request):
    // replaces[to] = from. The old stream goes on until the new one's first key-frame payload
    // (MS-WMSP 3.2.5.7). 0 when the stream replaces none.
    std::array<std::uint8_t, 128> replaces{};
    // Every stream of the header at level 0: the packets go out as the muxer made them.
    bool all = false;

    StreamSelection() { thinning.fill(Thinning::off); }
    static StreamSelection everything() {
        StreamSelection s;
        s.all = true;
        return s;
    }
    bool on(int stream) const {
        return all || (stream > 0 && stream < 128 && thinning[static_cast<std::size_t>(stream)] != Thinning::off);
    }
    // The level of a stream of the header (every stream is at level 0 when `all`).
    Thinning level(int stream) const {
        if (stream <= 0 || stream >= 128) return Thinning::off;
        return all ? Thinning::all : thinning[static_cast<std::size_t>(stream)];
    }
};

}  // namespace asfcast::pull
