// Tests of core/clock.h: epoch-millisecond conversions, rounding a reset time up to whole
// seconds, and the ManualClock that unit tests inject.
#include "core/clock.h"

#include <doctest/doctest.h>

using rl::core::from_unix_ms;
using rl::core::ManualClock;
using rl::core::Millis;
using rl::core::to_unix_ms;
using rl::core::to_unix_seconds_ceil;

TEST_CASE("epoch milliseconds round-trip through WallTime") {
  for (std::int64_t ms :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{1'700'000'000'123}}) {
    CHECK(to_unix_ms(from_unix_ms(ms)) == ms);
  }
}

TEST_CASE("to_unix_seconds_ceil rounds a time up to the next whole second") {
  CHECK(to_unix_seconds_ceil(from_unix_ms(0)) == 0);
  CHECK(to_unix_seconds_ceil(from_unix_ms(1)) == 1);
  CHECK(to_unix_seconds_ceil(from_unix_ms(12'000)) == 12);
  CHECK(to_unix_seconds_ceil(from_unix_ms(12'001)) == 13);
  CHECK(to_unix_seconds_ceil(from_unix_ms(12'999)) == 13);
  CHECK(to_unix_seconds_ceil(from_unix_ms(1'700'000'059'999)) == 1'700'000'060);
}

TEST_CASE("to_unix_seconds_ceil rounds times before the epoch up too") {
  CHECK(to_unix_seconds_ceil(from_unix_ms(-1)) == 0);
  CHECK(to_unix_seconds_ceil(from_unix_ms(-999)) == 0);
  CHECK(to_unix_seconds_ceil(from_unix_ms(-1000)) == -1);
  CHECK(to_unix_seconds_ceil(from_unix_ms(-1500)) == -1);
}

TEST_CASE("a ManualClock starts at a fixed time by default") {
  const ManualClock clock;
  CHECK(to_unix_ms(clock.now()) == 1'700'000'000'000);
  CHECK(to_unix_ms(ManualClock(from_unix_ms(42)).now()) == 42);
}

TEST_CASE("a ManualClock moves only when told to") {
  ManualClock clock(from_unix_ms(1'000));
  CHECK(clock.now() == clock.now());
  clock.advance(Millis{250});
  CHECK(to_unix_ms(clock.now()) == 1'250);
  clock.advance(rl::core::Seconds{2});
  CHECK(to_unix_ms(clock.now()) == 3'250);
  clock.set(from_unix_ms(500));  // may also go backwards, to test clock steps
  CHECK(to_unix_ms(clock.now()) == 500);
}

TEST_CASE("a ManualClock serves as a Clock") {
  ManualClock manual(from_unix_ms(7));
  const rl::core::Clock& clock = manual;
  manual.advance(Millis{3});
  CHECK(to_unix_ms(clock.now()) == 10);
}
