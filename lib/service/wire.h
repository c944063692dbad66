// JSON wire types of the admin API and /v1/decide (nlohmann/json lives here and in the config
// loader only). Timestamps are RFC 3339 UTC strings; `reset` values are epoch seconds, like the
// X-RateLimit-Reset header. Parsers return every problem, each naming its field.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "store/directory.h"
#include "store/store.h"

namespace rl::service {

using nlohmann::json;

std::string rfc3339(core::WallTime t);

// Serialises for a response body; invalid UTF-8 (which the parser never produces, but a bug
// might) becomes U+FFFD instead of an exception.
std::string dump(const json& value);

json to_json(const policy::Tier& tier);
json to_json(const store::UserRecord& user);
json to_json(const store::KeyRecord& key);
json to_json(const store::HealthRecord& health);
json to_json(const store::Block& block);

// A request body as a JSON object: an empty body is an empty object when `empty_ok`. Values
// nested deeper than kMaxBodyDepth are refused.
inline constexpr int kMaxBodyDepth = 32;
core::Result<json> parse_body(std::string_view body, bool empty_ok);

// PUT /admin/tiers/{name}: window_seconds or window_minutes; algorithm and shadow optional.
// A body of more than kMaxTierFields fields is refused before its fields are read.
inline constexpr std::size_t kMaxTierFields = 32;
core::Result<policy::Tier> tier_from_json(std::string_view name, const json& body);

// POST /admin/health. `now` fixes updated_at and expires_at.
core::Result<store::HealthRecord> health_from_json(const json& body, core::WallTime now);

}  // namespace rl::service
