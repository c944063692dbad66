// Hash field encoding and decoding of the data model's records.
#include "store/redis_codec.h"

#include <algorithm>

#include "core/text.h"

namespace rl::store {
namespace {

std::string_view find(const Fields& fields, std::string_view name) {
  for (const auto& [f, v] : fields) {
    if (f == name) return v;
  }
  return {};
}

bool has(const Fields& fields, std::string_view name) {
  for (const auto& [f, v] : fields) {
    if (f == name) return true;
  }
  return false;
}

core::Error malformed(std::string_view what, std::string_view key, std::string_view field) {
  return core::make_error(core::Errc::internal, "malformed " + std::string(what) + " '" +
                                                    std::string(key) + "': field " +
                                                    std::string(field));
}

std::optional<std::int64_t> number(const Fields& fields, std::string_view name) {
  return core::parse_int64(find(fields, name));
}

std::string ms(core::WallTime t) {
  return std::to_string(core::to_unix_ms(t));
}

}  // namespace

std::int64_t bounded_millis(std::int64_t ms) {
  return std::clamp(ms, -kMaxRedisMillis, kMaxRedisMillis);
}

core::Result<Fields> fields_of(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements % 2 != 0) {
    return core::make_error(core::Errc::internal, "expected a hash");
  }
  Fields out;
  out.reserve(reply.elements / 2);
  for (std::size_t i = 0; i + 1 < reply.elements; i += 2) {
    out.emplace_back(redis::text(*reply.element[i]), redis::text(*reply.element[i + 1]));
  }
  return out;
}

core::Result<policy::Tier> tier_from_fields(std::string_view name, const Fields& fields) {
  policy::Tier tier;
  tier.name = std::string(name);
  const std::pair<const char*, std::int64_t*> counts[] = {{"base_limit", &tier.base_limit},
                                                          {"burst_limit", &tier.burst_limit},
                                                          {"degraded_limit", &tier.degraded_limit}};
  for (const auto& [field, out] : counts) {
    const auto v = number(fields, field);
    if (!v) return malformed("tier", name, field);
    *out = *v;
  }
  const auto window = number(fields, "window_seconds");
  if (!window) return malformed("tier", name, "window_seconds");
  tier.window = core::Seconds{*window};
  if (has(fields, "algorithm")) {
    const auto a = limiter::parse_algorithm(find(fields, "algorithm"));
    if (!a) return malformed("tier", name, "algorithm");
    tier.algorithm = *a;
  }
  tier.shadow = find(fields, "shadow") == "1";
  if (const std::string_view p = find(fields, "on_failure"); !p.empty()) {
    tier.on_failure = policy::parse_failure_policy(p);
    if (!tier.on_failure) return malformed("tier", name, "on_failure");
  }
  if (const auto problems = policy::validate(tier); !problems.empty()) {
    return malformed("tier", name, problems.front().field);
  }
  return tier;
}

core::Result<UserRecord> user_from_fields(std::string_view id, const Fields& fields) {
  UserRecord user;
  user.id = std::string(id);
  user.tier = std::string(find(fields, "tier"));
  if (!policy::is_valid_tier_name(user.tier)) return malformed("user", id, "tier");
  user.created_at = core::from_unix_ms(number(fields, "created_at").value_or(0));
  user.disabled = find(fields, "disabled") == "1";
  return user;
}

core::Result<KeyRecord> key_from_fields(std::string_view digest, const Fields& fields) {
  KeyRecord key;
  key.digest = std::string(digest);
  key.user = std::string(find(fields, "user"));
  if (!policy::is_valid_user_id(key.user))
    return malformed("API key", digest.substr(0, 16), "user");
  key.key_id = std::string(find(fields, "key_id"));
  if (key.key_id.empty()) key.key_id = key.digest.substr(0, 16);
  key.label = std::string(find(fields, "label"));
  key.created_at = core::from_unix_ms(number(fields, "created_at").value_or(0));
  return key;
}

core::Result<HealthRecord> health_from_fields(const Fields& fields, std::int64_t pttl_ms,
                                              core::WallTime now) {
  HealthRecord h;
  if (fields.empty()) return h;  // absent = NORMAL
  const auto state = policy::parse_health_state(find(fields, "status"));
  if (!state) return malformed("health", "health", "status");
  h.state = *state;
  h.updated_by = std::string(find(fields, "updated_by"));
  h.reason = std::string(find(fields, "reason"));
  h.updated_at = core::from_unix_ms(number(fields, "updated_at").value_or(0));
  if (pttl_ms > 0) h.expires_at = now + core::Millis{bounded_millis(pttl_ms)};
  return h;
}

std::vector<std::string> tier_fields(const policy::Tier& t) {
  std::vector<std::string> out = {"base_limit",     std::to_string(t.base_limit),
                                  "burst_limit",    std::to_string(t.burst_limit),
                                  "degraded_limit", std::to_string(t.degraded_limit),
                                  "window_seconds", std::to_string(t.window.count()),
                                  "algorithm",      std::string(limiter::to_string(t.algorithm)),
                                  "shadow",         t.shadow ? "1" : "0"};
  out.push_back("on_failure");
  out.push_back(t.on_failure ? std::string(policy::to_string(*t.on_failure)) : "");
  return out;
}

std::vector<std::string> user_fields(const UserRecord& u) {
  return {"tier", u.tier, "created_at", ms(u.created_at), "disabled", u.disabled ? "1" : "0"};
}

std::vector<std::string> key_fields(const KeyRecord& k) {
  return {"user", k.user, "key_id", k.key_id, "label", k.label, "created_at", ms(k.created_at)};
}

std::vector<std::string> health_fields(const HealthRecord& h) {
  return {"status",     std::string(policy::to_string(h.state)),
          "updated_by", h.updated_by,
          "reason",     h.reason,
          "updated_at", ms(h.updated_at)};
}

}  // namespace rl::store
