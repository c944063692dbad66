// Focused tests of limiter/sliding_window.h: the exact burst within one window, the bound on
// what it admits across a boundary, forgetting old windows, and expires_at.
#include "limiter/sliding_window.h"

#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "support/common.h"

namespace {

using rl::core::from_unix_ms;
using rl::core::to_unix_ms;
using rl::limiter::Quota;
using rl::limiter::sliding_window;
using rl::limiter::SlidingWindowState;

using rl::test::kWindowStart;
constexpr Quota kPro{150, rl::core::Seconds{60}};

}  // namespace

TEST_CASE("sliding window admits exactly the limit within one window") {
  for (std::int64_t offset : {0, 1, 30'000, 59'000}) {
    SlidingWindowState state;
    int admitted = 0;
    for (int i = 0; i < 200; ++i) {
      admitted += sliding_window(state, kPro, from_unix_ms(kWindowStart + offset), 1).allowed;
    }
    CHECK(admitted == 150);
  }
}

TEST_CASE("sliding window never admits more than limit + limit*fraction across a boundary") {
  // After a request admitted at elapsed e of window k: admitted(k-1) + admitted(k) is at most
  // limit + floor(limit * e / W), because the previous window still weighs (W - e) / W.
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    const std::int64_t limit = std::uniform_int_distribution<std::int64_t>(1, 40)(rng);
    const Quota quota{limit, rl::core::Seconds{std::uniform_int_distribution<int>(1, 10)(rng)}};
    const std::int64_t w = quota.window.count() * 1000;
    const std::int64_t start = kWindowStart - kWindowStart % w;
    SlidingWindowState state;
    std::vector<std::int64_t> per_window(8, 0);
    std::int64_t t = start;
    while (t < start + 7 * w) {
      t += std::uniform_int_distribution<std::int64_t>(0, w / limit + 1)(rng);
      if (!sliding_window(state, quota, from_unix_ms(t), 1).allowed) continue;
      const auto k = static_cast<std::size_t>((t - start) / w);
      ++per_window[k];
      const std::int64_t elapsed = (t - start) % w;
      const std::int64_t previous = k == 0 ? 0 : per_window[k - 1];
      CAPTURE(limit);
      CAPTURE(w);
      CAPTURE(elapsed);
      CHECK(previous + per_window[k] <= limit + limit * elapsed / w);
    }
  }
}

TEST_CASE("sliding window forgets a window that is two windows old") {
  const Quota quota{3, rl::core::Seconds{10}};
  SlidingWindowState state;
  CHECK(sliding_window(state, quota, from_unix_ms(kWindowStart + 9'999), 3).allowed);
  const auto d = sliding_window(state, quota, from_unix_ms(kWindowStart + 20'000), 0);
  CHECK(d.allowed);
  CHECK(d.remaining == 3);
  CHECK(state.previous == 0);
}

TEST_CASE("sliding window reports reset two windows after the current window starts") {
  const Quota quota{3, rl::core::Seconds{10}};
  SlidingWindowState state;
  const auto d = sliding_window(state, quota, from_unix_ms(kWindowStart + 4'321), 1);
  CHECK(to_unix_ms(d.reset) == kWindowStart + 20'000);
}

TEST_CASE("sliding window expires_at is two windows after the stored window start") {
  const Quota quota{3, rl::core::Seconds{10}};
  SlidingWindowState state;
  (void)sliding_window(state, quota, from_unix_ms(kWindowStart + 4'321), 1);
  CHECK(to_unix_ms(rl::limiter::expires_at(state, quota)) == kWindowStart + 20'000);
}

TEST_CASE("sliding window cost 0 never changes the counts") {
  const Quota quota{2, rl::core::Seconds{10}};
  SlidingWindowState state;
  CHECK(sliding_window(state, quota, from_unix_ms(kWindowStart + 100), 2).allowed);
  for (int i = 0; i < 30; ++i) {
    (void)sliding_window(state, quota, from_unix_ms(kWindowStart + 100 + i * 1000), 0);
  }
  CHECK(state.current == 0);
  CHECK(state.previous == 0);
}
