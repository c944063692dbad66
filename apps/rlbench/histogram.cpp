// Log-linear bucket arithmetic: values below 128 ns get one bucket each; above, a power of two
// [2^e, 2^(e+1)) is split into 128 buckets of width 2^(e-7).
#include "apps/rlbench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rl::rlbench {

std::size_t Histogram::bucket_of(std::uint64_t ns) {
  if (ns < (1u << kSubBits)) return static_cast<std::size_t>(ns);
  const int e = std::bit_width(ns) - 1;  // 2^e <= ns < 2^(e+1), e >= 7
  if (e > kMaxExponent) return kBuckets - 1;
  const std::uint64_t sub = (ns >> (e - kSubBits)) - (1u << kSubBits);  // 0..127
  return (static_cast<std::size_t>(e - kSubBits + 1) << kSubBits) + static_cast<std::size_t>(sub);
}

std::uint64_t Histogram::upper_edge(std::size_t bucket) {
  if (bucket < (1u << kSubBits)) return bucket;
  const int e = static_cast<int>(bucket >> kSubBits) + kSubBits - 1;
  const std::uint64_t sub = bucket & ((1u << kSubBits) - 1);
  const std::uint64_t width = std::uint64_t{1} << (e - kSubBits);
  return ((std::uint64_t{1} << e) + sub * width) + width - 1;
}

void Histogram::record(std::chrono::nanoseconds value) {
  const std::uint64_t ns = value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
  ++counts_[bucket_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::chrono::nanoseconds Histogram::percentile(double p) const {
  if (count_ == 0) return std::chrono::nanoseconds{0};
  const double clamped = std::clamp(p, 0.0, 100.0);
  // The rank of the value at p: at least the first value, at most the last.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::chrono::nanoseconds{static_cast<std::int64_t>(std::min(upper_edge(i), max_))};
    }
  }
  return std::chrono::nanoseconds{static_cast<std::int64_t>(max_)};
}

}  // namespace rl::rlbench
