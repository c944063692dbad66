// Clock: where limiter and service code get the time. Wall-clock milliseconds since the Unix
// epoch, because windows are aligned to the epoch so that every instance (and Redis, which
// supplies its own TIME) agrees on them. Tests inject a ManualClock; nothing reads time globally.
#pragma once

#include <atomic>
#include <chrono>

namespace rl::core {

using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;
using WallTime = std::chrono::sys_time<Millis>;

inline std::int64_t to_unix_ms(WallTime t) {
  return t.time_since_epoch().count();
}
inline WallTime from_unix_ms(std::int64_t ms) {
  return WallTime{Millis{ms}};
}
// Whole seconds since the epoch, rounded up: a reset "at" 12.001 s has not happened at 12 s.
inline std::int64_t to_unix_seconds_ceil(WallTime t) {
  const std::int64_t ms = to_unix_ms(t);
  return ms >= 0 ? (ms + 999) / 1000 : ms / 1000;
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime now() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime now() const override {
    return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told to; safe to read from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = from_unix_ms(1'700'000'000'000)) : ms_(to_unix_ms(start)) {}
  WallTime now() const override { return from_unix_ms(ms_.load(std::memory_order_relaxed)); }
  void set(WallTime t) { ms_.store(to_unix_ms(t), std::memory_order_relaxed); }
  void advance(Millis d) { ms_.fetch_add(d.count(), std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace rl::core
