// Tests of ClusterClient::batch and scan against a FakeCluster: results in the caller's order
// whatever node answered; reads sent to their nodes at once, writes one node after another; a
// keyless command with its neighbour; a transaction whole on its slot's node and sent again
// whole after a MOVED inside it; a redirect inside a batch followed for that command; SCAN
// merged over every master.
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "unit/redis/fake_cluster.h"

using namespace rl;
using namespace std::chrono_literals;
using Results = std::vector<core::Result<redis::ReplyPtr>>;
using Commands = std::vector<redis::Commands::Command>;

namespace {

Results run_batch(test::ClusterHarness& h, Commands commands) {
  std::optional<Results> out;
  int calls = 0;
  h.cluster_client->batch(std::move(commands), [&](Results r) {
    ++calls;
    out = std::move(r);
  });
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  h.run_for(5ms);
  CHECK(calls == 1);
  return std::move(*out);
}

std::string text_of(const core::Result<redis::ReplyPtr>& r) {
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::string(redis::text(**r));
}

// Every command `node` received, by name, in order, over all its sessions.
std::vector<std::string> received(test::ClusterHarness& h, int node) {
  std::vector<std::string> out;
  for (const auto& s : h.cluster.nodes[static_cast<std::size_t>(node)]->sessions()) {
    for (const auto& c : s.received) {
      if (c[0] != "SCRIPT" && c[0] != "PING" && c[0] != "CLUSTER") out.push_back(c[0]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a batch over several nodes answers in the caller's order") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  Commands commands;
  std::vector<std::string> expected;
  for (int i = 0; i < 9; ++i) {
    const int node = (i * 2) % 3;
    const std::string key = h.cluster.key_on(node, i);
    commands.push_back({"GET", key});
    expected.push_back("n" + std::to_string(node) + ":GET:" + key);
  }
  const Results results = run_batch(h, std::move(commands));
  REQUIRE(results.size() == expected.size());
  for (std::size_t i = 0; i < results.size(); ++i)
    CHECK(text_of(results[i]) == expected[i]);
}

TEST_CASE("reads go to their nodes at once; writes wait for the node before them") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options());
  const std::string a = h.cluster.key_on(0), b = h.cluster.key_on(1);
  h.cluster.nodes[0]->hold();
  std::optional<Results> reads;
  h.cluster_client->batch({{"GET", a}, {"GET", b}}, [&](Results r) { reads = std::move(r); });
  REQUIRE(h.run_until([&] { return h.cluster.count(1, "GET") == 1; }));  // not waiting for 0
  h.cluster.nodes[0]->resume();
  REQUIRE(h.run_until([&] { return reads.has_value(); }));
  h.cluster.nodes[0]->hold();
  std::optional<Results> writes;
  h.cluster_client->batch({{"SET", a, "1"}, {"SET", b, "1"}, {"PUBLISH", "rl:events", "x"}},
                          [&](Results r) { writes = std::move(r); });
  REQUIRE(h.run_until([&] { return h.cluster.count(0, "SET") == 1; }));
  h.run_for(20ms);
  CHECK(h.cluster.count(1, "SET") == 0);  // its turn comes after node 0 has answered
  h.cluster.nodes[0]->resume();
  REQUIRE(h.run_until([&] { return writes.has_value(); }));
  REQUIRE(writes->size() == 3);
  CHECK(text_of((*writes)[0]) == "n0:SET:" + a);
  CHECK(text_of((*writes)[1]) == "n1:SET:" + b);
  CHECK(h.cluster.count(1, "PUBLISH") == 1);  // the event after the write before it
  CHECK(received(h, 1) == std::vector<std::string>{"GET", "SET", "PUBLISH"});
}

TEST_CASE("a keyless command goes with the command before it, or first, with the one after") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  run_batch(h, {{"SET", h.cluster.key_on(1), "v"}, {"PUBLISH", "rl:events", "x"}});
  CHECK(h.cluster.count(1, "PUBLISH") == 1);
  run_batch(h, {{"PUBLISH", "rl:events", "x"}, {"SET", h.cluster.key_on(2), "v"}});
  CHECK(h.cluster.count(2, "PUBLISH") == 1);
  CHECK(h.cluster.count(0, "PUBLISH") == 0);
}

TEST_CASE("a transaction goes whole to its slot's node, the event after it") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(2);
  const Results results = run_batch(h, {{"EXISTS", key},
                                        {"MULTI"},
                                        {"DEL", key},
                                        {"HSET", key, "f", "v"},
                                        {"EXEC"},
                                        {"SADD", "rl:tiers", "gold"},
                                        {"PUBLISH", "rl:events", "tier:gold"}});
  REQUIRE(results.size() == 7);
  for (const auto& r : results)
    CHECK(r.ok());
  REQUIRE(redis::is_array(**results[4]));
  CHECK(results[4]->get()->elements == 2);
  CHECK(received(h, 2).size() >= 5);
  CHECK(h.cluster.count(2, "MULTI") == 1);
  CHECK(h.cluster.count(2, "EXEC") == 1);
  const int sadd_node = h.cluster.owner[redis::key_slot("rl:tiers")];
  CHECK(h.cluster.count(sadd_node, "SADD") == 1);
  CHECK(h.cluster.count(sadd_node, "PUBLISH") == 1);
}

