// IpAcl: IPv4/IPv6 CIDR allow and deny lists.
#include <gtest/gtest.h>

#include <stdexcept>

#include "asfcast/core/ip_acl.hpp"

namespace asfcast {
namespace {

std::string parse_error(const std::vector<std::string>& allow, const std::vector<std::string>& deny = {}) {
    try {
        (void)IpAcl::parse(allow, deny);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

TEST(IpAcl, EmptyListsAllowEveryAddress) {
    const IpAcl acl = IpAcl::parse({}, {});
    EXPECT_TRUE(acl.allowed("127.0.0.1"));
    EXPECT_TRUE(acl.allowed("::1"));
    EXPECT_FALSE(acl.allowed("not an address"));
    EXPECT_FALSE(acl.allowed(""));
    EXPECT_FALSE(acl.allowed("1.2.3.4.5"));
}

TEST(IpAcl, AllowListAndDenyWins) {
    const IpAcl acl = IpAcl::parse({"10.0.0.0/8", "192.168.1.7"}, {"10.0.0.5", "10.9.0.0/16"});
    EXPECT_TRUE(acl.allowed("10.1.2.3"));
    EXPECT_TRUE(acl.allowed("10.0.0.6"));
    EXPECT_FALSE(acl.allowed("10.0.0.5"));
    EXPECT_FALSE(acl.allowed("10.9.200.1"));
    EXPECT_TRUE(acl.allowed("192.168.1.7"));
    EXPECT_FALSE(acl.allowed("192.168.1.8"));
    EXPECT_FALSE(acl.allowed("11.0.0.1"));
    EXPECT_FALSE(acl.allowed("2001:db8::1"));  // IPv4 rules say nothing for IPv6 clients
}

TEST(IpAcl, DenyOnly) {
    const IpAcl acl = IpAcl::parse({}, {"203.0.113.0/24"});
    EXPECT_FALSE(acl.allowed("203.0.113.9"));
    EXPECT_TRUE(acl.allowed("203.0.114.9"));
}

TEST(IpAcl, PrefixesThatAreNotWholeBytes) {
    const IpAcl acl = IpAcl::parse({"192.168.0.0/23", "172.16.0.0/12"}, {});
    EXPECT_TRUE(acl.allowed("192.168.1.255"));
    EXPECT_FALSE(acl.allowed("192.168.2.0"));
    EXPECT_TRUE(acl.allowed("172.31.255.255"));
    EXPECT_FALSE(acl.allowed("172.32.0.0"));
    // Host bits in a rule are ignored: 10.0.0.1/8 is 10.0.0.0/8.
    EXPECT_TRUE(IpAcl::parse({"10.0.0.1/8"}, {}).allowed("10.200.0.1"));
    EXPECT_TRUE(IpAcl::parse({"0.0.0.0/0"}, {}).allowed("255.255.255.255"));
}

TEST(IpAcl, Ipv6) {
    const IpAcl acl = IpAcl::parse({"2001:db8::/32", "fe80::/10", "::1"}, {"2001:db8:dead::/48"});
    EXPECT_TRUE(acl.allowed("2001:db8::1"));
    EXPECT_TRUE(acl.allowed("2001:DB8:1:2:3:4:5:6"));
    EXPECT_FALSE(acl.allowed("2001:db8:dead::1"));
    EXPECT_FALSE(acl.allowed("2001:db9::1"));
    EXPECT_TRUE(acl.allowed("[2001:db8::1]"));
    EXPECT_TRUE(acl.allowed("fe80::1%eth0"));
    EXPECT_TRUE(acl.allowed("::1"));
    EXPECT_FALSE(acl.allowed("::2"));
    EXPECT_FALSE(acl.allowed("127.0.0.1"));
}

TEST(IpAcl, Ipv4MappedAddressesMatchIpv4Rules) {
    const IpAcl acl = IpAcl::parse({"10.0.0.0/8"}, {"::ffff:10.9.0.0/112"});
    EXPECT_TRUE(acl.allowed("::ffff:10.1.2.3"));
    EXPECT_TRUE(acl.allowed("::FFFF:a01:203"));
    EXPECT_FALSE(acl.allowed("::ffff:11.1.2.3"));
    EXPECT_FALSE(acl.allowed("10.9.1.1"));  // the mapped deny rule is an IPv4 rule
    EXPECT_FALSE(acl.allowed("::ffff:10.9.1.1"));
    EXPECT_FALSE(IpAcl::parse({"::ffff:10.0.0.1"}, {}).allowed("10.0.0.2"));
    EXPECT_TRUE(IpAcl::parse({"::ffff:10.0.0.1"}, {}).allowed("10.0.0.1"));
}

TEST(IpAcl, BadEntriesNameTheListAndTheEntry) {
    EXPECT_EQ(parse_error({"10.0.0.0/33"}),
              "pull.allow: '10.0.0.0/33' is not a CIDR block (a.b.c.d/0-32 or IPv6/0-128)");
    EXPECT_EQ(parse_error({}, {"::1/129"}), "pull.deny: '::1/129' is not a CIDR block (a.b.c.d/0-32 or IPv6/0-128)");
    for (const char* bad : {"10.0.0.0/", "10.0.0/8", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "abc", "",
                            "10.0.0.256", "[::1]", "fe80::1%eth0", "10.0.0.0/0008", "2001:db8::/x"}) {
        EXPECT_NE(parse_error({bad}), "no error") << bad;
    }
    EXPECT_EQ(parse_error({" 10.0.0.0/8 "}), "no error");  // surrounding spaces are fine
    // Each server names its own configuration key.
    try {
        (void)IpAcl::parse({}, {"10.0.0.0/40"}, "msbd");
        ADD_FAILURE() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "msbd.deny: '10.0.0.0/40' is not a CIDR block (a.b.c.d/0-32 or IPv6/0-128)");
    }
}

}  // namespace
}  // namespace asfcast
