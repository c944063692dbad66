// Classifying Redis outcomes: endpoint failures against error replies.
#include "store/redis_errors.h"

#include <string>

namespace rl::store {
namespace {

// Error replies by which a reachable server says it cannot serve now.
bool unavailable_reply(std::string_view text) {
  for (std::string_view code : {"BUSY", "LOADING", "OOM", "READONLY", "MASTERDOWN", "CLUSTERDOWN",
                                "TRYAGAIN", "NOREPLICAS", "NOAUTH", "MISCONF"}) {
    if (text.starts_with(code)) return true;
  }
  return false;
}

constexpr std::size_t kMaxErrorText = 200;  // Redis' message, never the command's arguments

}  // namespace

bool endpoint_failure(const RedisResult& r) {
  if (!r) return r.error().code != core::Errc::overloaded;
  return redis::is_error(**r) && unavailable_reply(redis::text(**r));
}

bool note_outcome(breaker::CircuitBreaker& breaker, const RedisResult& r, bool repeated,
                  Call call) {
  if (endpoint_failure(r)) {
    if (r || !repeated || breaker.state() == breaker::State::half_open) breaker.on_failure();
    return false;
  }
  if (!r) {  // refused here: Redis was not asked
    breaker.release();
    return false;
  }
  // A reply, even an error reply: Redis is there (and, after a script call, takes writes).
  if (call == Call::writes) {
    breaker.on_success();
  } else {
    breaker.release();
  }
  return true;
}

core::Error error_of_reply(std::string_view text) {
  const std::string message = "Redis replied: " + std::string(text.substr(0, kMaxErrorText));
  return core::make_error(unavailable_reply(text) ? core::Errc::unavailable : core::Errc::internal,
                          message);
}

std::optional<core::Error> reply_error(const RedisResult& r) {
  if (!r) return r.error();
  if (redis::is_error(**r)) return error_of_reply(redis::text(**r));
  return std::nullopt;
}

}  // namespace rl::store
