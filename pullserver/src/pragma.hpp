// MS-WMSP request metadata: Pragma tokens (2.2.1.4) and the User-Agent client token (2.2.1.8).
// Lenient by design: clients send Pragma values on repeated lines, as comma lists, wrapped, and
// sometimes run into the next "Pragma:" without a line break. Nothing here throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asfcast/core/http_head.hpp"

namespace asfcast::pull {

// One stream-switch entry (MS-WMSP 2.2.1.4.27): switch from_stream to to_stream at a thinning level.
struct StreamSwitchEntry {
    int from_stream = -1;  // -1 for "ffff" (no source stream)
    int to_stream = 0;
    int thinning = 0;      // 0 everything, 1 key frames only, 2 nothing
};

struct PragmaToken {
    std::string name;                  // as sent
    std::optional<std::string> value;  // quotes removed; nullopt for a bare name
};

struct Pragmas {
    Pragmas() = default;
    // Every Pragma header line of the head, in order.
    explicit Pragmas(const http::HttpHead& head);

    // Adds the tokens of one Pragma header value.
    void add(std::string_view pragma_value);

    // The value of the last token with this name (case-insensitive); "" for a bare name.
    std::optional<std::string> get(std::string_view name) const;
    bool has(std::string_view name) const;
    // The value as a decimal integer; nullopt when absent, empty, not all digits or too large.
    std::optional<std::uint64_t> get_uint(std::string_view name) const;
    // Entries of every stream-switch-entry token (and the spelling switch-stream-entry used in the
    // spec's own examples); malformed entries are skipped.
    std::vector<StreamSwitchEntry> stream_switch_entries() const;

    std::vector<PragmaToken> tokens;  // in arrival order
};

struct UserAgent {
    std::string token;  // "NSPlayer", "NSServer", "WMCacheProxy", or another product name
    int major = 0, minor = 0;
    bool via_cache_proxy = false;  // "; via WMCacheProxy"
    // One of the MS-WMSP client tokens with a parsable version.
    bool is_wmsp_client() const;
};

// Reads the first product of a User-Agent value (MS-WMSP 2.2.1.8): token "/" major "." minor[...].
// Unparsable parts are left at their defaults.
UserAgent parse_user_agent(std::string_view user_agent);

}  // namespace asfcast::pull
