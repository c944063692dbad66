// Tests of store/bounded_cache.h: the capacity holds, negative entries are evicted first and
// never push out positive ones, otherwise the oldest entry goes, and updates refresh an entry.
#include "store/bounded_cache.h"

#include <string>

#include <doctest/doctest.h>

using rl::store::BoundedCache;

namespace {

std::string name(const char* prefix, int i) {
  return prefix + std::to_string(i);
}

}  // namespace

TEST_CASE("a bounded cache never holds more than its capacity") {
  BoundedCache<int> cache(3);
  for (int i = 0; i < 10; ++i)
    CHECK(cache.put(name("k", i), i));
  CHECK(cache.size() == 3);
}

TEST_CASE("a full cache evicts its oldest entry") {
  BoundedCache<int> cache(3);
  for (int i = 0; i < 4; ++i)
    cache.put(name("k", i), i);
  CHECK(cache.find("k0") == nullptr);
  for (int i = 1; i < 4; ++i) {
    REQUIRE(cache.find(name("k", i)) != nullptr);
    CHECK(*cache.find(name("k", i)) == i);
  }
}

TEST_CASE("putting an existing key updates it and makes it the newest") {
  BoundedCache<int> cache(3);
  cache.put("a", 1);
  cache.put("b", 2);
  cache.put("c", 3);
  cache.put("a", 10);
  cache.put("d", 4);  // evicts b, the oldest now
  REQUIRE(cache.find("a") != nullptr);
  CHECK(*cache.find("a") == 10);
  CHECK(cache.find("b") == nullptr);
  CHECK(cache.size() == 3);
}

TEST_CASE("legitimate entries put into a cache full of negative ones stay there") {
  BoundedCache<int> cache(100);
  for (int i = 0; i < 100; ++i)
    cache.put(name("unknown", i), 0, true);
  for (int i = 0; i < 10; ++i)
    CHECK(cache.put(name("known", i), i));
  // A further flood of unknown names evicts only unknown names.
  for (int i = 100; i < 1000; ++i)
    cache.put(name("unknown", i), 0, true);
  CHECK(cache.size() == 100);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(cache.find(name("known", i)) != nullptr);
    CHECK(*cache.find(name("known", i)) == i);
  }
  CHECK(cache.find("unknown999") != nullptr);  // the newest negatives are kept
  CHECK(cache.find("unknown0") == nullptr);
}

TEST_CASE("a negative entry does not push a positive one out of a full cache") {
  BoundedCache<int> cache(2);
  cache.put("a", 1);
  cache.put("b", 2);
  CHECK_FALSE(cache.put("unknown", 0, true));
  CHECK(cache.find("unknown") == nullptr);
  CHECK(cache.find("a") != nullptr);
  CHECK(cache.find("b") != nullptr);
}

TEST_CASE("an entry can turn from negative to positive and back") {
  BoundedCache<int> cache(2);
  cache.put("a", 0, true);
  cache.put("a", 1);  // now positive
  cache.put("b", 2);
  cache.put("c", 3);  // no negatives left: the oldest, a, goes
  CHECK(cache.find("a") == nullptr);
  cache.put("b", 0, true);  // negative again, so the first to go
  cache.put("d", 4);
  CHECK(cache.find("b") == nullptr);
  CHECK(cache.find("c") != nullptr);
  CHECK(cache.find("d") != nullptr);
}

TEST_CASE("erase and erase_if remove entries and free their room") {
  BoundedCache<int> cache(3);
  cache.put("a", 1);
  cache.put("b", 2, true);
  cache.put("c", 3);
  CHECK(cache.erase("a"));
  CHECK_FALSE(cache.erase("a"));
  CHECK(cache.erase_if([](const std::string&, int v) { return v >= 2; }) == 2);
  CHECK(cache.size() == 0);
  for (int i = 0; i < 3; ++i)
    cache.put(name("k", i), i);
  CHECK(cache.size() == 3);
  CHECK(cache.find("k0") != nullptr);  // nothing evicted: the erased entries left no trace
}

TEST_CASE("a cache of capacity zero holds nothing") {
  BoundedCache<int> cache(0);
  CHECK_FALSE(cache.put("a", 1));
  CHECK(cache.size() == 0);
}
