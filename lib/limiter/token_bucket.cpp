// Token-bucket arithmetic in scaled integers; lua/token_bucket.lua is its twin and must give
// the same answers. A clock that steps backwards refills nothing and never double-refills.
#include "limiter/token_bucket.h"

#include <algorithm>

namespace rl::limiter {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a <= 0 ? 0 : (a + b - 1) / b;
}

}  // namespace

Decision token_bucket(TokenBucketState& state, const Quota& quota, core::WallTime now,
                      std::int64_t cost) {
  const std::int64_t w = quota.window.count() * 1000;
  const std::int64_t t = core::to_unix_ms(now);
  const std::int64_t limit = quota.limit;
  const std::int64_t capacity = limit * w;

  std::int64_t tokens = capacity;
  if (state.updated_ms != TokenBucketState::kNever) {
    const std::int64_t elapsed = std::clamp<std::int64_t>(t - state.updated_ms, 0, w);
    tokens = std::min(capacity, state.tokens + elapsed * limit);
  }

  Decision d;
  d.limit = limit;
  const std::int64_t need = std::max<std::int64_t>(cost, 1);
  d.allowed = need <= limit && tokens >= need * w;
  if (d.allowed && cost > 0) tokens -= cost * w;
  state.tokens = tokens;
  state.updated_ms = std::max(state.updated_ms, t);

  // Refill resumes from the last update, later than t when the clock stepped backwards.
  const std::int64_t from = state.updated_ms;
  d.remaining = tokens / w;
  d.used = ceil_div(capacity - tokens, w);
  if (limit == 0) {
    d.reset = core::from_unix_ms(t + w);
  } else {
    d.reset = core::from_unix_ms(from + ceil_div(capacity - tokens, limit));
  }
  if (!d.allowed) {
    d.retry_after =
        core::Millis{need <= limit ? (from - t) + ceil_div(need * w - tokens, limit) : w};
  }
  return d;
}

core::WallTime expires_at(const TokenBucketState& state, const Quota& quota) {
  const std::int64_t w = quota.window.count() * 1000;
  if (quota.limit == 0) return core::from_unix_ms(state.updated_ms + w);
  const std::int64_t missing = quota.limit * w - state.tokens;
  return core::from_unix_ms(state.updated_ms + ceil_div(missing, quota.limit));
}

}  // namespace rl::limiter
