// rlbench verify: proves a deployment's behaviour exactly. It creates its own temporary users
// and keys through the admin API (fresh counters), reads the tiers, runs the scenarios —
// tiers, degraded, consistency, headers, security — against the targets (round-robin), and
// removes what it created and restores the health state it found.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <uv.h>

#include "apps/rlbench/http_calls.h"
#include "apps/rlbench/report.h"

namespace rl::rlbench {

inline const std::vector<std::string> kScenarios = {"tiers", "degraded", "consistency", "headers",
                                                    "security"};

struct VerifyOptions {
  std::vector<http::Endpoint> targets;
  std::string admin_key;
  std::vector<std::string> scenarios = kScenarios;
  std::vector<std::string> tiers;  // only these tiers (all when empty)
};

// Results of the chosen scenarios; an error when the deployment cannot even be set up (admin
// key refused, target unreachable).
core::Result<std::vector<ScenarioResult>> run_verify(uv_loop_t* loop, const VerifyOptions& options);

// The pieces scenarios share (scenarios.cpp).
struct TierInfo {
  std::string name;
  std::int64_t burst = 0;
  std::int64_t degraded = 0;
  std::int64_t window = 60;  // seconds
  std::string algorithm = "sliding_window";
  bool shadow = false;
};

// What a run of requests for one key answered, in order.
struct Tally {
  std::int64_t sent = 0;
  std::int64_t passed = 0;            // 200
  std::int64_t limited = 0;           // 429
  std::map<int, std::int64_t> other;  // any other status, or 0 for no answer
  bool in_order = true;               // every 200 came before the first 429
  double seconds = 0;
  std::string describe() const;
};

class Verifier {
 public:
  Verifier(uv_loop_t* loop, const VerifyOptions& options);
  ~Verifier();  // removes the users it made and restores the health state it found

  core::Status setup();  // reads the tiers and the health state, makes the probe user
  void run(const std::string& scenario, std::vector<ScenarioResult>& out);

 private:
  core::Result<std::string> make_user(const TierInfo& tier);  // returns its API key
  core::Status set_health(const std::string& status, const std::string& reason,
                          std::int64_t ttl_seconds);
  core::Status await_health(const std::string& status);  // on every target
  core::Status ensure_normal();
  void restore_health();
  void wait_out_window_edge(const TierInfo& tier, std::int64_t requests);
  Tally sequential(const std::string& key, std::int64_t n);
  Tally concurrent(const std::string& key, std::int64_t n, int in_flight);
  Tally count(const TierInfo& tier, const std::string& key, std::int64_t n);
  // The passes the limit allows for a run of `t`: exactly `limit`, and for a token bucket the
  // tokens refilled while it ran on top.
  bool exact(const TierInfo& tier, std::int64_t limit, const Tally& t) const;
  const TierInfo* smallest_enforced(std::int64_t at_least) const;
  std::size_t next_target() { return next_target_++ % http_.targets(); }

  ScenarioResult exact_count(const std::string& name, const TierInfo& tier, std::int64_t limit,
                             const char* what);
  void tiers(std::vector<ScenarioResult>& out);
  void degraded(std::vector<ScenarioResult>& out);
  void consistency(std::vector<ScenarioResult>& out);
  void headers(std::vector<ScenarioResult>& out);
  void security(std::vector<ScenarioResult>& out);

  const VerifyOptions& options_;
  HttpCalls http_;
  std::vector<TierInfo> tiers_;
  nlohmann::json health_at_start_;
  bool health_changed_ = false;
  std::string probe_key_;  // a user's key, only ever used with cost 0 (peeks)
  std::vector<std::string> created_users_;
  std::string nonce_;
  std::size_t next_target_ = 0;
  int users_made_ = 0;
};

}  // namespace rl::rlbench
