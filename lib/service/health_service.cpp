// Health caching, expiry and change reporting.
#include "service/health_service.h"

namespace rl::service {

HealthService::HealthService(store::Directory& directory, const core::Clock& clock,
                             obs::Logger& log, obs::Registry& metrics, core::Seconds cache,
                             bool reports)
    : directory_(directory),
      clock_(clock),
      log_(log),
      changes_(metrics.counter("rl_health_changes_total", "Changes of the system health state.")),
      cache_(cache),
      reports_(reports) {
  if (!reports_) return;
  // Read on the scraping worker's thread: from atomics, and a state past its TTL reads NORMAL
  // even before this worker's next decision notices the expiry.
  metrics.gauge_fn("rl_health_state", "System health state: 0 NORMAL, 1 DEGRADED.", {}, [this] {
    if (!degraded_.load(std::memory_order_relaxed)) return 0.0;
    const std::int64_t expires = expires_ms_.load(std::memory_order_relaxed);
    return expires != 0 && expires <= core::to_unix_ms(clock_.now()) ? 0.0 : 1.0;
  });
}

policy::HealthState HealthService::current() {
  const core::WallTime now = clock_.now();
  if (cached_.expires_at && *cached_.expires_at <= now) apply(store::HealthRecord{}, true);
  if (now - fetched_at_ >= cache_ && !refreshing_) refresh();
  return cached_.state;
}

void HealthService::refresh() {
  if (refreshing_) {
    // The read on its way may have been answered before the change that asks for this one.
    refresh_again_ = true;
    return;
  }
  refreshing_ = true;
  directory_.health([this, adopted = adopted_](core::Result<store::HealthRecord> r) {
    refreshing_ = false;
    fetched_at_ = clock_.now();  // success or not: try again after the cache interval
    if (!r) {
      if (!read_failing_) log_.warn("health_read_failed", {{"error", r.error().message}});
      read_failing_ = true;
    } else {
      read_failing_ = false;
      // On failure, keep serving the last known state; and a record adopted from get() or
      // set() while this read was on its way is newer than what it read.
      if (adopted == adopted_) apply(*r, true);
    }
    if (refresh_again_) {
      refresh_again_ = false;
      refresh();
    }
  });
}

void HealthService::get(store::Callback<store::HealthRecord> done) {
  directory_.health(adopt(std::move(done), true));
}

void HealthService::set(store::HealthRecord record, store::Callback<store::HealthRecord> done) {
  // The siblings are told after the write, changed or not: the state's TTL may be new.
  directory_.set_health(std::move(record),
                        adopt(
                            [this, done = std::move(done)](core::Result<store::HealthRecord> r) {
                              if (r && on_change_) on_change_();
                              done(std::move(r));
                            },
                            false));
}

store::Callback<store::HealthRecord> HealthService::adopt(store::Callback<store::HealthRecord> done,
                                                          bool tell_siblings) {
  return [this, tell_siblings, done = std::move(done)](core::Result<store::HealthRecord> r) {
    if (r) {
      fetched_at_ = clock_.now();
      ++adopted_;
      apply(*r, tell_siblings);
    }
    done(std::move(r));
  };
}

void HealthService::apply(const store::HealthRecord& record, bool tell_siblings) {
  const bool changed = record.state != cached_.state;
  if (changed && reports_) report(record);
  cache(record);
  // Only the reporting worker logs and counts; one that noticed a change first (a TTL that
  // expired, a read) has it read the store, or the change would wait for its traffic.
  if (changed && !reports_ && tell_siblings && on_change_) on_change_();
}

void HealthService::report(const store::HealthRecord& record) {
  changes_.inc();
  const core::WallTime now = clock_.now();
  if (cached_.expires_at && *cached_.expires_at <= now &&
      record.state == policy::HealthState::normal) {
    log_.info("health_changed", {{"from", to_string(cached_.state)},
                                 {"to", to_string(record.state)},
                                 {"reason", "the state's TTL expired"}});
    return;
  }
  std::int64_t ttl = 0;
  if (record.expires_at) {
    ttl = std::chrono::duration_cast<core::Seconds>(*record.expires_at - now).count();
  }
  log_.info("health_changed", {{"from", to_string(cached_.state)},
                               {"to", to_string(record.state)},
                               {"updated_by", record.updated_by},
                               {"reason", record.reason},
                               {"ttl_seconds", ttl}});
}

void HealthService::cache(const store::HealthRecord& record) {
  cached_ = record;
  degraded_.store(record.state == policy::HealthState::degraded, std::memory_order_relaxed);
  expires_ms_.store(record.expires_at ? core::to_unix_ms(*record.expires_at) : 0,
                    std::memory_order_relaxed);
}

}  // namespace rl::service
