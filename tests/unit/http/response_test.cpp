// Tests of http/response.h: status line, headers, Content-Length, Date, Connection, HEAD,
// header-injection neutralisation, reason phrases and the IMF-fixdate Date cache.
#include "http/response.h"

#include <string>

#include <doctest/doctest.h>

using rl::http::DateCache;
using rl::http::reason_phrase;
using rl::http::ResponseWriter;

namespace {

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

}  // namespace

TEST_CASE("a keep-alive response has status line, headers, length, date and body") {
  std::string out;
  ResponseWriter w(out, kDate, false, true);
  w.status(200);
  w.header("X-Request-ID", "abc");
  w.header("X-RateLimit-Limit", std::int64_t{20});
  w.body("application/json", "{\"ok\":true}");
  CHECK(w.status_code() == 200);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\n"
        "X-Request-ID: abc\r\n"
        "X-RateLimit-Limit: 20\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 11\r\n"
        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "\r\n"
        "{\"ok\":true}");
}

TEST_CASE("a response that closes the connection says Connection: close") {
  std::string out;
  ResponseWriter w(out, kDate, false, false);
  w.status(400);
  w.empty_body();
  CHECK(out == "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nDate: " + std::string(kDate) +
                   "\r\nConnection: close\r\n\r\n");
}

TEST_CASE("close_connection() turns a keep-alive response into a closing one") {
  std::string out;
  ResponseWriter w(out, kDate, false, true);
  w.close_connection();
  CHECK_FALSE(w.keep_alive());
  w.status(200);
  w.empty_body();
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("a HEAD response has the GET's headers and no body") {
  std::string out;
  ResponseWriter w(out, kDate, true, true);
  w.status(200);
  w.body("text/plain", "hello");
  CHECK(out.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(out.ends_with("\r\n\r\n"));
  CHECK(out.find("hello") == std::string::npos);
}

TEST_CASE("CR and LF in a header value cannot start a new header") {
  std::string out;
  ResponseWriter w(out, kDate, false, true);
  w.status(200);
  w.header("X-Request-ID", "a\r\nSet-Cookie: evil=1\nb");
  CHECK(out.find("X-Request-ID: a  Set-Cookie: evil=1 b\r\n") != std::string::npos);
  CHECK(out.find("\r\nSet-Cookie") == std::string::npos);
}

TEST_CASE("negative integer header values are written with their sign") {
  std::string out;
  ResponseWriter w(out, kDate, false, true);
  w.status(200);
  w.header("X-N", std::int64_t{-5});
  CHECK(out == "HTTP/1.1 200 OK\r\nX-N: -5\r\n");
}

TEST_CASE("reason phrases follow RFC 9110") {
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(401) == "Unauthorized");
  CHECK(reason_phrase(405) == "Method Not Allowed");
  CHECK(reason_phrase(413) == "Content Too Large");
  CHECK(reason_phrase(414) == "URI Too Long");
  CHECK(reason_phrase(429) == "Too Many Requests");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(503) == "Service Unavailable");
}

TEST_CASE("unlisted statuses get a generic phrase of their class") {
  CHECK(reason_phrase(418) == "Client Error");
  CHECK(reason_phrase(599) == "Server Error");
}

TEST_CASE("the Date cache writes IMF-fixdate for a known second") {
  DateCache cache;
  CHECK(cache.get(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(cache.get(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(cache.get(1'700'000'000) == "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST_CASE("the Date cache returns the same text within one second") {
  DateCache cache;
  const std::string_view a = cache.get(784111777);
  const std::string_view b = cache.get(784111777);
  CHECK(a.data() == b.data());
  CHECK(cache.get(784111778) == "Sun, 06 Nov 1994 08:49:38 GMT");
}

TEST_CASE("an HTTP/1.0 keep-alive answer announces Connection: keep-alive") {
  std::string out;
  ResponseWriter w(out, kDate, false, true, /*http10=*/true);
  w.status(200);
  w.empty_body();
  CHECK(out.find("Connection: keep-alive\r\n") != std::string::npos);
}
