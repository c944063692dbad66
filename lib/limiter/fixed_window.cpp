// Fixed-window arithmetic; lua/fixed_window.lua is its twin and must give the same answers.
#include "limiter/fixed_window.h"

#include <algorithm>

namespace rl::limiter {

Decision fixed_window(FixedWindowState& state, const Quota& quota, core::WallTime now,
                      std::int64_t cost) {
  const std::int64_t w = quota.window.count() * 1000;
  const std::int64_t t = core::to_unix_ms(now);
  const std::int64_t start = t - t % w;
  if (state.window_start_ms != start) state = FixedWindowState{start, 0};

  Decision d;
  d.limit = quota.limit;
  d.reset = core::from_unix_ms(start + w);
  const std::int64_t need = std::max<std::int64_t>(cost, 1);
  d.allowed = need <= quota.limit && state.count <= quota.limit - need;
  if (d.allowed && cost > 0) state.count += cost;
  d.remaining = std::max<std::int64_t>(0, quota.limit - state.count);
  d.used = state.count;
  if (!d.allowed) d.retry_after = core::Millis{need <= quota.limit ? start + w - t : w};
  return d;
}

core::WallTime expires_at(const FixedWindowState& state, const Quota& quota) {
  return core::from_unix_ms(state.window_start_ms + quota.window.count() * 1000);
}

}  // namespace rl::limiter
