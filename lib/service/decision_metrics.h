// Metrics of the decision pipeline: decisions by tier and result, their latency, and security
// events by kind. Tier labels are the operator's tier names, at most kMaxTierLabels of them
// (any later tier is counted as tier="other"); a decision without a tier (no key, an unknown
// key, a blocked client, a store failure) is tier="none" — a label is never a user id, key or
// address. A tier's series are registered once, when it is first seen or up front by
// prepare(); after that a decision costs atomic adds and no lock or allocation. Shared by every
// worker; a TierCounterCache (one per worker) maps a tier object to its counters by pointer.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "obs/metrics.h"
#include "policy/tier.h"
#include "service/decision.h"

namespace rl::service {

enum class SecurityEvent {
  missing_key,
  malformed_key,
  unknown_key,
  client_blocked,
  blocked_request,
  admin_key_invalid,
  admin_forbidden_network,  // an admin request from a TCP peer outside security.admin_networks
};
inline constexpr std::size_t kSecurityEvents = 7;
inline constexpr std::size_t kVerdicts = 10;
// Every value of the `result` label: the verdicts, then shadow_limited (a shadow tier said no).
inline constexpr std::size_t kDecisionResults = kVerdicts + 1;
// Distinct tier labels; beyond them decisions count as tier="other".
inline constexpr std::size_t kMaxTierLabels = 64;

std::string_view to_string(SecurityEvent event);

class DecisionMetrics {
 public:
  using Counters = std::array<obs::Counter*, kDecisionResults>;

  explicit DecisionMetrics(obs::Registry& registry);

  // Registers every result series of these tiers now, so they read 0 before any traffic.
  void prepare(std::span<const std::string> tiers);
  // The counters of a tier name: registered on first use, then found without a lock.
  const Counters& for_tier(std::string_view tier);
  const Counters& untiered() const { return none_; }

  void observe_latency(std::chrono::microseconds latency) { latency_.observe(latency); }
  void security(SecurityEvent event) { security_[static_cast<std::size_t>(event)]->inc(); }
  // The counter of one decision's tier and result; latency is observed apart.
  static obs::Counter& pick(const Counters& counters, const DecisionResult& result);

 private:
  struct Slot {
    std::string name;
    Counters counters{};
  };
  Counters make(std::string_view tier);

  obs::Registry& registry_;
  obs::Histogram& latency_;
  std::array<obs::Counter*, kSecurityEvents> security_{};
  Counters none_{};
  Counters other_{};
  std::array<Slot, kMaxTierLabels> slots_;
  std::atomic<std::size_t> used_{0};  // slots [0, used_) are complete and never change
  std::mutex mutex_;                  // taken only to add a slot
};

// One worker's map from the tier objects its decisions carry to their counters, compared by
// address (each entry holds its tier alive, so an address cannot be reused under it): a
// decision of a known tier resolves its counters without comparing names. Loop-thread only.
class TierCounterCache {
 public:
  explicit TierCounterCache(DecisionMetrics& metrics) : metrics_(metrics) {}

  // Counts the decision and observes its latency.
  void record(const DecisionResult& result, std::chrono::microseconds latency);

 private:
  static constexpr std::size_t kEntries = 8;
  const DecisionMetrics::Counters& counters_for(const std::shared_ptr<const policy::Tier>& tier);

  DecisionMetrics& metrics_;
  std::array<std::shared_ptr<const policy::Tier>, kEntries> tiers_{};
  std::array<const DecisionMetrics::Counters*, kEntries> counters_{};
  std::size_t next_ = 0;
};

}  // namespace rl::service
