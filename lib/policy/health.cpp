// Names of the health states.
#include "policy/health.h"

#include "core/text.h"

namespace rl::policy {

std::string_view to_string(HealthState state) {
  return state == HealthState::degraded ? "DEGRADED" : "NORMAL";
}

std::optional<HealthState> parse_health_state(std::string_view text) {
  if (core::iequals(text, "NORMAL")) return HealthState::normal;
  if (core::iequals(text, "DEGRADED")) return HealthState::degraded;
  return std::nullopt;
}

}  // namespace rl::policy
