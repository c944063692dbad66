// Test fixture for lib/service: the real decision pipeline in-process — MemoryStore and
// MemoryDirectory loaded with the reference tier file, HealthService, DecisionMetrics and
// DecisionService over one Registry, a ManualClock and a Logger writing to a MemorySink.
#pragma once

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "config/tier_file.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "service/decision_metrics.h"
#include "service/decision_service.h"
#include "service/health_service.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"

namespace rl::test {

inline const std::string kReferenceTiers = RL_TEST_DATA_DIR "/../config/rate_limits.json";
inline constexpr std::string_view kFreeKey = "demo_free_key_123";
inline constexpr std::string_view kProKey = "demo_pro_key_789";
inline constexpr std::string_view kEnterpriseKey = "demo_enterprise_key_abc";
// Aligned to the minute, so a 60 s window starts exactly now.
inline const core::WallTime kStart = core::from_unix_ms(1'700'000'040'000);

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// The value of one series in Prometheus text, e.g. series = rl_x_total{a="b"}; -1 when absent.
inline double metric(const std::string& rendered, const std::string& series) {
  for (const auto& line : lines_of(rendered)) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

struct Pipeline {
  explicit Pipeline(obs::LogLevel level = obs::LogLevel::info)
      : clock(kStart),
        log(sink, clock, level),
        store(clock, 1000),
        directory(clock),
        health(directory, clock, log, registry, core::Seconds{2}),
        metrics(registry),
        service(store, directory, health, clock, log, metrics) {
    auto file = config::parse_tier_file(read_text(kReferenceTiers), kReferenceTiers);
    REQUIRE_MESSAGE(file.ok(), (file.ok() ? "" : file.error().message));
    const auto loaded = directory.load(*file);
    REQUIRE(loaded.ok());
    health.refresh();
  }

  service::DecisionResult decide(std::string_view key, std::string_view ip = "192.0.2.10",
                                 std::int64_t cost = 1) {
    const auto client = security::IpAddress::parse(ip);
    REQUIRE_MESSAGE(client.has_value(), ip);
    service::DecisionJob job;
    job.request = service::DecisionRequest{*client, key, cost, {}};
    int calls = 0;
    job.done = [&calls](service::DecisionJob&) { ++calls; };
    service.decide(job);
    REQUIRE(calls == 1);
    return job.result;
  }

  // How many of `n` requests with `key` are allowed.
  int allowed(std::string_view key, int n, std::string_view ip = "192.0.2.10") {
    int count = 0;
    for (int i = 0; i < n; ++i)
      count += decide(key, ip).verdict == service::Verdict::allowed ? 1 : 0;
    return count;
  }

  void set_health(policy::HealthState state, std::optional<core::Seconds> ttl = std::nullopt) {
    store::HealthRecord record;
    record.state = state;
    record.updated_by = "test";
    record.reason = "unit test";
    record.updated_at = clock.now();
    if (ttl) record.expires_at = clock.now() + *ttl;
    bool done = false;
    health.set(record, [&](core::Result<store::HealthRecord> r) {
      REQUIRE(r.ok());
      done = true;
    });
    REQUIRE(done);
  }

  void set_attempts(store::AttemptRules rules) {
    auto settings = std::make_shared<service::ServiceSettings>();
    settings->attempts = rules;
    service.set_settings(settings);
  }

  core::ManualClock clock;
  obs::MemorySink sink;
  obs::Logger log;
  obs::Registry registry;
  store::MemoryStore store;
  store::MemoryDirectory directory;
  service::HealthService health;
  service::DecisionMetrics metrics;
  service::DecisionService service;
};

}  // namespace rl::test
