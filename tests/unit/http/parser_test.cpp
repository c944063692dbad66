// Tests of http/parser.h: RequestParser over whole and split input, pipelining, keep-alive,
// the limits (414, 431, 413), malformed and ambiguous framing (400, 501), 100-continue, EOF.
#include "http/parser.h"

#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

using rl::http::Method;
using rl::http::ParserLimits;
using rl::http::RequestParser;
using State = RequestParser::State;
using Step = RequestParser::Step;

namespace {

// A Request copied out of the parser's buffers, so two parses can be compared.
struct Owned {
  Method method = Method::other;
  std::string method_name, target, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  friend bool operator==(const Owned&, const Owned&) = default;
};

Owned own(const rl::http::Request& r) {
  Owned o{r.method,
          std::string(r.method_name),
          std::string(r.target),
          std::string(r.path),
          std::string(r.query),
          std::string(r.body),
          {},
          r.keep_alive};
  for (const auto& h : r.headers)
    o.headers.emplace_back(h.name, h.value);
  return o;
}

RequestParser::Step feed(RequestParser& p, std::string_view text) {
  return p.feed(text.data(), text.size());
}

// Feeds the whole text at once and expects one complete request.
Owned parse_whole(std::string_view text, const ParserLimits& limits = {}) {
  RequestParser p(limits);
  const auto step = feed(p, text);
  REQUIRE_MESSAGE(step.state == State::request, p.error_reason());
  CHECK(step.consumed == text.size());
  return own(p.request());
}

// Feeds one byte at a time and expects one complete request at the last byte.
Owned parse_bytewise(std::string_view text) {
  RequestParser p(ParserLimits{});
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto step = p.feed(text.data() + i, 1);
    if (i + 1 < text.size()) {
      REQUIRE_MESSAGE(step.state == State::need_more, "at byte ", i);
      CHECK(step.consumed == 1);
    } else {
      REQUIRE(step.state == State::request);
    }
  }
  return own(p.request());
}

// Feeds the text and expects an error; returns the status.
int error_status(std::string_view text, const ParserLimits& limits = {}) {
  RequestParser p(limits);
  const auto step = feed(p, text);
  REQUIRE_MESSAGE(step.state == State::error, text);
  CHECK(p.error_reason() != std::string_view{});
  return p.error_status();
}

constexpr std::string_view kPost =
    "POST /v1/decide?deny_status=403&x=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "X-API-Key:    demo_free_key_123   \r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 17\r\n"
    "\r\n"
    "{\"api_key\": \"k\"}\n";

}  // namespace

TEST_CASE("a request fed byte by byte parses exactly as when fed in one chunk") {
  const Owned whole = parse_whole(kPost);
  const Owned bytewise = parse_bytewise(kPost);
  CHECK(whole == bytewise);
  CHECK(whole.method == Method::post);
  CHECK(whole.method_name == "POST");
  CHECK(whole.target == "/v1/decide?deny_status=403&x=1");
  CHECK(whole.path == "/v1/decide");
  CHECK(whole.query == "deny_status=403&x=1");
  CHECK(whole.body == "{\"api_key\": \"k\"}\n");
  REQUIRE(whole.headers.size() == 4);
  CHECK(whole.headers[1] == std::pair<std::string, std::string>{"X-API-Key", "demo_free_key_123"});
  CHECK(whole.keep_alive);
}

TEST_CASE("a target without a query has an empty query") {
  const Owned r = parse_whole("GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r.method == Method::get);
  CHECK(r.path == "/health");
  CHECK(r.query.empty());
  CHECK(r.body.empty());
}

TEST_CASE("pipelined requests in one buffer come out one at a time") {
  const std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
  const std::string third = "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string all = first + second + third;
  RequestParser p(ParserLimits{});

  auto step = feed(p, all);
  REQUIRE(step.state == State::request);
  CHECK(step.consumed == first.size());
  CHECK(p.request().path == "/a");

  // Until next() the parser holds the request and takes nothing more.
  const auto held = feed(p, std::string_view(all).substr(step.consumed));
  CHECK(held.state == State::request);
  CHECK(held.consumed == 0);

  std::size_t offset = step.consumed;
  p.next();
  step = feed(p, std::string_view(all).substr(offset));
  REQUIRE(step.state == State::request);
  CHECK(step.consumed == second.size());
  CHECK(p.request().path == "/b");
  CHECK(p.request().body == "hi");

  offset += step.consumed;
  p.next();
  step = feed(p, std::string_view(all).substr(offset));
  REQUIRE(step.state == State::request);
  CHECK(step.consumed == third.size());
  CHECK(p.request().path == "/c");
  CHECK(p.request().body.empty());
}

TEST_CASE("next() forgets the current request") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n").state == State::request);
  CHECK(p.in_request());
  CHECK(p.headers_complete());
  p.next();
  CHECK_FALSE(p.in_request());
  CHECK_FALSE(p.headers_complete());
  CHECK(p.request().path.empty());
  CHECK(p.request().headers.empty());
}

