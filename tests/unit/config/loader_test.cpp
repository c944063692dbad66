// Tests of config/loader.h: built-in defaults, the demo config, every rld.toml key, the
// precedence defaults < file < environment < flags, and tiers_file resolution.
#include "config/loader.h"

#include <algorithm>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "unit/config/fixtures.h"

using rl::config::DaemonConfig;
using rl::config::Environment;
using rl::config::FailurePolicy;
using rl::config::ListenAddress;
using rl::config::load_daemon_config;
using rl::config::Overrides;
using rl::config::StoreKind;
using rl::core::Millis;
using rl::core::Seconds;

namespace {

using rl::test::kConfigFixtures;
const std::string kDemo = RL_TEST_DATA_DIR "/../config/rld.toml";

DaemonConfig load_ok(const std::string& path, const Environment& env = {},
                     const Overrides& overrides = {}) {
  auto result = load_daemon_config(path, env, overrides);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  return *result;
}

std::string load_error(const std::string& path, const Environment& env = {},
                       const Overrides& overrides = {}) {
  auto result = load_daemon_config(path, env, overrides);
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

}  // namespace

TEST_CASE("with no file the built-in defaults are used") {
  const DaemonConfig c = load_ok("");
  CHECK(c.source.empty());
  REQUIRE(c.server.listen.size() == 1);
  CHECK(c.server.listen[0].to_string() == "127.0.0.1:8000");
  CHECK(c.server.workers == static_cast<int>(std::max(1U, std::thread::hardware_concurrency())));
  CHECK(c.server.max_connections == 10000);
  CHECK(c.server.drain_timeout == Millis{10000});
  CHECK(c.server.unix_socket_mode == 0660);
  CHECK(c.http.max_url_bytes == 8192);
  CHECK(c.http.max_header_bytes == 16384);
  CHECK(c.http.max_headers == 100);
  CHECK(c.http.max_body_bytes == 65536);
  CHECK(c.http.trust_unix_socket);
  CHECK(c.http.trusted_proxies.empty());
  CHECK(c.http.ietf_headers);
  CHECK(c.store.kind == StoreKind::memory);
  CHECK(c.store.tiers_file == "config/rate_limits.json");
  CHECK_FALSE(c.store.tiers_file_required);
  CHECK(c.redis.url == "redis://127.0.0.1:6379/0");
  CHECK(c.redis.timeout == Millis{5});
  CHECK(c.redis.on_failure == FailurePolicy::local);
  CHECK(c.redis.prefix == "rl:");
  CHECK(c.security.max_invalid_attempts == 10);
  CHECK(c.security.invalid_window == Seconds{300});
  CHECK(c.security.block_duration == Seconds{900});
  CHECK(c.security.admin_key.empty());
  REQUIRE(c.security.admin_networks.size() == 2);
  CHECK(c.security.admin_networks[0].to_string() == "127.0.0.0/8");
  CHECK(c.security.admin_networks[1].to_string() == "::1/128");
  CHECK(c.health.cache == Seconds{2});
  CHECK(c.log.level == rl::obs::LogLevel::info);
}

TEST_CASE("the demo config/rld.toml loads and names the tier file next to it") {
  const DaemonConfig c = load_ok(kDemo);
  CHECK(c.source == kDemo);
  REQUIRE(c.server.listen.size() == 2);
  CHECK(c.server.listen[0].to_string() == "127.0.0.1:8000");
  CHECK(c.server.listen[1].to_string() == "unix:/tmp/rld.sock");
  CHECK(c.store.tiers_file.ends_with("/config/rate_limits.json"));
  CHECK(c.store.tiers_file.find("..") == std::string::npos);
  CHECK(c.store.tiers_file_required);
  CHECK(c.security.admin_key == rl::config::kPlaceholderAdminKey);
  CHECK(c.http.excluded_paths.size() == 3);
}

TEST_CASE("every key of the server section is read from the file") {
  const DaemonConfig c = load_ok(kConfigFixtures + "full.toml");
  REQUIRE(c.server.listen.size() == 3);
  CHECK(c.server.listen[0].to_string() == "0.0.0.0:9000");
  CHECK(c.server.listen[1].to_string() == "[::1]:9001");
  CHECK(c.server.listen[2].to_string() == "unix:/run/rld/rld.sock");
  CHECK(c.server.workers == 1);
  CHECK(c.server.max_connections == 500);
  CHECK(c.server.drain_timeout == Millis{2500});
  CHECK(c.server.unix_socket_mode == 0600);
}

TEST_CASE("every key of the http section is read from the file") {
  const DaemonConfig c = load_ok(kConfigFixtures + "full.toml");
  CHECK(c.http.max_url_bytes == 1024);
  CHECK(c.http.max_header_bytes == 4096);
  CHECK(c.http.max_headers == 20);
  CHECK(c.http.max_body_bytes == 2048);
  CHECK(c.http.header_timeout == Millis{1500});
  CHECK(c.http.request_timeout == Millis{4000});
  CHECK(c.http.idle_timeout == Millis{7000});
  CHECK_FALSE(c.http.trust_unix_socket);
  CHECK_FALSE(c.http.ietf_headers);
  REQUIRE(c.http.trusted_proxies.size() == 3);
  const auto inside = rl::security::IpAddress::parse("10.20.30.40");
  const auto exact = rl::security::IpAddress::parse("192.168.1.7");
  const auto neighbour = rl::security::IpAddress::parse("192.168.1.8");
  const auto v6 = rl::security::IpAddress::parse("fd12::1");
  CHECK(c.http.trusted_proxies[0].contains(*inside));
  CHECK(c.http.trusted_proxies[1].contains(*exact));
  CHECK_FALSE(c.http.trusted_proxies[1].contains(*neighbour));
  CHECK(c.http.trusted_proxies[2].contains(*v6));
  CHECK(c.http.excluded_paths == std::vector<std::string>{"/health", "/static/*"});
}

TEST_CASE("every key of the store, redis, security, health and log sections is read") {
  const DaemonConfig c = load_ok(kConfigFixtures + "full.toml");
  CHECK(c.store.kind == StoreKind::memory);
  CHECK(c.store.tiers_file == "/etc/rld/tiers.json");
  CHECK(c.store.tiers_file_required);
  CHECK(c.redis.url == "redis://10.1.2.3:6380/2");
  CHECK(c.redis.timeout == Millis{25});
  CHECK(c.redis.connections == 4);
  CHECK(c.redis.on_failure == FailurePolicy::deny);
  CHECK(c.redis.prefix == "myapp:");
  CHECK(c.security.max_invalid_attempts == 3);
  CHECK(c.security.invalid_window == Seconds{60});
  CHECK(c.security.block_duration == Seconds{120});
  CHECK(c.security.admin_key == "file-admin-key-0123456789");
  CHECK(c.security.max_tracked_clients == 5000);
  REQUIRE(c.security.admin_networks.size() == 2);
  CHECK(c.security.admin_networks[0].to_string() == "10.9.0.0/16");
  CHECK(c.security.admin_networks[1].to_string() == "fd00:1::/64");
  CHECK(c.health.cache == Seconds{0});
  CHECK(c.log.level == rl::obs::LogLevel::debug);
}

TEST_CASE("an empty admin_networks leaves the admin API to the Unix socket") {
  const DaemonConfig c = load_ok(kConfigFixtures + "admin_networks_empty.toml");
  CHECK(c.security.admin_networks.empty());
}

TEST_CASE("a relative tiers_file is resolved against the config file's directory") {
  const DaemonConfig c = load_ok(kConfigFixtures + "relative_tiers.toml");
  CHECK(c.store.tiers_file == kConfigFixtures + "tiers/demo.json");
  CHECK(c.store.tiers_file_required);
}

TEST_CASE("REDIS_HOST, REDIS_PORT and REDIS_DB build the redis url") {
  const DaemonConfig c =
      load_ok("", {{"REDIS_HOST", "redis.internal"}, {"REDIS_PORT", "6390"}, {"REDIS_DB", "3"}});
  CHECK(c.redis.url == "redis://redis.internal:6390/3");
}

TEST_CASE("REDIS_PASSWORD is the password of the redis url, off the command line") {
  CHECK(load_ok("", {{"REDIS_PASSWORD", "s3cret"}}).redis.url ==
        "redis://:s3cret@127.0.0.1:6379/0");
  // Over the file's password (environment over file) ...
  CHECK(load_ok(kConfigFixtures + "full.toml", {{"REDIS_PASSWORD", "fromenv"}}).redis.url ==
        "redis://:fromenv@10.1.2.3:6380/2");
  // ... into a --redis URL without one, but not over a password --redis gives.
  Overrides flag;
  flag.redis_url = "redis://10.0.0.5:6379/1";
  CHECK(load_ok("", {{"REDIS_PASSWORD", "fromenv"}}, flag).redis.url ==
        "redis://:fromenv@10.0.0.5:6379/1");
  flag.redis_url = "redis://:fromflag@10.0.0.5:6379/1";
  CHECK(load_ok("", {{"REDIS_PASSWORD", "fromenv"}}, flag).redis.url ==
        "redis://:fromflag@10.0.0.5:6379/1");
  CHECK(load_ok("", {{"REDIS_PASSWORD", ""}}).redis.url == "redis://127.0.0.1:6379/0");
}

TEST_CASE("an IPv6 REDIS_HOST is bracketed in the redis url") {
  const DaemonConfig c = load_ok("", {{"REDIS_HOST", "::1"}});
  CHECK(c.redis.url == "redis://[::1]:6379/0");
}

TEST_CASE("each REDIS_ variable replaces only its own part of the file's redis url") {
  // Precedence is per setting: a variable that names only the port must not move the
  // daemon to another host or database than the file chose.
  CHECK(load_ok(kConfigFixtures + "full.toml", {{"REDIS_PORT", "7000"}}).redis.url ==
        "redis://10.1.2.3:7000/2");
  CHECK(load_ok(kConfigFixtures + "full.toml", {{"REDIS_HOST", "cache"}}).redis.url ==
        "redis://cache:6380/2");
  CHECK(load_ok(kConfigFixtures + "full.toml", {{"REDIS_DB", "5"}}).redis.url ==
        "redis://10.1.2.3:6380/5");
}

TEST_CASE("REDIS_TIMEOUT is in seconds and becomes redis.timeout_ms") {
  CHECK(load_ok(kConfigFixtures + "full.toml", {{"REDIS_TIMEOUT", "0.25"}}).redis.timeout ==
        Millis{250});
  CHECK(load_ok("", {{"REDIS_TIMEOUT", "2"}}).redis.timeout == Millis{2000});
}

TEST_CASE("RATE_LIMITER_CONFIG_PATH, LOG_LEVEL and ADMIN_API_KEY override the file") {
  const DaemonConfig c =
      load_ok(kConfigFixtures + "full.toml", {{"RATE_LIMITER_CONFIG_PATH", "/x.json"},
                                              {"LOG_LEVEL", "WARNING"},
                                              {"ADMIN_API_KEY", "env-admin-key"}});
  CHECK(c.store.tiers_file == "/x.json");
  CHECK(c.store.tiers_file_required);
  CHECK(c.log.level == rl::obs::LogLevel::warn);
  CHECK(c.security.admin_key == "env-admin-key");
}

TEST_CASE("command-line flags override the environment") {
  Overrides o;
  o.redis_url = "redis://flag:1/1";
  o.tiers_file = "/flag.json";
  o.admin_key = "flag-admin-key";
  o.log_level = "error";
  const DaemonConfig c = load_ok(kConfigFixtures + "full.toml",
                                 {{"REDIS_HOST", "envhost"},
                                  {"RATE_LIMITER_CONFIG_PATH", "/env.json"},
                                  {"LOG_LEVEL", "debug"},
                                  {"ADMIN_API_KEY", "env-admin-key"}},
                                 o);
  CHECK(c.redis.url == "redis://flag:1/1");
  CHECK(c.store.tiers_file == "/flag.json");
  CHECK(c.security.admin_key == "flag-admin-key");
  CHECK(c.log.level == rl::obs::LogLevel::error);
}

TEST_CASE("--listen replaces the whole listener list of the file") {
  Overrides o;
  o.listen = {"127.0.0.1:0"};
  const DaemonConfig c = load_ok(kConfigFixtures + "full.toml", {}, o);
  REQUIRE(c.server.listen.size() == 1);
  CHECK(c.server.listen[0] == ListenAddress{ListenAddress::Kind::tcp, "127.0.0.1", 0, ""});
}

TEST_CASE("--store memory is accepted and an unknown --store is refused") {
  Overrides o;
  o.store = "memory";
  CHECK(load_ok("", {}, o).store.kind == StoreKind::memory);
  o.store = "etcd";
  CHECK(load_error("", {}, o).find("--store: expected memory or redis, got \"etcd\"") !=
        std::string::npos);
}

TEST_CASE("a unix_socket_group is resolved to its group id by name or by number") {
  const DaemonConfig by_name = load_ok(kConfigFixtures + "socket_group_name.toml");
  CHECK(by_name.server.unix_socket_gid == 0);
  const DaemonConfig by_number = load_ok(kConfigFixtures + "socket_group_number.toml");
  CHECK(by_number.server.unix_socket_gid == 0);
  CHECK(by_number.server.unix_socket_group == "0");
  CHECK(load_ok(kDemo).server.unix_socket_gid == -1);  // default: rld's own group
}
