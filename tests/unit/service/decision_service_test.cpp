// Tests of service/decision_service.h over the real in-process pipeline: the reference results
// per tier and health state, key verdicts, client blocking, disabled users, shadow tiers, and
// the logs and metrics each decision leaves behind.
#include "service/decision_service.h"

#include <doctest/doctest.h>

#include "unit/service/pipeline.h"

using rl::core::Millis;
using rl::core::Seconds;
using rl::policy::HealthState;
using rl::service::Verdict;
using rl::test::kEnterpriseKey;
using rl::test::kFreeKey;
using rl::test::kProKey;
using rl::test::metric;
using rl::test::Pipeline;

TEST_CASE("NORMAL: the free tier allows 20 requests and then limits") {
  Pipeline p;
  CHECK(p.allowed(kFreeKey, 20) == 20);
  const auto r = p.decide(kFreeKey);
  CHECK(r.verdict == Verdict::limited);
  CHECK(rl::service::status_of(r.verdict) == 429);
  CHECK(r.has_quota);
  CHECK(r.decision.limit == 20);
  CHECK(r.decision.remaining == 0);
  CHECK(r.retry_after > Millis{0});
  CHECK(r.identity.user->id == "demo_free_user");
  CHECK(r.identity.tier->name == "free");
  CHECK(r.health == HealthState::normal);
}

TEST_CASE("NORMAL: the pro tier allows 150 requests and then limits") {
  Pipeline p;
  CHECK(p.allowed(kProKey, 151) == 150);
  CHECK(p.decide(kProKey).verdict == Verdict::limited);
}

TEST_CASE("an allowed decision reports the limit and what remains") {
  Pipeline p;
  const auto r = p.decide(kFreeKey);
  CHECK(r.verdict == Verdict::allowed);
  CHECK(rl::service::status_of(r.verdict) == 200);
  CHECK(r.decision.limit == 20);
  CHECK(r.decision.remaining == 19);
  CHECK(r.retry_after == Millis{0});
}

TEST_CASE("DEGRADED: free allows 2, pro 100 and enterprise 1000") {
  Pipeline p;
  p.set_health(HealthState::degraded);
  CHECK(p.allowed(kFreeKey, 5) == 2);
  CHECK(p.allowed(kProKey, 120) == 100);
  CHECK(p.allowed(kEnterpriseKey, 1010) == 1000);
  const auto r = p.decide(kFreeKey);
  CHECK(r.health == HealthState::degraded);
  CHECK(r.decision.limit == 2);
}

TEST_CASE("one counter per user serves both health states") {
  Pipeline p;
  CHECK(p.allowed(kFreeKey, 5) == 5);
  p.set_health(HealthState::degraded);
  CHECK(p.decide(kFreeKey).verdict == Verdict::limited);
  p.set_health(HealthState::normal);
  CHECK(p.allowed(kFreeKey, 20) == 15);
}

TEST_CASE("a request without a key is missing_key") {
  Pipeline p;
  const auto r = p.decide("");
  CHECK(r.verdict == Verdict::missing_key);
  CHECK(rl::service::status_of(r.verdict) == 401);
  CHECK_FALSE(r.has_quota);
}

TEST_CASE("a key of the wrong format is malformed_key") {
  Pipeline p;
  CHECK(p.decide("short").verdict == Verdict::malformed_key);
  CHECK(p.decide("has spaces in it").verdict == Verdict::malformed_key);
  CHECK(p.decide("rl_badchecksumbadchecksumbadchecksum123456").verdict == Verdict::malformed_key);
}

TEST_CASE("a well-formed key nobody has is unknown_key") {
  Pipeline p;
  const auto r = p.decide("nobody_has_this_key_1");
  CHECK(r.verdict == Verdict::unknown_key);
  CHECK(rl::service::status_of(r.verdict) == 401);
}

