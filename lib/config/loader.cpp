// The rld.toml schema, environment and flag overlays, and whole-config validation.
#include "config/loader.h"

#include <filesystem>

#include "config/redis_url.h"
#include "config/toml_reader.h"
#include "core/text.h"

namespace rl::config {

std::string_view to_string(StoreKind kind) {
  return kind == StoreKind::redis ? "redis" : "memory";
}

std::string_view to_string(FailurePolicy policy) {
  switch (policy) {
    case FailurePolicy::allow:
      return "allow";
    case FailurePolicy::deny:
      return "deny";
    case FailurePolicy::local:
      break;
  }
  return "local";
}

namespace {

constexpr std::int64_t kDay = 86400;

std::optional<StoreKind> parse_store(std::string_view s) {
  if (s == "memory") return StoreKind::memory;
  if (s == "redis") return StoreKind::redis;
  return std::nullopt;
}

std::optional<FailurePolicy> parse_policy(std::string_view s) {
  for (auto p : {FailurePolicy::local, FailurePolicy::allow, FailurePolicy::deny}) {
    if (s == to_string(p)) return p;
  }
  return std::nullopt;
}

// Parses listen addresses, reporting each bad one as "<source>: <message>".
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

std::string resolve_relative(const std::string& file, const std::string& base_file) {
  if (file.empty() || base_file.empty()) return file;
  std::filesystem::path p(file);
  if (p.is_absolute()) return file;
  return (std::filesystem::path(base_file).parent_path() / p).lexically_normal().string();
}

void read_server(TomlReader r, ServerConfig& s) {
  if (r.has("listen")) {
    std::vector<std::string> texts;
    r.string_list("listen", texts);
    if (texts.empty() && r.is_array("listen")) r.problem("listen", "at least one address");
    std::vector<std::string> bad;
    s.listen = parse_listeners(texts, "", bad);
    for (const auto& message : bad)
      r.invalid("listen", message.substr(2));  // drop ": "
  }
  std::int64_t workers = s.workers;
  r.integer("workers", workers, 1, 256);
  s.workers = static_cast<int>(workers);
  r.size("max_connections", s.max_connections, 1, 1'000'000);
  r.millis("drain_timeout_ms", s.drain_timeout, 0, 600'000);
  std::string mode;
  r.string("unix_socket_mode", mode);
  if (r.has("unix_socket_mode")) {
    std::uint32_t value = 0;
    const bool octal = !mode.empty() && mode.size() <= 4 &&
                       mode.find_first_not_of("01234567") == std::string::npos;
    for (char ch : mode)
      value = value * 8 + static_cast<std::uint32_t>(ch - '0');
    if (!octal || value > 0777) {
      r.problem("unix_socket_mode", "an octal file mode such as \"0660\"");
    } else {
      s.unix_socket_mode = value;
    }
  }
  r.finish();
}

void read_http(TomlReader r, HttpConfig& h, const std::string& file,
               std::vector<std::string>& problems) {
  r.size("max_url_bytes", h.max_url_bytes, 64, 1 << 20);
  r.size("max_header_bytes", h.max_header_bytes, 256, 1 << 20);
  r.size("max_headers", h.max_headers, 8, 1000);
  r.size("max_body_bytes", h.max_body_bytes, 0, 16 << 20);
  r.millis("header_timeout_ms", h.header_timeout, 100, 600'000);
  r.millis("request_timeout_ms", h.request_timeout, 100, 600'000);
  r.millis("idle_timeout_ms", h.idle_timeout, 100, 3'600'000);
  r.boolean("trust_unix_socket", h.trust_unix_socket);
  r.boolean("ietf_headers", h.ietf_headers);
  std::vector<std::string> proxies;
  r.string_list("trusted_proxies", proxies);
  for (const auto& text : proxies) {
    if (auto cidr = security::Cidr::parse(text)) {
      h.trusted_proxies.push_back(*cidr);
    } else {
      problems.push_back(file +
                         ": http.trusted_proxies: expected an IP address or CIDR range "
                         "such as \"10.0.0.0/8\", got \"" +
                         text + "\"");
    }
  }
  r.string_list("excluded_paths", h.excluded_paths);
  for (const auto& path : h.excluded_paths) {
    if (!path.starts_with('/')) {
      problems.push_back(file + ": http.excluded_paths: expected paths starting with '/', got \"" +
                         path + "\"");
    }
  }
  if (h.header_timeout > h.request_timeout) {
    r.problem("request_timeout_ms", "a value no smaller than header_timeout_ms");
  }
  r.finish();
}

void read_file(const std::string& path, DaemonConfig& c, std::vector<std::string>& problems) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    problems.push_back(path + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                       ": invalid TOML: " + std::string(e.description()));
    return;
  }
  TomlReader r(root, path, "", problems);
  read_server(r.section("server"), c.server);
  read_http(r.section("http"), c.http, path, problems);

  TomlReader store = r.section("store");
  std::string kind;
  store.string("type", kind);
  if (!kind.empty()) {
    if (auto k = parse_store(kind)) {
      c.store.kind = *k;
    } else {
      store.problem("type", "\"memory\" or \"redis\"");
    }
  }
  if (store.has("tiers_file")) {
    store.string("tiers_file", c.store.tiers_file);
    c.store.tiers_file = resolve_relative(c.store.tiers_file, path);
    c.store.tiers_file_required = true;
  }
  store.finish();

  TomlReader redis = r.section("redis");
  redis.string("url", c.redis.url, /*secret=*/true);
  redis.millis("timeout_ms", c.redis.timeout, 1, 60'000);
  std::int64_t connections = c.redis.connections;
  redis.integer("connections", connections, 1, 64);
  c.redis.connections = static_cast<int>(connections);
  std::string policy;
  redis.string("on_failure", policy);
  if (!policy.empty()) {
    if (auto p = parse_policy(policy)) {
      c.redis.on_failure = *p;
    } else {
      redis.problem("on_failure", "\"local\", \"allow\" or \"deny\"");
    }
  }
  redis.string("prefix", c.redis.prefix);
  redis.finish();

  TomlReader sec = r.section("security");
  sec.integer("max_invalid_attempts", c.security.max_invalid_attempts, 1, 1'000'000);
  sec.seconds("invalid_window_seconds", c.security.invalid_window, 1, kDay);
  sec.seconds("block_seconds", c.security.block_duration, 1, 30 * kDay);
  sec.string("admin_key", c.security.admin_key, /*secret=*/true);
  sec.size("max_tracked_clients", c.security.max_tracked_clients, 100, 100'000'000);
  sec.finish();

  TomlReader health = r.section("health");
  health.seconds("cache_seconds", c.health.cache, 0, 3600);
  health.finish();

  TomlReader log = r.section("log");
  std::string level;
  log.string("level", level);
  if (!level.empty()) {
    if (auto l = obs::parse_log_level(level)) {
      c.log.level = *l;
    } else {
      log.problem("level", "one of \"debug\", \"info\", \"warn\", \"error\"");
    }
  }
  log.finish();
  r.finish();
}

// REDIS_HOST/PORT/DB rebuild the URL's parts; REDIS_TIMEOUT is in seconds, as in the reference.
void apply_environment(const Environment& env, DaemonConfig& c,
                       std::vector<std::string>& problems) {
  const auto get = [&](std::string_view name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  // REDIS_HOST, REDIS_PORT and REDIS_DB each replace their own part of the configured URL.
  const std::string* host = get("REDIS_HOST");
  const std::string* port = get("REDIS_PORT");
  const std::string* db = get("REDIS_DB");
  if (host != nullptr || port != nullptr || db != nullptr) {
    auto parsed = RedisUrl::parse(c.redis.url);
    RedisUrl url = parsed ? *parsed : RedisUrl{};  // a bad file URL is reported by validate()
    bool ok = true;
    if (host != nullptr) {
      if (host->empty() || host->find_first_of("/@[] ") != std::string::npos) {
        problems.push_back("environment REDIS_HOST: expected a host name or IP address, got \"" +
                           *host + "\"");
        ok = false;
      }
      url.kind = RedisUrl::Kind::tcp;
      url.host = *host;
    }
    if (port != nullptr) {
      const auto p = core::parse_int64(*port);
      if (!p || *p < 1 || *p > 65535) {
        problems.push_back("environment REDIS_PORT: expected an integer from 1 to 65535, got \"" +
                           *port + "\"");
        ok = false;
      } else {
        url.kind = RedisUrl::Kind::tcp;
        url.port = static_cast<std::uint16_t>(*p);
      }
    }
    if (db != nullptr) {
      const auto d = core::parse_int64(*db);
      if (!d || *d < 0 || *d > 65535) {
        problems.push_back("environment REDIS_DB: expected an integer from 0 to 65535, got \"" +
                           *db + "\"");
        ok = false;
      } else {
        url.db = static_cast<int>(*d);
      }
    }
    if (ok) c.redis.url = url.to_string();
  }
  if (const std::string* t = get("REDIS_TIMEOUT")) {
    double seconds = -1;
    std::size_t used = 0;
    try {
      seconds = std::stod(*t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != t->size() || !(seconds >= 0.001 && seconds <= 60)) {
      problems.push_back("environment REDIS_TIMEOUT: expected seconds from 0.001 to 60, got \"" +
                         *t + "\"");
    } else {
      c.redis.timeout = core::Millis{static_cast<std::int64_t>(seconds * 1000 + 0.5)};
    }
  }
  if (const std::string* path = get("RATE_LIMITER_CONFIG_PATH")) {
    c.store.tiers_file = *path;
    c.store.tiers_file_required = true;
  }
  if (const std::string* level = get("LOG_LEVEL")) {
    if (auto l = obs::parse_log_level(*level)) {
      c.log.level = *l;
    } else {
      problems.push_back("environment LOG_LEVEL: expected one of debug, info, warn, error, got \"" +
                         *level + "\"");
    }
  }
  if (const std::string* key = get("ADMIN_API_KEY")) c.security.admin_key = *key;
}

void apply_overrides(const Overrides& o, DaemonConfig& c, std::vector<std::string>& problems) {
  if (!o.listen.empty()) c.server.listen = parse_listeners(o.listen, "--listen", problems);
  if (o.store) {
    if (auto k = parse_store(*o.store)) {
      c.store.kind = *k;
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
  if (c.server.workers != 1) {
    problems.push_back(where +
                       ": server.workers: expected 1 (several workers per process are "
                       "not supported yet), got " +
                       std::to_string(c.server.workers));
  }
  if (c.store.kind == StoreKind::redis) {
    problems.push_back(where +
                       ": store.type: expected \"memory\" (the redis store is not "
                       "available in this build yet)");
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

Environment process_environment() {
  Environment env;
  for (const char* name : {"REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_TIMEOUT",
                           "RATE_LIMITER_CONFIG_PATH", "LOG_LEVEL", "ADMIN_API_KEY"}) {
    if (const char* value = std::getenv(name)) env.emplace(name, value);
  }
  return env;
}

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
      read_file(path, config, problems);
    }
  }
  apply_environment(env, config, problems);
  apply_overrides(overrides, config, problems);
  validate(config, problems);
  if (problems.empty()) return config;
  std::string message;
  for (const auto& p : problems)
    message += p + "\n";
  message.pop_back();
  return core::make_error(core::Errc::invalid_argument, std::move(message));
}

}  // namespace rl::config
