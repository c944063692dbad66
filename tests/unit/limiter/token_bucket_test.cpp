// Focused tests of limiter/token_bucket.h: a fresh bucket is full, continuous refill, the
// burst-plus-refill bound, and a clock that steps backwards.
#include "limiter/token_bucket.h"

#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace {

using rl::core::from_unix_ms;
using rl::core::to_unix_ms;
using rl::limiter::Quota;
using rl::limiter::token_bucket;
using rl::limiter::TokenBucketState;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr Quota kTenPerTenSeconds{10, rl::core::Seconds{10}};  // one token per second

}  // namespace

TEST_CASE("token bucket starts full") {
  TokenBucketState state;
  const auto d = token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0), 0);
  CHECK(d.allowed);
  CHECK(d.remaining == 10);
  CHECK(to_unix_ms(d.reset) == kT0);
}

TEST_CASE("token bucket refills one token every window/limit milliseconds") {
  TokenBucketState state;
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0), 10).allowed);
  for (int second = 1; second <= 10; ++second) {
    const auto peek =
        token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + second * 1000 - 1), 0);
    CHECK(peek.remaining == second - 1);
    const auto at = token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + second * 1000), 0);
    CHECK(at.remaining == second);
  }
}

TEST_CASE("token bucket never admits more than the limit plus the refill over any interval") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 100; ++round) {
    const std::int64_t limit = std::uniform_int_distribution<std::int64_t>(1, 30)(rng);
    const Quota quota{limit, rl::core::Seconds{std::uniform_int_distribution<int>(1, 10)(rng)}};
    const std::int64_t w = quota.window.count() * 1000;
    TokenBucketState state;
    struct Admitted {
      std::int64_t at, cost;
    };
    std::vector<Admitted> admitted;
    std::int64_t t = kT0;
    for (int i = 0; i < 150; ++i) {
      t += std::uniform_int_distribution<std::int64_t>(0, 2 * w / limit)(rng);
      const std::int64_t cost = std::uniform_int_distribution<std::int64_t>(0, 3)(rng);
      if (token_bucket(state, quota, from_unix_ms(t), cost).allowed) admitted.push_back({t, cost});
    }
    for (std::size_t i = 0; i < admitted.size(); ++i) {
      std::int64_t sum = 0;
      for (std::size_t j = i; j < admitted.size(); ++j) {
        sum += admitted[j].cost;
        const std::int64_t span = admitted[j].at - admitted[i].at;
        CHECK(sum <= limit + limit * span / w);
      }
    }
  }
}

TEST_CASE("token bucket refills nothing while the clock steps backwards") {
  TokenBucketState state;
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 5'000), 10).allowed);
  const auto back = token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 1'000), 0);
  CHECK_FALSE(back.allowed);
  CHECK(back.remaining == 0);
  CHECK(state.updated_ms == kT0 + 5'000);
  // Coming back to the present refills from the last update, not from the earlier reading.
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 5'999), 0).remaining == 0);
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 6'000), 0).remaining == 1);
}

TEST_CASE("token bucket retry_after and reset after a backwards step count from the last update") {
  // Emptied at T0+5 s, then asked at T0+1 s: nothing refills until the clock passes T0+5 s
  // again, so the next token is 1 s after T0+5 s (retry 5 s from now) and the bucket is full
  // 10 s after T0+5 s (reset T0+15 s), not 1 s and 10 s after the earlier reading.
  TokenBucketState state;
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 5'000), 10).allowed);
  const auto back = token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 1'000), 1);
  CHECK_FALSE(back.allowed);
  CHECK(back.retry_after.count() == 5'000);
  CHECK(to_unix_ms(back.reset) == kT0 + 15'000);
}

TEST_CASE("token bucket expires_at is when the bucket is full again") {
  TokenBucketState state;
  CHECK(token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0), 3).allowed);
  CHECK(to_unix_ms(rl::limiter::expires_at(state, kTenPerTenSeconds)) == kT0 + 3'000);
  const auto d = token_bucket(state, kTenPerTenSeconds, from_unix_ms(kT0 + 3'000), 0);
  CHECK(d.remaining == 10);
}
