// The announcement files of a multicast broadcast: the .nsc file a player opens to join the MSB
// stream (MS-MSB 2.2.1; facts in ../shared/specs/NSC.md) and the .asx redirector a web page links
// to. Pure functions: text in, text out; no files, no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/core/bytes.hpp"

namespace asfcast::multicast {

// Malformed .nsc text or an encoded block that does not decode; the message names the line and
// the property.
class NscError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One ASF header a receiver may need (MS-MSB 2.2.1.4 Format<x>).
struct NscFormat {
    // 11 bits: the Key of the header's encoded block, and the low 11 bits of wStreamID in every
    // MSB packet made with this header (MS-MSB 2.2.1.3.1, 2.2.4).
    std::uint16_t format_id = 0;
    Bytes asf_header;         // the Header Object followed by the 50-byte Data Object start
    std::string description;  // Description<x>; empty: not written
    bool operator==(const NscFormat&) const = default;
};

// Everything an .nsc file says, in the order MS-MSB 2.2.1.1 lists it. Empty strings and empty
// optionals are absent properties (MS-MSB 2.2.1: an empty string value means "does not exist").
struct NscAnnouncement {
    // [Address]
    std::string name;                 // "Machine Name, Publishing Point Name"
    bool format_version = true;       // "NSC Format Version=3.0" (VLC recognizes a file by it)
    std::string multicast_adapter;    // the source address of the MSB packets
    std::string ip_address;           // the multicast group (required)
    std::uint16_t ip_port = 0;        // UDP port (required, 1..65535)
    std::optional<std::uint32_t> time_to_live;
    std::optional<std::uint32_t> default_ecc;  // largest FEC span (data packets per cycle)
    std::string log_url;              // http:// URL taking MS-WMLOG logs
    std::string unicast_url;          // fail-over URL (mms:// or http://)
    std::optional<bool> allow_splitting;
    std::optional<bool> allow_caching;
    std::optional<std::uint32_t> cache_expiration_s;
    std::optional<std::uint32_t> network_buffer_ms;
    // [Formats]: at least one; distinct format IDs.
    std::vector<NscFormat> formats;

    bool operator==(const NscAnnouncement&) const = default;
};

enum class NscStrings {
    encoded,              // every string as a UTF-16 encoded block, as Windows Media Services does
                          // (VLC's reader takes string values only in this form)
    plain_when_possible,  // printable ASCII as it is, anything else encoded (MS-MSB 2.2.1.2)
};

// The .nsc text: ASCII, CR LF line ends, properties in the ABNF's order. Throws NscError when the
// announcement cannot be written (no group, port 0, no format, a format ID above 11 bits or used
// twice).
std::string make_nsc(const NscAnnouncement& announcement, NscStrings strings = NscStrings::encoded);

// Reads .nsc text written to MS-MSB 2.2.1 (strictly: CR LF line ends, both sections, the ABNF's
// property order, integers as 0x + 8 hex digits, encoded blocks whose length and check byte
// agree). Names are matched without regard to case and may have blanks around '=' (the ABNF
// allows both). Throws NscError naming the line.
NscAnnouncement parse_nsc(std::string_view text);

// ---- The encoded block (MS-MSB 2.2.1.3) ----

// "02" followed by the 6-bit characters of EncodedDataHeader {CRC, Key, Length} + data.
std::string encode_nsc_block(ByteView data, std::uint32_t key);
// A string as MS-MSB 2.2.1.2 encodes it: UTF-16LE with its terminating NUL, key 0.
std::string encode_nsc_string(std::string_view utf8);

struct NscBlock {
    std::uint32_t key = 0;
    Bytes data;
};
// Decodes a value starting with "02"; throws NscError (bad character, too short, Length past the
// end, check byte wrong, trailing characters or non-zero pad bits).
NscBlock decode_nsc_block(std::string_view value);
// Decodes an encoded string block: key 0, an even Length ending in a NUL character; to UTF-8.
std::string decode_nsc_string(std::string_view value);

// The Format ID for an ASF header: 11 bits of a hash of its bytes (MS-MSB 2.2.1.4 suggests a hash,
// so that identical headers get one ID). Callers keep IDs distinct (see MsbSender).
std::uint16_t format_id_for(ByteView asf_header);

// ---- The .asx redirector (an ASX 3.0 playlist with one entry) ----

struct AsxRedirector {
    std::string title;              // <TITLE> of the playlist and of its entry; empty: none
    std::vector<std::string> refs;  // <REF HREF> in the order a player tries them (the first that works plays)
};

// Builds the redirector for a broadcast: the .nsc URL first when multicast is on (a player on the
// LAN joins the group), then the pull URL (mmsh://host:port/), which also serves players the
// multicast does not reach.
AsxRedirector make_redirector(std::string title, std::string pull_url, std::string nsc_url = {});

// The ASX 3.0 text (CR LF line ends, attribute and text values escaped). Throws NscError when
// there is no REF.
std::string make_asx(const AsxRedirector& redirector);

}  // namespace asfcast::multicast
