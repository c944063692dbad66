// Syntax checks of two header values whose misreading would let a request mean one thing to a
// proxy in front and another to rld: Host (a host and an optional port, nothing else) and
// Transfer-Encoding (only the chunked coding, which is all rld decodes). Pure functions used by
// RequestParser once a request's head is complete.
#pragma once

#include <string_view>
#include <vector>

#include "http/request.h"

namespace rl::http {

// A Host value (RFC 9110 §7.2): uri-host [":" port], uri-host an IP literal in brackets or a
// reg-name (unreserved, pct-encoded, sub-delims; an IPv4 address is one). Empty is valid (a
// target with no authority).
bool is_valid_host(std::string_view host);

// Whether every Transfer-Encoding field lists only "chunked" (llhttp checks that chunked is last
// and given once): any other coding (gzip, deflate...) is one rld would not decode.
bool only_chunked_codings(const std::vector<Header>& headers);

}  // namespace rl::http
