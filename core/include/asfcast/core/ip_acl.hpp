// Client address rules of the servers (WMSP pull, MSBD): allow and deny lists of IPv4/IPv6 CIDR
// blocks, checked when a connection is accepted, before anything is read or sent.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace asfcast {

class IpAcl {
public:
    // Entries are "a.b.c.d", "a.b.c.d/n" (0-32), an IPv6 address, or "IPv6/n" (0-128). Throws
    // std::invalid_argument naming the list (`config_key`.allow / `config_key`.deny, e.g.
    // pull.allow, msbd.deny) and the bad entry.
    static IpAcl parse(const std::vector<std::string>& allow, const std::vector<std::string>& deny,
                       std::string_view config_key = "pull");

    // Deny wins; an empty allow list allows every address not denied. IPv4-mapped IPv6 addresses
    // (::ffff:1.2.3.4) are matched as IPv4. Text that is not an address is refused.
    bool allowed(std::string_view ip_text) const;

private:
    struct Block {
        bool v4 = true;
        std::array<std::uint8_t, 16> addr{};  // v4 uses the first 4 bytes
        int prefix = 0;
    };
    static bool matches(const Block& b, const Block& address);

    std::vector<Block> allow_, deny_;
};

}  // namespace asfcast
