// The input and output of one rate-limit decision (DESIGN.md §3), independent of the HTTP
// endpoint that asked for it. A DecisionJob is owned by its caller and reused from request to
// request; the service fills `result` and then calls `done` exactly once.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "limiter/decision.h"
#include "policy/health.h"
#include "security/api_key.h"
#include "security/ip_address.h"
#include "store/directory.h"

namespace rl::service {

enum class Verdict {
  allowed,
  limited,         // over the tier's limit: 429
  client_blocked,  // the client IP is blocked: 429
  missing_key,     // 401
  malformed_key,   // 401
  unknown_key,     // 401
  user_disabled,   // 403
  account_error,   // the key's user or tier is broken in the store (a tier deleted under it): 403
  unavailable,     // the store could not answer and the failure policy denies: 503
  unverified,      // the store could not resolve the key; the failure policy admitted it: 200
};

std::string_view to_string(Verdict verdict);
// The HTTP status a verdict answers with.
int status_of(Verdict verdict);
// Whether the answer tells the client how long to wait (Retry-After): 429 and 503.
bool asks_to_wait(Verdict verdict);

struct DecisionRequest {
  security::IpAddress client;
  std::string_view api_key;  // as sent; empty when none
  std::int64_t cost = 1;
  std::string_view request_id;  // the response's X-Request-ID, for the logs; may be empty
};

struct DecisionResult {
  Verdict verdict = Verdict::unavailable;
  limiter::Decision decision;  // meaningful when a tier was applied (has_quota)
  bool has_quota = false;
  bool shadow_denied = false;  // a shadow tier would have said no
  store::Identity identity;    // set once the key resolved
  policy::HealthState health = policy::HealthState::normal;
  core::Millis retry_after{0};  // 429 and 503: how long to wait
};

struct DecisionJob {
  DecisionRequest request;
  DecisionResult result;
  std::function<void(DecisionJob&)> done;
  // An admin request being authorised rather than a rate-limit decision: not counted as a
  // decision; a wrong admin key counts as an invalid attempt for the client.
  bool admin = false;
  bool admin_key_ok = false;

  // Working state of the service, reused between requests.
  std::string client_key;
  std::string unverified_user;  // the counter of an unverified key's client
  security::KeyDigest digest;
  std::chrono::steady_clock::time_point started;
};

}  // namespace rl::service
