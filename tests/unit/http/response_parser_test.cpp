// The client's response parser: bodies by length, chunked and to EOF, pipelined responses,
// byte-at-a-time input, keep-alive, bounds and garbage.
#include "http/response_parser.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace rl::http {
namespace {

struct Seen {
  int status;
  std::string body;
  bool keep_alive;
  std::string request_id;
};

// Feeds `bytes` in pieces of `step` bytes; collects the responses; false on a parse error.
bool parse_all(ResponseParser& p, const std::string& bytes, std::size_t step,
               std::vector<Seen>& out) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t len = std::min(step, bytes.size() - at);
    std::size_t used = 0;
    while (used < len) {
      const auto s = p.feed(bytes.data() + at + used, len - used);
      used += s.consumed;
      if (s.state == ResponseParser::State::error) return false;
      if (s.state == ResponseParser::State::need_more) break;
      const auto& r = p.response();
      out.push_back(
          Seen{r.status, std::string(r.body), r.keep_alive, std::string(r.header("x-request-id"))});
      p.next();
    }
    at += len;
  }
  return true;
}

const std::string kTwo =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Request-ID: a1\r\n\r\nhello"
    "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nx-request-id: b2\r\n\r\n"
    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

TEST_CASE("pipelined responses, whole and byte by byte") {
  for (std::size_t step : {kTwo.size(), std::size_t{1}, std::size_t{7}}) {
    INFO("step " << step);
    ResponseParser p;
    std::vector<Seen> seen;
    REQUIRE(parse_all(p, kTwo, step, seen));
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].status == 200);
    CHECK(seen[0].body == "hello");
    CHECK(seen[0].request_id == "a1");
    CHECK(seen[0].keep_alive);
    CHECK(seen[1].status == 429);
    CHECK(seen[1].body == "abcde");
    CHECK(seen[1].request_id == "b2");
    CHECK_FALSE(p.in_response());
  }
}

TEST_CASE("Connection: close and HTTP/1.0 end keep-alive") {
  ResponseParser p;
  std::vector<Seen> seen;
  REQUIRE(
      parse_all(p, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 64, seen));
  REQUIRE(seen.size() == 1);
  CHECK_FALSE(seen[0].keep_alive);
  ResponseParser old;
  seen.clear();
  REQUIRE(parse_all(old, "HTTP/1.0 204 No Content\r\nContent-Length: 0\r\n\r\n", 64, seen));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].status == 204);
  CHECK_FALSE(seen[0].keep_alive);
}

TEST_CASE("a body without length ends at EOF") {
  ResponseParser p;
  const std::string bytes = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
  const auto s = p.feed(bytes.data(), bytes.size());
  CHECK(s.state == ResponseParser::State::need_more);
  CHECK(p.in_response());
  const auto end = p.finish();
  REQUIRE(end.state == ResponseParser::State::response);
  CHECK(p.response().body == "until the end");
}

TEST_CASE("a response cut short is not a response") {
  ResponseParser p;
  const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  CHECK(p.feed(bytes.data(), bytes.size()).state == ResponseParser::State::need_more);
  CHECK(p.finish().state == ResponseParser::State::error);
}

TEST_CASE("bounds on headers and bodies") {
  ResponseParser small_head(64, 1024);
  std::vector<Seen> seen;
  CHECK_FALSE(parse_all(
      small_head,
      "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'x') + "\r\nContent-Length: 0\r\n\r\n", 4096,
      seen));
  CHECK(std::string(small_head.error()) == "response headers too large");
  ResponseParser small_body(1024, 8);
  CHECK_FALSE(
      parse_all(small_body, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789", 4096, seen));
  CHECK(std::string(small_body.error()) == "response body too large");
}

TEST_CASE("garbage is an error, not a hang") {
  for (const char* bad : {"SSH-2.0-OpenSSH\r\n", "HTTP/1.1 abc OK\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"}) {
    INFO(bad);
    ResponseParser p;
    std::vector<Seen> seen;
    CHECK_FALSE(parse_all(p, bad, 4096, seen));
    CHECK(seen.empty());
    CHECK(std::string(p.error()) != "");
  }
}

}  // namespace
}  // namespace rl::http
