// Tests of store/block_cache.h: blocks set and lifted by events, a resync that replaces what
// no event changed meanwhile and keeps what one did, and sweeping.
#include "store/block_cache.h"

#include <doctest/doctest.h>

#include "support/common.h"

using rl::core::Seconds;
using rl::store::Block;
using rl::store::BlockCache;

namespace {

using rl::test::kNow;
const rl::core::WallTime kLifted{};

Block block(const char* client, Seconds left) {
  return Block{client, "test", kNow + left};
}

}  // namespace

TEST_CASE("a block is in force until it ends, and lifted when an event says so") {
  BlockCache cache(10);
  cache.set("192.0.2.1", kNow + Seconds{10}, kNow);
  REQUIRE(cache.find("192.0.2.1", kNow).has_value());
  CHECK(*cache.find("192.0.2.1", kNow) == kNow + Seconds{10});
  CHECK_FALSE(cache.find("192.0.2.1", kNow + Seconds{10}).has_value());
  cache.set("192.0.2.1", kLifted, kNow);
  CHECK_FALSE(cache.find("192.0.2.1", kNow).has_value());
  CHECK(cache.size() == 0);
}

TEST_CASE("a resync replaces the blocks no event has changed since it began") {
  BlockCache cache(10);
  cache.set("old", kNow + Seconds{10}, kNow);
  const auto resync = cache.begin_resync();
  cache.finish_resync(resync, {block("scanned", Seconds{30})}, kNow);
  CHECK_FALSE(cache.find("old", kNow).has_value());  // Redis no longer has it
  CHECK(cache.find("scanned", kNow).has_value());
}

TEST_CASE("a block learned from an event while a resync is on its way survives the resync") {
  BlockCache cache(10);
  const auto resync = cache.begin_resync();
  cache.set("new", kNow + Seconds{900}, kNow);  // the event, answered before the SCAN's reply
  cache.finish_resync(resync, {}, kNow);        // the SCAN ran before the block was made
  REQUIRE(cache.find("new", kNow).has_value());
  CHECK(*cache.find("new", kNow) == kNow + Seconds{900});
}

TEST_CASE("a block lifted while a resync is on its way is not brought back by it") {
  BlockCache cache(10);
  cache.set("gone", kNow + Seconds{900}, kNow);
  const auto resync = cache.begin_resync();
  cache.set("gone", kLifted, kNow);  // lifted after the SCAN saw it
  cache.finish_resync(resync, {block("gone", Seconds{890})}, kNow);
  CHECK_FALSE(cache.find("gone", kNow).has_value());
  cache.sweep(kNow);  // no resync left: the tombstone goes
  CHECK(cache.size() == 0);
}

TEST_CASE("a block changed by an event keeps the event's end over the resync's") {
  BlockCache cache(10);
  const auto resync = cache.begin_resync();
  cache.set("a", kNow + Seconds{100}, kNow);
  cache.finish_resync(resync, {block("a", Seconds{5})}, kNow);
  CHECK(*cache.find("a", kNow) == kNow + Seconds{100});
}

TEST_CASE("a failed resync changes nothing") {
  BlockCache cache(10);
  cache.set("a", kNow + Seconds{100}, kNow);
  const auto resync = cache.begin_resync();
  cache.abandon_resync(resync);
  CHECK(cache.find("a", kNow).has_value());
  cache.set("a", kLifted, kNow);
  CHECK(cache.size() == 0);  // no resync in flight: lifting erases at once
}

TEST_CASE("sweeping drops ended blocks") {
  BlockCache cache(10);
  cache.set("a", kNow + Seconds{1}, kNow);
  cache.set("b", kNow + Seconds{100}, kNow);
  cache.sweep(kNow + Seconds{1});
  CHECK(cache.size() == 1);
  CHECK(cache.find("b", kNow).has_value());
}
