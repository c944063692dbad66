// Tests of service/health_service.h: setting the state, TTL expiry back to NORMAL with a
// health_changed log line, the cache of the stored state, and the health metrics.
#include "service/health_service.h"

#include <doctest/doctest.h>

#include "unit/service/pipeline.h"

using rl::core::Seconds;
using rl::policy::HealthState;
using rl::test::metric;
using rl::test::Pipeline;

namespace {

int count_lines(const std::string& text, std::string_view needle) {
  int n = 0;
  for (const auto& line : rl::test::lines_of(text))
    n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("the health state starts NORMAL") {
  Pipeline p;
  CHECK(p.health.current() == HealthState::normal);
}

TEST_CASE("setting DEGRADED takes effect at once and logs health_changed") {
  Pipeline p;
  p.set_health(HealthState::degraded);
  CHECK(p.health.current() == HealthState::degraded);
  const std::string text = p.sink.text();
  CHECK(count_lines(text, "\"health_changed\"") == 1);
  CHECK(text.find("\"from\":\"NORMAL\",\"to\":\"DEGRADED\"") != std::string::npos);
  CHECK(text.find("\"updated_by\":\"test\"") != std::string::npos);
}

TEST_CASE("a state with a TTL returns to NORMAL when it expires and logs why") {
  Pipeline p;
  p.set_health(HealthState::degraded, Seconds{10});
  p.clock.advance(Seconds{9});
  CHECK(p.health.current() == HealthState::degraded);
  p.clock.advance(Seconds{1});
  CHECK(p.health.current() == HealthState::normal);
  const std::string text = p.sink.text();
  CHECK(count_lines(text, "\"health_changed\"") == 2);
  CHECK(text.find("\"from\":\"DEGRADED\",\"to\":\"NORMAL\"") != std::string::npos);
  CHECK(text.find("TTL expired") != std::string::npos);
  CHECK(p.health.current() == HealthState::normal);
  CHECK(count_lines(p.sink.text(), "\"health_changed\"") == 2);
}

TEST_CASE("an expiring NORMAL state logs no change when it expires") {
  Pipeline p;
  p.set_health(HealthState::normal, Seconds{10});
  p.clock.advance(Seconds{10});
  CHECK(p.health.current() == HealthState::normal);
  CHECK_MESSAGE(count_lines(p.sink.text(), "\"health_changed\"") == 0, p.sink.text());
}

TEST_CASE("rl_health_changes_total and rl_health_state follow the state") {
  Pipeline p;
  CHECK(metric(p.registry.render(), "rl_health_state") == 0);
  p.set_health(HealthState::degraded, Seconds{10});
  std::string m = p.registry.render();
  CHECK(metric(m, "rl_health_state") == 1);
  CHECK(metric(m, "rl_health_changes_total") == 1);
  p.clock.advance(Seconds{10});
  CHECK(p.health.current() == HealthState::normal);
  m = p.registry.render();
  CHECK(metric(m, "rl_health_state") == 0);
  CHECK(metric(m, "rl_health_changes_total") == 2);
}

TEST_CASE("a change made behind the service's back is seen after the cache time") {
  Pipeline p;
  CHECK(p.health.current() == HealthState::normal);
  rl::store::HealthRecord record;
  record.state = HealthState::degraded;
  record.updated_at = p.clock.now();
  p.directory.set_health(record, [](rl::core::Result<rl::store::HealthRecord>) {});
  p.clock.advance(Seconds{1});
  CHECK(p.health.current() == HealthState::normal);  // cached for 2 s
  p.clock.advance(Seconds{1});
  CHECK(p.health.current() == HealthState::degraded);
}

TEST_CASE("get() reads the stored record") {
  Pipeline p;
  p.set_health(HealthState::degraded, Seconds{30});
  std::optional<rl::store::HealthRecord> got;
  p.health.get([&](rl::core::Result<rl::store::HealthRecord> r) {
    REQUIRE(r.ok());
    got = *r;
  });
  REQUIRE(got.has_value());
  CHECK(got->state == HealthState::degraded);
  CHECK(got->reason == "unit test");
  REQUIRE(got->expires_at.has_value());
  CHECK(*got->expires_at == p.clock.now() + Seconds{30});
}
