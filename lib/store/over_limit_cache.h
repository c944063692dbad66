// OverLimitCache: counters Redis recently refused, so that RedisStore answers a request it
// knows will be refused without a round trip until the refusal's retry time (DESIGN.md §9).
// A refusal says nothing about cheaper requests: each entry keeps the cost that was refused
// and answers only requests of at least that cost, on a limit no higher; peeks (cost 0) and
// requests that could never pass (cost over the limit) are neither cached nor answered here.
// Bounded (BoundedCache). Pure: the caller passes the time. Loop-thread only.
#pragma once

#include <optional>
#include <string_view>

#include "limiter/decision.h"
#include "store/bounded_cache.h"

namespace rl::store {

class OverLimitCache {
 public:
  explicit OverLimitCache(std::size_t capacity) : entries_(capacity) {}

  // The refusal a request of `cost` on `counter` under `quota` is sure to get at `now`.
  std::optional<limiter::Decision> lookup(std::string_view counter, const limiter::Quota& quota,
                                          std::int64_t cost, core::WallTime now);
  // Remembers that Redis refused a request of `cost` on `counter` at `now`.
  void remember(std::string_view counter, std::int64_t cost, const limiter::Decision& refused,
                core::WallTime now);
  // Forgets every counter whose name starts with `prefix` (all of one user's counters).
  void forget_prefix(std::string_view prefix);
  // Drops the refusals that have run out.
  void sweep(core::WallTime now);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    core::WallTime until{};  // refused until then
    core::WallTime reset{};
    std::int64_t limit = 0;     // the limit it was refused under
    std::int64_t min_cost = 1;  // the cost that was refused: cheaper requests may pass
  };
  BoundedCache<Entry> entries_;
};

}  // namespace rl::store
