// Sliding-window arithmetic in integers: every count is scaled by the window length in ms, so
// "used = current + previous × (W − elapsed) / W" needs no division until remaining is reported.
// lua/sliding_window.lua is its twin and must give the same answers.
#include "limiter/sliding_window.h"

#include <algorithm>

namespace rl::limiter {
namespace {

void roll(SlidingWindowState& s, std::int64_t start, std::int64_t w) {
  if (s.window_start_ms == start) return;
  s.previous = (s.window_start_ms == start - w) ? s.current : 0;
  s.current = 0;
  s.window_start_ms = start;
}

// Milliseconds from `elapsed` (into the current window) until `need` requests fit.
// Precondition: they do not fit now, and need <= limit.
std::int64_t wait_ms(const SlidingWindowState& s, std::int64_t limit, std::int64_t w,
                     std::int64_t elapsed, std::int64_t need) {
  // Later in this window, as the previous window's weight decays.
  const std::int64_t room = (limit - s.current - need) * w;
  if (room >= 0 && s.previous > 0) {
    const std::int64_t at = w - room / s.previous;
    if (at < w) return at - elapsed;
  }
  // In the next window, where today's count becomes the decaying previous one.
  const std::int64_t next_room = (limit - need) * w;
  const std::int64_t at = s.current == 0 ? 0 : std::max<std::int64_t>(0, w - next_room / s.current);
  return (w - elapsed) + at;
}

}  // namespace

Decision sliding_window(SlidingWindowState& state, const Quota& quota, core::WallTime now,
                        std::int64_t cost) {
  const std::int64_t w = quota.window.count() * 1000;
  const std::int64_t t = core::to_unix_ms(now);
  const std::int64_t start = t - t % w;
  roll(state, start, w);
  const std::int64_t elapsed = t - start;
  const std::int64_t capacity = quota.limit * w;
  std::int64_t used = state.current * w + state.previous * (w - elapsed);

  Decision d;
  d.limit = quota.limit;
  const std::int64_t need = std::max<std::int64_t>(cost, 1);
  d.allowed = need <= quota.limit && used + need * w <= capacity;
  if (d.allowed && cost > 0) {
    state.current += cost;
    used += cost * w;
  }
  d.remaining = used >= capacity ? 0 : (capacity - used) / w;
  d.used = (used + w - 1) / w;
  if (state.current > 0) {
    d.reset = core::from_unix_ms(start + 2 * w);
  } else {
    d.reset = core::from_unix_ms(state.previous > 0 ? start + w : t);
  }
  if (!d.allowed) {
    d.retry_after =
        core::Millis{need <= quota.limit ? wait_ms(state, quota.limit, w, elapsed, need) : w};
  }
  return d;
}

core::WallTime expires_at(const SlidingWindowState& state, const Quota& quota) {
  return core::from_unix_ms(state.window_start_ms + 2 * quota.window.count() * 1000);
}

}  // namespace rl::limiter
