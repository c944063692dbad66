// Tests of redis/cluster_client.h against a FakeCluster on the test's loop: the slot map read
// from a seed, commands and scripts routed by slot, MOVED taken at once and retried, ASK sent
// with ASKING on the target's connection without touching the map, TRYAGAIN and CLUSTERDOWN
// retried within the deadline, a dead master found failed over through another node, and
// malformed or refused CLUSTER SLOTS replies skipped with a clear error.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "redis/factory.h"
#include "unit/redis/fake_cluster.h"

using namespace rl;
using namespace std::chrono_literals;
using Result = core::Result<redis::ReplyPtr>;

namespace {

// Sends GET `key` and runs the loop until it is answered.
Result get(test::ClusterHarness& h, const std::string& key) {
  std::optional<Result> out;
  h.cluster_client->command({"GET", key}, [&](Result r) { out = std::move(r); });
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  return std::move(*out);
}

std::string reply_text(const Result& r) {
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::string(redis::text(**r));
}

}  // namespace

TEST_CASE("the slot map is read from a seed and every master gets its own connection") {
  test::ClusterHarness h(3);
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options());
  CHECK(client.masters().size() == 3);
  for (int n = 0; n < 3; ++n)
    CHECK(h.cluster.nodes[static_cast<std::size_t>(n)]->open_sessions() >= 1);
  CHECK(h.counter("rl_redis_cluster_slot_refreshes_total") == 1);
  CHECK(h.sink.text().find("redis_cluster_map") != std::string::npos);
  CHECK(h.sink.text().find("\"slots\":16384") != std::string::npos);
  CHECK(client.endpoints().size() == 3);
}

TEST_CASE("each command goes to the master of its key's slot, keyless ones to any master") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  for (int n = 0; n < 3; ++n) {
    const std::string key = h.cluster.key_on(n);
    CHECK(reply_text(get(h, key)) == "n" + std::to_string(n) + ":GET:" + key);
  }
  std::optional<Result> pong;
  h.cluster_client->command({"PING"}, [&](Result r) { pong = std::move(r); });
  REQUIRE(h.run_until([&] { return pong.has_value(); }));
  CHECK(reply_text(*pong) == "PONG");
  CHECK(h.cluster.total("GET") == 3);
}

TEST_CASE("a script call goes to the master of its first key") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(2);
  const std::string_view keys[] = {key};
  const std::string_view args[] = {"10", "60000", "1"};
  std::optional<Result> out;
  h.cluster_client->eval(redis::ScriptId::sliding_window, keys, args,
                         [&](Result r) { out = std::move(r); });
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  CHECK(reply_text(*out) == "n2:EVALSHA:" + key);
  CHECK(h.cluster.count(2, "EVALSHA") == 1);
  CHECK(h.cluster.total("EVALSHA") == 1);
}

TEST_CASE("MOVED updates the slot at once, retries on the new master and refreshes the map") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(0);
  h.cluster.owner[redis::key_slot(key)] = 1;  // resharded behind the client's back
  CHECK(reply_text(get(h, key)) == "n1:GET:" + key);
  CHECK(h.cluster.count(0, "GET") == 1);  // answered MOVED
  CHECK(h.counter("rl_redis_cluster_redirects_total{kind=\"moved\"}") == 1);
  CHECK(reply_text(get(h, key)) == "n1:GET:" + key);
  CHECK(h.cluster.count(0, "GET") == 1);  // straight to the new master now
  REQUIRE(h.run_until([&] { return h.counter("rl_redis_cluster_slot_refreshes_total") == 2; }));
  // Followed, so no error for anyone; and the same masters are no news for the log.
  CHECK(h.counter("rl_redis_errors_total{kind=\"error_reply\"}") == 0);
  const std::string log = h.sink.text();
  CHECK(log.find("redis_cluster_map") == log.rfind("redis_cluster_map"));
}

TEST_CASE("a MOVED to a master not connected yet waits for its connection, within the deadline") {
  test::ClusterHarness h(2, 1);  // node 2 is in no map yet
  h.make_cluster_client(h.cluster_options({0}, 500ms));
  const std::string key = h.cluster.key_on(0);
  h.cluster.owner[redis::key_slot(key)] = 2;
  CHECK(reply_text(get(h, key)) == "n2:GET:" + key);
  CHECK(h.counter("rl_redis_errors_total{kind=\"unavailable\"}") == 0);
}

