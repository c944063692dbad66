// Tests of redis/subscriber.h against a FakeRedis on the test's loop: a refused SUBSCRIBE is
// tried again on a new connection, subscribed() means Redis confirmed the subscription, and in
// a cluster a lost node is replaced by the next endpoint.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "unit/redis/fake_cluster.h"
#include "unit/redis/harness.h"

using namespace rl;
using namespace std::chrono_literals;

TEST_CASE("a refused SUBSCRIBE reconnects and subscribes again; subscribed() waits for it") {
  test::Harness h;
  int refusals = 1;
  h.fake->set_handler([&](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "SUBSCRIBE" && refusals > 0) {
      --refusals;
      return "-ERR not now\r\n";
    }
    return std::nullopt;
  });
  int resyncs = 0;
  std::vector<std::string> messages;
  h.subscriber = std::make_unique<redis::Subscriber>(
      &h.loop, h.options(), "rl:events", h.log,
      [&](std::string_view m) { messages.emplace_back(m); }, [&] { ++resyncs; });
  CHECK_FALSE(h.subscriber->subscribed());
  h.subscriber->start();
  REQUIRE(h.run_until([&] { return h.fake->count("SUBSCRIBE") == 1; }));
  CHECK_FALSE(h.subscriber->subscribed());
  REQUIRE(h.run_until([&] { return h.subscriber->subscribed(); }));
  CHECK(resyncs == 1);
  CHECK(h.fake->count("SUBSCRIBE") == 2);
  CHECK(h.fake->sessions().size() == 2);
  CHECK(h.fake->open_sessions() == 1);
  CHECK(h.sink.text().find("redis_subscribe_failed") != std::string::npos);
  h.fake->push("*3\r\n" + test::bulk("message") + test::bulk("rl:events") + test::bulk("hi"));
  REQUIRE(h.run_until([&] { return !messages.empty(); }));
  CHECK(messages == std::vector<std::string>{"hi"});
}

TEST_CASE("in a cluster the subscriber moves to the next seed when its node is lost") {
  test::ClusterHarness h(2);
  int resyncs = 0;
  h.subscriber = std::make_unique<redis::Subscriber>(
      &h.loop, h.cluster_options({0, 1}), "rl:events", h.log, [](std::string_view) {},
      [&] { ++resyncs; });
  h.subscriber->start();
  REQUIRE(h.run_until([&] { return h.subscriber->subscribed(); }));
  CHECK(h.cluster.count(0, "SUBSCRIBE") == 1);
  h.cluster.kill(0);
  REQUIRE(h.run_until([&] { return h.cluster.count(1, "SUBSCRIBE") == 1; }));
  REQUIRE(h.run_until([&] { return h.subscriber->subscribed(); }));
  CHECK(resyncs == 2);  // what was cached may have missed messages meanwhile
}

TEST_CASE("the subscriber goes round the endpoints it is given, e.g. every node of the map") {
  test::ClusterHarness h(3);
  h.make_cluster_client(h.cluster_options({0}));
  h.subscriber = std::make_unique<redis::Subscriber>(
      &h.loop, h.cluster_options({0}), "rl:events", h.log, [](std::string_view) {}, [] {});
  h.subscriber->set_endpoints([&] { return h.cluster_client->endpoints(); });
  h.subscriber->start();
  REQUIRE(h.run_until([&] { return h.subscriber->subscribed(); }));
  h.cluster.kill(0);  // the only seed
  REQUIRE(
      h.run_until([&] { return h.cluster.total("SUBSCRIBE") >= 2 && h.subscriber->subscribed(); }));
  CHECK(h.cluster.count(0, "SUBSCRIBE") == 1);
}
