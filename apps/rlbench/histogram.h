// Histogram: latencies in a log-linear layout (each power of two split into 128 equal buckets),
// so every recorded value is known to within 1/128 (< 1%) of itself, in a fixed 43 KiB, from
// 1 ns to about 2.4 hours; larger values land in the last bucket and still count for max().
// Not thread-safe: one per load engine.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace rl::rlbench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;  // 128 sub-buckets per power of two
  static constexpr int kMaxExponent = 42;
  static constexpr std::size_t kBuckets = (kMaxExponent + 1) << kSubBits;

  void record(std::chrono::nanoseconds value);
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  std::chrono::nanoseconds max() const { return std::chrono::nanoseconds{max_}; }
  // The value at percentile `p` (0–100): the upper edge of its bucket, never above max().
  std::chrono::nanoseconds percentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static std::size_t bucket_of(std::uint64_t ns);
  static std::uint64_t upper_edge(std::size_t bucket);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace rl::rlbench