TEST_CASE("a partial request is in progress but its headers are not complete") {
  RequestParser p(ParserLimits{});
  const auto step = feed(p, "GET /a HTTP/1.1\r\nHo");
  CHECK(step.state == State::need_more);
  CHECK(p.in_request());
  CHECK_FALSE(p.headers_complete());
}

TEST_CASE("HTTP/1.1 keeps the connection alive unless the client says Connection: close") {
  CHECK(parse_whole("GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
  CHECK_FALSE(parse_whole("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
}

TEST_CASE("HTTP/1.0 closes the connection unless the client asks for keep-alive") {
  CHECK_FALSE(parse_whole("GET / HTTP/1.0\r\n\r\n").keep_alive);
  CHECK(parse_whole("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST_CASE("HTTP/1.0 does not need a Host header") {
  CHECK(parse_whole("GET /x HTTP/1.0\r\n\r\n").path == "/x");
}

TEST_CASE("a URL over the limit is a 414") {
  ParserLimits limits;
  limits.max_url_bytes = 64;
  CHECK(parse_whole("GET /" + std::string(63, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits)
            .path.size() == 64);
  CHECK(error_status("GET /" + std::string(64, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits) ==
        414);
}

TEST_CASE("a header block over the byte limit is a 431") {
  ParserLimits limits;
  limits.max_header_bytes = 256;
  CHECK(error_status("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(300, 'b') + "\r\n\r\n",
                     limits) == 431);
}

TEST_CASE("more header fields than the limit is a 431") {
  ParserLimits limits;
  limits.max_headers = 8;
  std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 7; ++i)
    ok += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(parse_whole(ok + "\r\n", limits).headers.size() == 8);
  CHECK(error_status(ok + "X-Last: v\r\n\r\n", limits) == 431);
}

TEST_CASE("a Content-Length over the body limit is a 413 before the body arrives") {
  ParserLimits limits;
  limits.max_body_bytes = 10;
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits) == 413);
  CHECK(parse_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits)
            .body == "0123456789");
}

TEST_CASE("a chunked body growing over the limit is a 413") {
  ParserLimits limits;
  limits.max_body_bytes = 10;
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n",
                     limits) == 413);
}

TEST_CASE("a chunked body is reassembled") {
  const Owned r = parse_whole(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(r.body == "hello world");
}

TEST_CASE("an unknown method is a 501") {
  CHECK(error_status("FROB / HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
}

// Found by the http_request fuzz harness: the client's first packet ended inside the method.
TEST_CASE("an unknown method fed byte by byte is a 501 once its space arrives") {
  const std::string_view text = "FOO /test HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser p(ParserLimits{});
  for (std::size_t i = 0; i < 3; ++i) {
    const auto step = p.feed(text.data() + i, 1);
    REQUIRE_MESSAGE(step.state == State::need_more, "at byte ", i);
    CHECK(step.consumed == 1);
  }
  CHECK(p.feed(text.data() + 3, 1).state == State::error);
  CHECK(p.error_status() == 501);
}

TEST_CASE("garbage after the first bytes of an unknown method is a 400") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "FO").state == State::need_more);
  CHECK(feed(p, "O\x01 / HTTP/1.1\r\n").state == State::error);
  CHECK(p.error_status() == 400);
}

TEST_CASE("an unknown method longer than any method is a 400 without waiting for its end") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "F").state == State::need_more);
  CHECK(feed(p, std::string(40, 'O')).state == State::error);
  CHECK(p.error_status() == 400);
}

TEST_CASE("a 32-byte unknown method is a 501 even when its space comes in the next packet") {
  const std::string method = "LLLLLLLLLLLLLLLLLLLLLLLLLLDELETE";
  REQUIRE(method.size() == 32);
  CHECK(error_status(method + " /health HTTP/1.1\r\nHost: h\r\n\r\n") == 501);
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, method).state == State::need_more);
  CHECK(feed(p, " /health HTTP/1.1\r\n").state == State::error);
  CHECK(p.error_status() == 501);
}

TEST_CASE("EOF inside an unknown method is an error") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "FOO").state == State::need_more);
  CHECK(p.finish().state == State::error);
  CHECK(p.error_status() == 400);
}

