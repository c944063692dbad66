// Tests of store/redis_store.h on scripted Redis replies (support/scripted_commands.h, no
// server): what the store makes of numbers a damaged or hand-made key can hold.
#include <cstdint>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "store/memory_store.h"
#include "store/redis_codec.h"
#include "store/redis_store.h"
#include "support/common.h"
#include "support/scripted_commands.h"

using namespace rl;

namespace {

using rl::test::kNow;
const std::string kForever = ":" + std::to_string(INT64_MAX) + "\r\n";

class NullSink final : public obs::LogSink {
 public:
  void write(std::string_view) override {}
};

// A RedisStore over `replies`, as rld wires it.
struct ScriptedStore {
  explicit ScriptedStore(std::string_view replies)
      : clock(kNow),
        log(sink, clock),
        redis(replies),
        breaker(clock, breaker::Options{}),
        local(clock, 100),
        metrics(registry),
        store(redis, store::KeySpace{}, clock, breaker, local, log, metrics,
              store::RedisStoreOptions{}) {}

  std::optional<store::Block> find_block(std::string_view client) {
    std::optional<store::Block> found;
    store.find_block(client, [&](core::Result<std::optional<store::Block>> r) {
      REQUIRE(r.ok());
      found = *r;
    });
    return found;
  }

  core::ManualClock clock;
  NullSink sink;
  obs::Logger log;
  obs::Registry registry;
  test::ScriptedCommands redis;
  breaker::CircuitBreaker breaker;
  store::MemoryStore local;
  store::RedisStoreMetrics metrics;
  store::RedisStore store;
};

}  // namespace

// Found by the resp_reply fuzz harness: now + PTTL overflowed (undefined behaviour; in practice
// a block ending before it began, so not in force).
TEST_CASE("a block whose TTL in Redis is beyond any clock stays in force") {
  ScriptedStore f(kForever);
  f.store.on_block_event("192.0.2.10");
  f.redis.drain();
  const auto block = f.find_block("192.0.2.10");
  REQUIRE(block.has_value());
  CHECK(block->until == kNow + core::Millis{store::kMaxRedisMillis});
}

TEST_CASE("an invalid attempt that Redis blocks for longer than any clock blocks") {
  ScriptedStore f("*3\r\n:11\r\n:1\r\n" + kForever);
  std::optional<store::AttemptOutcome> outcome;
  f.store.record_invalid_attempt("192.0.2.10", store::AttemptRules{},
                                 [&](core::Result<store::AttemptOutcome> r) {
                                   REQUIRE(r.ok());
                                   outcome = *r;
                                 });
  f.redis.drain();
  REQUIRE(outcome.has_value());
  CHECK(outcome->blocked);
  CHECK(outcome->blocked_until == kNow + core::Millis{store::kMaxRedisMillis});
  CHECK(f.find_block("192.0.2.10").has_value());
}

TEST_CASE("a listed block with a TTL beyond any clock ends far in the future") {
  ScriptedStore f("*2\r\n$1\r\n0\r\n*1\r\n$20\r\nrl:block:{192.0.2.9}\r\n$6\r\nreason\r\n" +
                  kForever);
  std::optional<std::vector<store::Block>> blocks;
  f.store.list_blocks([&](core::Result<std::vector<store::Block>> r) {
    REQUIRE(r.ok());
    blocks = *r;
  });
  f.redis.drain();
  REQUIRE(blocks.has_value());
  REQUIRE(blocks->size() == 1);
  CHECK(blocks->front().client == "192.0.2.9");
  CHECK(blocks->front().until == kNow + core::Millis{store::kMaxRedisMillis});
}

TEST_CASE("a script's reset and wait beyond any clock are bounded") {
  ScriptedStore f("*5\r\n:0\r\n:0\r\n:5\r\n" + kForever + kForever);
  std::optional<limiter::Decision> decision;
  const store::CounterKey key{"u", limiter::Algorithm::sliding_window, core::Seconds{60}, {}};
  f.store.consume(key, limiter::Quota{5, core::Seconds{60}}, 1,
                  [&](core::Result<limiter::Decision> r) {
                    REQUIRE(r.ok());
                    decision = *r;
                  });
  f.redis.drain();
  REQUIRE(decision.has_value());
  CHECK_FALSE(decision->allowed);
  CHECK(core::to_unix_ms(decision->reset) == store::kMaxRedisMillis);
  CHECK(decision->retry_after == core::Millis{store::kMaxRedisMillis});
  CHECK(core::to_unix_seconds_ceil(decision->reset) == store::kMaxRedisMillis / 1000);
}
