// ServiceNotifier: when rld tells systemd what it is doing. READY=1 once every worker serves
// from the configured store (or, if the store is still unreachable after kReadyWait, with a
// status saying the failure policy answers: a rate limiter that waits for Redis to start would
// take the service down with it); RELOADING=1 ... READY=1 around a reload; STOPPING=1 at the
// drain; WATCHDOG=1 only while every worker's loop still turns (a round trip through each
// worker's mailbox since the last ping). Main thread only; its timers live on the main loop.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <uv.h>

#include "apps/rld/service_manager.h"
#include "obs/logger.h"

namespace rl::rld {

class ServiceNotifier {
 public:
  static constexpr std::chrono::milliseconds kReadyWait{5000};

  // Returns "" when every worker serves from the store, else why not.
  using NotReady = std::function<std::string()>;
  // Calls `turned` on the main loop once every worker's loop has run a job posted now.
  using RoundTrip = std::function<void(std::function<void()> turned)>;

  ServiceNotifier(uv_loop_t* loop, const ServiceManager& manager, obs::Logger& log);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // After the workers started: READY=1 when they serve, then the watchdog pings.
  void start(NotReady not_ready, RoundTrip round_trip, std::string serving);
  void reloading();
  void reloaded(std::string_view outcome);
  void stopping();
  // Closes the timers (the main loop is ending).
  void close();

 private:
  void check_ready();
  void on_watchdog_tick();

  uv_loop_t* loop_;
  const ServiceManager& manager_;
  obs::Logger& log_;
  NotReady not_ready_;
  RoundTrip round_trip_;
  std::string serving_;  // status line while serving
  uv_timer_t ready_timer_{};
  uv_timer_t watchdog_timer_{};
  std::chrono::steady_clock::time_point started_;
  bool ready_sent_ = false;
  bool round_pending_ = false;  // a round trip not yet back: some worker is stuck
  bool late_logged_ = false;
};

}  // namespace rl::rld
