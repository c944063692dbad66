// Registry bookkeeping and the Prometheus text rendering.
#include "obs/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace rl::obs {

Histogram::Histogram(std::vector<double> upper_bounds_seconds)
    : bounds_(std::move(upper_bounds_seconds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (double b : bounds_)
    bounds_us_.push_back(std::llround(b * 1e6));
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0);
}

void Histogram::observe(std::chrono::microseconds d) {
  const std::int64_t us = std::max<std::int64_t>(0, d.count());
  const auto it = std::lower_bound(bounds_us_.begin(), bounds_us_.end(), us);
  buckets_[static_cast<std::size_t>(it - bounds_us_.begin())].fetch_add(1,
                                                                        std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

double Histogram::sum_seconds() const {
  return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> latency_buckets() {
  // A decision on the memory store takes a few microseconds, one on Redis a round trip
  // (~0.1 ms on a LAN); the default Redis deadline is 5 ms.
  return {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
          0.0025,   0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   1.0};
}

std::string Registry::render_labels(Labels labels) {
  if (labels.size() == 0) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(key);
    out.append("=\"");
    for (char c : value) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out.append("\\n");
        continue;
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type) {
  for (auto& f : families_) {
    if (f.name == name) {
      if (f.type != type) std::abort();  // one name, two types: a programming error
      return f;
    }
  }
  families_.push_back(Family{std::string(name), std::string(help), type, {}});
  return families_.back();
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::counter);
  std::string rendered = render_labels(labels);
  for (auto& s : f.series) {
    if (s.labels == rendered && s.counter != nullptr) return *s.counter;
  }
  Counter& c = counters_.emplace_back();
  f.series.push_back(Series{std::move(rendered), &c, nullptr, nullptr, {}});
  return c;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::gauge);
  std::string rendered = render_labels(labels);
  for (auto& s : f.series) {
    if (s.labels == rendered && s.gauge != nullptr) return *s.gauge;
  }
  Gauge& g = gauges_.emplace_back();
  f.series.push_back(Series{std::move(rendered), nullptr, &g, nullptr, {}});
  return g;
}

void Registry::gauge_fn(std::string_view name, std::string_view help, Labels labels,
                        std::function<double()> read) {
  add_fn(name, help, Type::gauge, labels, std::move(read));
}

void Registry::counter_fn(std::string_view name, std::string_view help, Labels labels,
                          std::function<double()> read) {
  add_fn(name, help, Type::counter, labels, std::move(read));
}

void Registry::add_fn(std::string_view name, std::string_view help, Type type, Labels labels,
                      std::function<double()> read) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, type);
  std::string rendered = render_labels(labels);
  for (const auto& s : f.series) {
    if (s.labels == rendered) return;  // the first registration stays
  }
  f.series.push_back(Series{std::move(rendered), nullptr, nullptr, nullptr, std::move(read)});
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, Labels labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, help, Type::histogram);
  std::string rendered = render_labels(labels);
  for (auto& s : f.series) {
    if (s.labels == rendered) return *s.histogram;
  }
  Histogram& h = histograms_.emplace_back(std::move(bounds));
  f.series.push_back(Series{std::move(rendered), nullptr, nullptr, &h, {}});
  return h;
}

namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
  }
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// `{a="x"}` + le → `{a="x",le="0.1"}`.
std::string with_le(const std::string& labels, std::string_view le) {
  std::string out = labels.empty() ? "{" : labels.substr(0, labels.size() - 1) + ",";
  out.append("le=\"");
  out.append(le);
  out.append("\"}");
  return out;
}

}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& f : families_) {
    out.append("# HELP ").append(f.name).append(" ");
    for (char c : f.help) {  // the format escapes backslash and newline in help text
      if (c == '\\') {
        out.append("\\\\");
      } else if (c == '\n') {
        out.append("\\n");
      } else {
        out.push_back(c);
      }
    }
    out.append("\n");
    out.append("# TYPE ").append(f.name).append(" ");
    out.append(f.type == Type::counter ? "counter" : f.type == Type::gauge ? "gauge" : "histogram");
    out.append("\n");
    for (const auto& s : f.series) {
      if (s.histogram != nullptr) {
        const auto counts = s.histogram->cumulative_counts();
        const auto& bounds = s.histogram->bounds();
        for (std::size_t i = 0; i < counts.size(); ++i) {
          std::string le;
          if (i < bounds.size()) {
            append_number(le, bounds[i]);
          } else {
            le = "+Inf";
          }
          out.append(f.name).append("_bucket").append(with_le(s.labels, le)).append(" ");
          append_u64(out, counts[i]);
          out.append("\n");
        }
        out.append(f.name).append("_sum").append(s.labels).append(" ");
        append_number(out, s.histogram->sum_seconds());
        out.append("\n").append(f.name).append("_count").append(s.labels).append(" ");
        append_u64(out, counts.back());
        out.append("\n");
        continue;
      }
      out.append(f.name).append(s.labels).append(" ");
      if (s.counter != nullptr) {
        append_u64(out, s.counter->value());
      } else if (s.gauge != nullptr) {
        append_number(out, static_cast<double>(s.gauge->value()));
      } else {
        append_number(out, s.read());
      }
      out.append("\n");
    }
  }
  return out;
}

}  // namespace rl::obs
