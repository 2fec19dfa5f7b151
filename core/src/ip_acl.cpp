#include "asfcast/core/ip_acl.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <stdexcept>

namespace asfcast {
namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};  // RFC 4291 2.5.5.2

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Address {
    bool v4 = true;
    std::array<std::uint8_t, 16> bytes{};
};

// inet_pton for either family; "[v6]" brackets and a "%zone" suffix are tolerated.
std::optional<Address> parse_address(std::string_view text) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (const std::size_t pct = text.find('%'); pct != std::string_view::npos) text = text.substr(0, pct);
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    const std::string s(text);
    Address a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.v4 = false;
        return a;
    }
    return std::nullopt;
}

// An IPv4-mapped IPv6 address becomes the IPv4 address it carries.
void unmap(Address& a, int* prefix) {
    if (a.v4 || std::memcmp(a.bytes.data(), kMappedPrefix, sizeof kMappedPrefix) != 0) return;
    if (prefix && *prefix < 96) return;  // the block reaches outside ::ffff:0:0/96: keep it IPv6
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    a.v4 = true;
    if (prefix) *prefix -= 96;
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, int bits) {
    const int whole = bits / 8;
    if (std::memcmp(a, b, static_cast<std::size_t>(whole)) != 0) return false;
    const int rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

IpAcl IpAcl::parse(const std::vector<std::string>& allow, const std::vector<std::string>& deny,
                   std::string_view config_key) {
    IpAcl acl;
    auto add = [](const std::vector<std::string>& entries, const std::string& list, std::vector<Block>& out) {
        for (const auto& entry : entries) {
            auto bad = [&] {
                return std::invalid_argument(list + ": '" + entry +
                                             "' is not a CIDR block (a.b.c.d/0-32 or IPv6/0-128)");
            };
            std::string_view text = trim(entry);
            int prefix = -1;
            if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
                const std::string_view digits = text.substr(slash + 1);
                if (digits.empty() || digits.size() > 3) throw bad();
                prefix = 0;
                for (char c : digits) {
                    if (c < '0' || c > '9') throw bad();
                    prefix = prefix * 10 + (c - '0');
                }
                text = text.substr(0, slash);
            }
            // Brackets and zones belong to client addresses, not to configured blocks.
            if (text.find_first_of("[]%") != std::string_view::npos) throw bad();
            auto a = parse_address(text);
            if (!a) throw bad();
            const int max = a->v4 ? 32 : 128;
            if (prefix < 0) prefix = max;
            if (prefix > max) throw bad();
            unmap(*a, &prefix);
            out.push_back({a->v4, a->bytes, prefix});
        }
    };
    add(allow, std::string(config_key) + ".allow", acl.allow_);
    add(deny, std::string(config_key) + ".deny", acl.deny_);
    return acl;
}

bool IpAcl::matches(const Block& b, const Block& address) {
    return b.v4 == address.v4 && prefix_equal(b.addr.data(), address.addr.data(), b.prefix);
}

bool IpAcl::allowed(std::string_view ip_text) const {
    auto a = parse_address(ip_text);
    if (!a) return false;
    unmap(*a, nullptr);
    const Block address{a->v4, a->bytes, a->v4 ? 32 : 128};
    for (const auto& b : deny_)
        if (matches(b, address)) return false;
    if (allow_.empty()) return true;
    for (const auto& b : allow_)
        if (matches(b, address)) return true;
    return false;
}

}  // namespace asfcast
