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

TEST_CASE("rl_health_state reads NORMAL once the TTL passed, before any decision notices") {
  Pipeline p;
  p.set_health(HealthState::degraded, Seconds{10});
  CHECK(metric(p.registry.render(), "rl_health_state") == 1);
  p.clock.advance(Seconds{10});
  // No decision, no current(): a worker without traffic must not report a stale DEGRADED.
  CHECK(metric(p.registry.render(), "rl_health_state") == 0);
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

TEST_CASE("a TTL expiry noticed by a worker that does not report reaches the one that does") {
  // Two workers over one store: `p.health` reports (worker 0) but sees no traffic; `second`
  // does not report and serves the decisions, as its change listener tells worker 0 to read.
  Pipeline p;
  rl::service::HealthService second(p.directory, p.clock, p.log, p.registry, Seconds{2}, false);
  second.set_change_listener([&p] { p.health.refresh(); });
  bool done = false;
  rl::store::HealthRecord record;
  record.state = HealthState::degraded;
  record.updated_by = "test";
  record.updated_at = p.clock.now();
  record.expires_at = p.clock.now() + Seconds{10};
  second.set(record, [&](rl::core::Result<rl::store::HealthRecord> r) { done = r.ok(); });
  REQUIRE(done);
  CHECK(count_lines(p.sink.text(), "\"health_changed\"") == 1);  // worker 0 read it at once
  CHECK(metric(p.registry.render(), "rl_health_changes_total") == 1);

  p.clock.advance(Seconds{10});
  CHECK(second.current() == HealthState::normal);  // only the second worker has traffic
  const std::string text = p.sink.text();
  CHECK(count_lines(text, "\"health_changed\"") == 2);
  CHECK(text.find("\"to\":\"NORMAL\",\"reason\":\"the state's TTL expired\"") != std::string::npos);
  CHECK(metric(p.registry.render(), "rl_health_changes_total") == 2);
  CHECK(second.current() == HealthState::normal);  // nothing more to tell
  CHECK(count_lines(p.sink.text(), "\"health_changed\"") == 2);
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

// -- reads that race with changes ---------------------------------------------------------------

namespace {

// A Directory whose health reads are answered only when the test says so, each with the
// stored record as it is at that moment; everything else is unused here.
class SlowHealthDirectory final : public rl::store::Directory {
 public:
  rl::store::HealthRecord stored;
  std::vector<rl::store::Callback<rl::store::HealthRecord>> reads;

  // Answers the oldest read on its way with what was stored when `as_of` was.
  void answer(const rl::store::HealthRecord& as_of) {
    REQUIRE_FALSE(reads.empty());
    auto done = std::move(reads.front());
    reads.erase(reads.begin());
    done(as_of);
  }

  void health(rl::store::Callback<rl::store::HealthRecord> done) override {
    reads.push_back(std::move(done));
  }
  void set_health(rl::store::HealthRecord record,
                  rl::store::Callback<rl::store::HealthRecord> done) override {
    stored = record;
    done(std::move(record));
  }
  void resolve(std::string_view,
               rl::store::Callback<std::optional<rl::store::Identity>> done) override {
    done(unused());
  }
  void list_tiers(rl::store::Callback<std::vector<rl::policy::Tier>> done) override {
    done(unused());
  }
  void put_tier(rl::policy::Tier, rl::store::Callback<bool> done) override { done(unused()); }
  void list_users(rl::store::Callback<std::vector<rl::store::UserRecord>> done) override {
    done(unused());
  }
  void get_user(std::string_view, rl::store::Callback<rl::store::UserRecord> done) override {
    done(unused());
  }
  void create_user(rl::store::UserRecord,
                   rl::store::Callback<rl::store::UserRecord> done) override {
    done(unused());
  }
  void update_user(std::string_view, rl::store::UserPatch,
                   rl::store::Callback<rl::store::UserRecord> done) override {
    done(unused());
  }
  void delete_user(std::string_view, rl::store::StatusCallback done) override { done(unused()); }
  void list_keys(std::string_view,
                 rl::store::Callback<std::vector<rl::store::KeyRecord>> done) override {
    done(unused());
  }
  void add_key(rl::store::KeyRecord, rl::store::Callback<rl::store::KeyRecord> done) override {
    done(unused());
  }
  void revoke_key(std::string_view, rl::store::Callback<rl::store::KeyRecord> done) override {
    done(unused());
  }

 private:
  static rl::core::Error unused() {
    return rl::core::make_error(rl::core::Errc::internal, "not used by these tests");
  }
};

struct SlowHealth {
  rl::core::ManualClock clock{rl::test::kStart};
  rl::obs::MemorySink sink;
  rl::obs::Logger log{sink, clock, rl::obs::LogLevel::info};
  rl::obs::Registry registry;
  SlowHealthDirectory directory;
  rl::service::HealthService health{directory, clock, log, registry, Seconds{2}};
};

rl::store::HealthRecord degraded() {
  rl::store::HealthRecord r;
  r.state = HealthState::degraded;
  r.updated_by = "other instance";
  return r;
}

}  // namespace

TEST_CASE("a change announced while a health read is on its way is read again after it") {
  SlowHealth h;
  h.health.refresh();  // start-up read, on its way
  REQUIRE(h.directory.reads.size() == 1);
  h.directory.stored = degraded();  // changed elsewhere; its event arrives before the reply
  h.health.refresh();
  CHECK(h.directory.reads.size() == 1);           // one read at a time
  h.directory.answer(rl::store::HealthRecord{});  // read before the change: NORMAL
  REQUIRE(h.directory.reads.size() == 1);         // and read once more
  h.directory.answer(h.directory.stored);
  CHECK(h.health.current() == HealthState::degraded);
  CHECK(h.directory.reads.empty());
}

TEST_CASE("without a change announced meanwhile, one health read is enough") {
  SlowHealth h;
  h.health.refresh();
  h.directory.answer(rl::store::HealthRecord{});
  CHECK(h.directory.reads.empty());
  CHECK(h.health.current() == HealthState::normal);
  // Requests while a periodic read is on its way do not ask for another one.
  h.clock.advance(Seconds{2});
  CHECK(h.health.current() == HealthState::normal);
  CHECK(h.health.current() == HealthState::normal);
  CHECK(h.directory.reads.size() == 1);
  h.directory.answer(rl::store::HealthRecord{});
  CHECK(h.directory.reads.empty());
}

TEST_CASE("a read on its way does not undo a state this instance has just set") {
  SlowHealth h;
  h.health.refresh();  // answered late, with the state before the set below
  h.health.set(degraded(), [](rl::core::Result<rl::store::HealthRecord> r) { REQUIRE(r.ok()); });
  CHECK(h.health.current() == HealthState::degraded);
  h.directory.answer(rl::store::HealthRecord{});
  CHECK(h.health.current() == HealthState::degraded);
}
