// JSON conversions for the admin API.
#include "service/wire.h"

#include <ctime>

#include "config/tier_json.h"

namespace rl::service {
namespace {

core::Error invalid(std::string message) {
  return core::make_error(core::Errc::invalid_argument, std::move(message));
}

}  // namespace

std::string rfc3339(core::WallTime t) {
  const std::time_t seconds = static_cast<std::time_t>(core::to_unix_ms(t) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json to_json(const policy::Tier& tier) {
  return json{{"name", tier.name},
              {"base_limit", tier.base_limit},
              {"burst_limit", tier.burst_limit},
              {"degraded_limit", tier.degraded_limit},
              {"window_seconds", tier.window.count()},
              {"algorithm", limiter::to_string(tier.algorithm)},
              {"shadow", tier.shadow},
              {"on_failure", tier.on_failure ? json(to_string(*tier.on_failure)) : json(nullptr)}};
}

json to_json(const store::UserRecord& user) {
  return json{{"user_id", user.id},
              {"tier", user.tier},
              {"created_at", rfc3339(user.created_at)},
              {"disabled", user.disabled}};
}

json to_json(const store::KeyRecord& key) {
  return json{{"key_id", key.key_id},
              {"user_id", key.user},
              {"label", key.label},
              {"created_at", rfc3339(key.created_at)}};
}

json to_json(const store::HealthRecord& health) {
  const bool never_set = health.updated_at == core::WallTime{};
  return json{
      {"status", to_string(health.state)},
      {"updated_by", never_set ? json(nullptr) : json(health.updated_by)},
      {"reason", never_set ? json(nullptr) : json(health.reason)},
      {"updated_at", never_set ? json(nullptr) : json(rfc3339(health.updated_at))},
      {"expires_at", health.expires_at ? json(rfc3339(*health.expires_at)) : json(nullptr)}};
}

json to_json(const store::Block& block) {
  return json{
      {"client", block.client}, {"reason", block.reason}, {"expires_at", rfc3339(block.until)}};
}

core::Result<json> parse_body(std::string_view body, bool empty_ok) {
  if (body.empty() && empty_ok) return json::object();
  // Parsing is iterative, but converting, copying and dumping a value recurse once per level:
  // 64 KiB of '[' would overflow the stack of whatever walks it (tier_from_json converts the
  // whole body). rl's bodies are flat objects; refuse anything deeper than kMaxBodyDepth, and
  // keep nothing below it meanwhile (depth 0 is the top-level value).
  bool too_deep = false;
  const auto depth_check = [&too_deep](int depth, json::parse_event_t, json&) {
    too_deep = too_deep || depth >= kMaxBodyDepth;
    return !too_deep;
  };
  json value = json::parse(body.begin(), body.end(), depth_check, /*allow_exceptions=*/false);
  if (value.is_discarded()) return invalid("the request body is not valid JSON");
  if (too_deep) {
    return invalid("the request body is nested deeper than " + std::to_string(kMaxBodyDepth) +
                   " levels");
  }
  if (!value.is_object()) return invalid("the request body must be a JSON object");
  return value;
}

core::Result<policy::Tier> tier_from_json(std::string_view name, const json& body) {
  // A tier has eight fields at most. Converting to ordered_json inserts each key after a scan
  // of those before it: 10,000 keys (a 64 KiB body) would hold a worker for 5 x 10^7 compares.
  if (body.is_object() && body.size() > kMaxTierFields) {
    return invalid("the body has " + std::to_string(body.size()) + " fields; a tier has at most " +
                   std::to_string(kMaxTierFields));
  }
  policy::Tier tier;
  tier.name = std::string(name);
  std::string problems;
  for (const auto& p : config::read_tier_fields(nlohmann::ordered_json(body), tier)) {
    if (!problems.empty()) problems += "; ";
    problems += (p.field.empty() ? "body" : p.field) + ": " + p.message;
  }
  if (!problems.empty()) return invalid(problems);
  return tier;
}

core::Result<store::HealthRecord> health_from_json(const json& body, core::WallTime now) {
  store::HealthRecord record;
  const auto status = body.find("status");
  if (status == body.end() || !status->is_string()) {
    return invalid("status: expected \"NORMAL\" or \"DEGRADED\"");
  }
  const auto state = policy::parse_health_state(status->get<std::string>());
  if (!state) return invalid("status: expected \"NORMAL\" or \"DEGRADED\"");
  record.state = *state;
  record.updated_at = now;
  record.updated_by = "admin_api";
  if (const auto it = body.find("ttl_seconds"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > 366LL * 86400) {
      return invalid("ttl_seconds: expected a whole number of seconds from 0 to 31622400");
    }
    if (it->get<std::int64_t>() > 0)
      record.expires_at = now + core::Seconds{it->get<std::int64_t>()};
  }
  for (const char* field : {"updated_by", "reason"}) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string() || it->get<std::string>().size() > 256) {
      return invalid(std::string(field) + ": expected a string of at most 256 bytes");
    }
    (std::string_view(field) == "reason" ? record.reason : record.updated_by) =
        it->get<std::string>();
  }
  return record;
}

}  // namespace rl::service
