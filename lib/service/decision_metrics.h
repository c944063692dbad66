// Metrics of the decision pipeline: decisions by tier and result, their latency, and security
// events by kind. Tier labels come from the operator's tier names (a bounded set); requests
// without a tier are labelled tier="none".
#pragma once

#include <array>
#include <mutex>

#include "obs/metrics.h"
#include "service/decision.h"
#include "store/string_map.h"

namespace rl::service {

enum class SecurityEvent {
  missing_key,
  malformed_key,
  unknown_key,
  client_blocked,
  blocked_request,
  admin_key_invalid,
};
inline constexpr std::size_t kSecurityEvents = 6;
inline constexpr std::size_t kVerdicts = 10;

class DecisionMetrics {
 public:
  explicit DecisionMetrics(obs::Registry& registry);
  void record(const DecisionResult& result, std::chrono::microseconds latency);
  void security(SecurityEvent event) { security_[static_cast<std::size_t>(event)]->inc(); }

 private:
  using PerVerdict = std::array<obs::Counter*, kVerdicts + 1>;  // + shadow_limited
  PerVerdict& for_tier(std::string_view tier);

  obs::Registry& registry_;
  obs::Histogram& latency_;
  std::array<obs::Counter*, kSecurityEvents> security_{};
  std::mutex mutex_;
  store::StringMap<PerVerdict> tiers_;
};

}  // namespace rl::service
