// The verify driver: setup (tiers, health, a probe user), the scenarios in order, and the
// cleanup (users removed, health restored). The scenarios themselves are in scenarios.cpp.
#include "apps/rlbench/verify.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <time.h>
#include <unistd.h>

#include "core/random.h"

namespace rl::rlbench {
namespace {

constexpr auto kHealthWait = std::chrono::seconds(15);
constexpr auto kPoll = std::chrono::milliseconds(50);

core::Error refused(const std::string& what, const Answer& a) {
  return core::make_error(core::Errc::internal,
                          what + " answered " + std::to_string(a.status) + ": " + a.body);
}

// Seconds from now until an RFC 3339 UTC time ("2026-11-28T12:00:00Z"); 0 when it is past or
// unreadable.
std::int64_t seconds_until(const std::string& rfc3339) {
  std::tm tm{};
  if (strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  const std::time_t at = timegm(&tm);
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(at - std::time(nullptr)));
}

}  // namespace

Verifier::Verifier(uv_loop_t* loop, const VerifyOptions& options)
    : options_(options), http_(loop, options.targets, options.admin_key) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08llx",
                static_cast<unsigned long long>(core::fast_random() & 0xffffffffULL));
  nonce_ = buf;
}

Verifier::~Verifier() {
  restore_health();
  for (const auto& id : created_users_)
    (void)http_.admin(0, "DELETE", "/admin/users/" + id);
}

core::Status Verifier::setup() {
  auto tiers = http_.admin(0, "GET", "/admin/tiers");
  if (!tiers) return tiers.error();
  if (tiers->status != 200)
    return refused("GET /admin/tiers on " + http_.target(0).to_string(), *tiers);
  const auto doc = tiers->json();
  if (!doc.is_object() || !doc.contains("tiers") || !doc["tiers"].is_object()) {
    return core::make_error(core::Errc::internal,
                            "GET /admin/tiers: unexpected body " + tiers->body);
  }
  for (const auto& name : options_.tiers) {
    if (!doc["tiers"].contains(name)) {
      return core::make_error(core::Errc::not_found,
                              "--tiers: the deployment has no tier '" + name + "'");
    }
  }
  for (const auto& [name, t] : doc["tiers"].items()) {
    if (!options_.tiers.empty() &&
        std::find(options_.tiers.begin(), options_.tiers.end(), name) == options_.tiers.end()) {
      continue;
    }
    TierInfo info;
    info.name = name;
    info.burst = t.value("burst_limit", std::int64_t{0});
    info.degraded = t.value("degraded_limit", std::int64_t{0});
    info.window = std::max<std::int64_t>(1, t.value("window_seconds", std::int64_t{60}));
    info.algorithm = t.value("algorithm", std::string("sliding_window"));
    info.shadow = t.value("shadow", false);
    tiers_.push_back(std::move(info));
  }
  if (tiers_.empty()) return core::make_error(core::Errc::not_found, "the deployment has no tiers");
  std::sort(tiers_.begin(), tiers_.end(),
            [](const TierInfo& a, const TierInfo& b) { return a.name < b.name; });

  auto health = http_.admin(0, "GET", "/admin/health");
  if (!health) return health.error();
  if (health->status != 200) return refused("GET /admin/health", *health);
  health_at_start_ = health->json();
  for (std::size_t i = 1; i < http_.targets(); ++i) {
    auto ok = http_.call(i, "GET", "/health");
    if (!ok) return ok.error();
  }
  auto probe = make_user(tiers_.front());
  if (!probe) return probe.error();
  probe_key_ = std::move(*probe);
  return ensure_normal();
}

core::Result<std::string> Verifier::make_user(const TierInfo& tier) {
  const std::string id = "rlbench-" + nonce_ + "-" + std::to_string(++users_made_);
  auto user = http_.admin(0, "POST", "/admin/users", {{"user_id", id}, {"tier", tier.name}});
  if (!user) return user.error();
  if (user->status != 201) return refused("POST /admin/users", *user);
  created_users_.push_back(id);
  auto key = http_.admin(0, "POST", "/admin/users/" + id + "/keys", {{"label", "rlbench verify"}});
  if (!key) return key.error();
  const auto doc = key->json();
  if (key->status != 201 || !doc.is_object() || !doc.contains("api_key")) {
    return refused("POST /admin/users/" + id + "/keys", *key);
  }
  return doc["api_key"].get<std::string>();
}

