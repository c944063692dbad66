// Text and JSON renderings of load and verify results.
#include "apps/rlbench/report.h"

#include <algorithm>
#include <cstdio>

namespace rl::rlbench {
namespace {

double ms(std::chrono::nanoseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}

}  // namespace

nlohmann::json to_json(const LoadReport& r) {
  nlohmann::json status = nlohmann::json::object();
  for (const auto& [code, n] : r.status)
    status[std::to_string(code)] = n;
  return {{"requests", r.requests},
          {"duration_s", round3(r.duration_s)},
          {"rps", round3(r.rps())},
          {"errors", r.errors},
          {"status", status},
          {"latency_ms",
           {{"p50", round3(ms(r.latency.percentile(50)))},
            {"p90", round3(ms(r.latency.percentile(90)))},
            {"p99", round3(ms(r.latency.percentile(99)))},
            {"p999", round3(ms(r.latency.percentile(99.9)))},
            {"max", round3(ms(r.latency.max()))}}}};
}

std::string to_text(const LoadReport& r) {
  char line[256];
  std::string out;
  std::snprintf(line, sizeof line, "requests   %llu in %.2f s: %.0f req/s, %llu errors\n",
                static_cast<unsigned long long>(r.requests), r.duration_s, r.rps(),
                static_cast<unsigned long long>(r.errors));
  out += line;
  out += "status    ";
  for (const auto& [code, n] : r.status) {
    std::snprintf(line, sizeof line, " %d: %llu", code, static_cast<unsigned long long>(n));
    out += line;
  }
  out += "\n";
  std::snprintf(line, sizeof line,
                "latency    p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
                ms(r.latency.percentile(50)), ms(r.latency.percentile(90)),
                ms(r.latency.percentile(99)), ms(r.latency.percentile(99.9)), ms(r.latency.max()));
  out += line;
  return out;
}

nlohmann::json to_json(const std::vector<ScenarioResult>& results) {
  bool passed = true;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : results) {
    passed = passed && s.passed;
    list.push_back({{"name", s.name},
                    {"expected", s.expected},
                    {"observed", s.observed},
                    {"passed", s.passed}});
  }
  return {{"passed", passed && !results.empty()}, {"scenarios", list}};
}

std::string to_text(const std::vector<ScenarioResult>& results) {
  std::size_t w_name = 8, w_expected = 8, w_observed = 8;
  for (const auto& s : results) {
    w_name = std::max(w_name, s.name.size());
    w_expected = std::max(w_expected, s.expected.size());
    w_observed = std::max(w_observed, s.observed.size());
  }
  const auto pad = [](const std::string& s, std::size_t w) {
    return s + std::string(w - s.size() + 2, ' ');
  };
  std::string out = pad("SCENARIO", w_name) + pad("EXPECTED", w_expected) +
                    pad("OBSERVED", w_observed) + "PASS\n";
  for (const auto& s : results) {
    out += pad(s.name, w_name) + pad(s.expected, w_expected) + pad(s.observed, w_observed) +
           (s.passed ? "yes" : "NO") + "\n";
  }
  return out;
}

}  // namespace rl::rlbench
