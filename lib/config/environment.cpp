// The environment overlay: the reference's variables, applied between the file and the flags.
// REDIS_HOST, REDIS_PORT and REDIS_DB each replace their own part of the configured URL (in
// cluster mode, host and port name the one seed node), and REDIS_PASSWORD its password (so that it
// need not appear on a command line, where `ps` shows it).
#include <cstdlib>

#include "config/internal.h"
#include "config/redis_url.h"
#include "core/text.h"

namespace rl::config {
namespace {

const std::string* lookup(const Environment& env, std::string_view name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

void apply_redis_parts(const Environment& env, RedisConfig& redis,
                       std::vector<std::string>& problems) {
  const std::string* host = lookup(env, "REDIS_HOST");
  const std::string* port = lookup(env, "REDIS_PORT");
  const std::string* db = lookup(env, "REDIS_DB");
  if (host == nullptr && port == nullptr && db == nullptr) return;
  auto parsed = RedisUrl::parse(redis.url);
  RedisUrl url = parsed ? *parsed : RedisUrl{};  // a bad file URL is reported by validation
  const std::size_t before = problems.size();
  if (host != nullptr) {
    // The value is not echoed: a mistaken "user:password@host" would print a password.
    if (host->empty() || host->find_first_of("/@[] ") != std::string::npos) {
      problems.push_back("environment REDIS_HOST: expected a host name or IP address");
    }
    url.kind = RedisUrl::Kind::tcp;
    url.host = *host;
  }
  if (port != nullptr) {
    const auto p = core::parse_int64(*port);
    if (!p || *p < 1 || *p > 65535) {
      problems.push_back("environment REDIS_PORT: expected an integer from 1 to 65535, got \"" +
                         *port + "\"");
    } else {
      url.kind = RedisUrl::Kind::tcp;
      url.port = static_cast<std::uint16_t>(*p);
    }
  }
  if (db != nullptr) {
    const auto d = core::parse_int64(*db);
    if (!d || *d < 0 || *d > 65535) {
      problems.push_back("environment REDIS_DB: expected an integer from 0 to 65535, got \"" + *db +
                         "\"");
    } else {
      url.db = static_cast<int>(*d);
    }
  }
  if (problems.size() != before) return;
  if (host != nullptr || port != nullptr) {
    // The environment outranks the file: its host and port are the one endpoint, or in cluster
    // mode the one seed, in place of redis.nodes or the URL's seed list.
    redis.nodes.clear();
    if (url.cluster) url.nodes = {HostPort{url.host, url.port}};
  }
  redis.url = url.to_string();
}

void apply_redis_timeout(const std::string& text, RedisConfig& redis,
                         std::vector<std::string>& problems) {
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(seconds >= 0.001 && seconds <= 60)) {
    problems.push_back("environment REDIS_TIMEOUT: expected seconds from 0.001 to 60, got \"" +
                       text + "\"");
    return;
  }
  redis.timeout = core::Millis{static_cast<std::int64_t>(seconds * 1000 + 0.5)};
}

}  // namespace

void apply_redis_password(const Environment& env, RedisConfig& redis, bool keep_given) {
  const std::string* password = lookup(env, "REDIS_PASSWORD");
  if (password == nullptr || password->empty()) return;
  auto url = RedisUrl::parse(redis.url);
  if (!url) return;  // reported by validation, without the password
  if (keep_given && !url->password.empty()) return;
  url->password = *password;
  redis.url = url->to_string();
}

Environment process_environment() {
  Environment env;
  for (const char* name :
       {"REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_TIMEOUT",
        "RATE_LIMITER_CONFIG_PATH", "LOG_LEVEL", "ADMIN_API_KEY"}) {
    if (const char* value = std::getenv(name)) env.emplace(name, value);
  }
  return env;
}

void apply_environment(const Environment& env, DaemonConfig& c,
                       std::vector<std::string>& problems) {
  apply_redis_parts(env, c.redis, problems);
  apply_redis_password(env, c.redis, false);
  if (const std::string* t = lookup(env, "REDIS_TIMEOUT"))
    apply_redis_timeout(*t, c.redis, problems);
  if (const std::string* path = lookup(env, "RATE_LIMITER_CONFIG_PATH")) {
    c.store.tiers_file = *path;
    c.store.tiers_file_required = true;
  }
  if (const std::string* level = lookup(env, "LOG_LEVEL")) {
    if (auto l = obs::parse_log_level(*level)) {
      c.log.level = *l;
    } else {
      problems.push_back("environment LOG_LEVEL: expected one of debug, info, warn, error, got \"" +
                         *level + "\"");
    }
  }
  if (const std::string* key = lookup(env, "ADMIN_API_KEY")) c.security.admin_key = *key;
}

}  // namespace rl::config
