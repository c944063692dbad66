// CircuitBreaker: stops sending work to a dependency that keeps failing, and finds out by
// itself when it is back. Closed (normal) → open after `failure_threshold` failures in a row;
// open answers "don't call" until `cooldown` has passed, then half-open lets `probes` calls
// through; a success closes it, a failure opens it again. Pure: time comes from the injected
// clock; the owner logs and counts transitions through the listener. Not thread-safe: one
// breaker per event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/clock.h"

namespace rl::breaker {

enum class State { closed, open, half_open };

std::string_view to_string(State state);

struct Options {
  int failure_threshold = 5;
  core::Millis cooldown{1000};
  int probes = 1;  // calls allowed at once while half-open
};

class CircuitBreaker {
 public:
  using Listener = std::function<void(State from, State to)>;

  CircuitBreaker(const core::Clock& clock, Options options, Listener listener = {});

  // Whether a call may be made now. In half-open, a true answer reserves a probe slot that
  // the call's on_success/on_failure releases.
  bool allow();
  void on_success();
  void on_failure();
  // A call that proved nothing either way (refused before it was sent, or a read while the
  // question is whether writes work): frees the probe slot it may hold; the state stays.
  void release();

  State state() const { return state_; }
  std::uint64_t transitions() const { return transitions_; }

 private:
  void move_to(State next);

  const core::Clock& clock_;
  Options options_;
  Listener listener_;
  State state_ = State::closed;
  int consecutive_failures_ = 0;
  int probes_in_flight_ = 0;
  core::WallTime opened_at_{};
  std::uint64_t transitions_ = 0;
};

}  // namespace rl::breaker
