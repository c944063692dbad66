// Tests of store/over_limit_cache.h on a manual timeline: a refusal answers later requests of
// at least its cost until its retry time, never cheaper requests, peeks or a raised limit; a
// user's refusals are forgotten with the user.
#include "store/over_limit_cache.h"

#include <doctest/doctest.h>

#include "support/common.h"

using rl::core::Millis;
using rl::core::Seconds;
using rl::limiter::Decision;
using rl::limiter::Quota;
using rl::store::OverLimitCache;

namespace {

using rl::test::kNow;
const Quota kFree{20, Seconds{60}};

Decision refusal(std::int64_t limit, Millis retry, std::int64_t remaining = 0) {
  Decision d;
  d.allowed = false;
  d.limit = limit;
  d.remaining = remaining;
  d.used = limit - remaining;
  d.reset = kNow + Seconds{120};
  d.retry_after = retry;
  return d;
}

}  // namespace

TEST_CASE("a refusal answers requests of the same cost until its retry time") {
  OverLimitCache cache(10);
  cache.remember("c", 1, refusal(20, Millis{5000}), kNow);
  auto d = cache.lookup("c", kFree, 1, kNow + Millis{1000});
  REQUIRE(d.has_value());
  CHECK_FALSE(d->allowed);
  CHECK(d->retry_after == Millis{4000});
  CHECK(d->limit == 20);
  CHECK(d->reset == kNow + Seconds{120});
  CHECK_FALSE(cache.lookup("c", kFree, 1, kNow + Millis{5000}).has_value());
  CHECK(cache.size() == 0);  // run out: dropped
}

TEST_CASE("a refused cost over the limit is not cached, so cost 1 still reaches Redis") {
  OverLimitCache cache(10);
  cache.remember("c", 1000, refusal(20, Millis{60000}, 20), kNow);
  CHECK_FALSE(cache.lookup("c", kFree, 1, kNow).has_value());
  CHECK(cache.size() == 0);
}

TEST_CASE("a refusal of cost n does not answer cheaper requests") {
  OverLimitCache cache(10);
  cache.remember("c", 5, refusal(20, Millis{3000}, 3), kNow);
  CHECK_FALSE(cache.lookup("c", kFree, 1, kNow).has_value());
  CHECK_FALSE(cache.lookup("c", kFree, 4, kNow).has_value());
  CHECK(cache.lookup("c", kFree, 5, kNow).has_value());
  CHECK(cache.lookup("c", kFree, 9, kNow).has_value());
}

TEST_CASE("a cheaper refusal replaces a costlier one") {
  OverLimitCache cache(10);
  cache.remember("c", 5, refusal(20, Millis{3000}, 3), kNow);
  cache.remember("c", 1, refusal(20, Millis{2000}), kNow);
  CHECK(cache.lookup("c", kFree, 1, kNow).has_value());
  CHECK_FALSE(cache.lookup("c", kFree, 5, kNow + Millis{2000}).has_value());
}

TEST_CASE("peeks are never answered from the cache, nor cached") {
  OverLimitCache cache(10);
  cache.remember("c", 0, refusal(20, Millis{3000}), kNow);
  CHECK(cache.size() == 0);
  cache.remember("c", 1, refusal(20, Millis{3000}), kNow);
  CHECK_FALSE(cache.lookup("c", kFree, 0, kNow).has_value());
  CHECK(cache.lookup("c", kFree, 1, kNow).has_value());
}

TEST_CASE("a raised limit drops the refusal; a lowered one keeps it") {
  OverLimitCache cache(10);
  cache.remember("c", 1, refusal(20, Millis{3000}), kNow);
  CHECK(cache.lookup("c", Quota{2, Seconds{60}}, 1, kNow).has_value());
  CHECK_FALSE(cache.lookup("c", Quota{150, Seconds{60}}, 1, kNow).has_value());
  CHECK(cache.size() == 0);
}

TEST_CASE("forgetting a user's counters forgets only theirs") {
  OverLimitCache cache(10);
  cache.remember("rl:c:{alice}:sw:60", 1, refusal(20, Millis{3000}), kNow);
  cache.remember("rl:c:{alice}:fw:3600", 1, refusal(20, Millis{3000}), kNow);
  cache.remember("rl:c:{alicia}:sw:60", 1, refusal(20, Millis{3000}), kNow);
  cache.forget_prefix("rl:c:{alice}:");
  CHECK_FALSE(cache.lookup("rl:c:{alice}:sw:60", kFree, 1, kNow).has_value());
  CHECK_FALSE(cache.lookup("rl:c:{alice}:fw:3600", kFree, 1, kNow).has_value());
  CHECK(cache.lookup("rl:c:{alicia}:sw:60", kFree, 1, kNow).has_value());
}

TEST_CASE("sweeping drops the refusals that have run out") {
  OverLimitCache cache(10);
  cache.remember("a", 1, refusal(20, Millis{1000}), kNow);
  cache.remember("b", 1, refusal(20, Millis{5000}), kNow);
  cache.sweep(kNow + Millis{1000});
  CHECK(cache.size() == 1);
  CHECK(cache.lookup("b", kFree, 1, kNow + Millis{1000}).has_value());
}
