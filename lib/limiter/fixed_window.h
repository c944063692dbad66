// Fixed window: one counter per epoch-aligned window of `window` seconds. Simple and cheap; a
// client can get up to twice the limit across a window boundary, which sliding_window avoids.
#pragma once

#include "limiter/decision.h"

namespace rl::limiter {

struct FixedWindowState {
  std::int64_t window_start_ms = 0;
  std::int64_t count = 0;
};

// Consumes `cost` requests (0 only asks whether one more would pass) if they fit.
Decision fixed_window(FixedWindowState& state, const Quota& quota, core::WallTime now,
                      std::int64_t cost);
core::WallTime expires_at(const FixedWindowState& state, const Quota& quota);

}  // namespace rl::limiter
