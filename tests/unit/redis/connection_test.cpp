// Tests of redis/connection.h against a FakeRedis on the test's loop: deadlines measure Redis,
// not a slow loop; a timed-out command is answered once and its late reply dropped; a burst
// of timeouts is reported as one; deadlines keep their order; a refused handshake backs off
// once per attempt; a full connection refuses with a local error; reconnects back off
// exponentially, capped and jittered; a replica fails the handshake when a master is required.
// connection_callbacks_test.cpp: every callback runs once, whatever happens to the connection.
#include <chrono>
#include <set>
#include <vector>

#include <doctest/doctest.h>

#include "unit/redis/harness.h"

using namespace rl;
using namespace std::chrono_literals;
using Result = core::Result<redis::ReplyPtr>;

TEST_CASE("a reply waiting in the socket after a loop iteration overran the deadline is read") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options(5ms));
  // The server answers at once, then the loop stalls for four deadlines in that same
  // iteration: the reply is in the socket before any deadline check runs.
  h.fake->stall_after_reply(20ms);
  std::vector<Result> results;
  c.send({"ECHO", "hello"}, [&](Result r) { results.push_back(std::move(r)); });
  REQUIRE(h.run_until([&] { return !results.empty(); }));
  h.run_for(10ms);
  REQUIRE(results.size() == 1);
  REQUIRE(results[0].ok());
  CHECK(redis::text(**results[0]) == "hello");
}

TEST_CASE("a command not answered in time gets one timeout and its late reply is dropped") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options(20ms));
  h.fake->hold();
  int calls = 0;
  core::Errc code{};
  c.send({"ECHO", "late"}, [&](Result r) {
    ++calls;
    if (!r) code = r.error().code;
  });
  REQUIRE(h.run_until([&] { return calls > 0; }));
  CHECK(code == core::Errc::timeout);
  CHECK(c.queued() == 1);  // still owed a reply
  CHECK(c.pending() == 0);
  h.fake->resume();
  std::string next;
  c.send({"ECHO", "next"}, [&](Result r) { next = r ? std::string(redis::text(**r)) : "error"; });
  REQUIRE(h.run_until([&] { return !next.empty(); }));
  CHECK(next == "next");
  CHECK(calls == 1);
  CHECK(c.queued() == 0);
  CHECK(c.ready());
}

TEST_CASE("deadlines that pass together are one burst: only the first is not a repeat") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options(20ms));
  h.fake->hold();
  std::vector<bool> repeated;
  // One deadline for all four: sent a little apart on a slow (sanitized, loaded) machine, their
  // own deadlines could fall on two timer ticks and make two bursts.
  const auto deadline = redis::Connection::fresh_now() + 20ms;
  const std::string_view ping[] = {"PING"};
  for (int i = 0; i < 4; ++i) {
    c.send(ping, deadline, [&](Result r) {
      CHECK_FALSE(r.ok());
      repeated.push_back(c.repeated_failure());
    });
  }
  REQUIRE(h.run_until([&] { return repeated.size() == 4; }));
  CHECK(repeated == std::vector<bool>{false, true, true, true});
  CHECK_FALSE(c.repeated_failure());  // only while a burst's callbacks run
}

TEST_CASE("a deadline earlier than one already queued waits for it: expiry stays in order") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options(40ms));
  h.fake->hold();
  std::vector<std::string> order;
  c.send({"ECHO", "first"}, [&](Result r) {
    CHECK_FALSE(r.ok());
    order.push_back("first");
  });
  c.send(std::vector<std::string_view>{"ECHO", "second"}, redis::Connection::fresh_now() + 5ms,
         [&](Result r) {
           CHECK_FALSE(r.ok());
           order.push_back("second");
         });
  REQUIRE(h.run_until([&] { return order.size() == 2; }));
  CHECK(order == std::vector<std::string>{"first", "second"});
}

TEST_CASE("a command whose deadline has already passed is answered with a timeout, not sent") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options());
  std::optional<core::Errc> code;
  c.send(std::vector<std::string_view>{"ECHO", "x"}, redis::Connection::fresh_now() - 1ms,
         [&](Result r) { code = r ? core::Errc{} : r.error().code; });
  REQUIRE(code.has_value());
  CHECK(*code == core::Errc::timeout);
  h.run_for(10ms);
  CHECK(h.fake->count("ECHO") == 0);
}

TEST_CASE("a full connection refuses with a local error, not unavailable") {
  test::Harness h;
  redis::ConnectionOptions o = h.options();
  o.max_pending = 2;
  redis::Connection& c = h.make_connection(o);
  h.fake->hold();
  c.send({"PING"}, [](Result) {});
  c.send({"PING"}, [](Result) {});
  CHECK(c.room() == 0);
  std::optional<core::Errc> code;
  c.send({"PING"}, [&](Result r) { code = r ? core::Errc{} : r.error().code; });
  REQUIRE(code.has_value());
  CHECK(*code == core::Errc::overloaded);
  h.fake->resume();
}

