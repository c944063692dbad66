// Tests of store/memory_directory.h: loading a tier file, resolving key digests, the admin
// operations on users, keys, tiers and health, and reload semantics (file vs admin entries).
#include "store/memory_directory.h"

#include <optional>
#include <string>

#include <doctest/doctest.h>

using rl::config::TierFile;
using rl::core::Errc;
using rl::core::ManualClock;
using rl::core::Result;
using rl::core::Seconds;
using rl::policy::HealthState;
using rl::policy::Tier;
using rl::store::HealthRecord;
using rl::store::Identity;
using rl::store::KeyRecord;
using rl::store::MemoryDirectory;
using rl::store::UserPatch;
using rl::store::UserRecord;

namespace {

const std::string kAliceDigest(64, 'a');
const std::string kBobDigest(64, 'b');
const std::string kAdminDigest(64, 'c');

Tier make_tier(std::string name, std::int64_t burst) {
  Tier t;
  t.name = std::move(name);
  t.base_limit = burst / 2;
  t.burst_limit = burst;
  t.degraded_limit = burst / 4;
  return t;
}

// free (20) and pro (150); alice on free, bob on pro; one key each.
TierFile base_file() {
  TierFile f;
  f.source = "tiers.json";
  f.tiers = {make_tier("free", 20), make_tier("pro", 150)};
  f.users = {{"alice", "free", false}, {"bob", "pro", false}};
  f.keys = {{kAliceDigest, "alice"}, {kBobDigest, "bob"}};
  return f;
}

// Runs an operation of the directory and returns what its callback received.
template <class T, class Op>
Result<T> call(Op op) {
  std::optional<Result<T>> out;
  op([&](Result<T> r) { out.emplace(std::move(r)); });
  REQUIRE(out.has_value());
  return std::move(*out);
}

std::optional<Identity> resolve(MemoryDirectory& d, std::string_view digest) {
  auto r = call<std::optional<Identity>>([&](auto done) { d.resolve(digest, done); });
  REQUIRE(r.ok());
  return *r;
}

Result<UserRecord> create_user(MemoryDirectory& d, std::string id, std::string tier) {
  return call<UserRecord>([&](auto done) { d.create_user(UserRecord{id, tier, {}, false}, done); });
}

Result<KeyRecord> add_key(MemoryDirectory& d, const std::string& digest, std::string user) {
  return call<KeyRecord>([&](auto done) {
    d.add_key(KeyRecord{digest, digest.substr(0, 16), std::move(user), "label", {}}, done);
  });
}

rl::core::Status delete_user(MemoryDirectory& d, std::string_view id) {
  std::optional<rl::core::Status> out;
  d.delete_user(id, [&](rl::core::Status s) { out = s; });
  REQUIRE(out.has_value());
  return *out;
}

std::vector<Tier> tiers(MemoryDirectory& d) {
  auto r = call<std::vector<Tier>>([&](auto done) { d.list_tiers(done); });
  REQUIRE(r.ok());
  return *r;
}

std::vector<UserRecord> users(MemoryDirectory& d) {
  auto r = call<std::vector<UserRecord>>([&](auto done) { d.list_users(done); });
  REQUIRE(r.ok());
  return *r;
}

HealthRecord health(MemoryDirectory& d) {
  auto r = call<HealthRecord>([&](auto done) { d.health(done); });
  REQUIRE(r.ok());
  return *r;
}

MemoryDirectory& loaded(MemoryDirectory& d, const TierFile& f = base_file()) {
  const auto st = d.load(f);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  return d;
}

}  // namespace

TEST_CASE("a loaded key digest resolves to its key, user and tier") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto id = resolve(d, kBobDigest);
  REQUIRE(id.has_value());
  CHECK(id->key->digest == kBobDigest);
  CHECK(id->key->key_id == kBobDigest.substr(0, 16));
  CHECK(id->user->id == "bob");
  CHECK(id->user->tier == "pro");
  CHECK(id->tier->name == "pro");
  CHECK(id->tier->burst_limit == 150);
}

TEST_CASE("an unknown digest resolves to nothing") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  CHECK_FALSE(resolve(d, std::string(64, 'f')).has_value());
}

TEST_CASE("a disabled user from the file resolves with its disabled flag") {
  ManualClock clock;
  MemoryDirectory d(clock);
  TierFile f = base_file();
  f.users[0].disabled = true;
  loaded(d, f);
  const auto id = resolve(d, kAliceDigest);
  REQUIRE(id.has_value());
  CHECK(id->user->disabled);
}

TEST_CASE("create_user adds a user with its creation time") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto u = create_user(d, "carol", "pro");
  REQUIRE(u.ok());
  CHECK(u->created_at == clock.now());
  auto got = call<UserRecord>([&](auto done) { d.get_user("carol", done); });
  REQUIRE(got.ok());
  CHECK(got->tier == "pro");
}