TEST_CASE("an HTTP/1.1 request without a Host header is a 400") {
  CHECK(error_status("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n") == 400);
}

TEST_CASE("the error reason of a request without Host names the Host header") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n").state == State::error);
  CHECK(p.error_reason() == "missing Host header");
}

TEST_CASE("an HTTP/1.1 request with two Host headers is a 400") {
  CHECK(error_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
}

TEST_CASE("Content-Length together with Transfer-Encoding is a 400") {
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("two Content-Length headers are a 400") {
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                     "Content-Length: 2\r\n\r\nhi") == 400);
}

TEST_CASE("a Content-Length that is not plain decimal digits is a 400") {
  for (const char* value : {"+5", "0x10", "1_0", "-1", "99999999999999999999999"}) {
    const std::string text =
        std::string("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ") + value + "\r\n\r\n";
    RequestParser p(ParserLimits{});
    const auto step = feed(p, text);
    CHECK_MESSAGE(step.state == State::error, value);
    CHECK_MESSAGE(p.error_status() == 400, value);
  }
}

TEST_CASE("bare LF line endings are a 400") {
  CHECK(error_status("GET / HTTP/1.1\nHost: h\n\n") == 400);
}

TEST_CASE("an obs-fold continuation line is a 400, whole or split anywhere") {
  // RFC 9112 §5.2 lets a server refuse or unfold; unfolding would let a proxy in front read a
  // different header than we do, so it is refused.
  for (std::string_view text :
       {"GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\n  two\r\n\r\n"}) {
    CHECK_MESSAGE(error_status(text) == 400, text);
    for (std::size_t cut = 1; cut < text.size(); ++cut) {
      RequestParser p(ParserLimits{});
      auto step = feed(p, text.substr(0, cut));
      if (step.state != State::error) step = feed(p, text.substr(cut));
      CHECK_MESSAGE(step.state == State::error, "cut at ", cut, ": ", text);
      CHECK(p.error_status() == 400);
    }
    RequestParser p(ParserLimits{});
    auto step = Step{};
    for (std::size_t i = 0; i < text.size() && step.state != State::error; ++i)
      step = p.feed(text.data() + i, 1);
    CHECK_MESSAGE(step.state == State::error, "byte by byte: ", text);
  }
}

TEST_CASE("values with inner and trailing whitespace, split anywhere, are not folds") {
  const std::string text = "GET / HTTP/1.1\r\nHost: h \r\nX-A: one two \t \r\nX-B:\r\n\r\n";
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    RequestParser p(ParserLimits{});
    auto step = feed(p, std::string_view(text).substr(0, cut));
    REQUIRE_MESSAGE(step.state == State::need_more, "cut at ", cut);
    step = feed(p, std::string_view(text).substr(cut));
    REQUIRE_MESSAGE(step.state == State::request, "cut at ", cut, ": ", p.error_reason());
    CHECK(p.request().header("X-A") == "one two");
  }
  CHECK(parse_bytewise(text).headers.size() == 3);
}

