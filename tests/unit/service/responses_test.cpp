// Tests of service/responses.h: X-RateLimit-*, Retry-After and the IETF RateLimit headers for
// allowed and limited decisions, Retry-After rounding, request ids and the error envelope.
#include "service/responses.h"

#include <array>
#include <memory>

#include <doctest/doctest.h>

#include "support/common.h"

using rl::core::Millis;
using rl::core::Seconds;
using rl::http::ResponseWriter;
using rl::service::DecisionResult;
using rl::service::Verdict;

namespace {

using rl::test::kNow;

DecisionResult free_result(Verdict verdict, std::int64_t remaining, rl::core::WallTime reset,
                           Millis retry_after = Millis{0}) {
  DecisionResult r;
  r.verdict = verdict;
  r.has_quota = true;
  r.decision.allowed = verdict == Verdict::allowed;
  r.decision.limit = 20;
  r.decision.remaining = remaining;
  r.decision.reset = reset;
  r.decision.retry_after = retry_after;
  r.retry_after = retry_after;
  r.identity.tier = std::make_shared<rl::policy::Tier>(rl::policy::Tier{
      "free", 10, 20, 2, Seconds{60}, rl::limiter::Algorithm::sliding_window, false, std::nullopt});
  return r;
}

std::string headers_for(const DecisionResult& r, bool ietf) {
  std::string out, scratch;
  ResponseWriter w(out, "", false, true);
  w.status(200);
  const std::size_t status_line = out.size();
  rl::service::write_rate_headers(w, r, ietf, kNow, scratch);
  return out.substr(status_line);  // the headers alone
}

using rl::test::has;

std::string request_id_for(std::string_view given) {
  const std::array<rl::http::Header, 1> headers = {rl::http::Header{"X-Request-ID", given}};
  rl::http::Request request;
  request.headers = headers;
  std::string out;
  rl::service::assign_request_id(request, out);
  return out;
}

bool is_generated_id(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

TEST_CASE("an allowed decision gets X-RateLimit headers and the IETF fields, no Retry-After") {
  const std::string h = headers_for(free_result(Verdict::allowed, 19, kNow + Seconds{60}), true);
  CHECK(has(h, "X-RateLimit-Limit: 20\r\n"));
  CHECK(has(h, "X-RateLimit-Remaining: 19\r\n"));
  CHECK(has(h, "X-RateLimit-Reset: 1700000100\r\n"));
  CHECK(has(h, "RateLimit-Policy: \"free\";q=20;w=60\r\n"));
  CHECK(has(h, "RateLimit: \"free\";r=19;t=60\r\n"));
  CHECK_FALSE(has(h, "Retry-After"));
}

TEST_CASE("a limited decision adds Retry-After in whole seconds, rounded up") {
  const std::string h =
      headers_for(free_result(Verdict::limited, 0, kNow + Seconds{90}, Millis{12'001}), true);
  CHECK(has(h, "X-RateLimit-Remaining: 0\r\n"));
  CHECK(has(h, "Retry-After: 13\r\n"));
  CHECK(has(h, "RateLimit: \"free\";r=0;t=90\r\n"));
}

TEST_CASE("Retry-After is at least 1 even when the wait is under a second") {
  CHECK(has(headers_for(free_result(Verdict::limited, 0, kNow, Millis{0}), true),
            "Retry-After: 1\r\n"));
  CHECK(has(headers_for(free_result(Verdict::limited, 0, kNow, Millis{1}), true),
            "Retry-After: 1\r\n"));
}

TEST_CASE("retry_after_seconds rounds up to whole seconds, at least 1") {
  using rl::service::retry_after_seconds;
  CHECK(retry_after_seconds(Millis{0}) == 1);
  CHECK(retry_after_seconds(Millis{999}) == 1);
  CHECK(retry_after_seconds(Millis{1000}) == 1);
  CHECK(retry_after_seconds(Millis{1001}) == 2);
  CHECK(retry_after_seconds(Millis{-5}) == 1);
}

TEST_CASE("the IETF fields are left out when ietf is off") {
  const std::string h = headers_for(free_result(Verdict::allowed, 19, kNow + Seconds{60}), false);
  CHECK(has(h, "X-RateLimit-Limit: 20\r\n"));
  CHECK_FALSE(has(h, "RateLimit-Policy"));
  CHECK_FALSE(has(h, "RateLimit:"));
}

TEST_CASE("a blocked client without a quota gets only Retry-After") {
  DecisionResult r;
  r.verdict = Verdict::client_blocked;
  r.retry_after = Seconds{900};
  const std::string h = headers_for(r, true);
  CHECK(h == "Retry-After: 900\r\n");
}

TEST_CASE("invalid keys and disabled users get no rate headers") {
  for (Verdict v : {Verdict::missing_key, Verdict::malformed_key, Verdict::unknown_key,
                    Verdict::user_disabled}) {
    DecisionResult r;
    r.verdict = v;
    CHECK(headers_for(r, true).empty());
  }
}

TEST_CASE("a sane client request id is kept") {
  CHECK(request_id_for("req-42_abc.DEF:9") == "req-42_abc.DEF:9");
  CHECK(request_id_for(std::string(128, 'a')) == std::string(128, 'a'));
}

TEST_CASE("an insane client request id is replaced by 32 hex digits") {
  for (const std::string& bad :
       {std::string(129, 'a'), std::string("has space"), std::string("new\r\nline"),
        std::string("quote\"d"), std::string("{json}"), std::string("")}) {
    const std::string id = request_id_for(bad);
    CHECK_MESSAGE(is_generated_id(id), bad);
  }
}

TEST_CASE("a request without X-Request-ID gets a new id each time") {
  rl::http::Request request;
  std::string a, b;
  rl::service::assign_request_id(request, a);
  rl::service::assign_request_id(request, b);
  CHECK(is_generated_id(a));
  CHECK(is_generated_id(b));
  CHECK(a != b);
}

TEST_CASE("an error is a JSON envelope with code, message and request id") {
  std::string out, scratch;
  ResponseWriter w(out, "Tue, 14 Nov 2023 22:13:20 GMT", false, true);
  rl::service::write_error(w, 429, "rate_limited", "too \"many\"", "rid-1", scratch);
  CHECK(out.starts_with("HTTP/1.1 429 Too Many Requests\r\nX-Request-ID: rid-1\r\n"));
  CHECK(out.ends_with(
      "\r\n\r\n{\"error\":{\"code\":\"rate_limited\",\"message\":\"too \\\"many\\\"\"},"
      "\"request_id\":\"rid-1\"}"));
  CHECK(has(out, "Content-Type: application/json\r\n"));
}