TEST_CASE("a refused AUTH fails the attempt once: the backoff doubles once per attempt") {
  test::Harness h;
  h.fake->set_handler([](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "AUTH") return "-WRONGPASS invalid username-password pair\r\n";
    return std::nullopt;
  });
  redis::ConnectionOptions o = h.options(1000ms, h.fake->url(":secret@", 3));
  o.backoff_min = 20ms;
  o.backoff_max = 1000ms;
  h.connection = std::make_unique<redis::Connection>(&h.loop, o);
  std::vector<std::string> downs;
  std::vector<std::chrono::milliseconds> backoffs;
  h.connection->set_state_listener([&](redis::Connection::State s, std::string_view why) {
    if (s != redis::Connection::State::disconnected) return;
    downs.emplace_back(why);
    backoffs.push_back(h.connection->backoff());
  });
  h.connection->start();
  REQUIRE(h.run_until([&] { return downs.size() == 2; }));
  CHECK(downs[0].starts_with("handshake refused: WRONGPASS"));
  CHECK(backoffs == std::vector<std::chrono::milliseconds>{20ms, 40ms});
  CHECK(h.fake->count("SELECT") == 2);  // pipelined behind AUTH, once per attempt
}

// -- backoff ------------------------------------------------------------------------------------

TEST_CASE("the wait before a dial is drawn between half the backoff and the backoff") {
  std::set<std::int64_t> seen;
  for (std::uint64_t random = 0; random < 1000; ++random) {
    const auto d = redis::retry_delay(100ms, random * 7919);
    CHECK(d >= 50ms);
    CHECK(d <= 100ms);
    seen.insert(d.count());
  }
  CHECK(seen.size() == 51);  // every wait from 50 to 100 ms
  CHECK(redis::retry_delay(0ms, 12345) == 0ms);
}

TEST_CASE("reconnects back off exponentially up to backoff_max, jittered per connection") {
  test::Harness h;
  h.fake->set_handler([](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "AUTH") return "-WRONGPASS invalid username-password pair\r\n";
    return std::nullopt;
  });
  redis::ConnectionOptions o = h.options(1000ms, h.fake->url(":secret@"));
  o.backoff_min = 2ms;
  o.backoff_max = 16ms;
  std::vector<std::unique_ptr<redis::Connection>> connections;
  std::vector<std::vector<std::chrono::milliseconds>> backoffs(2), waits(2);
  for (std::size_t i = 0; i < 2; ++i) {
    auto& c = connections.emplace_back(std::make_unique<redis::Connection>(&h.loop, o));
    c->set_state_listener([&, i, raw = c.get()](redis::Connection::State s, std::string_view) {
      if (s == redis::Connection::State::disconnected) backoffs[i].push_back(raw->backoff());
      if (s == redis::Connection::State::connecting && !backoffs[i].empty()) {
        waits[i].push_back(raw->last_retry_delay());  // the wait before this dial
      }
    });
    c->start();
  }
  REQUIRE(h.run_until([&] { return waits[0].size() >= 8 && waits[1].size() >= 8; }));
  std::vector<std::int64_t> capped;
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(std::vector(backoffs[i].begin(), backoffs[i].begin() + 6) ==
          std::vector<std::chrono::milliseconds>{2ms, 4ms, 8ms, 16ms, 16ms, 16ms});
    for (std::size_t n = 0; n < 8; ++n) {
      CHECK(waits[i][n] >= backoffs[i][n] / 2);
      CHECK(waits[i][n] <= backoffs[i][n]);
      CHECK(waits[i][n] <= o.backoff_max);
      if (n >= 3) capped.push_back(waits[i][n].count());
    }
  }
  // Ten waits at the cap, each drawn from 8..16 ms: not all the same (odds 9^-9 otherwise).
  CHECK(std::set<std::int64_t>(capped.begin(), capped.end()).size() > 1);
  int closing = 2;
  for (auto& c : connections)
    c->close([&closing] { --closing; });
  REQUIRE(h.run_until([&] { return closing == 0; }));
}

// -- a replica is no endpoint for writes ------------------------------------------------------

namespace {

constexpr const char* kReplicaRole =
    "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:42\r\n";

}  // namespace

TEST_CASE("a replica fails the handshake of a connection that requires a master") {
  test::Harness h;
  bool replica = true;
  h.fake->set_handler([&](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "ROLE") {
      return replica ? std::string(kReplicaRole) : "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
    }
    return std::nullopt;
  });
  redis::ConnectionOptions o = h.options();
  o.require_master = true;
  h.connection = std::make_unique<redis::Connection>(&h.loop, o);
  std::vector<std::string> downs;
  h.connection->set_state_listener([&](redis::Connection::State s, std::string_view why) {
    if (s == redis::Connection::State::disconnected) downs.emplace_back(why);
  });
  h.connection->start();
  REQUIRE(h.run_until([&] { return downs.size() == 3; }));
  CHECK_FALSE(h.connection->ready());
  CHECK(downs[0] == "handshake refused: the server is a replica (ROLE), it cannot take writes");
  CHECK(h.connection->backoff() == 20ms);  // 5, 10, 20: backing off like any failed attempt
  replica = false;                         // promoted
  REQUIRE(h.run_until([&] { return h.connection->ready(); }));
  CHECK(h.connection->backoff() == 0ms);
}

TEST_CASE("a server that does not know ROLE is taken as it is") {
  test::Harness h;
  h.fake->set_handler([](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "ROLE") return "-ERR unknown command 'ROLE'\r\n";
    return std::nullopt;
  });
  redis::ConnectionOptions o = h.options();
  o.require_master = true;
  h.make_connection(o);
  CHECK(h.fake->count("ROLE") == 1);
}

TEST_CASE("a connection that does not require a master sends no ROLE") {
  test::Harness h;
  h.make_connection(h.options());
  CHECK(h.fake->count("ROLE") == 0);
  CHECK(h.fake->count("PING") == 1);
}
