// The load report's histogram: every percentile within 1% of the exact one from a sorted copy.
#include "apps/rlbench/histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace rl::rlbench {
namespace {

using std::chrono::nanoseconds;

// The nearest-rank percentile of sorted values: the smallest value with at least p% at or
// below it.
std::uint64_t exact(const std::vector<std::uint64_t>& sorted, double p) {
  const auto rank = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))));
  return sorted[rank - 1];
}

void check_against_sorted(std::vector<std::uint64_t> values) {
  Histogram h;
  for (auto v : values)
    h.record(nanoseconds{static_cast<std::int64_t>(v)});
  std::sort(values.begin(), values.end());
  CHECK(h.count() == values.size());
  CHECK(static_cast<std::uint64_t>(h.max().count()) == values.back());
  for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const auto want = exact(values, p);
    const auto got = static_cast<std::uint64_t>(h.percentile(p).count());
    INFO("p" << p << " exact " << want << " histogram " << got);
    CHECK(got >= want);
    CHECK(static_cast<double>(got) <= static_cast<double>(want) * 1.01);
  }
}

TEST_CASE("percentiles of log-normal latencies are within 1% of the sorted reference") {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> latency(std::log(300'000.0), 1.0);  // ~0.3 ms median
  for (int run = 0; run < 5; ++run) {
    std::vector<std::uint64_t> values(20'000 + run * 7919);
    for (auto& v : values)
      v = static_cast<std::uint64_t>(latency(rng));
    check_against_sorted(std::move(values));
  }
}

TEST_CASE("percentiles of uniform values over eight decades are within 1%") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(1.0, 9.0);  // 10 ns .. 1 s
  std::vector<std::uint64_t> values(50'000);
  for (auto& v : values)
    v = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)));
  check_against_sorted(std::move(values));
}

TEST_CASE("small values are exact and one value is every percentile") {
  check_against_sorted({0, 1, 2, 3, 127, 128, 129, 255, 256});
  Histogram h;
  h.record(nanoseconds{1'234'567});
  CHECK(h.percentile(0).count() == 1'234'567);  // never above max
  CHECK(h.percentile(50).count() == 1'234'567);
  CHECK(h.percentile(100).count() == 1'234'567);
  CHECK(Histogram{}.percentile(50).count() == 0);
}

TEST_CASE("buckets: contiguous, each edge within 1/128 of its values") {
  for (std::uint64_t v : {std::uint64_t{128}, std::uint64_t{1000}, std::uint64_t{999'999},
                          std::uint64_t{1} << 30, (std::uint64_t{1} << 40) + 12345}) {
    const auto b = Histogram::bucket_of(v);
    CHECK(Histogram::upper_edge(b) >= v);
    CHECK(static_cast<double>(Histogram::upper_edge(b)) <=
          static_cast<double>(v) * (1 + 1.0 / 128));
    CHECK(Histogram::bucket_of(Histogram::upper_edge(b)) == b);
    CHECK(Histogram::bucket_of(Histogram::upper_edge(b) + 1) == b + 1);
  }
  // Beyond the last exponent everything lands in the last bucket but still counts for max().
  Histogram h;
  h.record(std::chrono::hours{10});
  CHECK(h.max() == std::chrono::hours{10});
  CHECK(h.percentile(50) == std::chrono::hours{10});
}

TEST_CASE("merge adds counts and keeps the larger max") {
  Histogram a, b;
  for (int i = 1; i <= 100; ++i)
    a.record(nanoseconds{i * 1000});
  for (int i = 101; i <= 200; ++i)
    b.record(nanoseconds{i * 1000});
  a.merge(b);
  CHECK(a.count() == 200);
  CHECK(a.max() == nanoseconds{200'000});
  const auto p50 = a.percentile(50).count();
  CHECK(p50 >= 100'000);
  CHECK(p50 <= 101'000);
}

TEST_CASE("negative durations count as zero") {
  Histogram h;
  h.record(nanoseconds{-5});
  CHECK(h.count() == 1);
  CHECK(h.max().count() == 0);
}

}  // namespace
}  // namespace rl::rlbench
