// Tests of config/listen_address.h: parsing and printing HOST:PORT, [IPv6]:PORT and unix:PATH,
// and which addresses count as reachable from this host only.
#include "config/listen_address.h"

#include <string>

#include <doctest/doctest.h>

using rl::config::ListenAddress;

namespace {

ListenAddress parse_ok(std::string_view text) {
  auto a = ListenAddress::parse(text);
  REQUIRE_MESSAGE(a.ok(), text);
  return *a;
}

}  // namespace

TEST_CASE("an IPv4 HOST:PORT parses into a tcp address") {
  const ListenAddress a = parse_ok("10.0.0.5:8080");
  CHECK(a.kind == ListenAddress::Kind::tcp);
  CHECK(a.host == "10.0.0.5");
  CHECK(a.port == 8080);
  CHECK(a.to_string() == "10.0.0.5:8080");
}

TEST_CASE("a bracketed IPv6 address parses and prints with its brackets") {
  const ListenAddress a = parse_ok("[::1]:9000");
  CHECK(a.kind == ListenAddress::Kind::tcp);
  CHECK(a.host == "::1");
  CHECK(a.port == 9000);
  CHECK(a.to_string() == "[::1]:9000");
}

TEST_CASE("unix:PATH parses into a unix socket address") {
  const ListenAddress a = parse_ok("unix:/run/rld.sock");
  CHECK(a.kind == ListenAddress::Kind::unix_socket);
  CHECK(a.path == "/run/rld.sock");
  CHECK(a.to_string() == "unix:/run/rld.sock");
}

TEST_CASE("localhost is read as 127.0.0.1") {
  const ListenAddress a = parse_ok("localhost:8000");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.to_string() == "127.0.0.1:8000");
}

TEST_CASE("ports 0 and 65535 are accepted") {
  CHECK(parse_ok("127.0.0.1:0").port == 0);
  CHECK(parse_ok("127.0.0.1:65535").port == 65535);
}

TEST_CASE("bad ports are refused with a reason") {
  for (const char* text : {"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:", "127.0.0.1:http",
                           "127.0.0.1:+80", "127.0.0.1: 80", "[::1]:99999"}) {
    auto a = ListenAddress::parse(text);
    CHECK_FALSE_MESSAGE(a.ok(), text);
    if (!a.ok()) CHECK(a.error().message.find(text) != std::string::npos);
  }
}

TEST_CASE("addresses without a port or with a bad host are refused") {
  for (const char* text : {"127.0.0.1", "example.com:80", "::1:80", "[::1]80", "[::1",
                           "[1.2.3.4]:80", "unix:", "", ":80"}) {
    CHECK_FALSE_MESSAGE(ListenAddress::parse(text).ok(), text);
  }
}

TEST_CASE("the error message lists the accepted forms") {
  auto a = ListenAddress::parse("nowhere");
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message.find("HOST:PORT, [IPv6]:PORT or unix:PATH") != std::string::npos);
}

TEST_CASE("a unix socket path longer than 107 bytes is refused") {
  CHECK(ListenAddress::parse("unix:/" + std::string(106, 'a')).ok());
  CHECK_FALSE(ListenAddress::parse("unix:/" + std::string(107, 'a')).ok());
}

TEST_CASE("loopback addresses and unix sockets are local, others are not") {
  CHECK(parse_ok("127.0.0.1:1").is_local());
  CHECK(parse_ok("127.1.2.3:1").is_local());
  CHECK(parse_ok("localhost:1").is_local());
  CHECK(parse_ok("[::1]:1").is_local());
  CHECK(parse_ok("unix:/tmp/x.sock").is_local());
  CHECK_FALSE(parse_ok("0.0.0.0:1").is_local());
  CHECK_FALSE(parse_ok("[::]:1").is_local());
  CHECK_FALSE(parse_ok("192.168.0.1:1").is_local());
}