TEST_CASE("creating a user that exists is a conflict") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto u = create_user(d, "alice", "pro");
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == Errc::conflict);
}

TEST_CASE("creating a user on an unknown tier is invalid_argument") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto u = create_user(d, "carol", "gold");
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == Errc::invalid_argument);
  CHECK(u.error().message.find("gold") != std::string::npos);
}

TEST_CASE("update_user changes the tier and the disabled flag") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto u = call<UserRecord>([&](auto done) {
    d.update_user("alice", UserPatch{"pro", true}, done);
  });
  REQUIRE(u.ok());
  CHECK(u->tier == "pro");
  CHECK(u->disabled);
  const auto id = resolve(d, kAliceDigest);
  REQUIRE(id.has_value());
  CHECK(id->tier->name == "pro");
  CHECK(id->user->disabled);
}

TEST_CASE("updating an unknown user is not_found and to an unknown tier is invalid_argument") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto missing = call<UserRecord>([&](auto done) {
    d.update_user("nobody", UserPatch{"pro", {}}, done);
  });
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  auto bad = call<UserRecord>([&](auto done) {
    d.update_user("alice", UserPatch{"gold", {}}, done);
  });
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid_argument);
  CHECK(resolve(d, kAliceDigest)->tier->name == "free");
}

TEST_CASE("deleting a user removes the user and its keys") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  REQUIRE(add_key(d, kAdminDigest, "alice").ok());
  CHECK(delete_user(d, "alice").ok());
  CHECK_FALSE(resolve(d, kAliceDigest).has_value());
  CHECK_FALSE(resolve(d, kAdminDigest).has_value());
  CHECK(resolve(d, kBobDigest).has_value());
  auto revoked =
      call<KeyRecord>([&](auto done) { d.revoke_key(kAdminDigest.substr(0, 16), done); });
  CHECK_FALSE(revoked.ok());
}

TEST_CASE("deleting an unknown user is not_found") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto st = delete_user(d, "nobody");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::not_found);
}

TEST_CASE("add_key makes a digest resolve and list_keys shows it") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  clock.advance(Seconds{5});
  const auto k = add_key(d, kAdminDigest, "bob");
  REQUIRE(k.ok());
  CHECK(k->created_at == clock.now());
  CHECK(resolve(d, kAdminDigest)->user->id == "bob");
  auto keys = call<std::vector<KeyRecord>>([&](auto done) { d.list_keys("bob", done); });
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK((*keys)[0].digest == kBobDigest);  // oldest first
  CHECK((*keys)[1].digest == kAdminDigest);
}

TEST_CASE("add_key for an unknown user is not_found and a known key is a conflict") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto orphan = add_key(d, kAdminDigest, "nobody");
  REQUIRE_FALSE(orphan.ok());
  CHECK(orphan.error().code == Errc::not_found);
  auto again = add_key(d, kAliceDigest, "bob");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
}

TEST_CASE("list_keys of an unknown user is not_found") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto keys = call<std::vector<KeyRecord>>([&](auto done) { d.list_keys("nobody", done); });
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::not_found);
}

TEST_CASE("revoke_key by key id returns the key and stops it resolving") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto k = call<KeyRecord>([&](auto done) { d.revoke_key(kAliceDigest.substr(0, 16), done); });
  REQUIRE(k.ok());
  CHECK(k->user == "alice");
  CHECK_FALSE(resolve(d, kAliceDigest).has_value());
  auto again = call<KeyRecord>([&](auto done) { d.revoke_key(kAliceDigest.substr(0, 16), done); });
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::not_found);
}

TEST_CASE("put_tier reports created for a new tier and updated for an existing one") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  auto created = call<bool>([&](auto done) { d.put_tier(make_tier("gold", 400), done); });
  REQUIRE(created.ok());
  CHECK(*created);
  auto updated = call<bool>([&](auto done) { d.put_tier(make_tier("free", 40), done); });
  REQUIRE(updated.ok());
  CHECK_FALSE(*updated);
  CHECK(resolve(d, kAliceDigest)->tier->burst_limit == 40);
  const auto all = tiers(d);
  REQUIRE(all.size() == 3);
  CHECK(all[0].name == "free");  // sorted by name
  CHECK(all[1].name == "gold");
  CHECK(all[2].name == "pro");
}

TEST_CASE("the health state is NORMAL until set") {
  ManualClock clock;
  MemoryDirectory d(clock);
  const HealthRecord h = health(d);
  CHECK(h.state == HealthState::normal);
  CHECK(h.updated_at == rl::core::WallTime{});
  CHECK_FALSE(h.expires_at.has_value());
}

