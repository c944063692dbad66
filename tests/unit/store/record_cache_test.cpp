// Tests of store/record_cache.h: a read overtaken by an invalidation is not cached, stale
// marking keeps records, and only "unknown" entries are swept.
#include "store/record_cache.h"

#include <string>

#include <doctest/doctest.h>

#include "store/directory.h"
#include "support/common.h"

using rl::core::Seconds;
using rl::store::RecordCache;
using rl::store::UserRecord;

namespace {

using rl::test::kNow;

std::shared_ptr<const UserRecord> user(const char* id, const char* tier) {
  return std::make_shared<const UserRecord>(UserRecord{id, tier, kNow, false});
}

}  // namespace

TEST_CASE("a read that finished without an invalidation is cached") {
  RecordCache<UserRecord> cache(10);
  const auto generation = cache.generation();
  CHECK(cache.store("alice", user("alice", "free"), kNow, generation));
  REQUIRE(cache.find("alice") != nullptr);
  CHECK(cache.find("alice")->value->tier == "free");
  CHECK(cache.find("alice")->fetched == kNow);
}

TEST_CASE("a read overtaken by an invalidation is not cached") {
  RecordCache<UserRecord> cache(10);
  const auto generation = cache.generation();  // HGETALL sent: it reads tier "free"
  cache.invalidate("alice");                   // the admin's write event comes first
  CHECK_FALSE(cache.store("alice", user("alice", "free"), kNow, generation));
  CHECK(cache.find("alice") == nullptr);  // the next request reads the new record
  CHECK(cache.store("alice", user("alice", "pro"), kNow, cache.generation()));
}

TEST_CASE("an invalidation drops the cached record") {
  RecordCache<UserRecord> cache(10);
  cache.store("alice", user("alice", "free"), kNow, cache.generation());
  cache.invalidate("alice");
  CHECK(cache.find("alice") == nullptr);
}

TEST_CASE("marking everything stale keeps the records and outdates reads on their way") {
  RecordCache<UserRecord> cache(10);
  cache.store("alice", user("alice", "free"), kNow, cache.generation());
  const auto generation = cache.generation();
  cache.mark_all_stale();
  REQUIRE(cache.find("alice") != nullptr);
  CHECK(cache.find("alice")->fetched == rl::core::WallTime{});
  CHECK_FALSE(cache.store("bob", user("bob", "pro"), kNow, generation));
}

TEST_CASE("sweeping drops old unknown entries and keeps known records however old") {
  RecordCache<UserRecord> cache(10);
  cache.store("gone", nullptr, kNow, cache.generation());
  cache.store("recent-gone", nullptr, kNow + Seconds{10}, cache.generation());
  cache.store("alice", user("alice", "free"), kNow, cache.generation());
  cache.sweep_negatives(kNow + Seconds{5});
  CHECK(cache.find("gone") == nullptr);
  CHECK(cache.find("recent-gone") != nullptr);
  CHECK(cache.find("alice") != nullptr);
}

TEST_CASE("known records put into a cache full of unknown ones are kept") {
  RecordCache<UserRecord> cache(50);
  for (int i = 0; i < 50; ++i)
    cache.store("unknown" + std::to_string(i), nullptr, kNow, cache.generation());
  for (int i = 0; i < 5; ++i)
    CHECK(cache.store("user" + std::to_string(i), user("u", "free"), kNow, cache.generation()));
  for (int i = 50; i < 500; ++i)
    cache.store("unknown" + std::to_string(i), nullptr, kNow, cache.generation());
  for (int i = 0; i < 5; ++i)
    CHECK(cache.find("user" + std::to_string(i)) != nullptr);
  CHECK(cache.size() == 50);
}