TEST_CASE("an empty header field name is a 400") {
  CHECK(error_status("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("a Host header that is not a host and optional port is a 400") {
  for (std::string_view host : {"a b", "a/b", "user@a", "a\\b", "a:80:81", "a:port", "[::1", "[zz]",
                                "a:123456", "\xc3\xa9.test", "a%zz", "a?b", "a#b"}) {
    const std::string text = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    CHECK_MESSAGE(error_status(text) == 400, host);
  }
  for (std::string_view host : {"", "a", "rld.test:8000", "127.0.0.1:1", "[::1]:8000", "[::1]",
                                "xn--caf-dma.test", "a_b-c.d~e", "%41", "a:"}) {
    const std::string text = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    RequestParser p(ParserLimits{});
    CHECK_MESSAGE(feed(p, text).state == State::request, host, ": ", p.error_reason());
  }
}

TEST_CASE("an HTTP/1.0 request with two Host headers is a 400 too") {
  CHECK(error_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
}

TEST_CASE("versions other than HTTP/1.0 and HTTP/1.1 are a 505, malformed ones a 400") {
  for (std::string_view line : {"GET / HTTP/1.2", "GET / HTTP/2.0", "GET / HTTP/3.0",
                                "GET / HTTP/0.9", "GET / HTTP/9.9", "GET /"}) {
    const std::string text = std::string(line) + "\r\nHost: h\r\n\r\n";
    CHECK_MESSAGE(error_status(text) == 505, line);
  }
  for (std::string_view line : {"GET / HTTP/1.10", "GET / http/1.1", "GET / HTTP/1.a",
                                "GET / HTTP/1.1 ", "GET / HTTP/11"}) {
    const std::string text = std::string(line) + "\r\nHost: h\r\n\r\n";
    CHECK_MESSAGE(error_status(text) == 400, line);
  }
}

TEST_CASE("the HTTP/2 connection preface is a 505") {
  RequestParser p(ParserLimits{});
  const auto step = feed(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  CHECK(step.state == State::error);
  CHECK(p.error_status() == 505);
  CHECK(std::string_view(p.error_reason()).find("HTTP/2") != std::string_view::npos);
}

TEST_CASE("a transfer coding other than chunked is a 501, chunked not last a 400") {
  const auto te = [](std::string_view codings) {
    return "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + std::string(codings) +
           "\r\n\r\n0\r\n\r\n";
  };
  CHECK(error_status(te("gzip, chunked")) == 501);
  CHECK(error_status(te("deflate,chunked")) == 501);
  CHECK(error_status(te("chunked, gzip")) == 400);
  CHECK(error_status(te("gzip")) == 400);
  CHECK(error_status(te("chunked, chunked")) == 400);
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                     "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n") == 400);
  CHECK(error_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 501);
  CHECK(parse_whole(te("Chunked")).body.empty());
}

TEST_CASE("a chunk announcing more than the body limit is a 413 before its data arrives") {
  ParserLimits limits;
  limits.max_body_bytes = 100;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(error_status(head + "65\r\n", limits) == 413);                // 101 bytes
  CHECK(error_status(head + "ffffffffffffffff\r\n", limits) == 413);  // 2^64 - 1
  CHECK(error_status(head + "32\r\n" + std::string(50, 'x') + "\r\n33\r\n", limits) == 413);
  CHECK(error_status(head + "fffffffffffffffff\r\n", limits) == 400);  // overflows 64 bits
  RequestParser p(limits);
  CHECK(feed(p, head + "64\r\n").state == State::need_more);  // exactly 100 is fine
}

TEST_CASE("a parser in error stays in error") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "FROB / HTTP/1.1\r\n").state == State::error);
  const auto again = feed(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(again.state == State::error);
  CHECK(again.consumed == 0);
  CHECK(p.finish().state == State::error);
}

TEST_CASE("Expect: 100-continue with a body asks for a 100 Continue exactly once") {
  RequestParser p(ParserLimits{});
  const auto step =
      feed(p, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(step.state == State::need_more);
  CHECK(p.headers_complete());
  CHECK(p.take_continue());
  CHECK_FALSE(p.take_continue());
  REQUIRE(feed(p, "abc").state == State::request);
  CHECK(p.request().body == "abc");
}

TEST_CASE("Expect: 100-continue without a body asks for nothing") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n").state ==
          State::request);
  CHECK_FALSE(p.take_continue());
}

TEST_CASE("finish() at EOF between requests is not an error") {
  RequestParser p(ParserLimits{});
  CHECK(p.finish().state == State::need_more);
}

TEST_CASE("finish() at EOF in the middle of a request is an error") {
  RequestParser p(ParserLimits{});
  REQUIRE(feed(p, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab").state ==
          State::need_more);
  const auto step = p.finish();
  CHECK(step.state == State::error);
  CHECK(p.error_status() == 400);
}

TEST_CASE("the peer is copied into each request") {
  RequestParser p(ParserLimits{});
  rl::http::Peer peer{*rl::security::IpAddress::parse("192.0.2.7"), false};
  p.set_peer(peer);
  REQUIRE(feed(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n").state == State::request);
  CHECK(p.request().peer.ip == peer.ip);
  CHECK_FALSE(p.request().peer.unix_socket);
}

TEST_CASE("an empty header value does not merge that header with the next one") {
  const Owned r = parse_whole("GET / HTTP/1.1\r\nX-Empty:\r\nHost: h\r\n\r\n");
  REQUIRE(r.headers.size() == 2);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"X-Empty", ""});
  CHECK(r.headers[1] == std::pair<std::string, std::string>{"Host", "h"});
}

TEST_CASE("trailer fields after a chunked body leave the parsed request intact") {
  // Trailers arrive through the header callbacks after the head was parsed; they must not
  // move the buffer the request's path and headers point into.
  const std::string path = "/v1/decide/" + std::string(40, 'p');
  const Owned r = parse_whole("POST " + path +
                              " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\nabc\r\n0\r\nX-Trailer: " +
                              std::string(3000, 't') + "\r\n\r\n");
  CHECK(r.path == path);
  CHECK(r.body == "abc");
  REQUIRE(r.headers.size() >= 2);
  CHECK(r.headers[0] == std::pair<std::string, std::string>{"Host", "h"});
}
