// Tests of http/field_syntax.h: which Host values are a host and an optional port, and which
// Transfer-Encoding fields name only the chunked coding.
#include "http/field_syntax.h"

#include <doctest/doctest.h>

using rl::http::Header;
using rl::http::is_valid_host;
using rl::http::only_chunked_codings;

TEST_CASE("a host name, an IPv4 or bracketed IPv6 address, with or without a port, is a Host") {
  for (std::string_view host :
       {"", "a", "rld.test", "rld.test:8000", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8000",
        "[fd00::2]", "[::ffff:127.0.0.1]:80", "xn--caf-dma.test", "a_b-c.d~e", "%41%62",
        "a:", "UPPER.Case", "sub!$&'()*+,;=delims"}) {
    CHECK_MESSAGE(is_valid_host(host), host);
  }
}

TEST_CASE("spaces, paths, userinfo, bad ports and raw non-ASCII are not a Host") {
  for (std::string_view host :
       {"a b",  " a",  "a/b",  "user@a", "a\\b",     "a:80:81", "a:port",        "a:123456",
        "[::1", "[]",  "[zz]", "[::1]x", "[::1]:8x", "::1",     "\xc3\xa9.test", "a%zz",
        "a%4",  "a?b", "a#b",  "a\"b",   "<a>",      "a\tb"}) {
    CHECK_FALSE_MESSAGE(is_valid_host(host), host);
  }
}

TEST_CASE("only the chunked coding, in any case and list spelling, is accepted") {
  CHECK(only_chunked_codings({}));
  CHECK(only_chunked_codings({Header{"Transfer-Encoding", "chunked"}}));
  CHECK(only_chunked_codings({Header{"transfer-encoding", "Chunked"}}));
  CHECK(only_chunked_codings({Header{"Transfer-Encoding", " , chunked ,"}}));
  CHECK(only_chunked_codings({Header{"Content-Encoding", "gzip"}}));  // not a transfer coding
  CHECK_FALSE(only_chunked_codings({Header{"Transfer-Encoding", "gzip, chunked"}}));
  CHECK_FALSE(only_chunked_codings(
      {Header{"Transfer-Encoding", "gzip"}, Header{"Transfer-Encoding", "chunked"}}));
  CHECK_FALSE(only_chunked_codings({Header{"Transfer-Encoding", "chunked;q=1"}}));
  CHECK_FALSE(only_chunked_codings({Header{"Transfer-Encoding", "identity"}}));
}
