// Client targets: http://HOST:PORT (IP literal or localhost) and unix:PATH; anything else is
// refused with the expected form in the message.
#include <doctest/doctest.h>

#include "http/client.h"

namespace rl::http {
namespace {

TEST_CASE("TCP targets") {
  auto e = Endpoint::parse("http://127.0.0.1:8000");
  REQUIRE(e);
  CHECK(e->kind == Endpoint::Kind::tcp);
  CHECK(e->host == "127.0.0.1");
  CHECK(e->port == 8000);
  CHECK(e->to_string() == "http://127.0.0.1:8000");
  CHECK(e->host_header() == "127.0.0.1:8000");

  auto slash = Endpoint::parse("http://10.1.2.3:65535/");
  REQUIRE(slash);
  CHECK(slash->port == 65535);

  auto local = Endpoint::parse("http://localhost:8080");
  REQUIRE(local);
  CHECK(local->host == "127.0.0.1");

  auto v6 = Endpoint::parse("http://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);
  CHECK(v6->host_header() == "[::1]:9000");
  CHECK(v6->to_string() == "http://[::1]:9000");
}

TEST_CASE("Unix socket targets") {
  auto e = Endpoint::parse("unix:/run/rld/rld.sock");
  REQUIRE(e);
  CHECK(e->kind == Endpoint::Kind::unix_socket);
  CHECK(e->path == "/run/rld/rld.sock");
  CHECK(e->to_string() == "unix:/run/rld/rld.sock");
  CHECK(e->host_header() == "localhost");
  auto relative = Endpoint::parse("unix:rld.sock");
  REQUIRE(relative);
  CHECK(relative->path == "rld.sock");
}

TEST_CASE("malformed targets are refused, naming the expected form") {
  for (const char* bad :
       {"", "127.0.0.1:8000", "https://127.0.0.1:8000", "http://127.0.0.1",
        "http://127.0.0.1:", "http://127.0.0.1:0", "http://127.0.0.1:65536", "http://127.0.0.1:80x",
        "http://example.com:80", "http://[::1:80", "http://[::1]80", "http://127.0.0.1:80/check",
        "unix:", "http://:80", "http://999.1.1.1:80"}) {
    INFO(bad);
    auto e = Endpoint::parse(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == core::Errc::invalid_argument);
    CHECK(e.error().message.find("expected http://HOST:PORT or unix:PATH") != std::string::npos);
  }
}

}  // namespace
}  // namespace rl::http
