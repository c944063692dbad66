// Properties every algorithm must keep, checked over many random request streams (fixed seed):
// retry_after is exact, remaining is exact, reset brings the full quota back, a denied request
// changes nothing observable, and a state past expires_at decides like a fresh one.
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "limiter/limiter.h"

namespace {

using rl::core::from_unix_ms;
using rl::core::to_unix_ms;
using rl::limiter::Algorithm;
using rl::limiter::apply;
using rl::limiter::CounterState;
using rl::limiter::Decision;
using rl::limiter::Quota;

constexpr std::int64_t kBase = 1'700'000'000'000;
constexpr int kStreams = 300;

struct Step {
  std::int64_t at_ms;
  std::int64_t cost;
};

struct Stream {
  Quota quota;
  std::vector<Step> steps;
};

// A random quota and request stream. With `backwards`, the clock sometimes steps back.
Stream random_stream(std::mt19937_64& rng, bool backwards) {
  static constexpr std::array<std::int64_t, 9> kLimits = {0, 1, 2, 3, 5, 10, 20, 150, 1000};
  static constexpr std::array<std::int64_t, 6> kWindows = {1, 2, 7, 10, 60, 3600};
  const auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  Stream s;
  s.quota.limit = kLimits[static_cast<std::size_t>(pick(0, kLimits.size() - 1))];
  s.quota.window = rl::core::Seconds{kWindows[static_cast<std::size_t>(pick(0, 5))]};
  const std::int64_t w = s.quota.window.count() * 1000;
  std::int64_t t = kBase + pick(0, 2 * w);
  const int n = static_cast<int>(pick(1, 60));
  for (int i = 0; i < n; ++i) {
    switch (pick(0, 5)) {
      case 0:
        break;  // same millisecond
      case 1:
        t += pick(1, 10);
        break;
      case 2:
        t += pick(0, w / 4);
        break;
      case 3:
        t += pick(0, 3 * w);
        break;
      default:
        t += backwards ? -pick(1, w) : pick(0, w / 20 + 1);
    }
    const std::int64_t cost = pick(0, 9) < 7 ? 1 : pick(0, s.quota.limit + 2);
    s.steps.push_back({t, cost});
  }
  return s;
}

Decision at(CounterState state, Algorithm a, const Quota& q, std::int64_t ms, std::int64_t cost) {
  return apply(state, a, q, from_unix_ms(ms), cost);
}

// For every denied step whose cost fits the limit: the same request passes at now+retry_after
// and not at now+retry_after-1. Returns how many denials were checked; reports the first miss.
int check_retry_after_is_exact(Algorithm algorithm, bool backwards, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  int checked = 0, wrong = 0;
  std::string first_wrong;
  for (int i = 0; i < kStreams; ++i) {
    const Stream s = random_stream(rng, backwards);
    CounterState state;
    std::string history;
    for (const Step& step : s.steps) {
      history += " " + std::to_string(step.at_ms - kBase) + "/" + std::to_string(step.cost);
      const Decision d = apply(state, algorithm, s.quota, from_unix_ms(step.at_ms), step.cost);
      if (d.allowed) {
        CHECK(d.retry_after.count() == 0);
        continue;
      }
      const std::int64_t retry = d.retry_after.count();
      CHECK(retry >= 1);
      if (std::max<std::int64_t>(step.cost, 1) > s.quota.limit) {
        CHECK(retry == s.quota.window.count() * 1000);
        continue;
      }
      ++checked;
      const bool passes_then = at(state, algorithm, s.quota, step.at_ms + retry, step.cost).allowed;
      const bool passes_before =
          at(state, algorithm, s.quota, step.at_ms + retry - 1, step.cost).allowed;
      if (passes_then && !passes_before) continue;
      if (wrong++ == 0) {
        first_wrong = "limit " + std::to_string(s.quota.limit) + ", window " +
                      std::to_string(s.quota.window.count()) + " s, steps (ms after " +
                      std::to_string(kBase) + "/cost):" + history + "; retry_after " +
                      std::to_string(retry) + (passes_then ? " is too long" : " is too short");
      }
    }
  }
  INFO("first counterexample: ", first_wrong);
  CHECK(wrong == 0);
  return checked;
}

// After every step: exactly `remaining` requests of cost 1 pass at the same instant.
void check_remaining_is_exact(Algorithm algorithm, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kStreams; ++i) {
    const Stream s = random_stream(rng, false);
    CounterState state;
    for (const Step& step : s.steps) {
      const Decision d = apply(state, algorithm, s.quota, from_unix_ms(step.at_ms), step.cost);
      CHECK(d.remaining >= 0);
      CHECK(d.remaining <= s.quota.limit);
      CounterState probe = state;
      for (std::int64_t k = 0; k < d.remaining; ++k) {
        CHECK(apply(probe, algorithm, s.quota, from_unix_ms(step.at_ms), 1).allowed);
      }
      CHECK_FALSE(apply(probe, algorithm, s.quota, from_unix_ms(step.at_ms), 1).allowed);
    }
  }
}

// After every step: a peek at `reset` finds the whole limit available.
void check_reset_restores_the_full_quota(Algorithm algorithm, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kStreams; ++i) {
    const Stream s = random_stream(rng, false);
    CounterState state;
    for (const Step& step : s.steps) {
      const Decision d = apply(state, algorithm, s.quota, from_unix_ms(step.at_ms), step.cost);
      const std::int64_t reset = to_unix_ms(d.reset);
      CHECK(reset >= step.at_ms);
      CHECK(at(state, algorithm, s.quota, reset, 0).remaining == s.quota.limit);
    }
  }
}

