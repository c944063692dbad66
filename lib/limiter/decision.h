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

// Windows are at most a leap year long, so window arithmetic on epoch times never overflows.
inline constexpr std::int64_t kMaxWindowSeconds = 366LL * 86400;

constexpr bool is_representable(const Quota& q) {
  if (q.window.count() < 1 || q.window.count() > kMaxWindowSeconds || q.limit < 0) return false;
  return q.limit <= kMaxLimitTimesWindowMs / (q.window.count() * 1000);
}

struct Decision {
  bool allowed = false;
  std::int64_t limit = 0;
  std::int64_t remaining = 0;   // requests of cost 1 that would pass right now
  std::int64_t used = 0;        // requests counted against the window now, rounded up; may
                                // exceed limit after the limit was lowered (DEGRADED)
  core::WallTime reset{};       // when the full quota is available again
  core::Millis retry_after{0};  // denied: wait this long and the same request passes; else 0
};

}  // namespace rl::limiter
