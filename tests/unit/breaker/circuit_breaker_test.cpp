// Tests of breaker/circuit_breaker.h: closed → open → half-open → closed on a manual clock.
#include "breaker/circuit_breaker.h"

#include <vector>

#include <doctest/doctest.h>

using rl::breaker::CircuitBreaker;
using rl::breaker::Options;
using rl::breaker::State;
using rl::core::ManualClock;
using rl::core::Millis;

TEST_CASE("the breaker stays closed until failure_threshold failures in a row") {
  ManualClock clock;
  CircuitBreaker b(clock, Options{3, Millis{1000}, 1});
  b.on_failure();
  b.on_failure();
  b.on_success();  // a success in between resets the count
  b.on_failure();
  b.on_failure();
  CHECK(b.state() == State::closed);
  CHECK(b.allow());
  b.on_failure();
  CHECK(b.state() == State::open);
  CHECK_FALSE(b.allow());
}

TEST_CASE("an open breaker lets one probe through after the cooldown and closes on success") {
  ManualClock clock;
  std::vector<std::pair<State, State>> seen;
  CircuitBreaker b(clock, Options{1, Millis{1000}, 1},
                   [&](State from, State to) { seen.emplace_back(from, to); });
  b.on_failure();
  clock.advance(Millis{999});
  CHECK_FALSE(b.allow());
  clock.advance(Millis{1});
  CHECK(b.allow());  // the probe
  CHECK(b.state() == State::half_open);
  CHECK_FALSE(b.allow());  // only one probe at a time
  b.on_success();
  CHECK(b.state() == State::closed);
  CHECK(b.allow());
  CHECK(seen == std::vector<std::pair<State, State>>{{State::closed, State::open},
                                                     {State::open, State::half_open},
                                                     {State::half_open, State::closed}});
  CHECK(b.transitions() == 3);
}

TEST_CASE("a failed probe opens the breaker again for a whole cooldown") {
  ManualClock clock;
  CircuitBreaker b(clock, Options{1, Millis{500}, 1});
  b.on_failure();
  clock.advance(Millis{500});
  REQUIRE(b.allow());
  b.on_failure();
  CHECK(b.state() == State::open);
  clock.advance(Millis{499});
  CHECK_FALSE(b.allow());
  clock.advance(Millis{1});
  CHECK(b.allow());
}

TEST_CASE("late results while open change nothing") {
  ManualClock clock;
  CircuitBreaker b(clock, Options{1, Millis{1000}, 1});
  b.on_failure();
  b.on_success();  // a reply that arrives after the breaker opened
  b.on_failure();
  CHECK(b.state() == State::open);
  CHECK(b.transitions() == 1);
}

TEST_CASE("a released probe slot lets the next call probe, and changes nothing else") {
  ManualClock clock;
  CircuitBreaker b(clock, Options{1, Millis{1000}, 1});
  b.release();  // closed: nothing to free
  CHECK(b.state() == State::closed);
  b.on_failure();
  clock.advance(Millis{1000});
  CHECK(b.allow());
  CHECK_FALSE(b.allow());  // the one probe is out
  b.release();             // it proved nothing
  CHECK(b.state() == State::half_open);
  CHECK(b.allow());
  b.release();
  b.release();  // more releases than probes out: still one probe at a time
  CHECK(b.allow());
  CHECK_FALSE(b.allow());
}
