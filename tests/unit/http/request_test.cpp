// Tests of http/request.h: case-insensitive header lookup and query parameters.
#include "http/request.h"

#include <array>

#include <doctest/doctest.h>

using rl::http::Header;
using rl::http::Request;

TEST_CASE("header lookup ignores ASCII case and returns the first match") {
  const std::array<Header, 3> headers = {Header{"X-API-Key", "first"}, Header{"Host", "h"},
                                         Header{"x-api-key", "second"}};
  Request r;
  r.headers = headers;
  CHECK(r.header("x-api-key") == "first");
  CHECK(r.header("HOST") == "h");
  CHECK(r.header("X-Missing").empty());
}

TEST_CASE("query_param finds a parameter and says whether it was present") {
  Request r;
  r.query = "deny_status=403&flag&empty=&x=1=2";
  bool found = false;
  CHECK(r.query_param("deny_status", &found) == "403");
  CHECK(found);
  CHECK(r.query_param("flag", &found).empty());
  CHECK(found);
  CHECK(r.query_param("empty", &found).empty());
  CHECK(found);
  CHECK(r.query_param("x", &found) == "1=2");
  CHECK(found);
  CHECK(r.query_param("deny", &found).empty());
  CHECK_FALSE(found);
  CHECK(r.query_param("missing").empty());
}

TEST_CASE("query_param on an empty query finds nothing") {
  Request r;
  bool found = true;
  CHECK(r.query_param("a", &found).empty());
  CHECK_FALSE(found);
}

TEST_CASE("query_param returns the first of repeated parameters") {
  Request r;
  r.query = "a=1&a=2";
  CHECK(r.query_param("a") == "1");
}
