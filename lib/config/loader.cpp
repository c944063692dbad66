// Loading a DaemonConfig: file, environment and flags in order of precedence, then the checks
// that need the whole configuration.
#include "config/loader.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "config/internal.h"
#include "config/redis_url.h"

namespace rl::config {

std::string_view to_string(StoreKind kind) {
  return kind == StoreKind::redis ? "redis" : "memory";
}

std::vector<security::Cidr> default_admin_networks() {
  return {*security::Cidr::parse("127.0.0.0/8"), *security::Cidr::parse("::1/128")};
}

std::vector<ListenAddress> parse_listeners(const std::vector<std::string>& texts,
                                           const std::string& source,
                                           std::vector<std::string>& problems) {
  std::vector<ListenAddress> out;
  for (const auto& text : texts) {
    auto parsed = ListenAddress::parse(text);
    if (parsed) {
      out.push_back(*parsed);
    } else {
      problems.push_back(source + ": " + parsed.error().message);
    }
  }
  return out;
}

core::Error problems_error(const std::vector<std::string>& problems) {
  std::string message;
  for (const auto& p : problems) {
    if (!message.empty()) message.push_back('\n');
    message += p;
  }
  return core::make_error(core::Errc::invalid_argument, std::move(message));
}

namespace {

void apply_overrides(const Overrides& o, DaemonConfig& c, std::vector<std::string>& problems) {
  if (!o.listen.empty()) c.server.listen = parse_listeners(o.listen, "--listen", problems);
  if (o.store) {
    if (*o.store == "memory" || *o.store == "redis") {
      c.store.kind = *o.store == "redis" ? StoreKind::redis : StoreKind::memory;
    } else {
      problems.push_back("--store: expected memory or redis, got \"" + *o.store + "\"");
    }
  }
  if (o.redis_url) c.redis.url = *o.redis_url;
  if (o.tiers_file) {
    c.store.tiers_file = *o.tiers_file;
    c.store.tiers_file_required = true;
  }
  if (o.workers) c.server.workers = *o.workers;
  if (o.admin_key) c.security.admin_key = *o.admin_key;
  if (o.log_level) {
    if (auto l = obs::parse_log_level(*o.log_level)) {
      c.log.level = *l;
    } else {
      problems.push_back("--log-level: expected one of debug, info, warn, error, got \"" +
                         *o.log_level + "\"");
    }
  }
}

void validate(const DaemonConfig& c, std::vector<std::string>& problems) {
  const std::string where = c.source.empty() ? "configuration" : c.source;
  if (c.server.workers < 0 || c.server.workers > kMaxWorkers) {
    problems.push_back(where + ": server.workers: expected 0 (one per core) to " +
                       std::to_string(kMaxWorkers) + ", got " + std::to_string(c.server.workers));
  }
  for (std::size_t i = 0; i < c.server.listen.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (c.server.listen[i] == c.server.listen[j] && c.server.listen[i].port != 0) {
        problems.push_back(where + ": server.listen: " + c.server.listen[i].to_string() +
                           " is listed twice");
      }
    }
  }
  if (c.server.listen.empty() && problems.empty()) {
    problems.push_back(where + ": server.listen: expected at least one address");
  }
  if (auto url = RedisUrl::parse(c.redis.url); !url) {
    // The URL may hold a password: name the key, not the value.
    problems.push_back(where + ": redis.url: " + url.error().message);
  }
}

}  // namespace

core::Result<DaemonConfig> load_daemon_config(const std::string& path, const Environment& env,
                                              const Overrides& overrides) {
  DaemonConfig config;
  std::vector<std::string> problems;
  if (!path.empty()) {
    config.source = path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      problems.push_back(
          path + ": cannot read the configuration file (" +
          (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file") + ")");
    } else {
      read_toml_file(path, config, problems);
    }
  }
  apply_environment(env, config, problems);
  apply_overrides(overrides, config, problems);
  if (overrides.redis_url) apply_redis_password(env, config.redis, true);
  resolve_redis_mode(config, overrides.redis_url.has_value(), problems);
  validate(config, problems);
  if (config.server.workers == 0) {
    const unsigned cores = std::thread::hardware_concurrency();  // 0 when unknown
    config.server.workers = static_cast<int>(std::clamp(cores, 1U, unsigned{kMaxWorkers}));
  }
  if (problems.empty()) return config;
  return problems_error(problems);
}

}  // namespace rl::config
