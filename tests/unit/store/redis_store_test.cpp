// Tests of store/redis_store.h against a FakeRedis (tests/unit/redis) answering the decision
// scripts as a troubled Redis would: LOADING (a server that cannot serve yet, as a restarted
// one loading its data) is the endpoint failing — the failure policy answers, the breaker
// opens, Redis is asked again after the cooldown — while WRONGTYPE on one user's counter is
// an error for that user only, logged with its key at most once a second.
#include "store/redis_store.h"

#include <chrono>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "store/memory_store.h"
#include "unit/redis/harness.h"

using namespace rl;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLoading = "-LOADING Redis is loading the dataset in memory\r\n";
constexpr const char* kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value script: 71c3\r\n";
constexpr const char* kDecision = "*5\r\n:1\r\n:99\r\n:1\r\n:1700000120000\r\n:0\r\n";

struct StoreFixture {
  explicit StoreFixture(policy::FailurePolicy policy) {
    h.fake->set_handler([this](const test::Command& c) -> std::optional<std::string> {
      if (c[0] != "EVALSHA") return std::nullopt;
      ++scripts;
      return reply;
    });
    h.make_client(h.options());
    store =
        std::make_unique<store::RedisStore>(*h.client, store::KeySpace{}, h.clock, breaker, local,
                                            h.log, metrics, store::RedisStoreOptions{policy, 1000});
  }

  core::Result<limiter::Decision> consume(std::string_view user) {
    std::optional<core::Result<limiter::Decision>> out;
    store::CounterKey key;
    key.user = user;
    store->consume(key, limiter::Quota{20, core::Seconds{60}}, 1,
                   [&](core::Result<limiter::Decision> d) { out = std::move(d); });
    REQUIRE(h.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  test::Harness h;
  std::string reply = kDecision;
  int scripts = 0;
  breaker::CircuitBreaker breaker{h.clock, {.failure_threshold = 2, .cooldown = 1000ms}};
  store::MemoryStore local{h.clock, 1000};
  store::RedisStoreMetrics metrics{h.registry};
  std::unique_ptr<store::RedisStore> store;
};

}  // namespace

TEST_CASE("LOADING: the failure policy answers, the breaker opens, Redis is asked after it") {
  StoreFixture f(policy::FailurePolicy::local);
  f.reply = kLoading;
  for (std::int64_t remaining : {19, 18, 17}) {  // counted here, with the same limit
    const auto d = f.consume("u1");
    REQUIRE(d.ok());
    CHECK(d->allowed);
    CHECK(d->limit == 20);
    CHECK(d->remaining == remaining);
  }
  CHECK(f.scripts == 2);  // the third was not sent: the breaker is open
  CHECK(f.breaker.state() == breaker::State::open);
  CHECK(f.metrics.fallback_local.value() == 3);
  f.reply = kDecision;  // loaded
  f.h.clock.advance(1000ms);
  const auto d = f.consume("u1");
  REQUIRE(d.ok());
  CHECK(d->remaining == 99);  // Redis' answer
  CHECK(f.scripts == 3);
  CHECK(f.breaker.state() == breaker::State::closed);
}

TEST_CASE("LOADING under the deny policy is unavailable") {
  StoreFixture f(policy::FailurePolicy::deny);
  f.reply = kLoading;
  const auto d = f.consume("u1");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == core::Errc::unavailable);
  CHECK(f.metrics.fallback_deny.value() == 1);
}

TEST_CASE("WRONGTYPE on a counter is that user's error: the breaker stays closed") {
  StoreFixture f(policy::FailurePolicy::deny);
  f.h.fake->set_handler([&f](const test::Command& c) -> std::optional<std::string> {
    if (c[0] != "EVALSHA") return std::nullopt;
    ++f.scripts;
    return c[3] == "rl:c:{damaged}:sw:60" ? kWrongType : kDecision;
  });
  for (int i = 0; i < 5; ++i) {
    const auto d = f.consume("damaged");
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == core::Errc::internal);
    CHECK(d.error().message.starts_with("Redis replied: WRONGTYPE"));
  }
  CHECK(f.breaker.state() == breaker::State::closed);
  CHECK(f.scripts == 5);  // each asked Redis
  const auto other = f.consume("healthy");
  REQUIRE(other.ok());
  CHECK(other->remaining == 99);
  CHECK(f.metrics.bad_replies.value() == 5);
  // One log line a second, naming the key, however many requests fail.
  const std::string log = f.h.sink.text();
  CHECK(log.find("\"event\":\"redis_bad_reply\"") != std::string::npos);
  CHECK(log.find("\"key\":\"rl:c:{damaged}:sw:60\"") != std::string::npos);
  CHECK(log.find("redis_bad_reply") == log.rfind("redis_bad_reply"));
  f.h.clock.advance(1000ms);
  CHECK_FALSE(f.consume("damaged").ok());
  const std::string later = f.h.sink.text();
  CHECK(later.find("\"similar_since_last\":4") != std::string::npos);
}

TEST_CASE("WRONGTYPE on a counter under the local policy is limited here") {
  StoreFixture f(policy::FailurePolicy::local);
  f.reply = kWrongType;
  for (std::int64_t remaining : {19, 18}) {
    const auto d = f.consume("damaged");
    REQUIRE(d.ok());
    CHECK(d->remaining == remaining);
  }
  CHECK(f.breaker.state() == breaker::State::closed);
  CHECK(f.metrics.fallback_local.value() == 2);
}
