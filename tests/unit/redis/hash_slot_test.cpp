// Tests of redis/hash_slot.h and redis/command_route.h: CRC16 and hash tags as the Redis
// Cluster specification defines them, which argument routes a command, which commands only
// read, and what MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies say.
#include "redis/hash_slot.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "redis/command_route.h"
#include "unit/redis/resp.h"

using namespace rl;

namespace {

std::optional<std::string> key_of(std::vector<std::string_view> args) {
  const auto key = redis::routing_key(args);
  return key ? std::optional<std::string>(std::string(*key)) : std::nullopt;
}

}  // namespace

TEST_CASE("CRC16 is XMODEM: the specification's test vector") {
  CHECK(redis::crc16("123456789") == 0x31C3);
  CHECK(redis::crc16("") == 0);
}

TEST_CASE("key slots match Redis' own CLUSTER KEYSLOT") {
  // Values printed by redis-server 7.0 for CLUSTER KEYSLOT.
  CHECK(redis::key_slot("foo") == 12182);
  CHECK(redis::key_slot("bar") == 5061);
  CHECK(redis::key_slot("hello") == 866);
  CHECK(redis::key_slot("123456789") == 12739);
  CHECK(redis::key_slot("{user1000}.following") == 3443);
  CHECK(redis::key_slot("foo{}{bar}") == 8363);
  CHECK(redis::key_slot("foo{{bar}}zap") == 4015);
  CHECK(redis::key_slot("foo{bar}{zap}") == 5061);  // "bar"
  CHECK(redis::key_slot("rl:schema") == 2681);
}

TEST_CASE("a hash tag is the first non-empty {...}; otherwise the whole key is hashed") {
  CHECK(redis::key_slot("{user1000}.following") == redis::key_slot("{user1000}.followers"));
  CHECK(redis::hash_tag("{user1000}.following") == "user1000");
  CHECK(redis::hash_tag("foo{}{bar}") == "foo{}{bar}");  // "{}" is no tag: the whole key
  CHECK(redis::hash_tag("foo{{bar}}zap") == "{bar");
  CHECK(redis::hash_tag("foo{bar}{zap}") == "bar");
  CHECK(redis::hash_tag("foo{bar") == "foo{bar");  // never closed
  CHECK(redis::hash_tag("plain") == "plain");
  // Every key of one user is in one slot: a script's keys never cross slots.
  CHECK(redis::key_slot("rl:c:{alice}:sw:60") == redis::key_slot("rl:keys:{alice}"));
  CHECK(redis::key_slot("rl:bad:{1.2.3.4}") == redis::key_slot("rl:block:{1.2.3.4}"));
}

TEST_CASE("a command is routed by argv[1], a script by its first key, keyless ones by nothing") {
  CHECK(key_of({"GET", "k"}) == "k");
  CHECK(key_of({"hgetall", "h"}) == "h");
  CHECK(key_of({"DEL", "a", "b"}) == "a");
  CHECK(key_of({"EVALSHA", "abc", "2", "k1", "k2", "arg"}) == "k1");
  CHECK(key_of({"EVAL", "return 1", "0", "arg"}) == std::nullopt);
  CHECK(key_of({"EVAL", "return 1", "x"}) == std::nullopt);
  CHECK(key_of({"EVALSHA", "abc", "1"}) == std::nullopt);  // numkeys says 1, no key given
  for (std::string_view keyless : {"PING", "PUBLISH", "TIME", "SCRIPT", "INFO", "ECHO", "MULTI",
                                   "EXEC", "SCAN", "ASKING", "CLUSTER"}) {
    CHECK(key_of({keyless, "x", "y"}) == std::nullopt);
  }
  CHECK(key_of({"PING"}) == std::nullopt);
  CHECK(key_of({"GET"}) == std::nullopt);
  CHECK(key_of({"MEMORY", "USAGE", "k"}) == "k");
  CHECK(key_of({"OBJECT", "ENCODING", "k"}) == "k");
  CHECK(key_of({"XREAD", "COUNT", "2", "STREAMS", "s", "0"}) == "s");
  CHECK(key_of({}) == std::nullopt);
}

TEST_CASE("only commands that change nothing are read-only") {
  for (std::string_view r : {"GET", "PTTL", "TTL", "EXISTS", "HGETALL", "HMGET", "HGET", "SMEMBERS",
                             "SISMEMBER", "SCARD", "get"}) {
    CHECK(redis::is_read_only(r));
  }
  for (std::string_view w :
       {"SET", "DEL", "HSET", "SADD", "PUBLISH", "EVALSHA", "MULTI", "EXEC", "PEXPIRE", "INCR"}) {
    CHECK_FALSE(redis::is_read_only(w));
  }
}

TEST_CASE("MOVED and ASK name a slot and a node; TRYAGAIN and CLUSTERDOWN ask for a retry") {
  auto moved = redis::redirect_of(*test::parse_resp("-MOVED 3999 127.0.0.1:6381\r\n"));
  CHECK(moved.kind == redis::Redirect::moved);
  CHECK(moved.slot == 3999);
  CHECK(moved.host == "127.0.0.1");
  CHECK(moved.port == 6381);
  auto ask = redis::redirect_of(*test::parse_resp("-ASK 16383 redis-2.internal:7000\r\n"));
  CHECK(ask.kind == redis::Redirect::ask);
  CHECK(ask.slot == 16383);
  CHECK(ask.host == "redis-2.internal");
  auto v6 = redis::redirect_of(*test::parse_resp("-MOVED 1 ::1:7001\r\n"));
  CHECK(v6.kind == redis::Redirect::moved);
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7001);
  auto unknown = redis::redirect_of(*test::parse_resp("-MOVED 5 ?:7001\r\n"));
  CHECK(unknown.kind == redis::Redirect::moved);
  CHECK(unknown.host.empty());  // the node that answered
  CHECK(redis::redirect_of(*test::parse_resp("-TRYAGAIN Multiple keys\r\n")).kind ==
        redis::Redirect::tryagain);
  CHECK(redis::redirect_of(*test::parse_resp("-CLUSTERDOWN The cluster is down\r\n")).kind ==
        redis::Redirect::clusterdown);
  for (const char* other :
       {"-MOVED\r\n", "-MOVED x 1.2.3.4:5\r\n", "-MOVED 16384 h:1\r\n", "-ASK 1 nohost\r\n",
        "-ASK 1 h:0\r\n", "-ERR MOVED\r\n", "+MOVED 1 h:1\r\n", ":1\r\n", "$5\r\nMOVED\r\n"}) {
    CAPTURE(other);
    CHECK(redis::redirect_of(*test::parse_resp(other)).kind == redis::Redirect::none);
  }
}