TEST_CASE("a client is blocked after max_attempts invalid attempts") {
  Pipeline p;
  p.set_attempts({3, Seconds{300}, Seconds{900}});
  CHECK(p.decide("", "192.0.2.50").verdict == Verdict::missing_key);
  CHECK(p.decide("bad key", "192.0.2.50").verdict == Verdict::malformed_key);
  CHECK(p.decide("wrong_key_0001", "192.0.2.50").verdict == Verdict::unknown_key);
  const auto blocked = p.decide("wrong_key_0002", "192.0.2.50");
  CHECK(blocked.verdict == Verdict::client_blocked);
  CHECK(rl::service::status_of(blocked.verdict) == 429);
  CHECK(blocked.retry_after == Seconds{900});
}

TEST_CASE("a blocked client is refused even with a valid key, until the block ends") {
  Pipeline p;
  p.set_attempts({3, Seconds{300}, Seconds{900}});
  for (int i = 0; i < 4; ++i)
    p.decide("wrong_key_0001", "192.0.2.50");
  p.clock.advance(Seconds{100});
  const auto r = p.decide(kFreeKey, "192.0.2.50");
  CHECK(r.verdict == Verdict::client_blocked);
  CHECK(r.retry_after == Seconds{800});
  CHECK_FALSE(r.identity.user);
  p.clock.advance(Seconds{800});
  CHECK(p.decide(kFreeKey, "192.0.2.50").verdict == Verdict::allowed);
}

TEST_CASE("blocking one client leaves other clients alone") {
  Pipeline p;
  p.set_attempts({3, Seconds{300}, Seconds{900}});
  for (int i = 0; i < 4; ++i)
    p.decide("wrong_key_0001", "192.0.2.50");
  CHECK(p.decide(kFreeKey, "192.0.2.51").verdict == Verdict::allowed);
  CHECK(p.decide("wrong_key_0001", "192.0.2.51").verdict == Verdict::unknown_key);
}

TEST_CASE("IPv6 clients in the same /64 share a block") {
  Pipeline p;
  p.set_attempts({3, Seconds{300}, Seconds{900}});
  p.decide("wrong_key_0001", "2001:db8:1:2::1");
  p.decide("wrong_key_0001", "2001:db8:1:2::2");
  p.decide("wrong_key_0001", "2001:db8:1:2:aaaa::3");
  CHECK(p.decide("wrong_key_0001", "2001:db8:1:2::4").verdict == Verdict::client_blocked);
  CHECK(p.decide(kFreeKey, "2001:db8:1:2:ffff:ffff:ffff:ffff").verdict == Verdict::client_blocked);
  CHECK(p.decide(kFreeKey, "2001:db8:1:3::1").verdict == Verdict::allowed);
}

TEST_CASE("valid keys do not count as invalid attempts") {
  Pipeline p;
  p.set_attempts({3, Seconds{300}, Seconds{900}});
  for (int i = 0; i < 25; ++i)
    p.decide(kFreeKey, "192.0.2.60");  // 20 allowed, 5 limited: none is an invalid attempt
  CHECK(p.decide("wrong_key_0001", "192.0.2.60").verdict == Verdict::unknown_key);
}

TEST_CASE("a disabled user is user_disabled and consumes nothing") {
  Pipeline p;
  bool done = false;
  p.directory.update_user("demo_free_user", rl::store::UserPatch{std::nullopt, true},
                          [&](rl::core::Result<rl::store::UserRecord> r) {
                            REQUIRE(r.ok());
                            done = true;
                          });
  REQUIRE(done);
  const auto r = p.decide(kFreeKey);
  CHECK(r.verdict == Verdict::user_disabled);
  CHECK(rl::service::status_of(r.verdict) == 403);
  CHECK(r.identity.user->id == "demo_free_user");
  CHECK(p.store.counter_count() == 0);
}

TEST_CASE("a shadow tier never denies but marks what it would have denied") {
  Pipeline p;
  rl::policy::Tier shadow{
      "free", 10, 20, 2, Seconds{60}, rl::limiter::Algorithm::sliding_window, true, std::nullopt};
  p.directory.put_tier(shadow, [](rl::core::Result<bool> r) { REQUIRE(r.ok()); });
  CHECK(p.allowed(kFreeKey, 20) == 20);
  for (int i = 0; i < 5; ++i) {
    const auto r = p.decide(kFreeKey);
    CHECK(r.verdict == Verdict::allowed);
    CHECK(r.shadow_denied);
    CHECK(r.decision.remaining == 0);
  }
  const std::string m = p.registry.render();
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="allowed"})") == 20);
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="shadow_limited"})") == 5);
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="limited"})") == 0);
}

