// A tier: the limits a group of users gets in each health state, its window and algorithm.
// Immutable once built; shared between requests as std::shared_ptr<const Tier>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "limiter/algorithm.h"
#include "limiter/decision.h"
#include "policy/health.h"

namespace rl::policy {

// What to do when the shared store cannot answer (DESIGN.md §7): limit in this process with
// the same limits, let the request through, or refuse it (503).
enum class FailurePolicy { local, allow, deny };
std::string_view to_string(FailurePolicy policy);
std::optional<FailurePolicy> parse_failure_policy(std::string_view text);

struct Tier {
  std::string name;
  std::int64_t base_limit = 0;      // the advertised rate (reference: "10 RPM base")
  std::int64_t burst_limit = 0;     // enforced in NORMAL
  std::int64_t degraded_limit = 0;  // enforced in DEGRADED
  core::Seconds window{60};
  limiter::Algorithm algorithm = limiter::Algorithm::sliding_window;
  bool shadow = false;                      // decide and count, but never deny
  std::optional<FailurePolicy> on_failure;  // overrides redis.on_failure for this tier

  friend bool operator==(const Tier&, const Tier&) = default;
};

// NORMAL → burst_limit, DEGRADED → degraded_limit, over the tier's one window.
limiter::Quota quota_for(const Tier& tier, HealthState health);

struct FieldProblem {
  std::string field;    // e.g. "burst_limit"
  std::string message;  // e.g. "must be at least base_limit (10), got 5"
};

// Every reason the tier is not usable; empty when it is.
std::vector<FieldProblem> validate(const Tier& tier);

// Tier names: 1–64 of [a-z0-9_-]. User ids: 1–128 of [A-Za-z0-9_.@-] (they appear inside Redis
// keys and hash tags, so never braces, spaces or colons).
bool is_valid_tier_name(std::string_view name);
bool is_valid_user_id(std::string_view id);

}  // namespace rl::policy
