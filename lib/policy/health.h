// The system health state (DESIGN.md §3): NORMAL lets tiers burst; DEGRADED sheds free-tier load
// and protects paid tiers. Spelled in upper case on the wire, as in the reference.
#pragma once

#include <optional>
#include <string_view>

namespace rl::policy {

enum class HealthState { normal, degraded };

std::string_view to_string(HealthState state);
// Accepts "NORMAL"/"DEGRADED" in any letter case.
std::optional<HealthState> parse_health_state(std::string_view text);

}  // namespace rl::policy
