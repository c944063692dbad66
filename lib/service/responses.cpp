// Error envelopes, rate-limit headers and request ids.
#include "service/responses.h"

#include <algorithm>

#include "core/random.h"
#include "core/text.h"

namespace rl::service {

void assign_request_id(const http::Request& request, std::string& out) {
  const std::string_view given = request.header("x-request-id");
  const bool sane =
      !given.empty() && given.size() <= 128 && std::all_of(given.begin(), given.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
      });
  out.clear();
  if (sane) {
    out.append(given);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = core::fast_random();
    for (int i = 0; i < 16; ++i, bits >>= 4)
      out.push_back(kHex[bits & 0xF]);
  }
}

void finish_error(http::ResponseWriter& w, std::string_view code, std::string_view message,
                  std::string_view request_id, std::string& scratch) {
  scratch.assign("{\"error\":{\"code\":");
  core::append_json_string(scratch, code);
  scratch.append(",\"message\":");
  core::append_json_string(scratch, message);
  scratch.append("},\"request_id\":");
  core::append_json_string(scratch, request_id);
  scratch.append("}");
  w.body("application/json", scratch);
}

void write_error(http::ResponseWriter& w, int status, std::string_view code,
                 std::string_view message, std::string_view request_id, std::string& scratch) {
  w.status(status);
  if (!request_id.empty()) w.header("X-Request-ID", request_id);
  finish_error(w, code, message, request_id, scratch);
}

void write_json(http::ResponseWriter& w, int status, std::string_view body,
                std::string_view request_id) {
  w.status(status);
  if (!request_id.empty()) w.header("X-Request-ID", request_id);
  w.body("application/json", body);
}

std::int64_t retry_after_seconds(core::Millis wait) {
  return std::max<std::int64_t>(1, (wait.count() + 999) / 1000);
}

void write_rate_headers(http::ResponseWriter& w, const DecisionResult& result, bool ietf,
                        core::WallTime now, std::string& scratch) {
  if (result.has_quota) {
    const limiter::Decision& d = result.decision;
    w.header("X-RateLimit-Limit", d.limit);
    w.header("X-RateLimit-Remaining", d.remaining);
    w.header("X-RateLimit-Reset", core::to_unix_seconds_ceil(d.reset));
    if (ietf && result.identity.tier) {
      const policy::Tier& tier = *result.identity.tier;
      const std::int64_t reset_in = std::max<std::int64_t>(
          0, (core::to_unix_ms(d.reset) - core::to_unix_ms(now) + 999) / 1000);
      scratch.clear();
      scratch.push_back('"');
      scratch.append(tier.name);
      scratch.append("\";q=");
      core::append_int(scratch, d.limit);
      scratch.append(";w=");
      core::append_int(scratch, tier.window.count());
      w.header("RateLimit-Policy", scratch);
      scratch.clear();
      scratch.push_back('"');
      scratch.append(tier.name);
      scratch.append("\";r=");
      core::append_int(scratch, d.remaining);
      scratch.append(";t=");
      core::append_int(scratch, reset_in);
      w.header("RateLimit", scratch);
    }
  }
  if (asks_to_wait(result.verdict))
    w.header("Retry-After", retry_after_seconds(result.retry_after));
}

std::string_view protocol_error_code(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "body_too_large";
    case 414:
      return "uri_too_long";
    case 431:
      return "headers_too_large";
    case 500:
      return "internal";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    default:
      return "error";
  }
}

}  // namespace rl::service
