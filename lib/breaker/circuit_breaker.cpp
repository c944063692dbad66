// The breaker's state machine.
#include "breaker/circuit_breaker.h"

namespace rl::breaker {

std::string_view to_string(State state) {
  switch (state) {
    case State::closed:
      return "closed";
    case State::open:
      return "open";
    case State::half_open:
      return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(const core::Clock& clock, Options options, Listener listener)
    : clock_(clock), options_(options), listener_(std::move(listener)) {}

void CircuitBreaker::move_to(State next) {
  if (next == state_) return;
  const State from = state_;
  state_ = next;
  ++transitions_;
  if (next == State::open) opened_at_ = clock_.now();
  if (next != State::half_open) probes_in_flight_ = 0;
  if (next == State::closed) consecutive_failures_ = 0;
  if (listener_) listener_(from, next);
}

bool CircuitBreaker::allow() {
  if (state_ == State::closed) return true;
  if (state_ == State::open) {
    if (clock_.now() - opened_at_ < options_.cooldown) return false;
    move_to(State::half_open);
  }
  if (probes_in_flight_ >= options_.probes) return false;
  ++probes_in_flight_;
  return true;
}

void CircuitBreaker::on_success() {
  if (state_ == State::half_open) {
    move_to(State::closed);
    return;
  }
  consecutive_failures_ = 0;
}

void CircuitBreaker::release() {
  if (state_ == State::half_open && probes_in_flight_ > 0) --probes_in_flight_;
}

void CircuitBreaker::on_failure() {
  if (state_ == State::half_open) {
    move_to(State::open);
    return;
  }
  if (state_ == State::open) return;
  if (++consecutive_failures_ >= options_.failure_threshold) move_to(State::open);
}

}  // namespace rl::breaker
