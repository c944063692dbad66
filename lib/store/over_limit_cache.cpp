// The over-limit cache's rules: what a refusal proves about later requests.
#include "store/over_limit_cache.h"

namespace rl::store {

std::optional<limiter::Decision> OverLimitCache::lookup(std::string_view counter,
                                                        const limiter::Quota& quota,
                                                        std::int64_t cost, core::WallTime now) {
  if (cost <= 0) return std::nullopt;  // a peek is always answered by Redis
  Entry* e = entries_.find(counter);
  if (e == nullptr) return std::nullopt;
  if (e->until <= now || quota.limit > e->limit) {
    entries_.erase(counter);  // run out, or the limit was raised: the refusal proves nothing
    return std::nullopt;
  }
  if (cost < e->min_cost) return std::nullopt;
  limiter::Decision d;
  d.limit = quota.limit;
  d.used = quota.limit;
  d.reset = e->reset;
  d.retry_after = std::chrono::duration_cast<core::Millis>(e->until - now);
  return d;
}

void OverLimitCache::remember(std::string_view counter, std::int64_t cost,
                              const limiter::Decision& refused, core::WallTime now) {
  // A refused peek consumed nothing, and a cost over the limit is refused whatever the count
  // (its retry time is only "a window"): neither says anything about the next request.
  if (refused.allowed || cost <= 0 || cost > refused.limit) return;
  if (refused.retry_after.count() <= 0) return;
  entries_.put(counter, Entry{now + refused.retry_after, refused.reset, refused.limit, cost});
}

void OverLimitCache::forget_prefix(std::string_view prefix) {
  entries_.erase_if(
      [prefix](const std::string& counter, const Entry&) { return counter.starts_with(prefix); });
}

void OverLimitCache::sweep(core::WallTime now) {
  entries_.erase_if([now](const std::string&, const Entry& e) { return e.until <= now; });
}

}  // namespace rl::store