TEST_CASE("a block writes one security_alert line that holds no API key") {
  Pipeline p;
  p.set_attempts({2, Seconds{300}, Seconds{900}});
  p.decide("secret_attempt_key_1", "192.0.2.70");
  p.decide("secret_attempt_key_2", "192.0.2.70");
  p.decide("secret_attempt_key_3", "192.0.2.70");
  p.decide(kFreeKey, "192.0.2.70");
  const std::string text = p.sink.text();
  int alerts = 0;
  for (const auto& line : rl::test::lines_of(text)) {
    if (line.find("\"security_alert\"") == std::string::npos) continue;
    ++alerts;
    CHECK(line.find("\"client\":\"192.0.2.70\"") != std::string::npos);
    CHECK(line.find("\"kind\":\"client_blocked\"") != std::string::npos);
    CHECK(line.find("\"attempts\":3") != std::string::npos);
    CHECK(line.find("\"block_seconds\":900") != std::string::npos);
    CHECK(line.find("\"last_reason\":\"unknown_key\"") != std::string::npos);
  }
  CHECK(alerts == 1);
  for (const char* key : {"secret_attempt_key_1", "secret_attempt_key_2", "secret_attempt_key_3",
                          "demo_free_key_123"}) {
    CHECK_MESSAGE(text.find(key) == std::string::npos, key);
  }
}

TEST_CASE("rate_limit_decision lines are written at debug level only") {
  Pipeline info;
  info.decide(kFreeKey);
  CHECK(info.sink.text().find("rate_limit_decision") == std::string::npos);

  Pipeline debug(rl::obs::LogLevel::debug);
  debug.decide(kFreeKey);
  debug.decide("unknown_key_12345");
  const auto lines = rl::test::lines_of(debug.sink.text());
  int decisions = 0;
  for (const auto& line : lines) {
    if (line.find("\"rate_limit_decision\"") == std::string::npos) continue;
    ++decisions;
    CHECK(line.find("demo_free_key_123") == std::string::npos);
    CHECK(line.find("unknown_key_12345") == std::string::npos);
  }
  CHECK(decisions == 2);
  CHECK(debug.sink.text().find("\"user\":\"demo_free_user\"") != std::string::npos);
  CHECK(debug.sink.text().find("\"result\":\"unknown_key\"") != std::string::npos);
}

TEST_CASE("rl_decisions_total counts decisions by tier and result") {
  Pipeline p;
  p.allowed(kFreeKey, 22);
  p.allowed(kProKey, 3);
  p.decide("unknown_key_12345");
  const std::string m = p.registry.render();
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="allowed"})") == 20);
  CHECK(metric(m, R"(rl_decisions_total{tier="free",result="limited"})") == 2);
  CHECK(metric(m, R"(rl_decisions_total{tier="pro",result="allowed"})") == 3);
  CHECK(metric(m, R"(rl_decisions_total{tier="none",result="unknown_key"})") == 1);
  CHECK(metric(m, "rl_decision_duration_seconds_count") == 26);
}

TEST_CASE("rl_security_events_total counts invalid keys, blocks and blocked requests") {
  Pipeline p;
  p.set_attempts({2, Seconds{300}, Seconds{900}});
  p.decide("", "192.0.2.80");
  p.decide("bad key", "192.0.2.80");
  p.decide("unknown_key_12345", "192.0.2.80");  // the third: blocks
  p.decide(kFreeKey, "192.0.2.80");             // refused by the block
  p.decide(kFreeKey, "192.0.2.80");
  const std::string m = p.registry.render();
  CHECK(metric(m, R"(rl_security_events_total{kind="missing_key"})") == 1);
  CHECK(metric(m, R"(rl_security_events_total{kind="malformed_key"})") == 1);
  CHECK(metric(m, R"(rl_security_events_total{kind="unknown_key"})") == 1);
  CHECK(metric(m, R"(rl_security_events_total{kind="client_blocked"})") == 1);
  CHECK(metric(m, R"(rl_security_events_total{kind="blocked_request"})") == 2);
  CHECK(metric(m, R"(rl_decisions_total{tier="none",result="client_blocked"})") == 3);
}

