// Token bucket (equivalent to GCRA): a bucket of `limit` tokens refilled continuously at `limit`
// per window; a request takes `cost` tokens. Smooth, allows a full burst after idling.
// Tokens are kept scaled by the window length in ms so the refill (limit per ms) is an integer.
#pragma once

#include <limits>

#include "limiter/decision.h"

namespace rl::limiter {

struct TokenBucketState {
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();
  std::int64_t tokens = 0;  // scaled: one token = window_ms units
  std::int64_t updated_ms = kNever;
};

// Consumes `cost` tokens (0 only asks whether one more would pass) if there are enough.
Decision token_bucket(TokenBucketState& state, const Quota& quota, core::WallTime now,
                      std::int64_t cost);
core::WallTime expires_at(const TokenBucketState& state, const Quota& quota);

}  // namespace rl::limiter
