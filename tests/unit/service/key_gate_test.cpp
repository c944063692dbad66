// Tests of the key-format gate of service/decision_service.h: a typo in a generated key, a bad
// checksum or garbage is refused as malformed_key before any directory lookup, counted by a
// Directory that wraps the real one; a well-formed key is looked up exactly once.
#include <doctest/doctest.h>

#include "security/api_key.h"
#include "unit/service/pipeline.h"

using rl::service::Verdict;
using rl::test::metric;
using rl::test::Pipeline;

namespace {

// Forwards to a MemoryDirectory and counts the hot-path lookups.
class CountingDirectory final : public rl::store::Directory {
 public:
  explicit CountingDirectory(rl::store::Directory& inner) : inner_(inner) {}
  int lookups = 0;

  void resolve(std::string_view digest,
               rl::store::Callback<std::optional<rl::store::Identity>> done) override {
    ++lookups;
    inner_.resolve(digest, std::move(done));
  }
  void health(rl::store::Callback<rl::store::HealthRecord> done) override {
    inner_.health(std::move(done));
  }
  void set_health(rl::store::HealthRecord record,
                  rl::store::Callback<rl::store::HealthRecord> done) override {
    inner_.set_health(std::move(record), std::move(done));
  }
  void list_tiers(rl::store::Callback<std::vector<rl::policy::Tier>> done) override {
    inner_.list_tiers(std::move(done));
  }
  void put_tier(rl::policy::Tier tier, rl::store::Callback<bool> done) override {
    inner_.put_tier(std::move(tier), std::move(done));
  }
  void list_users(rl::store::Callback<std::vector<rl::store::UserRecord>> done) override {
    inner_.list_users(std::move(done));
  }
  void get_user(std::string_view id, rl::store::Callback<rl::store::UserRecord> done) override {
    inner_.get_user(id, std::move(done));
  }
  void create_user(rl::store::UserRecord user,
                   rl::store::Callback<rl::store::UserRecord> done) override {
    inner_.create_user(std::move(user), std::move(done));
  }
  void update_user(std::string_view id, rl::store::UserPatch patch,
                   rl::store::Callback<rl::store::UserRecord> done) override {
    inner_.update_user(id, std::move(patch), std::move(done));
  }
  void delete_user(std::string_view id, rl::store::StatusCallback done) override {
    inner_.delete_user(id, std::move(done));
  }
  void list_keys(std::string_view user,
                 rl::store::Callback<std::vector<rl::store::KeyRecord>> done) override {
    inner_.list_keys(user, std::move(done));
  }
  void add_key(rl::store::KeyRecord key, rl::store::Callback<rl::store::KeyRecord> done) override {
    inner_.add_key(std::move(key), std::move(done));
  }
  void revoke_key(std::string_view key_id,
                  rl::store::Callback<rl::store::KeyRecord> done) override {
    inner_.revoke_key(key_id, std::move(done));
  }

 private:
  rl::store::Directory& inner_;
};

struct Gate {
  Pipeline p;
  CountingDirectory directory{p.directory};
  rl::service::DecisionService service{p.store, directory, p.health, p.clock, p.log, p.metrics};

  Verdict decide(std::string_view key) {
    rl::service::DecisionJob job;
    job.request =
        rl::service::DecisionRequest{*rl::security::IpAddress::parse("192.0.2.90"), key, 1, {}};
    int calls = 0;
    job.done = [&calls](rl::service::DecisionJob&) { ++calls; };
    service.decide(job);
    REQUIRE(calls == 1);
    return job.result.verdict;
  }
};

// `key` with the character at `at` replaced by another base62 character.
std::string typo(std::string key, std::size_t at) {
  key[at] = key[at] == 'a' ? 'b' : 'a';
  return key;
}

}  // namespace

TEST_CASE("a generated key with a typo is refused without a directory lookup") {
  Gate g;
  const std::string key = rl::security::generate_api_key();
  REQUIRE(rl::security::is_well_formed_api_key(key));
  for (std::size_t at : {std::size_t{3}, std::size_t{20}, key.size() - 7, key.size() - 1}) {
    CHECK_MESSAGE(g.decide(typo(key, at)) == Verdict::malformed_key, at);
  }
  CHECK(g.decide(key.substr(0, key.size() - 1)) == Verdict::malformed_key);  // one char short
  CHECK(g.decide(key + "x") == Verdict::malformed_key);                      // one too many
  CHECK(g.directory.lookups == 0);
  const std::string m = g.p.registry.render();
  CHECK(metric(m, R"(rl_security_events_total{kind="malformed_key"})") == 6);
}

TEST_CASE("garbage keys are refused without a directory lookup") {
  Gate g;
  for (std::string_view garbage :
       {"short", "has spaces in it", "quote\"key_123", "semi;colon;key", "rl_", "\x01\x02keykeykey",
        "rl_notachecksumnotachecksumnotachecksumxx"}) {
    CHECK_MESSAGE(g.decide(garbage) == Verdict::malformed_key, garbage);
  }
  CHECK(g.decide(std::string(300, 'k')) == Verdict::malformed_key);  // over 256 characters
  CHECK(g.directory.lookups == 0);
}

TEST_CASE("a well-formed key is looked up once, known or not") {
  Gate g;
  CHECK(g.decide(rl::test::kFreeKey) == Verdict::allowed);
  CHECK(g.directory.lookups == 1);
  CHECK(g.decide(rl::security::generate_api_key()) == Verdict::unknown_key);  // valid, unissued
  CHECK(g.directory.lookups == 2);
}
