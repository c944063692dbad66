// Quota (what is allowed) and Decision (what one request got), shared by every algorithm.
// Units: limits and costs are request counts, windows whole seconds, times epoch milliseconds.
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace rl::limiter {

struct Quota {
  std::int64_t limit = 0;    // requests per window; 0 denies everything
  core::Seconds window{60};  // at least one second
};

// Every algorithm computes in integer milliseconds scaled by the limit; keeping
// limit × window_ms at or below this bound keeps the Lua twins (doubles) exact too.
inline constexpr std::int64_t kMaxLimitTimesWindowMs = std::int64_t{1} << 50;

constexpr bool is_representable(const Quota& q) {
  const std::int64_t window_ms = q.window.count() * 1000;
  return q.limit >= 0 && q.window.count() >= 1 && window_ms > 0 &&
         (q.limit == 0 || q.limit <= kMaxLimitTimesWindowMs / window_ms);
}

struct Decision {
  bool allowed = false;
  std::int64_t limit = 0;
  std::int64_t remaining = 0;   // requests of cost 1 that would pass right now
  core::WallTime reset{};       // when the full quota is available again
  core::Millis retry_after{0};  // denied: wait this long and the same request passes; else 0
};

}  // namespace rl::limiter
