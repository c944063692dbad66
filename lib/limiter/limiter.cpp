// Dispatch from Algorithm to the algorithm's function.
#include "limiter/limiter.h"

namespace rl::limiter {

Decision apply(CounterState& state, Algorithm algorithm, const Quota& quota, core::WallTime now,
               std::int64_t cost) {
  switch (algorithm) {
    case Algorithm::fixed_window:
      if (!std::holds_alternative<FixedWindowState>(state)) state = FixedWindowState{};
      return fixed_window(std::get<FixedWindowState>(state), quota, now, cost);
    case Algorithm::token_bucket:
      if (!std::holds_alternative<TokenBucketState>(state)) state = TokenBucketState{};
      return token_bucket(std::get<TokenBucketState>(state), quota, now, cost);
    case Algorithm::sliding_window:
      break;
  }
  if (!std::holds_alternative<SlidingWindowState>(state)) state = SlidingWindowState{};
  return sliding_window(std::get<SlidingWindowState>(state), quota, now, cost);
}

core::WallTime expires_at(const CounterState& state, const Quota& quota) {
  return std::visit([&](const auto& s) { return limiter::expires_at(s, quota); }, state);
}

}  // namespace rl::limiter
