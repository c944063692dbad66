// A tier's fields as JSON — the one reader behind both the tier file's "tiers" entries and the
// admin API's PUT /admin/tiers/{name} body: base_limit, burst_limit, degraded_limit,
// window_seconds (or the reference's window_minutes), algorithm, shadow.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier.h"

namespace rl::config {

// Fills `tier` (whose name is already set) from `object`; every problem names its field, and
// includes policy::validate()'s once the fields themselves are readable. Empty when usable.
std::vector<policy::FieldProblem> read_tier_fields(const nlohmann::ordered_json& object,
                                                   policy::Tier& tier);

}  // namespace rl::config
