// Tests of security/client_ip.h: which address a request is attributed to, from the socket peer
// or, behind trusted proxies, from X-Forwarded-For (right to left) or X-Real-IP.
#include "security/client_ip.h"

#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace {

using rl::security::Cidr;
using rl::security::ForwardingHeaders;
using rl::security::IpAddress;

IpAddress parse_ip(std::string_view text) {
  const auto parsed = IpAddress::parse(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

const std::vector<Cidr> kTrusted = {*Cidr::parse("10.0.0.0/8"), *Cidr::parse("fd00::/8")};
const IpAddress kProxy = *IpAddress::parse("10.0.0.1");

// Resolves for a peer that is the trusted proxy 10.0.0.1.
std::string via_proxy(std::vector<std::string_view> xff, std::string_view real_ip = {}) {
  const ForwardingHeaders headers{xff, real_ip};
  return rl::security::resolve_client_ip(kProxy, true, headers, kTrusted).to_string();
}

}  // namespace

TEST_CASE("an untrusted peer is the client whatever its headers say") {
  const std::vector<std::string_view> xff = {"198.51.100.1"};
  const ForwardingHeaders headers{xff, "198.51.100.2"};
  const IpAddress peer = parse_ip("203.0.113.50");
  CHECK(rl::security::resolve_client_ip(peer, false, headers, kTrusted) == peer);
}

TEST_CASE("a trusted peer without forwarding headers is the client") {
  CHECK(via_proxy({}) == "10.0.0.1");
}

TEST_CASE("behind a trusted proxy the rightmost untrusted hop is the client") {
  CHECK(via_proxy({"203.0.113.7"}) == "203.0.113.7");
  CHECK(via_proxy({"203.0.113.7, 10.0.0.2"}) == "203.0.113.7");
  CHECK(via_proxy({"203.0.113.7,10.0.0.3,10.0.0.2"}) == "203.0.113.7");
}

TEST_CASE("a client cannot forge its address by sending its own X-Forwarded-For") {
  CHECK(via_proxy({"198.51.100.1, 203.0.113.7, 10.0.0.2"}) == "203.0.113.7");
  CHECK(via_proxy({"10.0.0.99, 203.0.113.7"}) == "203.0.113.7");
}

TEST_CASE("several X-Forwarded-For headers read as one list in order") {
  CHECK(via_proxy({"198.51.100.1", "203.0.113.7, 10.0.0.3"}) == "203.0.113.7");
  CHECK(via_proxy({"198.51.100.1, 10.0.0.9", "10.0.0.3"}) == "198.51.100.1");
  CHECK(via_proxy({"198.51.100.1", "10.0.0.4", "10.0.0.3"}) == "198.51.100.1");
}

TEST_CASE("a garbage hop stops the walk at the last believable hop") {
  CHECK(via_proxy({"198.51.100.1, unknown, 10.0.0.2"}) == "10.0.0.2");
  CHECK(via_proxy({"198.51.100.1, not-an-ip"}) == "10.0.0.1");
  CHECK(via_proxy({"198.51.100.1", "999.1.1.1"}) == "10.0.0.1");
}

TEST_CASE("hops written with a port are understood") {
  CHECK(via_proxy({"203.0.113.7:4711, 10.0.0.2"}) == "203.0.113.7");
  CHECK(via_proxy({"[2001:db8::7]:443, 10.0.0.2"}) == "2001:db8::7");
  CHECK(via_proxy({"[2001:db8::8]"}) == "2001:db8::8");
  CHECK(via_proxy({"2001:db8::9, [fd00::1]:80"}) == "2001:db8::9");
}

TEST_CASE("empty X-Forwarded-For elements are skipped") {
  CHECK(via_proxy({" , 203.0.113.7 ,, 10.0.0.2 , "}) == "203.0.113.7");
  CHECK(via_proxy({""}, "203.0.113.9") == "203.0.113.9");
}

TEST_CASE("X-Real-IP is used only when X-Forwarded-For names no hop") {
  CHECK(via_proxy({}, "203.0.113.9") == "203.0.113.9");
  CHECK(via_proxy({}, " 203.0.113.9 ") == "203.0.113.9");
  CHECK(via_proxy({"203.0.113.7"}, "203.0.113.9") == "203.0.113.7");
}

TEST_CASE("a garbage X-Real-IP leaves the peer as the client") {
  CHECK(via_proxy({}, "garbage") == "10.0.0.1");
}

TEST_CASE("a chain of only trusted hops resolves to its leftmost hop") {
  CHECK(via_proxy({"10.0.0.5, 10.0.0.4, 10.0.0.3"}) == "10.0.0.5");
  CHECK(via_proxy({"fd00::5", "10.0.0.3"}) == "fd00::5");
}

TEST_CASE("a trusted Unix-socket peer believes the rightmost hop") {
  // The Unix socket is trusted by file mode, not by address: no CIDR list is needed.
  const std::vector<std::string_view> xff = {"198.51.100.1, 203.0.113.7"};
  const ForwardingHeaders headers{xff, {}};
  CHECK(rl::security::resolve_client_ip(IpAddress{}, true, headers, {}) == parse_ip("203.0.113.7"));
}
