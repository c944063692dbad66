// How rlbench prints what it measured: a short human report, or the JSON documents of the
// rlbench contract (load: requests, duration_s, rps, errors, status, latency_ms; verify:
// passed and scenarios).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/rlbench/load.h"

namespace rl::rlbench {

nlohmann::json to_json(const LoadReport& report);
std::string to_text(const LoadReport& report);

struct ScenarioResult {
  std::string name;
  std::string expected;
  std::string observed;
  bool passed = false;
};

nlohmann::json to_json(const std::vector<ScenarioResult>& results);
std::string to_text(const std::vector<ScenarioResult>& results);

}  // namespace rl::rlbench