TEST_CASE("a health state with expires_at falls back to NORMAL after it") {
  ManualClock clock;
  MemoryDirectory d(clock);
  HealthRecord degraded;
  degraded.state = HealthState::degraded;
  degraded.updated_by = "ops";
  degraded.updated_at = clock.now();
  degraded.expires_at = clock.now() + Seconds{30};
  REQUIRE(call<HealthRecord>([&](auto done) { d.set_health(degraded, done); }).ok());
  clock.advance(Seconds{29});
  CHECK(health(d).state == HealthState::degraded);
  CHECK(health(d).updated_by == "ops");
  clock.advance(Seconds{1});
  CHECK(health(d).state == HealthState::normal);
  CHECK(health(d).updated_by.empty());
}

TEST_CASE("a reload replaces what the file defines") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  const auto alice_created = resolve(d, kAliceDigest)->user->created_at;
  clock.advance(Seconds{60});
  TierFile next = base_file();
  next.tiers[0].burst_limit = 30;  // free: 20 → 30
  next.users[0].tier = "pro";      // alice: free → pro
  loaded(d, next);
  CHECK(resolve(d, kBobDigest)->tier->name == "pro");
  const auto alice = resolve(d, kAliceDigest);
  REQUIRE(alice.has_value());
  CHECK(alice->tier->name == "pro");
  CHECK(alice->user->created_at == alice_created);
  const auto all = tiers(d);
  REQUIRE(all.size() == 2);
  CHECK(all[0].burst_limit == 30);
}

TEST_CASE("a reload keeps users, keys and tiers made through the admin API") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  REQUIRE(call<bool>([&](auto done) { d.put_tier(make_tier("gold", 400), done); }).ok());
  REQUIRE(create_user(d, "carol", "gold").ok());
  REQUIRE(add_key(d, kAdminDigest, "carol").ok());
  const std::string bob_admin_key(64, 'd');
  REQUIRE(add_key(d, bob_admin_key, "bob").ok());
  loaded(d);
  const auto carol = resolve(d, kAdminDigest);
  REQUIRE(carol.has_value());
  CHECK(carol->user->id == "carol");
  CHECK(carol->tier->name == "gold");
  CHECK(resolve(d, bob_admin_key).has_value());
  CHECK(users(d).size() == 3);
}

TEST_CASE("a reload removes file entries the file no longer has") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  TierFile next;
  next.source = "tiers.json";
  next.tiers = {make_tier("free", 20)};
  next.users = {{"alice", "free", false}};
  next.keys = {};
  loaded(d, next);
  CHECK_FALSE(resolve(d, kAliceDigest).has_value());  // key gone, user kept
  CHECK_FALSE(resolve(d, kBobDigest).has_value());
  const auto all_users = users(d);
  REQUIRE(all_users.size() == 1);
  CHECK(all_users[0].id == "alice");
  const auto all_tiers = tiers(d);
  REQUIRE(all_tiers.size() == 1);
  CHECK(all_tiers[0].name == "free");
}

TEST_CASE("a reload drops admin keys of a file user the file no longer has") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  REQUIRE(add_key(d, kAdminDigest, "bob").ok());
  TierFile next = base_file();
  next.users.pop_back();
  next.keys.pop_back();
  loaded(d, next);
  CHECK_FALSE(resolve(d, kAdminDigest).has_value());
  auto revoked =
      call<KeyRecord>([&](auto done) { d.revoke_key(kAdminDigest.substr(0, 16), done); });
  CHECK_FALSE(revoked.ok());
}

TEST_CASE("a reload that would strand an admin-made user fails and changes nothing") {
  ManualClock clock;
  MemoryDirectory d(clock);
  loaded(d);
  REQUIRE(create_user(d, "carol", "pro").ok());
  REQUIRE(add_key(d, kAdminDigest, "carol").ok());
  TierFile next;
  next.source = "new-tiers.json";
  next.tiers = {make_tier("free", 99), make_tier("basic", 5)};
  next.users = {{"alice", "basic", false}, {"dave", "free", false}};
  next.keys = {{std::string(64, 'e'), "dave"}};
  const auto st = d.load(next);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::invalid_argument);
  CHECK(st.error().message.find("new-tiers.json") != std::string::npos);
  CHECK(st.error().message.find("carol") != std::string::npos);
  CHECK(st.error().message.find("pro") != std::string::npos);
  // Everything as before the failed load.
  CHECK(resolve(d, kAliceDigest)->tier->name == "free");
  CHECK(resolve(d, kAliceDigest)->tier->burst_limit == 20);
  CHECK(resolve(d, kBobDigest).has_value());
  CHECK(resolve(d, kAdminDigest)->tier->name == "pro");
  CHECK_FALSE(resolve(d, std::string(64, 'e')).has_value());
  CHECK(tiers(d).size() == 2);
  CHECK(users(d).size() == 3);
}