// A denied request leaves nothing a later request could notice.
void check_denials_change_nothing(Algorithm algorithm, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kStreams; ++i) {
    const Stream s = random_stream(rng, false);
    CounterState state;
    for (std::size_t k = 0; k < s.steps.size(); ++k) {
      const CounterState before = state;
      const Step& step = s.steps[k];
      const Decision d = apply(state, algorithm, s.quota, from_unix_ms(step.at_ms), step.cost);
      if (d.allowed || k + 1 == s.steps.size()) continue;
      const Step& next = s.steps[k + 1];
      const Decision with = at(state, algorithm, s.quota, next.at_ms, next.cost);
      const Decision without = at(before, algorithm, s.quota, next.at_ms, next.cost);
      CHECK(with.allowed == without.allowed);
      CHECK(with.remaining == without.remaining);
      CHECK(with.reset == without.reset);
      CHECK(with.retry_after == without.retry_after);
    }
  }
}

// After expires_at(state), the stored state answers exactly like a fresh one.
void check_expired_state_is_fresh(Algorithm algorithm, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kStreams; ++i) {
    const Stream s = random_stream(rng, false);
    CounterState state;
    for (const Step& step : s.steps) {
      (void)apply(state, algorithm, s.quota, from_unix_ms(step.at_ms), step.cost);
    }
    const std::int64_t expiry = to_unix_ms(rl::limiter::expires_at(state, s.quota));
    CHECK(expiry >= s.steps.front().at_ms);
    for (std::int64_t later : {expiry, expiry + 1, expiry + 12'345}) {
      for (std::int64_t cost : {std::int64_t{0}, std::int64_t{1}, s.quota.limit}) {
        const Decision stored = at(state, algorithm, s.quota, later, cost);
        const Decision fresh = at(CounterState{}, algorithm, s.quota, later, cost);
        CAPTURE(later);
        CAPTURE(cost);
        CHECK(stored.allowed == fresh.allowed);
        CHECK(stored.remaining == fresh.remaining);
        CHECK(stored.reset == fresh.reset);
        CHECK(stored.retry_after == fresh.retry_after);
      }
    }
  }
}

}  // namespace

TEST_CASE("fixed window retry_after is exact: the request passes then and not a ms earlier") {
  CHECK(check_retry_after_is_exact(Algorithm::fixed_window, false, 1) > 100);
}

TEST_CASE("sliding window retry_after is exact: the request passes then and not a ms earlier") {
  CHECK(check_retry_after_is_exact(Algorithm::sliding_window, false, 2) > 100);
}

TEST_CASE("token bucket retry_after is exact: the request passes then and not a ms earlier") {
  CHECK(check_retry_after_is_exact(Algorithm::token_bucket, false, 3) > 100);
}

TEST_CASE("fixed window retry_after stays exact when the clock steps backwards") {
  CHECK(check_retry_after_is_exact(Algorithm::fixed_window, true, 4) > 100);
}

TEST_CASE("sliding window retry_after stays exact when the clock steps backwards") {
  CHECK(check_retry_after_is_exact(Algorithm::sliding_window, true, 5) > 100);
}

TEST_CASE("token bucket retry_after stays exact when the clock steps backwards") {
  CHECK(check_retry_after_is_exact(Algorithm::token_bucket, true, 6) > 100);
}

TEST_CASE("fixed window remaining is exactly how many cost-1 requests pass right now") {
  check_remaining_is_exact(Algorithm::fixed_window, 7);
}

TEST_CASE("sliding window remaining is exactly how many cost-1 requests pass right now") {
  check_remaining_is_exact(Algorithm::sliding_window, 8);
}

TEST_CASE("token bucket remaining is exactly how many cost-1 requests pass right now") {
  check_remaining_is_exact(Algorithm::token_bucket, 9);
}

TEST_CASE("fixed window reset is a time at which the whole limit is available") {
  check_reset_restores_the_full_quota(Algorithm::fixed_window, 10);
}

TEST_CASE("sliding window reset is a time at which the whole limit is available") {
  check_reset_restores_the_full_quota(Algorithm::sliding_window, 11);
}

TEST_CASE("token bucket reset is a time at which the whole limit is available") {
  check_reset_restores_the_full_quota(Algorithm::token_bucket, 12);
}

TEST_CASE("fixed window denials change nothing a later request can observe") {
  check_denials_change_nothing(Algorithm::fixed_window, 13);
}

TEST_CASE("sliding window denials change nothing a later request can observe") {
  check_denials_change_nothing(Algorithm::sliding_window, 14);
}

TEST_CASE("token bucket denials change nothing a later request can observe") {
  check_denials_change_nothing(Algorithm::token_bucket, 15);
}

TEST_CASE("fixed window state past expires_at decides like a fresh one") {
  check_expired_state_is_fresh(Algorithm::fixed_window, 16);
}

TEST_CASE("sliding window state past expires_at decides like a fresh one") {
  check_expired_state_is_fresh(Algorithm::sliding_window, 17);
}

TEST_CASE("token bucket state past expires_at decides like a fresh one") {
  check_expired_state_is_fresh(Algorithm::token_bucket, 18);
}
