// One entry point over the three algorithms, for stores that keep a counter per key without
// caring which algorithm it belongs to.
#pragma once

#include <variant>

#include "limiter/algorithm.h"
#include "limiter/fixed_window.h"
#include "limiter/sliding_window.h"
#include "limiter/token_bucket.h"

namespace rl::limiter {

using CounterState = std::variant<SlidingWindowState, FixedWindowState, TokenBucketState>;

// Applies `algorithm` to `state`, first resetting a state that belongs to another algorithm.
Decision apply(CounterState& state, Algorithm algorithm, const Quota& quota, core::WallTime now,
               std::int64_t cost);

// After this time the state is equivalent to a fresh one and may be dropped.
core::WallTime expires_at(const CounterState& state, const Quota& quota);

}  // namespace rl::limiter
