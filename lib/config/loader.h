// Builds a DaemonConfig: built-in defaults < TOML file < environment < command-line flags
// (DESIGN.md §8), then validates it as a whole. Every problem is reported at once, each naming
// its source (file and line, environment variable or flag), the key and what was expected.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "core/result.h"

namespace rl::config {

// The environment variables of the reference (REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_TIMEOUT,
// RATE_LIMITER_CONFIG_PATH, LOG_LEVEL, ADMIN_API_KEY) that are set.
using Environment = std::map<std::string, std::string, std::less<>>;
Environment process_environment();

// Command-line values; each one given replaces the file's value.
struct Overrides {
  std::vector<std::string> listen;  // non-empty replaces the whole listener list
  std::optional<std::string> store;
  std::optional<std::string> redis_url;
  std::optional<std::string> tiers_file;
  std::optional<int> workers;
  std::optional<std::string> admin_key;
  std::optional<std::string> log_level;
};

// `path` empty: no file, defaults only. On failure the error message holds every problem,
// one per line.
core::Result<DaemonConfig> load_daemon_config(const std::string& path, const Environment& env,
                                              const Overrides& overrides);

}  // namespace rl::config
