// Tests of redis/slot_map.h: CLUSTER SLOTS replies as Redis 7 sends them, endpoints it does not
// know, and malformed replies — each an Error that says what is wrong, never a crash.
#include "redis/slot_map.h"

#include <string>

#include <doctest/doctest.h>

#include "unit/redis/fake_redis.h"
#include "unit/redis/resp.h"

using namespace rl;
using test::bulk;

namespace {

const config::HostPort kAsked{"10.0.0.9", 7000};

std::string node(std::string_view host, int port, bool metadata = false) {
  return (metadata ? "*4\r\n" : "*3\r\n") + bulk(host) + ":" + std::to_string(port) + "\r\n" +
         bulk("0123456789abcdef") + (metadata ? "*0\r\n" : "");
}

core::Result<redis::SlotMap> parse(const std::string& resp) {
  return redis::parse_cluster_slots(*test::parse_resp(resp), kAsked);
}

}  // namespace

TEST_CASE("a CLUSTER SLOTS reply gives each slot its master and lists the replicas") {
  const std::string reply =
      "*2\r\n"
      "*4\r\n:0\r\n:8191\r\n" +
      node("10.0.0.1", 7000, true) + node("10.0.0.4", 7000, true) + "*3\r\n:8192\r\n:16383\r\n" +
      node("10.0.0.2", 7001);
  auto map = parse(reply);
  REQUIRE_MESSAGE(map.ok(), map.error().message);
  REQUIRE(map->masters.size() == 2);
  CHECK(map->masters[0] == config::HostPort{"10.0.0.1", 7000});
  CHECK(map->masters[1] == config::HostPort{"10.0.0.2", 7001});
  REQUIRE(map->replicas.size() == 1);
  CHECK(map->replicas[0] == config::HostPort{"10.0.0.4", 7000});
  CHECK(map->owner[0] == 0);
  CHECK(map->owner[8191] == 0);
  CHECK(map->owner[8192] == 1);
  CHECK(map->owner[16383] == 1);
  CHECK(map->covered() == 16384);
}

TEST_CASE("several ranges of one master are one master; uncovered slots have none") {
  const std::string reply =
      "*2\r\n*3\r\n:0\r\n:99\r\n" + node("h", 1) + "*3\r\n:200\r\n:299\r\n" + node("h", 1);
  auto map = parse(reply);
  REQUIRE(map.ok());
  CHECK(map->masters.size() == 1);
  CHECK(map->covered() == 200);
  CHECK(map->owner[150] == redis::SlotMap::kNoNode);
}

TEST_CASE("a node without an endpoint is reached at the host that was asked") {
  const std::string reply = "*3\r\n*3\r\n:0\r\n:1\r\n" + node("", 7001) + "*3\r\n:2\r\n:3\r\n" +
                            node("?", 7002) + "*3\r\n:4\r\n:5\r\n*2\r\n$-1\r\n:7003\r\n";
  auto map = parse(reply);
  REQUIRE_MESSAGE(map.ok(), map.error().message);
  REQUIRE(map->masters.size() == 3);
  for (const auto& m : map->masters)
    CHECK(m.host == "10.0.0.9");
  CHECK(map->masters[2].port == 7003);
}

TEST_CASE("malformed CLUSTER SLOTS replies are errors that say what is wrong") {
  const auto error_of = [](const std::string& resp) {
    auto map = parse(resp);
    REQUIRE_FALSE(map.ok());
    return map.error().message;
  };
  CHECK(error_of("-ERR This instance has cluster support disabled\r\n") ==
        "CLUSTER SLOTS refused: ERR This instance has cluster support disabled");
  CHECK(error_of("+OK\r\n") == "CLUSTER SLOTS: not an array");
  CHECK(error_of("*0\r\n") == "CLUSTER SLOTS: the cluster serves no slots");
  CHECK(error_of("*1\r\n:5\r\n").find("entry 0: not [start, end, master") != std::string::npos);
  CHECK(error_of("*1\r\n*2\r\n:0\r\n:5\r\n").find("entry 0") != std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:9\r\n:5\r\n" + node("h", 1)).find("bad slot range") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:16384\r\n" + node("h", 1)).find("bad slot range") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:-1\r\n:5\r\n" + node("h", 1)).find("bad slot range") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n" + bulk("a") + ":5\r\n" + node("h", 1)).find("bad slot range") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:5\r\n:7\r\n").find("not a node") != std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n" + bulk("h")).find("not a node") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:5\r\n" + node("h", 0)).find("bad port") != std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n" + bulk("h") + bulk("x")).find("bad port") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n:1\r\n:7000\r\n").find("bad host") !=
        std::string::npos);
  CHECK(error_of("*1\r\n*4\r\n:0\r\n:5\r\n" + node("h", 1) + "*0\r\n").find("not a node") !=
        std::string::npos);  // a replica entry that is not a node
}
