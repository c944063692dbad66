// Tests of redis/connection.h's promise that every callback given to send() runs exactly once,
// against a FakeRedis that misbehaves: it closes the connection with commands pending, lets
// them time out first, cuts a reply mid-stream, sends half a reply and goes silent, answers
// with error replies; and the connection is closed with commands pending.
#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <doctest/doctest.h>

#include "unit/redis/harness.h"

using namespace rl;
using namespace std::chrono_literals;
using Result = core::Result<redis::ReplyPtr>;

namespace {

// One counter per command sent: how often its callback ran, and what the last one got.
struct Answers {
  std::vector<int> calls;
  std::vector<std::optional<core::Errc>> codes;  // nullopt: a reply

  redis::Connection::Callback next() {
    const std::size_t i = calls.size();
    calls.push_back(0);
    codes.emplace_back();
    return [this, i](Result r) {
      ++calls[i];
      codes[i] = r ? std::nullopt : std::optional(r.error().code);
    };
  }
  bool all_answered() const {
    return std::all_of(calls.begin(), calls.end(), [](int n) { return n > 0; });
  }
  bool each_once() const {
    return std::all_of(calls.begin(), calls.end(), [](int n) { return n == 1; });
  }
  std::size_t with(std::optional<core::Errc> code) const {
    return static_cast<std::size_t>(std::count(codes.begin(), codes.end(), code));
  }
};

}  // namespace

TEST_CASE("commands pending on a connection Redis closes are each answered once, unavailable") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options());
  h.fake->hold();
  Answers a;
  for (int i = 0; i < 50; ++i)
    c.send({"ECHO", "x"}, a.next());
  REQUIRE(h.run_until([&] { return h.fake->count("ECHO") == 50; }));
  h.fake->drop();
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  CHECK(a.with(core::Errc::unavailable) == 50);
  h.fake->resume();
  REQUIRE(h.run_until([&] { return c.ready(); }));
  h.run_for(20ms);
  CHECK(a.each_once());
  CHECK(c.queued() == 0);
}

TEST_CASE("commands timed out and then lost with their connection are each answered once") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options(20ms));
  h.fake->hold();
  Answers a;
  for (int i = 0; i < 20; ++i)
    c.send({"ECHO", "x"}, a.next());
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  CHECK(a.with(core::Errc::timeout) == 20);
  for (int i = 0; i < 10; ++i)  // still within their deadline when the connection goes
    c.send(std::vector<std::string_view>{"ECHO", "y"}, redis::Connection::fresh_now() + 1s,
           a.next());
  CHECK(c.queued() == 30);
  h.fake->drop();
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  h.fake->resume();
  REQUIRE(h.run_until([&] { return c.ready(); }));
  h.run_for(20ms);
  CHECK(a.each_once());
  CHECK(a.with(core::Errc::timeout) == 20);
  CHECK(a.with(core::Errc::unavailable) == 10);
}

TEST_CASE("a reply cut mid-stream fails what is pending once; the next connection reads clean") {
  test::Harness h;
  redis::Connection& c = h.make_connection(h.options());
  h.fake->hold();
  Answers a;
  for (int i = 0; i < 5; ++i)
    c.send({"ECHO", "x"}, a.next());
  REQUIRE(h.run_until([&] { return h.fake->count("ECHO") == 5; }));
  h.fake->cut_with("*5\r\n:1\r\n:19\r\n$13\r\n17000");  // half a decision, then EOF
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  CHECK(a.with(core::Errc::unavailable) == 5);
  h.fake->resume();
  REQUIRE(h.run_until([&] { return c.ready(); }));
  std::string after;
  c.send({"ECHO", "after"}, [&](Result r) { after = r ? std::string(redis::text(**r)) : "error"; });
  REQUIRE(h.run_until([&] { return !after.empty(); }));
  CHECK(after == "after");  // not glued to the half reply of the lost connection
  CHECK(a.each_once());
}

TEST_CASE("half a reply and then silence: deadlines answer, the stall drops the connection") {
  test::Harness h;
  redis::ConnectionOptions o = h.options(20ms);
  o.stall_timeout = 100ms;
  redis::Connection& c = h.make_connection(o);
  std::vector<std::string> downs;
  c.set_state_listener([&](redis::Connection::State s, std::string_view why) {
    if (s == redis::Connection::State::disconnected) downs.emplace_back(why);
  });
  h.fake->hold();
  Answers a;
  for (int i = 0; i < 5; ++i)
    c.send({"ECHO", "x"}, a.next());
  REQUIRE(h.run_until([&] { return h.fake->count("ECHO") == 5; }));
  h.fake->push("*5\r\n:1\r\n:19\r\n");  // and nothing more
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  CHECK(a.with(core::Errc::timeout) == 5);
  REQUIRE(h.run_until([&] { return !downs.empty(); }));
  CHECK(downs[0] == "Redis stopped answering");
  h.fake->resume();
  REQUIRE(h.run_until([&] { return c.ready(); }));
  h.run_for(20ms);
  CHECK(a.each_once());
}

TEST_CASE("error replies are each answered once, as replies") {
  test::Harness h;
  h.fake->set_handler([](const test::Command& c) -> std::optional<std::string> {
    if (c[0] == "ECHO") return "-LOADING Redis is loading the dataset in memory\r\n";
    return std::nullopt;
  });
  redis::Connection& c = h.make_connection(h.options());
  Answers a;
  for (int i = 0; i < 20; ++i)
    c.send({"ECHO", "x"}, a.next());
  REQUIRE(h.run_until([&] { return a.all_answered(); }));
  h.run_for(10ms);
  CHECK(a.each_once());
  CHECK(a.with(std::nullopt) == 20);
  CHECK(c.ready());
}

TEST_CASE("closing a connection answers each pending command once, then calls back once") {
  test::Harness h;
  auto c = std::make_unique<redis::Connection>(&h.loop, h.options());
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  h.fake->hold();
  Answers a;
  for (int i = 0; i < 10; ++i)
    c->send({"ECHO", "x"}, a.next());
  int closed = 0;
  c->close([&] { ++closed; });
  CHECK(a.each_once());  // at once, inside close()
  CHECK(a.with(core::Errc::unavailable) == 10);
  c->send({"ECHO", "late"}, a.next());  // refused at once: closed
  CHECK(a.each_once());
  REQUIRE(h.run_until([&] { return closed == 1; }));
  h.run_for(10ms);
  CHECK(closed == 1);
  h.fake->resume();
}
