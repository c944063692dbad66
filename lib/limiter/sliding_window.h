// Sliding window counter: the count of the current epoch-aligned window plus the previous
// window's count weighted by how much of it still overlaps the sliding window. O(1) memory per
// key, no boundary burst, and exact for a burst inside one window (the reference's "20 then 429").
#pragma once

#include "limiter/decision.h"

namespace rl::limiter {

struct SlidingWindowState {
  std::int64_t window_start_ms = 0;
  std::int64_t current = 0;
  std::int64_t previous = 0;
};

// Consumes `cost` requests (0 only asks whether one more would pass) if they fit.
Decision sliding_window(SlidingWindowState& state, const Quota& quota, core::WallTime now,
                        std::int64_t cost);
core::WallTime expires_at(const SlidingWindowState& state, const Quota& quota);

}  // namespace rl::limiter
