// Decision counters registered once per tier, found lock-free, and cached per worker by tier
// object.
#include "service/decision_metrics.h"

namespace rl::service {
namespace {

constexpr const char* kDecisionsHelp =
    "Rate-limit decisions by tier (tier names, \"none\" without a tier, \"other\" past the "
    "label limit) and result.";

}  // namespace

std::string_view to_string(SecurityEvent event) {
  switch (event) {
    case SecurityEvent::missing_key:
      return "missing_key";
    case SecurityEvent::malformed_key:
      return "malformed_key";
    case SecurityEvent::unknown_key:
      return "unknown_key";
    case SecurityEvent::client_blocked:
      return "client_blocked";
    case SecurityEvent::blocked_request:
      return "blocked_request";
    case SecurityEvent::admin_key_invalid:
      return "admin_key_invalid";
    case SecurityEvent::admin_forbidden_network:
      return "admin_forbidden_network";
  }
  return "unknown_key";
}

DecisionMetrics::DecisionMetrics(obs::Registry& registry)
    : registry_(registry),
      latency_(registry.histogram("rl_decision_duration_seconds",
                                  "Time from request parsed to decision made.",
                                  obs::latency_buckets())) {
  for (std::size_t i = 0; i < kSecurityEvents; ++i) {
    security_[i] = &registry.counter(
        "rl_security_events_total",
        "Security events by kind: invalid keys, blocks made, requests refused by a block, wrong "
        "admin keys, admin requests from outside admin_networks.",
        {{"kind", to_string(static_cast<SecurityEvent>(i))}});
  }
  none_ = make("none");
  other_ = make("other");
}

DecisionMetrics::Counters DecisionMetrics::make(std::string_view tier) {
  Counters counters{};
  for (std::size_t i = 0; i < kVerdicts; ++i) {
    counters[i] = &registry_.counter("rl_decisions_total", kDecisionsHelp,
                                     {{"tier", tier}, {"result", to_string(Verdict(i))}});
  }
  counters[kVerdicts] = &registry_.counter("rl_decisions_total", kDecisionsHelp,
                                           {{"tier", tier}, {"result", "shadow_limited"}});
  return counters;
}

void DecisionMetrics::prepare(std::span<const std::string> tiers) {
  for (const auto& name : tiers)
    for_tier(name);
}

const DecisionMetrics::Counters& DecisionMetrics::for_tier(std::string_view tier) {
  // Published slots never change: a reader sees whole ones, up to the count it loaded.
  std::size_t used = used_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    if (slots_[i].name == tier) return slots_[i].counters;
  }
  std::lock_guard lock(mutex_);
  used = used_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < used; ++i) {  // another worker may have added it meanwhile
    if (slots_[i].name == tier) return slots_[i].counters;
  }
  if (used == kMaxTierLabels) return other_;
  Slot& slot = slots_[used];
  slot.name.assign(tier);
  slot.counters = make(tier);
  used_.store(used + 1, std::memory_order_release);
  return slot.counters;
}

obs::Counter& DecisionMetrics::pick(const Counters& counters, const DecisionResult& result) {
  const std::size_t index =
      result.shadow_denied ? kVerdicts : static_cast<std::size_t>(result.verdict);
  return *counters[index];
}

void TierCounterCache::record(const DecisionResult& result, std::chrono::microseconds latency) {
  metrics_.observe_latency(latency);
  const auto& tier = result.identity.tier;
  DecisionMetrics::pick(tier ? counters_for(tier) : metrics_.untiered(), result).inc();
}

const DecisionMetrics::Counters& TierCounterCache::counters_for(
    const std::shared_ptr<const policy::Tier>& tier) {
  for (std::size_t i = 0; i < kEntries; ++i) {
    if (tiers_[i] == tier) return *counters_[i];
  }
  const std::size_t at = next_;
  next_ = (next_ + 1) % kEntries;
  tiers_[at] = tier;
  counters_[at] = &metrics_.for_tier(tier->name);
  return *counters_[at];
}

}  // namespace rl::service