TEST_CASE("a transaction that meets MOVED is sent again whole to the new master") {
  test::ClusterHarness h(2);
  h.make_cluster_client(h.cluster_options());
  const std::string key = h.cluster.key_on(0);
  h.cluster.owner[redis::key_slot(key)] = 1;
  const Results results = run_batch(
      h, {{"MULTI"}, {"DEL", key}, {"HSET", key, "f", "v"}, {"EXEC"}, {"PUBLISH", "c", "m"}});
  REQUIRE(results.size() == 5);
  REQUIRE(results[3].ok());
  CHECK(redis::is_array(**results[3]));  // EXEC from node 1, not node 0's EXECABORT
  CHECK(received(h, 1) == std::vector<std::string>{"MULTI", "DEL", "HSET", "EXEC"});
  CHECK(h.cluster.count(0, "EXEC") == 1);  // aborted there
  CHECK_FALSE(h.cluster.nodes[0]->any_in_multi());
  CHECK(h.counter("rl_redis_cluster_redirects_total{kind=\"moved\"}") == 1);
}

TEST_CASE("a redirect inside a batch is followed for that command alone") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  const std::string a = h.cluster.key_on(0), moved = h.cluster.key_on(0, 1);
  const std::string asked = h.cluster.key_on(0, 2);
  h.cluster.owner[redis::key_slot(moved)] = 2;
  h.cluster.ask_to[redis::key_slot(asked)] = 1;
  const Results results = run_batch(h, {{"GET", a}, {"GET", moved}, {"GET", asked}, {"GET", a}});
  REQUIRE(results.size() == 4);
  CHECK(text_of(results[0]) == "n0:GET:" + a);
  CHECK(text_of(results[1]) == "n2:GET:" + moved);
  CHECK(text_of(results[2]) == "n1:GET:" + asked);
  CHECK(text_of(results[3]) == "n0:GET:" + a);
  CHECK(h.cluster.count(1, "ASKING") == 1);
}

TEST_CASE("a batch before the slot map is known fails at once, every command") {
  test::ClusterHarness h(1);
  h.cluster.slots_override = "-ERR not yet\r\n";
  h.make_cluster_client(h.cluster_options(), false);
  const Results results = run_batch(h, {{"GET", "a"}, {"GET", "b"}});
  REQUIRE(results.size() == 2);
  for (const auto& r : results) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == core::Errc::unavailable);
  }
}

TEST_CASE("SCAN runs on every master and merges the keys once each, at most the limit") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options());
  h.cluster.keys[0] = {"rl:block:{a}", "rl:block:{b}"};
  h.cluster.keys[1] = {"rl:block:{c}", "rl:block:{b}"};  // migrating: on two nodes
  h.cluster.keys[2] = {"rl:block:{d}"};
  std::optional<core::Result<std::vector<std::string>>> found;
  h.cluster_client->scan("rl:block:*", 100, [&](auto r) { found = std::move(r); });
  REQUIRE(h.run_until([&] { return found.has_value(); }));
  REQUIRE(found->ok());
  CHECK(**found ==
        std::vector<std::string>{"rl:block:{a}", "rl:block:{b}", "rl:block:{c}", "rl:block:{d}"});
  CHECK(h.cluster.total("SCAN") == 3);
  found.reset();
  h.cluster_client->scan("rl:block:*", 2, [&](auto r) { found = std::move(r); });
  REQUIRE(h.run_until([&] { return found.has_value(); }));
  REQUIRE(found->ok());
  CHECK((*found)->size() == 2);
}
