// Tests of service/decision_metrics.h: decision series by tier and result with a bounded set of
// tier labels ("none" without a tier, "other" past kMaxTierLabels), series registered up front
// by prepare(), and the per-worker cache that finds a tier's counters by its object.
#include "service/decision_metrics.h"

#include <doctest/doctest.h>

#include "unit/service/pipeline.h"

using rl::service::DecisionMetrics;
using rl::service::DecisionResult;
using rl::service::kDecisionResults;
using rl::service::kMaxTierLabels;
using rl::service::TierCounterCache;
using rl::service::Verdict;
using rl::test::metric;

namespace {

std::string numbered(std::string_view prefix, std::size_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

// Sample lines of one family in Prometheus text.
int series_of(const std::string& rendered, std::string_view family) {
  int n = 0;
  for (const auto& line : rl::test::lines_of(rendered)) {
    if (line.starts_with(family) && (line[family.size()] == '{' || line[family.size()] == ' ')) ++n;
  }
  return n;
}

std::shared_ptr<const rl::policy::Tier> tier_named(std::string name) {
  auto t = std::make_shared<rl::policy::Tier>();
  t->name = std::move(name);
  return t;
}

DecisionResult result_of(std::shared_ptr<const rl::policy::Tier> tier, Verdict verdict) {
  DecisionResult r;
  r.identity.tier = std::move(tier);
  r.verdict = verdict;
  return r;
}

}  // namespace

TEST_CASE("decision series start with tier none and other, every result at zero") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  const std::string m = registry.render();
  CHECK(series_of(m, "rl_decisions_total") == 2 * static_cast<int>(kDecisionResults));
  CHECK(metric(m, R"(rl_decisions_total{tier="none",result="unknown_key"})") == 0);
  CHECK(metric(m, R"(rl_decisions_total{tier="other",result="shadow_limited"})") == 0);
  CHECK(series_of(m, "rl_security_events_total") == 7);
  CHECK(metric(m, R"(rl_security_events_total{kind="admin_key_invalid"})") == 0);
}

TEST_CASE("prepare registers a tier's series before its first decision") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  const std::vector<std::string> tiers{"free", "pro"};
  metrics.prepare(tiers);
  metrics.prepare(tiers);  // a reload with the same tiers adds nothing
  const std::string m = registry.render();
  CHECK(series_of(m, "rl_decisions_total") == 4 * static_cast<int>(kDecisionResults));
  CHECK(metric(m, R"(rl_decisions_total{tier="pro",result="limited"})") == 0);
}

TEST_CASE("a decision without a tier counts as tier none") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  TierCounterCache cache(metrics);
  cache.record(result_of(nullptr, Verdict::client_blocked), std::chrono::microseconds{7});
  const std::string m = registry.render();
  CHECK(metric(m, R"(rl_decisions_total{tier="none",result="client_blocked"})") == 1);
  CHECK(metric(m, "rl_decision_duration_seconds_count") == 1);
  CHECK(metric(m, R"(rl_decision_duration_seconds_bucket{le="1e-05"})") == 1);
  CHECK(metric(m, R"(rl_decision_duration_seconds_bucket{le="5e-06"})") == 0);
}

TEST_CASE("a shadow tier's denial counts as shadow_limited, not as its verdict") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  TierCounterCache cache(metrics);
  auto r = result_of(tier_named("free"), Verdict::allowed);
  r.shadow_denied = true;
  cache.record(r, std::chrono::microseconds{1});
  const std::string m = registry.render();
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="shadow_limited"})") == 1);
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="allowed"})") == 0);
}

TEST_CASE("tier objects with one name share its counters, however often the object changes") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  TierCounterCache cache(metrics);
  // More objects than the cache holds: each miss finds the name's counters again.
  for (int i = 0; i < 20; ++i) {
    const auto t = tier_named("pro");
    cache.record(result_of(t, Verdict::allowed), std::chrono::microseconds{1});
    cache.record(result_of(t, Verdict::limited), std::chrono::microseconds{1});
  }
  const std::string m = registry.render();
  CHECK(metric(m, R"(rl_decisions_total{tier="pro",result="allowed"})") == 20);
  CHECK(metric(m, R"(rl_decisions_total{tier="pro",result="limited"})") == 20);
  CHECK(series_of(m, "rl_decisions_total") == 3 * static_cast<int>(kDecisionResults));
}

TEST_CASE("tiers past the label limit count as tier other, so the series stay bounded") {
  rl::obs::Registry registry;
  DecisionMetrics metrics(registry);
  TierCounterCache cache(metrics);
  for (std::size_t i = 0; i < kMaxTierLabels + 10; ++i) {
    cache.record(result_of(tier_named(numbered("t", i)), Verdict::allowed),
                 std::chrono::microseconds{1});
  }
  const std::string m = registry.render();
  CHECK(series_of(m, "rl_decisions_total") ==
        static_cast<int>((kMaxTierLabels + 2) * kDecisionResults));
  CHECK(metric(m, R"(rl_decisions_total{tier="t0",result="allowed"})") == 1);
  const std::string last = numbered("t", kMaxTierLabels - 1);
  CHECK(metric(m, R"(rl_decisions_total{tier=")" + last + R"(",result="allowed"})") == 1);
  CHECK(metric(m, R"(rl_decisions_total{tier="other",result="allowed"})") == 10);
}

TEST_CASE("a thousand users of the pipeline add no decision series") {
  rl::test::Pipeline p;
  p.decide(rl::test::kFreeKey);
  p.decide("unknown_key_00000");
  const int before = series_of(p.registry.render(), "rl_decisions_total");
  for (std::size_t i = 0; i < 1000; ++i) {
    p.decide(numbered("unknown_key_", 10000 + i), numbered("192.0.2.", i % 200));
  }
  const std::string m = p.registry.render();
  CHECK(series_of(m, "rl_decisions_total") == before);
  CHECK(m.find("unknown_key_1") == std::string::npos);
}
