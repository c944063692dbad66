// The Redis data model's records as hash fields (DESIGN.md §5): tiers, users, API keys and the
// health state, read from HGETALL replies and written as HSET arguments. Shared by rld and
// rlctl. Times are epoch milliseconds. Malformed hashes (wrong types, missing fields, values
// out of range) are errors naming the key and field — never a crash, never a guess.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "redis/reply.h"
#include "store/directory.h"

namespace rl::store {

using Fields = std::vector<std::pair<std::string_view, std::string_view>>;

// Milliseconds as Redis reports them (a PTTL, a script's reset time or wait) bounded to within
// about 10,000 years of zero, so that adding one to a clock reading cannot overflow: a damaged
// or hand-made key may carry any TTL. The sign is kept (PTTL's -1 and -2 mean no TTL, no key).
inline constexpr std::int64_t kMaxRedisMillis = 10'000LL * 366 * 86'400'000;
std::int64_t bounded_millis(std::int64_t ms);

// An HGETALL reply as field/value pairs (views into the reply); empty for a missing key.
core::Result<Fields> fields_of(const redisReply& reply);

core::Result<policy::Tier> tier_from_fields(std::string_view name, const Fields& fields);
core::Result<UserRecord> user_from_fields(std::string_view id, const Fields& fields);
core::Result<KeyRecord> key_from_fields(std::string_view digest, const Fields& fields);
// `pttl_ms`: the key's PTTL reply (-1 no expiry, -2 absent).
core::Result<HealthRecord> health_from_fields(const Fields& fields, std::int64_t pttl_ms,
                                              core::WallTime now);

// "field", "value", ... for HSET.
std::vector<std::string> tier_fields(const policy::Tier& tier);
std::vector<std::string> user_fields(const UserRecord& user);
std::vector<std::string> key_fields(const KeyRecord& key);
std::vector<std::string> health_fields(const HealthRecord& health);

}  // namespace rl::store
