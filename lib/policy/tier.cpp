// Effective quota per health state, and validation of a tier's numbers.
#include "policy/tier.h"

#include <algorithm>

namespace rl::policy {

std::string_view to_string(FailurePolicy policy) {
  switch (policy) {
    case FailurePolicy::allow:
      return "allow";
    case FailurePolicy::deny:
      return "deny";
    case FailurePolicy::local:
      break;
  }
  return "local";
}

std::optional<FailurePolicy> parse_failure_policy(std::string_view text) {
  for (auto p : {FailurePolicy::local, FailurePolicy::allow, FailurePolicy::deny}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

limiter::Quota quota_for(const Tier& tier, HealthState health) {
  return limiter::Quota{health == HealthState::degraded ? tier.degraded_limit : tier.burst_limit,
                        tier.window};
}

std::vector<FieldProblem> validate(const Tier& tier) {
  std::vector<FieldProblem> problems;
  const auto add = [&](const char* field, std::string message) {
    problems.push_back({field, std::move(message)});
  };
  if (!is_valid_tier_name(tier.name)) {
    add("name", "expected 1-64 characters of a-z, 0-9, '_' or '-', got '" + tier.name + "'");
  }
  const std::pair<const char*, std::int64_t> limits[] = {{"base_limit", tier.base_limit},
                                                         {"burst_limit", tier.burst_limit},
                                                         {"degraded_limit", tier.degraded_limit}};
  for (const auto& [field, value] : limits) {
    if (value < 0) add(field, "expected a non-negative integer, got " + std::to_string(value));
  }
  if (tier.window.count() < 1) {
    add("window_seconds",
        "expected a whole number of seconds >= 1, got " + std::to_string(tier.window.count()));
  }
  if (tier.burst_limit < tier.base_limit) {
    add("burst_limit", "must be at least base_limit (" + std::to_string(tier.base_limit) +
                           "), got " + std::to_string(tier.burst_limit));
  }
  if (tier.degraded_limit > tier.burst_limit) {
    add("degraded_limit", "must not exceed burst_limit (" + std::to_string(tier.burst_limit) +
                              "), got " + std::to_string(tier.degraded_limit));
  }
  if (problems.empty() && !limiter::is_representable(quota_for(tier, HealthState::normal))) {
    add("burst_limit",
        "burst_limit x window_seconds is too large (limit x window in ms must stay "
        "below 2^50)");
  }
  return problems;
}

static bool all_of_chars(std::string_view s, std::size_t max_len, bool (*ok)(char)) {
  return !s.empty() && s.size() <= max_len && std::all_of(s.begin(), s.end(), ok);
}

bool is_valid_tier_name(std::string_view name) {
  return all_of_chars(name, 64, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool is_valid_user_id(std::string_view id) {
  return all_of_chars(id, 128, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
  });
}

}  // namespace rl::policy
