// ServiceNotifier's two timers: the readiness poll (every 10 ms until READY=1) and the watchdog
// tick (half of WatchdogSec), both on the main loop.
#include "apps/rld/service_notifier.h"

#include <algorithm>

namespace rl::rld {
namespace {

constexpr std::uint64_t kReadyPollMs = 10;

}  // namespace

ServiceNotifier::ServiceNotifier(uv_loop_t* loop, const ServiceManager& manager, obs::Logger& log)
    : loop_(loop), manager_(manager), log_(log) {}

void ServiceNotifier::start(NotReady not_ready, RoundTrip round_trip, std::string serving) {
  not_ready_ = std::move(not_ready);
  round_trip_ = std::move(round_trip);
  serving_ = std::move(serving);
  started_ = std::chrono::steady_clock::now();
  uv_timer_init(loop_, &ready_timer_);
  ready_timer_.data = this;
  uv_timer_start(
      &ready_timer_, [](uv_timer_t* t) { static_cast<ServiceNotifier*>(t->data)->check_ready(); },
      0, kReadyPollMs);
  const auto interval = manager_.watchdog_interval();
  if (interval.count() > 0) {
    uv_timer_init(loop_, &watchdog_timer_);
    watchdog_timer_.data = this;
    const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(interval).count()));
    uv_timer_start(
        &watchdog_timer_,
        [](uv_timer_t* t) { static_cast<ServiceNotifier*>(t->data)->on_watchdog_tick(); }, 0, ms);
    log_.info("watchdog_enabled", {{"interval_ms", static_cast<std::int64_t>(ms)}});
  }
}

void ServiceNotifier::check_ready() {
  const std::string why = not_ready_();
  const bool waited_enough = std::chrono::steady_clock::now() - started_ >= kReadyWait;
  if (!why.empty() && !waited_enough) return;
  uv_timer_stop(&ready_timer_);
  ready_sent_ = true;
  if (why.empty()) {
    manager_.ready(serving_);
    return;
  }
  // Serving anyway: the failure policy answers until the store does.
  manager_.ready(serving_ + "; store not ready (" + why + "): the failure policy answers");
  log_.warn("ready_without_store", {{"reason", why}});
}

void ServiceNotifier::on_watchdog_tick() {
  if (round_pending_) {  // no ping: if this lasts WatchdogSec, systemd restarts rld
    if (!late_logged_) log_.error("watchdog_late", {{"reason", "a worker loop is not turning"}});
    late_logged_ = true;
    return;
  }
  manager_.watchdog();
  late_logged_ = false;
  round_pending_ = true;
  round_trip_([this] { round_pending_ = false; });
}

void ServiceNotifier::reloading() {
  manager_.reloading();
}

void ServiceNotifier::reloaded(std::string_view outcome) {
  if (!ready_sent_) return manager_.status(outcome);  // READY=1 follows from check_ready()
  // READY=1 ends the reload for systemd whatever its outcome: a failed reload keeps serving.
  manager_.ready(serving_ + "; " + std::string(outcome));
}

void ServiceNotifier::stopping() {
  manager_.stopping();
}

void ServiceNotifier::close() {
  for (auto* t : {&ready_timer_, &watchdog_timer_}) {
    auto* h = reinterpret_cast<uv_handle_t*>(t);
    if (h->data != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);
  }
}

}  // namespace rl::rld