TEST_CASE("verdicts have stable names and statuses") {
  using rl::service::status_of;
  using rl::service::to_string;
  CHECK(to_string(Verdict::client_blocked) == "client_blocked");
  CHECK(to_string(Verdict::user_disabled) == "user_disabled");
  CHECK(status_of(Verdict::unavailable) == 503);
  CHECK(status_of(Verdict::malformed_key) == 401);
}

TEST_CASE("rate_limit_decision names the request id and the decision's fields") {
  Pipeline p(rl::obs::LogLevel::debug);
  rl::service::DecisionJob job;
  job.request.client = *rl::security::IpAddress::parse("192.0.2.11");
  job.request.api_key = kFreeKey;
  job.request.request_id = "req-0123";
  job.done = [](rl::service::DecisionJob&) {};
  p.service.decide(job);
  const std::string text = p.sink.text();
  const auto at = text.find("\"event\":\"rate_limit_decision\"");
  REQUIRE(at != std::string::npos);
  const std::string line = text.substr(at, text.find('\n', at) - at);
  for (const char* field :
       {"\"request_id\":\"req-0123\"", "\"client\":\"192.0.2.11\"", "\"user\":\"demo_free_user\"",
        "\"tier\":\"free\"", "\"result\":\"allowed\"", "\"status\":200", "\"limit\":20",
        "\"remaining\":19", "\"duration_us\":"}) {
    CHECK_MESSAGE(line.find(field) != std::string::npos, field, " in ", line);
  }
  CHECK(text.find(kFreeKey) == std::string::npos);
}

TEST_CASE("security_alert names the request that made the block") {
  Pipeline p;
  p.set_attempts({1, Seconds{300}, Seconds{900}});
  rl::service::DecisionJob job;
  job.request.client = *rl::security::IpAddress::parse("192.0.2.12");
  job.request.api_key = "secret_attempt_key_9";
  job.request.request_id = "req-block";
  job.done = [](rl::service::DecisionJob&) {};
  p.service.decide(job);
  p.service.decide(job);
  const std::string text = p.sink.text();
  const auto at = text.find("\"event\":\"security_alert\"");
  REQUIRE(at != std::string::npos);
  CHECK(text.find("\"request_id\":\"req-block\"", at) != std::string::npos);
  CHECK(text.find("secret_attempt_key_9") == std::string::npos);
}

TEST_CASE("admin requests refused by network are counted each and logged once a second") {
  Pipeline p;
  const auto peer = *rl::security::IpAddress::parse("192.0.2.77");
  for (int i = 0; i < 5; ++i)
    p.service.admin_network_refused(peer, "req-net");
  p.clock.advance(Seconds{1});
  p.service.admin_network_refused(peer, "req-net-2");
  const std::string m = p.registry.render();
  CHECK(metric(m, R"(rl_security_events_total{kind="admin_forbidden_network"})") == 6);
  const auto lines = rl::test::lines_of(p.sink.text());
  std::vector<std::string> refused;
  for (const auto& line : lines) {
    if (line.find("\"event\":\"admin_forbidden\"") != std::string::npos) refused.push_back(line);
  }
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].find("\"client\":\"192.0.2.77\"") != std::string::npos);
  CHECK(refused[0].find("\"request_id\":\"req-net\"") != std::string::npos);
  CHECK(refused[0].find("\"similar_since_last\":0") != std::string::npos);
  CHECK(refused[1].find("\"similar_since_last\":4") != std::string::npos);
  CHECK(refused[1].find("\"level\":\"warn\"") != std::string::npos);
}