TEST_CASE("ASK sends ASKING and the command on one connection of the target, map untouched") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(0);
  h.cluster.ask_to[redis::key_slot(key)] = 2;  // migrating from 0 to 2
  for (int i = 0; i < 2; ++i)
    CHECK(reply_text(get(h, key)) == "n2:GET:" + key);
  CHECK(h.cluster.count(0, "GET") == 2);  // asked first each time: ASK is for one command
  CHECK(h.cluster.count(2, "ASKING") == 2);
  for (const auto& s : h.cluster.nodes[2]->sessions()) {
    for (std::size_t i = 0; i < s.received.size(); ++i) {
      if (s.received[i][0] == "GET") {
        REQUIRE(i > 0);
        CHECK(s.received[i - 1][0] == "ASKING");  // back to back on the same connection
      }
    }
  }
  CHECK(h.counter("rl_redis_cluster_redirects_total{kind=\"ask\"}") == 2);
  CHECK(h.counter("rl_redis_cluster_redirects_total{kind=\"moved\"}") == 0);
}

TEST_CASE("ASK on a script sends ASKING + EVALSHA, then ASKING + EVAL when the target lacks it") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(0);
  h.cluster.ask_to[redis::key_slot(key)] = 1;
  h.cluster.noscript.insert(1);
  const std::string_view keys[] = {key};
  std::optional<Result> out;
  h.cluster_client->eval(redis::ScriptId::fixed_window, keys, {},
                         [&](Result r) { out = std::move(r); });
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  CHECK(reply_text(*out) == "n1:EVAL:" + key);
  CHECK(h.cluster.count(1, "ASKING") == 2);
  CHECK(h.cluster.count(1, "EVALSHA") == 1);
  CHECK(h.cluster.count(1, "EVAL") == 1);
}

TEST_CASE("TRYAGAIN is retried after a short wait within the call's deadline") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options({0}, 200ms));
  const std::string key = h.cluster.key_on(1);
  h.cluster.tryagain[redis::key_slot(key)] = 2;
  CHECK(reply_text(get(h, key)) == "n1:GET:" + key);
  CHECK(h.cluster.count(1, "GET") == 3);
  CHECK(h.counter("rl_redis_cluster_retries_total{kind=\"tryagain\"}") == 2);
}

TEST_CASE("TRYAGAIN past the deadline is the caller's answer, on time") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options({0}, 20ms));
  const std::string key = h.cluster.key_on(1);
  h.cluster.tryagain[redis::key_slot(key)] = 1000;
  const auto start = std::chrono::steady_clock::now();
  Result r = get(h, key);
  CHECK(std::chrono::steady_clock::now() - start < 60ms);
  REQUIRE(r.ok());
  CHECK(redis::text(**r).starts_with("TRYAGAIN"));
  CHECK(h.cluster.count(1, "GET") >= 2);
}

TEST_CASE("CLUSTERDOWN is retried and has the map read again") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options({0}, 200ms));
  const std::string key = h.cluster.key_on(0);
  h.cluster.clusterdown = 2;
  CHECK(reply_text(get(h, key)) == "n0:GET:" + key);
  CHECK(h.counter("rl_redis_cluster_retries_total{kind=\"clusterdown\"}") == 2);
  REQUIRE(h.run_until([&] { return h.counter("rl_redis_cluster_slot_refreshes_total") >= 2; }));
}

TEST_CASE("at most kMaxRedirects redirects: a MOVED loop ends with the MOVED reply") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(0);
  const std::uint16_t slot = redis::key_slot(key);
  // Each node says the other owns it.
  h.cluster.nodes[0]->set_handler([&](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "GET")
      return "-MOVED " + std::to_string(slot) + " " + h.cluster.address(1) + "\r\n";
    return std::nullopt;
  });
  h.cluster.owner[slot] = 0;
  Result r = get(h, key);
  REQUIRE(r.ok());
  CHECK(redis::text(**r).starts_with("MOVED"));
  CHECK(h.cluster.total("GET") == redis::ClusterClient::kMaxRedirects + 1);
}

TEST_CASE("a master that dies is found failed over through another node") {
  test::ClusterHarness h(3, 1);
  h.cluster.replica_of[3] = 0;
  h.make_cluster_client(h.cluster_options({0}, 100ms));
  const std::string key = h.cluster.key_on(0);
  CHECK(reply_text(get(h, key)) == "n0:GET:" + key);
  h.cluster.kill(0);  // the only seed, too
  h.cluster.promote(0, 3);
  const Result lost = get(h, key);
  CHECK_FALSE(lost.ok());  // no retry of a command that may have run
  REQUIRE(h.run_until([&] { return h.cluster_client->ready(); }));
  CHECK(reply_text(get(h, key)) == "n3:GET:" + key);
  CHECK(h.counter("rl_redis_cluster_slot_refreshes_total") >= 2);
  REQUIRE(h.run_until(
      [&] { return h.sink.text().find("redis_cluster_node_retired") != std::string::npos; }));
}

