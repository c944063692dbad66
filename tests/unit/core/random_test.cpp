// Tests of core/random.h: fast_random() is not constant and uses all 64 bits.
#include "core/random.h"

#include <cstdint>
#include <set>
#include <thread>

#include <doctest/doctest.h>

TEST_CASE("fast_random does not repeat itself") {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(rl::core::fast_random());
  CHECK(seen.size() == 1000);
}

TEST_CASE("fast_random sets and clears every bit") {
  std::uint64_t any = 0, all = ~std::uint64_t{0};
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rl::core::fast_random();
    any |= v;
    all &= v;
  }
  CHECK(any == ~std::uint64_t{0});
  CHECK(all == 0);
}

TEST_CASE("fast_random gives each thread its own stream") {
  std::uint64_t here = rl::core::fast_random();
  std::uint64_t there = 0;
  std::thread([&] { there = rl::core::fast_random(); }).join();
  CHECK(here != there);
}
