// What must hold of any exchange with rld, whatever the client sent (DESIGN.md §4): every
// answer is a well-formed HTTP/1.1 response (status line, header lines that no client data can
// break, exactly one Content-Length that matches the body, a JSON body where it says JSON), no
// 500, nothing after a response that said "Connection: close", no more answers than requests,
// and at least one answer when a whole request (or garbage) was sent. Checked by aborting.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

namespace rl::fuzz {

// What the server will answer, by reading the bytes as the server does: one entry per
// complete request (true for HEAD: headers without a body) and one for the error that ends
// the connection, if any.
std::vector<bool> expected_answers(std::string_view requests, const http::ParserLimits& limits);

void check_exchange(std::string_view requests, std::string_view responses,
                    const http::ParserLimits& limits);

// A complete request copied out of the parser, or the error that ended the input, so that two
// parses of the same bytes can be compared.
struct ParsedRequest {
  int error_status = 0;  // non-zero: the parser refused the input here
  std::string method, target, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  friend bool operator==(const ParsedRequest&, const ParsedRequest&) = default;
};

// One line per request: its error status, or method, target and sizes (for evidence).
std::string describe(const std::vector<ParsedRequest>& requests);

// Parses `bytes` fed in pieces of the given sizes (cycled; the rest in one piece when empty),
// as the server does: until an error or a request that closes the connection.
std::vector<ParsedRequest> parse_requests(std::string_view bytes, const http::ParserLimits& limits,
                                          const std::vector<std::size_t>& pieces);

}  // namespace rl::fuzz
