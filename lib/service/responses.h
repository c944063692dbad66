// Writing the service's answers: the JSON error envelope
// {"error": {"code", "message"}, "request_id"}, rate-limit headers (X-RateLimit-*, Retry-After
// and the IETF draft's RateLimit-Policy / RateLimit), and request ids. Allocation-free once the
// caller's scratch buffer is warm.
#pragma once

#include <string>
#include <string_view>

#include "http/request.h"
#include "http/response.h"
#include "service/decision.h"

namespace rl::service {

// The client's X-Request-ID when it is 1–128 of [A-Za-z0-9._:-], else a new random id.
void assign_request_id(const http::Request& request, std::string& out);

// Status line, X-Request-ID and the error envelope.
void write_error(http::ResponseWriter& w, int status, std::string_view code,
                 std::string_view message, std::string_view request_id, std::string& scratch);
// The envelope's code for a status the HTTP layer answers by itself (400, 408, 413, 414, 431,
// 500, 501, 505): "bad_request", "uri_too_long", ...; "error" for any other.
std::string_view protocol_error_code(int status);
// Only the envelope, as the body: for callers that wrote the status line and headers.
void finish_error(http::ResponseWriter& w, std::string_view code, std::string_view message,
                  std::string_view request_id, std::string& scratch);

// A JSON body already serialised.
void write_json(http::ResponseWriter& w, int status, std::string_view json,
                std::string_view request_id);

// X-RateLimit-Limit/Remaining/Reset (+ RateLimit-Policy/RateLimit when `ietf`) for a decision
// that applied a quota, and Retry-After (whole seconds, at least 1) when it denies.
void write_rate_headers(http::ResponseWriter& w, const DecisionResult& result, bool ietf,
                        core::WallTime now, std::string& scratch);

// Seconds for Retry-After: rounded up, at least 1.
std::int64_t retry_after_seconds(core::Millis wait);

}  // namespace rl::service
