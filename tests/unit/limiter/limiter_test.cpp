// Tests of limiter/limiter.h (apply and expires_at over the CounterState variant), algorithm
// names (limiter/algorithm.h) and the representable-quota bound (limiter/decision.h).
#include "limiter/limiter.h"

#include <doctest/doctest.h>

#include "support/common.h"

namespace {

using rl::core::from_unix_ms;
using rl::core::Seconds;
using rl::core::to_unix_ms;
using rl::limiter::Algorithm;
using rl::limiter::apply;
using rl::limiter::CounterState;
using rl::limiter::Quota;

using rl::test::kWindowStart;
constexpr Quota kQuota{2, Seconds{60}};

// Hides a value from the constant folder, so overflow is tested at run time.
std::int64_t opaque(std::int64_t v) {
  volatile std::int64_t copy = v;
  return copy;
}

}  // namespace

TEST_CASE("apply runs the algorithm it is asked for") {
  CounterState fixed, sliding, bucket;
  (void)apply(fixed, Algorithm::fixed_window, kQuota, from_unix_ms(kWindowStart + 10), 1);
  (void)apply(sliding, Algorithm::sliding_window, kQuota, from_unix_ms(kWindowStart + 10), 1);
  (void)apply(bucket, Algorithm::token_bucket, kQuota, from_unix_ms(kWindowStart + 10), 1);
  CHECK(std::holds_alternative<rl::limiter::FixedWindowState>(fixed));
  CHECK(std::holds_alternative<rl::limiter::SlidingWindowState>(sliding));
  CHECK(std::holds_alternative<rl::limiter::TokenBucketState>(bucket));
  // The three differ in what they report as reset for the same request.
  CHECK(to_unix_ms(apply(fixed, Algorithm::fixed_window, kQuota, from_unix_ms(kWindowStart + 10), 0)
                       .reset) == kWindowStart + 60'000);
  CHECK(to_unix_ms(
            apply(sliding, Algorithm::sliding_window, kQuota, from_unix_ms(kWindowStart + 10), 0)
                .reset) == kWindowStart + 120'000);
  CHECK(
      to_unix_ms(apply(bucket, Algorithm::token_bucket, kQuota, from_unix_ms(kWindowStart + 10), 0)
                     .reset) == kWindowStart + 10 + 30'000);
}

TEST_CASE("apply keeps the state of the same algorithm between calls") {
  for (Algorithm a :
       {Algorithm::fixed_window, Algorithm::sliding_window, Algorithm::token_bucket}) {
    CounterState state;
    CHECK(apply(state, a, kQuota, from_unix_ms(kWindowStart), 1).allowed);
    CHECK(apply(state, a, kQuota, from_unix_ms(kWindowStart), 1).allowed);
    CHECK_FALSE(apply(state, a, kQuota, from_unix_ms(kWindowStart), 1).allowed);
  }
}

TEST_CASE("apply starts afresh on a state left by another algorithm") {
  for (Algorithm from :
       {Algorithm::fixed_window, Algorithm::sliding_window, Algorithm::token_bucket}) {
    for (Algorithm to :
         {Algorithm::fixed_window, Algorithm::sliding_window, Algorithm::token_bucket}) {
      if (from == to) continue;
      CounterState state;
      CHECK(apply(state, from, kQuota, from_unix_ms(kWindowStart), 2).allowed);
      const auto d = apply(state, to, kQuota, from_unix_ms(kWindowStart), 0);
      CHECK(d.allowed);
      CHECK(d.remaining == 2);
    }
  }
}

TEST_CASE("expires_at follows the algorithm of the stored state") {
  CounterState fixed = rl::limiter::FixedWindowState{kWindowStart, 1};
  CounterState sliding = rl::limiter::SlidingWindowState{kWindowStart, 1, 0};
  CounterState bucket = rl::limiter::TokenBucketState{2 * 60'000 - 1'000, kWindowStart};
  CHECK(to_unix_ms(rl::limiter::expires_at(fixed, kQuota)) == kWindowStart + 60'000);
  CHECK(to_unix_ms(rl::limiter::expires_at(sliding, kQuota)) == kWindowStart + 120'000);
  CHECK(to_unix_ms(rl::limiter::expires_at(bucket, kQuota)) == kWindowStart + 500);
}

TEST_CASE("algorithm names round-trip and nothing else parses") {
  for (Algorithm a :
       {Algorithm::fixed_window, Algorithm::sliding_window, Algorithm::token_bucket}) {
    CHECK(rl::limiter::parse_algorithm(rl::limiter::to_string(a)) == a);
  }
  CHECK(rl::limiter::to_string(Algorithm::sliding_window) == "sliding_window");
  CHECK(rl::limiter::to_string(Algorithm::fixed_window) == "fixed_window");
  CHECK(rl::limiter::to_string(Algorithm::token_bucket) == "token_bucket");
  CHECK_FALSE(rl::limiter::parse_algorithm("Sliding_Window"));
  CHECK_FALSE(rl::limiter::parse_algorithm("gcra"));
  CHECK_FALSE(rl::limiter::parse_algorithm(""));
  CHECK_FALSE(rl::limiter::parse_algorithm("token_bucket "));
}

TEST_CASE("a quota is representable up to limit x window = 2^50 ms and not beyond") {
  using rl::limiter::is_representable;
  using rl::limiter::kMaxLimitTimesWindowMs;
  CHECK(is_representable(Quota{0, Seconds{60}}));
  CHECK(is_representable(Quota{1000, Seconds{60}}));
  const std::int64_t max_limit = kMaxLimitTimesWindowMs / 60'000;
  CHECK(is_representable(Quota{max_limit, Seconds{60}}));
  CHECK_FALSE(is_representable(Quota{max_limit + 1, Seconds{60}}));
  CHECK(is_representable(Quota{1, Seconds{rl::limiter::kMaxWindowSeconds}}));
  CHECK_FALSE(is_representable(Quota{1, Seconds{rl::limiter::kMaxWindowSeconds + 1}}));
}

TEST_CASE("a quota with a negative limit or a window under one second is not representable") {
  using rl::limiter::is_representable;
  CHECK_FALSE(is_representable(Quota{-1, Seconds{60}}));
  CHECK_FALSE(is_representable(Quota{10, Seconds{0}}));
  CHECK_FALSE(is_representable(Quota{10, Seconds{-60}}));
}

TEST_CASE("a quota whose window in ms overflows 64 bits is not representable") {
  // 18446744073709552 s x 1000 = 2^64 + 384: the product wraps to a small positive number.
  CHECK_FALSE(rl::limiter::is_representable(Quota{10, Seconds{opaque(18'446'744'073'709'552)}}));
  CHECK_FALSE(rl::limiter::is_representable(Quota{10, Seconds{opaque(INT64_MAX / 1000 + 1)}}));
}

TEST_CASE("a quota with limit 0 still needs a window the limiter can add to a time") {
  // 9e15 s is 9e18 ms: expires_at of a sliding window adds 2 x 9e18 ms and overflows, and no
  // double holds such times exactly for the Lua twins. The window needs a bound of its own.
  CHECK_FALSE(rl::limiter::is_representable(Quota{0, Seconds{opaque(9'000'000'000'000'000)}}));
}
