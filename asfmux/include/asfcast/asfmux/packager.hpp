// The DRM packaging hook (issue 13). A Packager sees the header when it is built and every media
// object before it is packetized. It is a plug-in point: the reference PlayReady packager, a shared
// object and an external program over a pipe all implement it (drm/, docs/drm.md).
//
// How asfmux uses it, so that no clear payload can ever leave under a protected header:
// - HeaderBuilder writes the packager's header objects, payload extension systems and Encrypted
//   Content flags into every header it builds (ASF-notes §4, §6 Flags bit 15, §7, §8);
// - Packetizer calls protect() for EVERY media object of every stream (video, audio and script
//   commands) before writing any of its bytes; a media object that protect() did not return is
//   never written. A PackagerError (or any exception) leaves the packetizer's output without that
//   object, and the caller stops publishing.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asfcast/asfmux/asfmux.hpp"
#include "asfcast/core/bytes.hpp"
#include "asfcast/core/media.hpp"

namespace asfcast::asfmux {

// PayloadExtensionSystem, StreamProtection and ProtectionHeader are in asfmux.hpp (the
// HeaderBuilder and the Packetizer take them).

class PackagerError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Packager {
public:
    virtual ~Packager() = default;
    // What it is, for logs: "reference PlayReady", "external program /usr/lib/x", ...
    virtual std::string name() const = 0;
    // Called when a header is built (before the first packet, and for every new header). Throws
    // PackagerError when the packager cannot protect these streams.
    virtual ProtectionHeader header(const StreamSet& streams) = 0;
    // Called for every media object before packetization, on the mux thread. Encrypts
    // frame.data in place or replaces it (any non-empty size); stream, kind, times and key-frame
    // flag must stay as they are. Writes the payload extension data for this object into
    // `extension`, exactly ProtectionHeader::extension_bytes(frame.stream) bytes. Throws
    // PackagerError on any failure (the caller then stops publishing; nothing clear goes out).
    virtual void protect(EncodedFrame& frame, Bytes& extension) = 0;
};

}  // namespace asfcast::asfmux
