// Lazily registered per-tier decision counters.
#include "service/decision_metrics.h"

namespace rl::service {

DecisionMetrics::DecisionMetrics(obs::Registry& registry)
    : registry_(registry),
      latency_(registry.histogram("rl_decision_duration_seconds",
                                  "Time from request parsed to decision made.",
                                  obs::latency_buckets())) {
  constexpr const char* kHelp = "Security events by kind.";
  const char* kinds[kSecurityEvents] = {"missing_key",    "malformed_key",   "unknown_key",
                                        "client_blocked", "blocked_request", "admin_key_invalid"};
  for (std::size_t i = 0; i < kSecurityEvents; ++i) {
    security_[i] = &registry.counter("rl_security_events_total", kHelp, {{"kind", kinds[i]}});
  }
}

DecisionMetrics::PerVerdict& DecisionMetrics::for_tier(std::string_view tier) {
  auto it = tiers_.find(tier);
  if (it != tiers_.end()) return it->second;
  PerVerdict counters{};
  constexpr const char* kHelp = "Rate-limit decisions by tier and result.";
  for (std::size_t i = 0; i < kVerdicts; ++i) {
    counters[i] =
        &registry_.counter("rl_decisions_total", kHelp,
                           {{"tier", tier}, {"result", to_string(static_cast<Verdict>(i))}});
  }
  counters[kVerdicts] = &registry_.counter("rl_decisions_total", kHelp,
                                           {{"tier", tier}, {"result", "shadow_limited"}});
  return tiers_.emplace(std::string(tier), counters).first->second;
}

void DecisionMetrics::record(const DecisionResult& result, std::chrono::microseconds latency) {
  latency_.observe(latency);
  const std::string_view tier = result.identity.tier ? std::string_view(result.identity.tier->name)
                                                     : std::string_view("none");
  std::lock_guard lock(mutex_);
  PerVerdict& counters = for_tier(tier);
  const std::size_t index =
      result.shadow_denied ? kVerdicts : static_cast<std::size_t>(result.verdict);
  counters[index]->inc();
}

}  // namespace rl::service