core::Status Verifier::set_health(const std::string& status, const std::string& reason,
                                  std::int64_t ttl_seconds) {
  nlohmann::json body = {{"status", status}, {"updated_by", "rlbench verify"}, {"reason", reason}};
  if (ttl_seconds > 0) body["ttl_seconds"] = ttl_seconds;
  auto r = http_.admin(0, "POST", "/admin/health", body);
  if (!r) return r.error();
  if (r->status != 200) return refused("POST /admin/health", *r);
  health_changed_ = true;
  return await_health(status);
}

// Every instance caches the health state briefly and applies published changes at once; a
// decision's "health" shows what that instance uses now.
core::Status Verifier::await_health(const std::string& status) {
  const auto deadline = std::chrono::steady_clock::now() + kHealthWait;
  for (std::size_t i = 0; i < http_.targets(); ++i) {
    for (;;) {
      auto r = http_.call(i, "POST", "/v1/decide", {{"Content-Type", "application/json"}},
                          nlohmann::json{{"api_key", probe_key_}, {"cost", 0}}.dump());
      if (!r) return r.error();
      const auto doc = r->json();
      if (r->status == 200 && doc.is_object() && doc.value("health", "") == status) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return core::make_error(core::Errc::timeout,
                                http_.target(i).to_string() + " did not report health " + status +
                                    " within 15 s (last answer " + std::to_string(r->status) +
                                    ": " + r->body + ")");
      }
      usleep(static_cast<useconds_t>(kPoll.count() * 1000));
    }
  }
  return {};
}

core::Status Verifier::ensure_normal() {
  if (health_at_start_.value("status", "NORMAL") == "NORMAL") return {};
  return set_health("NORMAL", "verify: tiers are checked in NORMAL", 0);
}

void Verifier::restore_health() {
  if (!health_changed_) return;
  health_changed_ = false;
  const std::string status = health_at_start_.value("status", "NORMAL");
  std::int64_t ttl = 0;
  if (health_at_start_.contains("expires_at") && health_at_start_["expires_at"].is_string()) {
    ttl = seconds_until(health_at_start_["expires_at"].get<std::string>());
    if (ttl == 0) return (void)set_health("NORMAL", "verify: restored (the state had expired)", 0);
  }
  const auto text = [&](const char* field, const char* fallback) {
    const auto it = health_at_start_.find(field);
    return it != health_at_start_.end() && it->is_string() ? it->get<std::string>()
                                                           : std::string(fallback);
  };
  nlohmann::json body = {{"status", status},
                         {"updated_by", text("updated_by", "rlbench verify")},
                         {"reason", text("reason", "verify: restored")}};
  if (ttl > 0) body["ttl_seconds"] = ttl;
  auto r = http_.admin(0, "POST", "/admin/health", body);
  if (!r || r->status != 200) {
    std::fprintf(stderr, "rlbench: could not restore the health state %s: %s\n", status.c_str(),
                 r ? r->body.c_str() : r.error().message.c_str());
    return;
  }
  (void)await_health(status);
}

void Verifier::run(const std::string& scenario, std::vector<ScenarioResult>& out) {
  if (scenario == "tiers") return tiers(out);
  if (scenario == "degraded") return degraded(out);
  if (scenario == "consistency") return consistency(out);
  if (scenario == "headers") return headers(out);
  if (scenario == "security") return security(out);
}

core::Result<std::vector<ScenarioResult>> run_verify(uv_loop_t* loop,
                                                     const VerifyOptions& options) {
  Verifier v(loop, options);
  if (auto s = v.setup(); !s) return s.error();
  std::vector<ScenarioResult> out;
  for (const auto& name : kScenarios) {  // always in this order: security blocks, so it is last
    if (std::find(options.scenarios.begin(), options.scenarios.end(), name) !=
        options.scenarios.end()) {
      v.run(name, out);
    }
  }
  return out;
}

}  // namespace rl::rlbench
