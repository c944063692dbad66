// Tests of redis.mode and redis.nodes: standalone and cluster settle into one URL (a
// redis+cluster:// one in cluster mode) whatever mix of file, environment and flags gave them,
// and each contradiction is an error naming the file, the key and what was expected.
#include <string>

#include <doctest/doctest.h>

#include "config/loader.h"
#include "unit/config/fixtures.h"

using rl::config::DaemonConfig;
using rl::config::Environment;
using rl::config::load_daemon_config;
using rl::config::Overrides;
using rl::config::RedisMode;

namespace {

using rl::test::kConfigFixtures;

DaemonConfig mode_ok(const std::string& file, const Environment& env = {},
                     const Overrides& overrides = {}) {
  auto result = load_daemon_config(file.empty() ? "" : kConfigFixtures + file, env, overrides);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  return *result;
}

std::string mode_error(const std::string& file, const Environment& env = {},
                       const Overrides& overrides = {}) {
  auto result = load_daemon_config(file.empty() ? "" : kConfigFixtures + file, env, overrides);
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

}  // namespace

TEST_CASE("standalone is the default and leaves the URL alone") {
  const DaemonConfig c = mode_ok("");
  CHECK(c.redis.mode == RedisMode::standalone);
  CHECK(c.redis.url == "redis://127.0.0.1:6379/0");
}

TEST_CASE("redis.mode = cluster with redis.nodes makes a redis+cluster URL of the seeds") {
  const DaemonConfig c = mode_ok("cluster_nodes.toml");
  CHECK(c.redis.mode == RedisMode::cluster);
  CHECK(c.redis.url == "redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[fd00::3]:7002");
  // REDIS_PASSWORD reaches every node.
  CHECK(mode_ok("cluster_nodes.toml", {{"REDIS_PASSWORD", "pw"}}).redis.url ==
        "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,[fd00::3]:7002");
}

TEST_CASE("a redis+cluster URL is cluster mode by itself; its password is kept") {
  const DaemonConfig c = mode_ok("cluster_url.toml", {{"REDIS_PASSWORD", "other"}});
  CHECK(c.redis.mode == RedisMode::cluster);
  CHECK(c.redis.url == "redis+cluster://:other@10.0.0.1:7000,10.0.0.2:7001");  // env > file
  Overrides flag;
  flag.redis_url = "redis+cluster://10.9.9.9:7000";
  const DaemonConfig f = mode_ok("", {}, flag);
  CHECK(f.redis.mode == RedisMode::cluster);
  CHECK(f.redis.url == "redis+cluster://10.9.9.9:7000");
}

TEST_CASE("cluster mode with a plain URL takes its host as the one seed") {
  Overrides flag;
  flag.redis_url = "redis://:pw@10.0.0.7:7005";
  // The flag replaces the file's seeds, as it replaces its URL; the file's mode stays.
  const DaemonConfig c = mode_ok("cluster_nodes.toml", {}, flag);
  CHECK(c.redis.url == "redis+cluster://:pw@10.0.0.7:7005");
}

TEST_CASE("REDIS_HOST and REDIS_PORT name the one seed in cluster mode") {
  const DaemonConfig c =
      mode_ok("cluster_nodes.toml", {{"REDIS_HOST", "10.5.5.5"}, {"REDIS_PORT", "7100"}});
  CHECK(c.redis.url == "redis+cluster://10.5.5.5:7100");
  const DaemonConfig u = mode_ok("cluster_url.toml", {{"REDIS_PORT", "7200"}});
  CHECK(u.redis.url == "redis+cluster://:secret@10.0.0.1:7200");
}

TEST_CASE("a database other than 0 in cluster mode names the file and redis.url") {
  const std::string e = mode_error("err_cluster_db.toml");
  CHECK_MESSAGE(e == kConfigFixtures +
                         "err_cluster_db.toml: redis.url: expected database 0 in cluster "
                         "mode (Redis Cluster has only database 0), got 3 (from the URL or "
                         "REDIS_DB)",
                e);
  const std::string env = mode_error("cluster_url.toml", {{"REDIS_DB", "2"}});
  CHECK_MESSAGE(env.find("redis.url: expected redis://") != std::string::npos, env);
  CHECK_MESSAGE(env.find("a Redis Cluster has only database 0") != std::string::npos, env);
  CHECK(env.find("secret") == std::string::npos);  // never the password
}

TEST_CASE("a seed that is not host:port names the file, the line and redis.nodes") {
  const std::string e = mode_error("err_cluster_bad_node.toml");
  CHECK_MESSAGE(e == kConfigFixtures +
                         "err_cluster_bad_node.toml:3: redis.nodes: expected "
                         "\"host:port\" seed nodes, got \"10.0.0.2\" (no port)",
                e);
  const std::string none = mode_error("err_cluster_no_nodes.toml");
  CHECK_MESSAGE(none.find("redis.nodes: expected at least one \"host:port\"") != std::string::npos,
                none);
}

TEST_CASE("redis.nodes without cluster mode, a unix socket, or seeds given twice are errors") {
  const std::string standalone = mode_error("err_nodes_standalone.toml");
  CHECK_MESSAGE(standalone == kConfigFixtures +
                                  "err_nodes_standalone.toml: redis.nodes: only used with "
                                  "redis.mode = \"cluster\" (set it, or remove "
                                  "redis.nodes)",
                standalone);
  const std::string unix_socket = mode_error("err_cluster_unix.toml");
  CHECK_MESSAGE(unix_socket.find("err_cluster_unix.toml: redis.url: expected a redis:// or "
                                 "redis+cluster:// URL in cluster mode") != std::string::npos,
                unix_socket);
  const std::string twice = mode_error("err_cluster_twice.toml");
  CHECK_MESSAGE(twice.find("err_cluster_twice.toml: redis.nodes: the seed nodes are given twice") !=
                    std::string::npos,
                twice);
  const std::string mode = mode_error("err_cluster_mode.toml");
  CHECK_MESSAGE(mode.find("err_cluster_mode.toml:2: redis.mode: expected \"standalone\" or "
                          "\"cluster\"") != std::string::npos,
                mode);
}
