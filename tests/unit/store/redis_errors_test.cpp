// Tests of store/redis_errors.h on replies parsed by hiredis from RESP text (no server): which
// outcomes are the endpoint failing, and the errors callers see for error replies.
#include "store/redis_errors.h"

#include <string>

#include <doctest/doctest.h>

#include "core/clock.h"
#include "unit/redis/resp.h"

using rl::core::Errc;
using rl::store::endpoint_failure;
using rl::store::note_outcome;
using rl::store::RedisResult;
using rl::store::reply_error;
using rl::test::parse_resp;

namespace {

const char* kWrongTypeReply =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

}  // namespace

TEST_CASE("no reply at all is an endpoint failure, reported as it came") {
  const RedisResult r = rl::core::make_error(Errc::timeout, "Redis did not answer in time");
  CHECK(endpoint_failure(r));
  REQUIRE(reply_error(r).has_value());
  CHECK(reply_error(r)->code == Errc::timeout);
}

TEST_CASE("a WRONGTYPE reply proves Redis reachable and is an internal error with its text") {
  const RedisResult r = parse_resp(kWrongTypeReply);
  CHECK_FALSE(endpoint_failure(r));
  const auto e = reply_error(r);
  REQUIRE(e.has_value());
  CHECK(e->code == Errc::internal);
  CHECK(e->message.find("WRONGTYPE Operation against a key") != std::string::npos);
}

TEST_CASE("a server that cannot serve now (LOADING, BUSY) is an endpoint failure") {
  for (const char* resp : {"-LOADING Redis is loading the dataset in memory\r\n",
                           "-BUSY Redis is busy running a script\r\n"}) {
    const RedisResult r = parse_resp(resp);
    CHECK(endpoint_failure(r));
    REQUIRE(reply_error(r).has_value());
    CHECK(reply_error(r)->code == Errc::unavailable);
  }
}

TEST_CASE("a reply that is not an error reply is no error") {
  for (const char* resp : {"+OK\r\n", ":3\r\n", "$-1\r\n", "*0\r\n"}) {
    const RedisResult r = parse_resp(resp);
    CHECK_FALSE(endpoint_failure(r));
    CHECK_FALSE(reply_error(r).has_value());
  }
}

TEST_CASE("a long error text is cut short") {
  const RedisResult r = parse_resp("-ERR " + std::string(5000, 'x') + "\r\n");
  REQUIRE(reply_error(r).has_value());
  CHECK(reply_error(r)->message.size() < 300);
}

TEST_CASE("the breaker counts one failure per burst, and nothing for a refusal of this process") {
  rl::core::ManualClock clock;
  rl::breaker::CircuitBreaker breaker(clock, {.failure_threshold = 2});
  const RedisResult timeout = rl::core::make_error(Errc::timeout, "Redis did not answer in time");
  // Fifty commands expiring together: the first is a failure, the rest repeat it.
  CHECK_FALSE(note_outcome(breaker, timeout, false));
  for (int i = 0; i < 49; ++i)
    CHECK_FALSE(note_outcome(breaker, timeout, true));
  CHECK(breaker.state() == rl::breaker::State::closed);
  // Too many in flight here says nothing of Redis.
  const RedisResult refused = rl::core::make_error(Errc::overloaded, "too many in flight");
  CHECK_FALSE(endpoint_failure(refused));
  for (int i = 0; i < 5; ++i)
    CHECK_FALSE(note_outcome(breaker, refused, false));
  CHECK(breaker.state() == rl::breaker::State::closed);
  // A reply, even WRONGTYPE, is Redis answering: it is readable and resets the count.
  CHECK(note_outcome(breaker, parse_resp(kWrongTypeReply), false));
  CHECK_FALSE(note_outcome(breaker, timeout, false));
  CHECK(breaker.state() == rl::breaker::State::closed);
  // A reply saying the server cannot serve counts even inside a burst; a second burst opens.
  CHECK_FALSE(note_outcome(breaker, parse_resp("-LOADING Redis is loading\r\n"), true));
  CHECK(breaker.state() == rl::breaker::State::open);
}

namespace {

// A breaker with one failure to open, opened, its cooldown passed and its one probe out.
struct HalfOpen {
  rl::core::ManualClock clock;
  rl::breaker::CircuitBreaker breaker{clock, {.failure_threshold = 1}};
  HalfOpen() {
    breaker.on_failure();
    clock.advance(rl::core::Millis{1000});
    REQUIRE(breaker.allow());
    REQUIRE(breaker.state() == rl::breaker::State::half_open);
  }
};

}  // namespace

TEST_CASE("a probe refused in this process frees its slot: the breaker never waits for it") {
  HalfOpen h;
  const RedisResult refused = rl::core::make_error(Errc::overloaded, "too many in flight");
  CHECK_FALSE(note_outcome(h.breaker, refused, false));
  CHECK(h.breaker.state() == rl::breaker::State::half_open);
  CHECK(h.breaker.allow());  // the next call probes
}

TEST_CASE("a probe failing in a burst with other commands opens the breaker again") {
  HalfOpen h;
  const RedisResult timeout = rl::core::make_error(Errc::timeout, "Redis did not answer in time");
  CHECK_FALSE(note_outcome(h.breaker, timeout, true));  // second of its burst
  CHECK(h.breaker.state() == rl::breaker::State::open);
}

TEST_CASE("a read answered does not close a half-open breaker; a script call does") {
  // Redis out of memory, or a replica, answers reads and refuses every decision: only a call
  // that may write proves it serves decisions again.
  HalfOpen h;
  CHECK(note_outcome(h.breaker, parse_resp("*0\r\n"), false, rl::store::Call::reads));
  CHECK(h.breaker.state() == rl::breaker::State::half_open);
  REQUIRE(h.breaker.allow());  // the read freed the slot
  CHECK_FALSE(
      note_outcome(h.breaker, parse_resp("-OOM command not allowed when used memory\r\n"), false));
  CHECK(h.breaker.state() == rl::breaker::State::open);
  h.clock.advance(rl::core::Millis{1000});
  REQUIRE(h.breaker.allow());
  CHECK(note_outcome(h.breaker, parse_resp(":1\r\n"), false, rl::store::Call::writes));
  CHECK(h.breaker.state() == rl::breaker::State::closed);
}

TEST_CASE("OOM, READONLY, MISCONF and NOREPLICAS replies are the endpoint failing") {
  for (const char* resp :
       {"-OOM command not allowed when used memory > 'maxmemory'. script: 71c3, on "
        "@user_script:58.\r\n",
        "-READONLY You can't write against a read only replica. script: 71c3\r\n",
        "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable\r\n",
        "-NOREPLICAS Not enough good replicas to write.\r\n"}) {
    const RedisResult r = parse_resp(resp);
    CHECK(endpoint_failure(r));
    CHECK(reply_error(r)->code == Errc::unavailable);
  }
}
