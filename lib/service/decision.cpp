// Names and HTTP statuses of verdicts.
#include "service/decision.h"

namespace rl::service {

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::allowed:
      return "allowed";
    case Verdict::limited:
      return "limited";
    case Verdict::client_blocked:
      return "client_blocked";
    case Verdict::missing_key:
      return "missing_key";
    case Verdict::malformed_key:
      return "malformed_key";
    case Verdict::unknown_key:
      return "unknown_key";
    case Verdict::user_disabled:
      return "user_disabled";
    case Verdict::account_error:
      return "account_error";
    case Verdict::unavailable:
      return "unavailable";
    case Verdict::unverified:
      return "unverified";
  }
  return "unavailable";
}

bool asks_to_wait(Verdict verdict) {
  const int status = status_of(verdict);
  return status == 429 || status == 503;
}

int status_of(Verdict verdict) {
  switch (verdict) {
    case Verdict::allowed:
    case Verdict::unverified:
      return 200;
    case Verdict::limited:
    case Verdict::client_blocked:
      return 429;
    case Verdict::missing_key:
    case Verdict::malformed_key:
    case Verdict::unknown_key:
      return 401;
    case Verdict::user_disabled:
    case Verdict::account_error:
      return 403;
    case Verdict::unavailable:
      return 503;
  }
  return 503;
}

}  // namespace rl::service
