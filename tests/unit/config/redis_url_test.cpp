// Tests of config/redis_url.h: the single-node forms, redis+cluster:// seed lists with their
// credentials, round trips through to_string(), redaction, and what each mistake says.
#include "config/redis_url.h"

#include <string>

#include <doctest/doctest.h>

using rl::config::HostPort;
using rl::config::RedisUrl;

namespace {

RedisUrl url_ok(const std::string& text) {
  auto url = RedisUrl::parse(text);
  REQUIRE_MESSAGE(url.ok(), (url.ok() ? "" : url.error().message));
  return *url;
}

std::string url_error(const std::string& text) {
  auto url = RedisUrl::parse(text);
  REQUIRE_FALSE(url.ok());
  return url.error().message;
}

}  // namespace

TEST_CASE("single-node URLs keep their meaning") {
  const RedisUrl u = url_ok("redis://user:pw@10.0.0.5:6380/2");
  CHECK_FALSE(u.cluster);
  CHECK(u.host == "10.0.0.5");
  CHECK(u.port == 6380);
  CHECK(u.db == 2);
  CHECK(u.username == "user");
  CHECK(u.password == "pw");
  CHECK(u.nodes.empty());
  CHECK(u.to_string() == "redis://user:pw@10.0.0.5:6380/2");
  CHECK(url_ok("redis://secret@h").password == "secret");
  CHECK(url_ok("redis://h").port == 6379);
  CHECK(url_ok("redis://[::1]:7000").host == "::1");
  CHECK(url_ok("redis://[::1]:7000").to_string() == "redis://[::1]:7000/0");
  CHECK(url_ok("unix:///run/redis.sock?db=3").db == 3);
}

TEST_CASE("a redis+cluster URL lists the seed nodes, all reached with its credentials") {
  const RedisUrl u = url_ok("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001,[fd00::3]:7002");
  CHECK(u.cluster);
  REQUIRE(u.nodes.size() == 3);
  CHECK(u.nodes[0] == HostPort{"10.0.0.1", 7000});
  CHECK(u.nodes[2] == HostPort{"fd00::3", 7002});
  CHECK(u.host == "10.0.0.1");  // the first seed, where a single connection would go
  CHECK(u.port == 7000);
  CHECK(u.password == "s3cret");
  CHECK(u.to_string() == "redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001,[fd00::3]:7002");
  CHECK(u.redacted() == "redis+cluster://:***@10.0.0.1:7000,10.0.0.2:7001,[fd00::3]:7002");
  CHECK(u.redacted().find("s3cret") == std::string::npos);
  const RedisUrl node = u.node(u.nodes[1]);
  CHECK_FALSE(node.cluster);
  CHECK(node.to_string() == "redis://:s3cret@10.0.0.2:7001/0");
  CHECK(url_ok("redis+cluster://a:1/0").db == 0);
  CHECK(url_ok("redis+cluster://user:p@ss,w@a:1,b").nodes[1] == HostPort{"b", 6379});
  CHECK(url_ok("redis+cluster://user:p@ss,w@a:1,b").password == "p@ss,w");
}

TEST_CASE("each URL mistake says what was expected") {
  CHECK(url_error("redis+cluster://a:1,b:2/3").find("a Redis Cluster has only database 0") !=
        std::string::npos);
  CHECK(url_error("redis://a:1,b:2").find("several hosts need redis+cluster://") !=
        std::string::npos);
  CHECK(url_error("redis+cluster://a:1,,b:2").find("no host") != std::string::npos);
  CHECK(url_error("redis+cluster://a:1,b:0").find("port must be 1-65535") != std::string::npos);
  CHECK(url_error("redis+cluster://").find("no host") != std::string::npos);
  CHECK(url_error("rediss://a").find("unknown scheme") != std::string::npos);
  CHECK(url_error("http://a").find("redis+cluster://[[user]:password@]host:port,host:port") !=
        std::string::npos);
  CHECK(url_error("redis://:pw@[::1").find("unclosed [") != std::string::npos);
}

TEST_CASE("a seed is host:port, the port required where the config asks for it") {
  CHECK(HostPort::parse("h:1", true)->port == 1);
  CHECK(HostPort::parse("[::1]:2", true)->host == "::1");
  CHECK_FALSE(HostPort::parse("h", true).ok());
  CHECK(HostPort::parse("h", false)->port == 6379);
  CHECK_FALSE(HostPort::parse(":1", true).ok());
  CHECK_FALSE(HostPort::parse("a b:1", true).ok());
  CHECK_FALSE(HostPort::parse("h:99999", true).ok());
  CHECK(HostPort{"fd00::1", 7000}.to_string() == "[fd00::1]:7000");
}
