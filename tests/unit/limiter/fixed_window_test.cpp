// Focused tests of limiter/fixed_window.h: epoch-aligned windows, the boundary burst it allows,
// cost handling and expires_at.
#include "limiter/fixed_window.h"

#include <doctest/doctest.h>

#include "support/common.h"

namespace {

using rl::core::from_unix_ms;
using rl::core::to_unix_ms;
using rl::limiter::fixed_window;
using rl::limiter::FixedWindowState;
using rl::limiter::Quota;

using rl::test::kWindowStart;
constexpr Quota kFree{20, rl::core::Seconds{60}};

}  // namespace

TEST_CASE("fixed window admits exactly the limit within one window") {
  FixedWindowState state;
  for (int i = 0; i < 20; ++i) {
    const auto d = fixed_window(state, kFree, from_unix_ms(kWindowStart + 30'000 + i), 1);
    CHECK(d.allowed);
    CHECK(d.remaining == 19 - i);
  }
  const auto denied = fixed_window(state, kFree, from_unix_ms(kWindowStart + 59'999), 1);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after.count() == 1);
}

TEST_CASE("fixed window can admit twice the limit across a window boundary") {
  FixedWindowState state;
  int admitted = 0;
  for (int i = 0; i < 25; ++i) {
    admitted += fixed_window(state, kFree, from_unix_ms(kWindowStart + 59'999), 1).allowed;
  }
  for (int i = 0; i < 25; ++i) {
    admitted += fixed_window(state, kFree, from_unix_ms(kWindowStart + 60'000), 1).allowed;
  }
  CHECK(admitted == 40);
}

TEST_CASE("fixed window aligns windows to the epoch, not to the first request") {
  FixedWindowState state;
  const auto d = fixed_window(state, kFree, from_unix_ms(kWindowStart + 45'678), 1);
  CHECK(state.window_start_ms == kWindowStart);
  CHECK(to_unix_ms(d.reset) == kWindowStart + 60'000);
}

TEST_CASE("fixed window cost 0 never changes the count") {
  FixedWindowState state;
  for (int i = 0; i < 100; ++i) {
    CHECK(fixed_window(state, kFree, from_unix_ms(kWindowStart + i), 0).allowed);
  }
  CHECK(state.count == 0);
}

TEST_CASE("fixed window expires_at is the end of the stored window") {
  FixedWindowState state;
  (void)fixed_window(state, kFree, from_unix_ms(kWindowStart + 12'345), 3);
  CHECK(to_unix_ms(rl::limiter::expires_at(state, kFree)) == kWindowStart + 60'000);
}

TEST_CASE("fixed window counts a cost above 1 in full against the limit") {
  FixedWindowState state;
  CHECK(fixed_window(state, kFree, from_unix_ms(kWindowStart), 19).allowed);
  CHECK_FALSE(fixed_window(state, kFree, from_unix_ms(kWindowStart), 2).allowed);
  CHECK(fixed_window(state, kFree, from_unix_ms(kWindowStart), 1).allowed);
  CHECK(state.count == 20);
}
