// HealthService: the system health state (NORMAL/DEGRADED) as the hot path sees it — a cached
// copy, at most `cache` old, refreshed in the background so no request waits for it — and the
// one place it is changed, which logs `health_changed` and updates the metrics. A state with a
// TTL falls back to NORMAL when it expires. Loop-thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "obs/logger.h"
#include "obs/metrics.h"
#include "store/directory.h"

namespace rl::service {

class HealthService {
 public:
  // With several workers, each has its own HealthService and only one `reports` changes (log
  // line, counter, gauge): they all see the same changes.
  HealthService(store::Directory& directory, const core::Clock& clock, obs::Logger& log,
                obs::Registry& metrics, core::Seconds cache, bool reports = true);

  policy::HealthState current();
  void get(store::Callback<store::HealthRecord> done);
  void set(store::HealthRecord record, store::Callback<store::HealthRecord> done);
  void set_cache(core::Seconds cache) { cache_ = cache; }
  // Runs after each successful set(), and when a worker that does not report changes notices
  // one (a TTL that expired, a read): sibling workers cache the state too, and should not wait
  // for their cache to expire, their own traffic, or the store's event to come round.
  void set_change_listener(std::function<void()> listener) { on_change_ = std::move(listener); }
  // Reads the stored state now (at start-up, and when told it changed); called while a read
  // is on its way, reads once more after it.
  void refresh();

 private:
  // Caches `record`; a change of state is reported here, or the siblings told of it.
  void apply(const store::HealthRecord& record, bool tell_siblings);
  void report(const store::HealthRecord& record);  // the health_changed line and counter
  void cache(const store::HealthRecord& record);   // cached_ and the gauge's copy of it
  // Wraps `done` so that a fresh record read or written is cached first.
  store::Callback<store::HealthRecord> adopt(store::Callback<store::HealthRecord> done,
                                             bool tell_siblings);

  store::Directory& directory_;
  const core::Clock& clock_;
  obs::Logger& log_;
  obs::Counter& changes_;
  core::Seconds cache_;
  const bool reports_;
  std::function<void()> on_change_;
  store::HealthRecord cached_;
  core::WallTime fetched_at_{};
  bool refreshing_ = false;
  bool refresh_again_ = false;  // refresh() was called while a read was on its way
  std::uint64_t adopted_ = 0;   // records adopted from get() and set(), counted
  bool read_failing_ = false;   // logged once per outage, not per request
  // cached_ for rl_health_state, which other threads read.
  std::atomic<bool> degraded_{false};
  std::atomic<std::int64_t> expires_ms_{0};  // 0: no expiry
};

}  // namespace rl::service
