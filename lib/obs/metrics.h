// Metrics registry rendered in the Prometheus text exposition format (version 0.0.4).
// Metrics are registered once (name, help, fixed labels) and updated lock-free with relaxed
// atomics, so the hot path pays one atomic add. Label values must come from bounded sets
// (tiers, results, kinds) — never a user id, key or IP. References returned by the registry stay
// valid for its lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace rl::obs {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Fixed upper bounds in seconds; observations in microseconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds_seconds);
  void observe(std::chrono::microseconds d);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<std::uint64_t> cumulative_counts() const;  // one per bound, then +Inf
  double sum_seconds() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_us_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

// Latency buckets from 5 µs to 1 s (16 bounds), for decisions and Redis commands.
std::vector<double> latency_buckets();

class Registry {
 public:
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  // A gauge whose value is read when scraped. Several workers register the same series: the
  // first registration is kept, the others are ignored (`read` must outlive the registry's use).
  void gauge_fn(std::string_view name, std::string_view help, Labels labels,
                std::function<double()> read);
  // The same for a count kept elsewhere that only rises (evictions since start): TYPE counter.
  void counter_fn(std::string_view name, std::string_view help, Labels labels,
                  std::function<double()> read);
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       Labels labels = {});

  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    std::string labels;  // rendered: {a="x",b="y"} or empty
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    Histogram* histogram = nullptr;
    std::function<double()> read;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::vector<Series> series;
  };
  Family& family(std::string_view name, std::string_view help, Type type);
  void add_fn(std::string_view name, std::string_view help, Type type, Labels labels,
              std::function<double()> read);
  static std::string render_labels(Labels labels);

  mutable std::mutex mutex_;
  std::deque<Family> families_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
};

}  // namespace rl::obs
