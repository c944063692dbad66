// Tests of security/ip_address.h: parsing and formatting IPv4/IPv6 (v4-mapped folded), the
// client key (address for v4, /64 for v6), loopback, and CIDR parsing and matching.
#include "security/ip_address.h"

#include <string>

#include <doctest/doctest.h>

namespace {

using rl::security::Cidr;
using rl::security::IpAddress;

IpAddress ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

Cidr cidr(std::string_view text) {
  const auto parsed = Cidr::parse(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

}  // namespace

TEST_CASE("IPv4 addresses parse and print in dotted form") {
  const IpAddress a = ip("192.0.2.1");
  CHECK(a.is_v4());
  CHECK(a.to_string() == "192.0.2.1");
  CHECK(ip("0.0.0.0").to_string() == "0.0.0.0");
  CHECK(ip("255.255.255.255").to_string() == "255.255.255.255");
}

TEST_CASE("IPv6 addresses parse and print in canonical short form") {
  const IpAddress a = ip("2001:0db8:0000:0000:0000:0000:0000:0001");
  CHECK_FALSE(a.is_v4());
  CHECK(a.to_string() == "2001:db8::1");
  CHECK(ip("::1").to_string() == "::1");
  CHECK(ip("FE80::ABCD").to_string() == "fe80::abcd");
}

TEST_CASE("an IPv4-mapped IPv6 address is the same as the IPv4 address") {
  const IpAddress mapped = ip("::ffff:192.0.2.1");
  CHECK(mapped.is_v4());
  CHECK(mapped == ip("192.0.2.1"));
  CHECK(mapped.to_string() == "192.0.2.1");
  std::array<std::uint8_t, 16> bytes{};
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes[12] = 192;
  bytes[14] = 2;
  bytes[15] = 1;
  CHECK(IpAddress::from_v6(bytes) == IpAddress::from_v4({192, 0, 2, 1}));
}

TEST_CASE("IpAddress::parse refuses garbage, brackets, ports and padding") {
  for (std::string_view bad :
       {"", "abc", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "[::1]", "[2001:db8::1]",
        "1.2.3.4:80", " 1.2.3.4", "1.2.3.4 ", "::1%lo", "2001:db8:::1", "gggg::1", "1.2.3.4/32"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad));
  }
  CHECK_FALSE(IpAddress::parse(std::string(100, '1')));
}

TEST_CASE("IpAddress::parse refuses an address followed by a NUL and more text") {
  CHECK_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0junk", 12)));
  CHECK_FALSE(IpAddress::parse(std::string_view("::1\0", 4)));
}

TEST_CASE("the default address is the unspecified address") {
  const IpAddress unspecified;
  CHECK(unspecified.is_unspecified());
  CHECK_FALSE(unspecified.is_v4());
  CHECK(unspecified.to_string() == "::");
  CHECK(ip("::") == unspecified);
  CHECK_FALSE(ip("0.0.0.0").is_unspecified());
}

TEST_CASE("loopback is 127.0.0.0/8 and ::1") {
  CHECK(ip("127.0.0.1").is_loopback());
  CHECK(ip("127.255.3.4").is_loopback());
  CHECK(ip("::ffff:127.0.0.1").is_loopback());
  CHECK(ip("::1").is_loopback());
  CHECK_FALSE(ip("128.0.0.1").is_loopback());
  CHECK_FALSE(ip("10.0.0.1").is_loopback());
  CHECK_FALSE(ip("::").is_loopback());
  CHECK_FALSE(ip("::2").is_loopback());
}

TEST_CASE("the client key of an IPv4 address is the address itself") {
  CHECK(ip("203.0.113.7").client_key() == "203.0.113.7");
  CHECK(ip("::ffff:203.0.113.7").client_key() == "203.0.113.7");
}

TEST_CASE("the client key of an IPv6 address is its /64 network") {
  CHECK(ip("2001:db8:1:2:3:4:5:6").client_key() == "2001:db8:1:2::/64");
  CHECK(ip("2001:db8:1:2:ffff::1").client_key() == ip("2001:db8:1:2::9").client_key());
  CHECK(ip("2001:db8:1:2::1").client_key() != ip("2001:db8:1:3::1").client_key());
  CHECK(ip("::1").client_key() == "::/64");
}

TEST_CASE("an IPv4 CIDR contains exactly its network") {
  const Cidr net = cidr("10.0.0.0/8");
  CHECK(net.contains(ip("10.0.0.0")));
  CHECK(net.contains(ip("10.255.255.255")));
  CHECK_FALSE(net.contains(ip("11.0.0.0")));
  CHECK_FALSE(net.contains(ip("9.255.255.255")));
  CHECK(net.to_string() == "10.0.0.0/8");
}

TEST_CASE("a CIDR with a prefix that is not a multiple of 8 splits the byte") {
  const Cidr nine = cidr("10.0.0.0/9");
  CHECK(nine.contains(ip("10.127.255.255")));
  CHECK_FALSE(nine.contains(ip("10.128.0.0")));
  const Cidr upper = cidr("192.168.1.128/25");
  CHECK(upper.contains(ip("192.168.1.200")));
  CHECK_FALSE(upper.contains(ip("192.168.1.100")));
  const Cidr v6 = cidr("2001:db8::/33");
  CHECK(v6.contains(ip("2001:db8:7fff::1")));
  CHECK_FALSE(v6.contains(ip("2001:db8:8000::1")));
}

TEST_CASE("an IPv6 CIDR contains exactly its network") {
  const Cidr net = cidr("fd00::/8");
  CHECK(net.contains(ip("fd12:3456::1")));
  CHECK_FALSE(net.contains(ip("fe80::1")));
  CHECK_FALSE(net.contains(ip("10.0.0.1")));
  CHECK(net.to_string() == "fd00::/8");
}

TEST_CASE("a CIDR of /0 contains every address of its family") {
  const Cidr all_v4 = cidr("0.0.0.0/0");
  CHECK(all_v4.contains(ip("1.2.3.4")));
  CHECK(all_v4.contains(ip("255.255.255.255")));
  CHECK_FALSE(all_v4.contains(ip("2001:db8::1")));
  CHECK(all_v4.to_string() == "0.0.0.0/0");
  const Cidr all_v6 = cidr("::/0");
  CHECK(all_v6.contains(ip("2001:db8::1")));
  CHECK(all_v6.contains(ip("::1")));
}

TEST_CASE("a bare address is a CIDR of one host") {
  const Cidr host = cidr("192.0.2.1");
  CHECK(host.contains(ip("192.0.2.1")));
  CHECK_FALSE(host.contains(ip("192.0.2.2")));
  CHECK(host.to_string() == "192.0.2.1/32");
  CHECK(cidr("192.0.2.1/32").contains(ip("192.0.2.1")));
  CHECK_FALSE(cidr("192.0.2.1/32").contains(ip("192.0.2.0")));
  CHECK(cidr("2001:db8::1").to_string() == "2001:db8::1/128");
}

TEST_CASE("a CIDR clears host bits of its network") {
  CHECK(cidr("10.1.2.3/8").to_string() == "10.0.0.0/8");
  CHECK(cidr("192.168.1.200/25").to_string() == "192.168.1.128/25");
  CHECK(cidr("2001:db8::dead:beef/64").to_string() == "2001:db8::/64");
  CHECK(cidr(" 10.0.0.0/8 ").to_string() == "10.0.0.0/8");
}

TEST_CASE("Cidr::parse refuses bad prefixes and bad addresses") {
  for (std::string_view bad :
       {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/abc", "10.0.0.0/+8", "10.0.0.0/8/8",
        "10.0.0.0/ 8", "::/129", "/8", "", "10.0.0/8", "[::1]/128", "10.0.0.0/8.5"}) {
    CAPTURE(bad);
    CHECK_FALSE(Cidr::parse(bad));
  }
}

TEST_CASE("any_contains is true when one of the ranges contains the address") {
  const std::vector<Cidr> ranges = {cidr("10.0.0.0/8"), cidr("fd00::/8")};
  CHECK(rl::security::any_contains(ranges, ip("10.2.3.4")));
  CHECK(rl::security::any_contains(ranges, ip("fd00::1")));
  CHECK_FALSE(rl::security::any_contains(ranges, ip("192.0.2.1")));
  CHECK_FALSE(rl::security::any_contains({}, ip("10.2.3.4")));
}
