// DecisionService: the decision pipeline of DESIGN.md §3 — client block, API key format, key →
// user → tier, health state, atomic check-and-consume — over the Store and Directory
// interfaces, so it runs the same on the memory and the Redis store. Each step continues in
// the store's callback; the job's `done` runs exactly once. It also authorises admin requests
// against the same client blocks and invalid-attempt counting. Loop-thread only.
#pragma once

#include <memory>

#include "obs/logger.h"
#include "service/decision.h"
#include "service/decision_metrics.h"
#include "service/health_service.h"
#include "service/settings.h"
#include "store/directory.h"
#include "store/store.h"

namespace rl::service {

class DecisionService {
 public:
  DecisionService(store::Store& store, store::Directory& directory, HealthService& health,
                  const core::Clock& clock, obs::Logger& log, DecisionMetrics& metrics);

  // Also registers the decision series of the settings' tiers.
  void set_settings(std::shared_ptr<const ServiceSettings> settings);
  const ServiceSettings& settings() const { return *settings_; }

  // A rate-limit decision for job.request.
  void decide(DecisionJob& job);
  // An admin request from job.request.client: client_blocked if the client is blocked, else
  // allowed when `key_ok`, else an invalid attempt (unknown_key, or client_blocked once over).
  void authorize_admin(DecisionJob& job, bool key_ok);
  // An admin request refused because its TCP peer is outside security.admin_networks: counted,
  // and logged as `admin_forbidden` (at most one line a second, with how many it stands for).
  void admin_network_refused(const security::IpAddress& peer, std::string_view request_id);

 private:
  void start(DecisionJob& job);
  void on_block_checked(DecisionJob& job, core::Result<std::optional<store::Block>> block);
  void check_key(DecisionJob& job);
  void on_resolved(DecisionJob& job, core::Result<std::optional<store::Identity>> identity);
  void on_consumed(DecisionJob& job, core::Result<limiter::Decision> decision);
  void unverified(DecisionJob& job);
  void invalid_attempt(DecisionJob& job, Verdict verdict, SecurityEvent event);
  void finish(DecisionJob& job, Verdict verdict);
  void log_store_error(std::string_view event, const DecisionJob& job, const core::Error& error);

  store::Store& store_;
  store::Directory& directory_;
  HealthService& health_;
  const core::Clock& clock_;
  obs::Logger& log_;
  DecisionMetrics& metrics_;
  TierCounterCache counters_;
  std::shared_ptr<const ServiceSettings> settings_;
  core::WallTime last_store_error_log_{};
  std::uint64_t suppressed_store_errors_ = 0;
  core::WallTime last_admin_refused_log_{};
  std::uint64_t suppressed_admin_refusals_ = 0;
};

}  // namespace rl::service