TEST_CASE("a master nobody replaces keeps the client not ready, and last_error says which") {
  test::ClusterHarness h(2);
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options({0, 1}));
  h.cluster.kill(1);
  REQUIRE(h.run_until([&] { return client.last_error().starts_with("master "); }));
  CHECK(client.last_error().starts_with("master " + h.cluster.address(1) + ": "));
  CHECK_FALSE(client.ready());
  CHECK(reply_text(get(h, h.cluster.key_on(0))) ==
        "n0:GET:" + h.cluster.key_on(0));  // the rest works
}

TEST_CASE("a seed that is down is skipped for the next one") {
  test::ClusterHarness h(2);
  h.cluster.kill(0);
  h.cluster.promote(0, 1);
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options({0, 1}));
  CHECK(client.masters() == std::vector<std::string>{h.cluster.address(1)});
}

TEST_CASE("a malformed CLUSTER SLOTS reply is skipped for the next node and said in last_error") {
  test::ClusterHarness h(2);
  h.cluster.slots_override = "*1\r\n*3\r\n:0\r\n:99999\r\n:1\r\n";
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options({0, 1}), false);
  // Both seeds answered it: the round failed, once in the log.
  REQUIRE(h.run_until(
      [&] { return h.sink.text().find("redis_cluster_map_unavailable") != std::string::npos; }));
  CHECK(client.last_error().find("malformed CLUSTER SLOTS reply") != std::string::npos);
  CHECK(client.last_error().find("bad slot range") != std::string::npos);
  CHECK_FALSE(client.ready());
  Result r = get(h, "k");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == core::Errc::unavailable);
  h.cluster.slots_override.reset();  // fixed: a later round (every 100 ms) reads it
  REQUIRE(h.run_until([&] { return client.ready(); }));
}

TEST_CASE("a standalone Redis behind a cluster URL is refused with Redis' own reason") {
  test::ClusterHarness h(1);
  h.cluster.slots_override = "-ERR This instance has cluster support disabled\r\n";
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options(), false);
  REQUIRE(h.run_until([&] { return !client.last_error().empty(); }));
  CHECK(client.last_error().find("cluster support disabled") != std::string::npos);
  CHECK_FALSE(client.ready());
}

TEST_CASE("a burst of failures on one master reaches the callers as one failure") {
  // The commands waiting on a connection that is lost fail together: one burst, which a
  // circuit breaker counts once. The cluster client passes on its node Client's word for it.
  test::ClusterHarness h(2);
  redis::ClusterClient& client = h.make_cluster_client(h.cluster_options({0}, 1000ms));
  const std::string key = h.cluster.key_on(1);
  h.cluster.nodes[1]->hold();
  std::vector<int> repeated;
  for (int i = 0; i < 3; ++i) {
    client.command({"GET", key}, [&](Result r) {
      CHECK_FALSE(r.ok());
      repeated.push_back(client.repeated_failure() ? 1 : 0);
    });
  }
  REQUIRE(h.run_until([&] { return h.cluster.count(1, "GET") == 3; }));
  h.cluster.kill(1);
  REQUIRE(h.run_until([&] { return repeated.size() == 3; }));
  CHECK(repeated == std::vector<int>{0, 1, 1});
  CHECK_FALSE(client.repeated_failure());
}

TEST_CASE("make_commands picks a ClusterClient for redis+cluster:// and a Client otherwise") {
  test::ClusterHarness h(1);
  auto single = redis::make_commands(&h.loop, h.options(), 1, h.log, h.metrics, h.registry);
  CHECK(dynamic_cast<redis::Client*>(single.get()) != nullptr);
  auto cluster =
      redis::make_commands(&h.loop, h.cluster_options(), 1, h.log, h.metrics, h.registry);
  CHECK(dynamic_cast<redis::ClusterClient*>(cluster.get()) != nullptr);
  int closed = 0;
  single->close([&] { ++closed; });
  cluster->close([&] { ++closed; });
  CHECK(closed == 2);  // never started: nothing to wait for
}
