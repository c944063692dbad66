// The rld.toml schema: which keys each section has, their types, bounds and meanings.
// config/rld.toml documents the same keys for people.
#include <filesystem>
#include <grp.h>
#include <vector>

#include "config/internal.h"
#include "config/redis_url.h"
#include "config/toml_reader.h"

namespace rl::config {
namespace {

constexpr std::int64_t kDay = 86400;

std::string resolve_relative(const std::string& file, const std::string& base_file) {
  if (file.empty() || base_file.empty()) return file;
  std::filesystem::path p(file);
  if (p.is_absolute()) return file;
  return (std::filesystem::path(base_file).parent_path() / p).lexically_normal().string();
}

// A group name or number known to this host (getgrnam_r/getgrgid_r), or -1.
std::int64_t group_id(const std::string& name) {
  if (name.empty()) return -1;
  group g{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (name.find_first_not_of("0123456789") == std::string::npos && name.size() <= 9) {
    getgrgid_r(static_cast<gid_t>(std::stoul(name)), &g, buffer.data(), buffer.size(), &found);
  } else {
    getgrnam_r(name.c_str(), &g, buffer.data(), buffer.size(), &found);
  }
  return found != nullptr ? static_cast<std::int64_t>(found->gr_gid) : -1;
}

// A list of IP addresses or CIDR ranges at `key`, replacing `out` when the key is present;
// every entry that is neither is reported with `example` as what was expected.
void cidr_list(TomlReader& r, std::string_view key, std::string_view example,
               std::vector<security::Cidr>& out) {
  if (!r.has(key)) return;
  std::vector<std::string> texts;
  r.string_list(key, texts);
  out.clear();
  for (const auto& text : texts) {
    if (auto cidr = security::Cidr::parse(text)) {
      out.push_back(*cidr);
    } else {
      r.invalid(key, "expected IP addresses or CIDR ranges such as \"" + std::string(example) +
                         "\", got \"" + text + "\"");
    }
  }
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
  r.integer("workers", workers, 0, kMaxWorkers);
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
  r.string("unix_socket_group", s.unix_socket_group);
  if (r.has("unix_socket_group")) {
    s.unix_socket_gid = group_id(s.unix_socket_group);
    if (s.unix_socket_gid < 0) {
      r.problem("unix_socket_group", "an existing group name or number (no group \"" +
                                         s.unix_socket_group + "\" on this host)");
    }
  }
  r.finish();
}

void read_http(TomlReader r, HttpConfig& h) {
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
  cidr_list(r, "trusted_proxies", "10.0.0.0/8", h.trusted_proxies);
  r.choice("client_ip_header", h.client_ip_header,
           {{"auto", ClientIpHeader::automatic},
            {"X-Forwarded-For", ClientIpHeader::x_forwarded_for},
            {"X-Real-IP", ClientIpHeader::x_real_ip}},
           "\"auto\", \"X-Forwarded-For\" or \"X-Real-IP\"");
  r.string("original_uri_header", h.original_uri_header);
  if (h.original_uri_header.empty() ||
      h.original_uri_header.find_first_of(" :\t\r\n") != std::string::npos) {
    r.problem("original_uri_header", "a header name such as \"X-Original-URI\"");
  }
  r.string_list("excluded_paths", h.excluded_paths);
  for (const auto& path : h.excluded_paths) {
    if (!path.starts_with('/')) {
      r.invalid("excluded_paths", "expected paths starting with '/', got \"" + path + "\"");
    }
  }
  if (h.header_timeout > h.request_timeout) {
    r.problem("request_timeout_ms", "a value no smaller than header_timeout_ms");
  }
  r.finish();
}

void read_store(TomlReader r, StoreConfig& s, const std::string& path) {
  r.choice("type", s.kind, {{"memory", StoreKind::memory}, {"redis", StoreKind::redis}},
           "\"memory\" or \"redis\"");
  if (r.has("tiers_file")) {
    r.string("tiers_file", s.tiers_file);
    s.tiers_file = resolve_relative(s.tiers_file, path);
    s.tiers_file_required = true;
  }
  r.finish();
}

void read_redis(TomlReader r, RedisConfig& c) {
  r.string("url", c.url, /*secret=*/true);
  r.choice("mode", c.mode, {{"standalone", RedisMode::standalone}, {"cluster", RedisMode::cluster}},
           "\"standalone\" or \"cluster\"");
  if (r.has("nodes")) {
    r.string_list("nodes", c.nodes);
    if (c.nodes.empty() && r.is_array("nodes")) r.problem("nodes", "at least one \"host:port\"");
    for (const auto& text : c.nodes) {
      if (auto node = HostPort::parse(text, true); !node) {
        r.invalid("nodes", "expected \"host:port\" seed nodes, got \"" + text + "\" (" +
                               node.error().message + ")");
      }
    }
  }
  r.millis("timeout_ms", c.timeout, 1, 60'000);
  std::int64_t connections = c.connections;
  r.integer("connections", connections, 1, 64);
  c.connections = static_cast<int>(connections);
  r.choice("on_failure", c.on_failure,
           {{"local", FailurePolicy::local},
            {"allow", FailurePolicy::allow},
            {"deny", FailurePolicy::deny}},
           "\"local\", \"allow\" or \"deny\"");
  r.string("prefix", c.prefix);
  if (c.prefix.empty() || c.prefix.size() > 32 ||
      c.prefix.find_first_of(" {}\t\r\n*?[]") != std::string::npos) {
    r.problem("prefix", "1-32 characters without spaces, braces or glob characters, e.g. \"rl:\"");
  }
  r.millis("connect_timeout_ms", c.connect_timeout, 10, 60'000);
  std::int64_t failures = c.breaker_failures;
  r.integer("breaker_failures", failures, 1, 1000);
  c.breaker_failures = static_cast<int>(failures);
  r.millis("breaker_cooldown_ms", c.breaker_cooldown, 10, 600'000);
  r.seconds("cache_ttl_seconds", c.cache_ttl, 1, 86400);
  r.size("cache_size", c.cache_size, 100, 10'000'000);
  r.finish();
}

void read_security(TomlReader r, SecurityConfig& s) {
  r.integer("max_invalid_attempts", s.max_invalid_attempts, 1, 1'000'000);
  r.seconds("invalid_window_seconds", s.invalid_window, 1, kDay);
  r.seconds("block_seconds", s.block_duration, 1, 30 * kDay);
  r.string("admin_key", s.admin_key, /*secret=*/true);
  r.size("max_tracked_clients", s.max_tracked_clients, 100, 100'000'000);
  cidr_list(r, "admin_networks", "127.0.0.0/8", s.admin_networks);
  r.finish();
}

void read_log(TomlReader r, LogConfig& l) {
  std::string level;
  r.string("level", level);
  if (r.has("level") && !level.empty()) {  // same spellings as LOG_LEVEL and --log-level
    if (auto parsed = obs::parse_log_level(level)) {
      l.level = *parsed;
    } else {
      r.problem("level", "one of \"debug\", \"info\", \"warn\", \"error\"");
    }
  } else if (r.has("level")) {
    r.problem("level", "one of \"debug\", \"info\", \"warn\", \"error\"");
  }
  r.finish();
}

}  // namespace

void read_toml_file(const std::string& path, DaemonConfig& c, std::vector<std::string>& problems) {
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
  read_http(r.section("http"), c.http);
  read_store(r.section("store"), c.store, path);
  read_redis(r.section("redis"), c.redis);
  read_security(r.section("security"), c.security);
  TomlReader health = r.section("health");
  health.seconds("cache_seconds", c.health.cache, 0, 3600);
  health.finish();
  read_log(r.section("log"), c.log);
  r.finish();
}

}  // namespace rl::config
