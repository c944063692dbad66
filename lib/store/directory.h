// Directory: who is who — tiers, users, API keys (by SHA-256 digest only) and the health state.
// Read on every request (resolve, health) and written by the admin API. Records are immutable
// and shared, so a request keeps what it resolved even if an admin changes it meanwhile.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "policy/health.h"
#include "policy/tier.h"
#include "store/callback.h"

namespace rl::store {

struct UserRecord {
  std::string id;
  std::string tier;
  core::WallTime created_at{};
  bool disabled = false;
};

struct KeyRecord {
  std::string digest;  // SHA-256 of the key, lower-case hex
  std::string key_id;  // the digest's first 16 hex digits: how admins name the key
  std::string user;
  std::string label;
  core::WallTime created_at{};
};

struct HealthRecord {
  policy::HealthState state = policy::HealthState::normal;
  std::string updated_by;
  std::string reason;
  core::WallTime updated_at{};
  std::optional<core::WallTime> expires_at;  // back to NORMAL then
};

// What a key resolves to on the hot path.
struct Identity {
  std::shared_ptr<const KeyRecord> key;
  std::shared_ptr<const UserRecord> user;
  std::shared_ptr<const policy::Tier> tier;
};

struct UserPatch {
  std::optional<std::string> tier;
  std::optional<bool> disabled;
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Hot path. An unknown digest resolves to nullopt; a user whose tier is missing is an error.
  virtual void resolve(std::string_view key_digest, Callback<std::optional<Identity>> done) = 0;
  virtual void health(Callback<HealthRecord> done) = 0;

  // Admin. Errors: invalid_argument (unknown tier...), not_found, conflict (already exists).
  virtual void set_health(HealthRecord record, Callback<HealthRecord> done) = 0;
  virtual void list_tiers(Callback<std::vector<policy::Tier>> done) = 0;
  virtual void put_tier(policy::Tier tier, Callback<bool> done) = 0;  // true when created
  virtual void list_users(Callback<std::vector<UserRecord>> done) = 0;
  virtual void get_user(std::string_view id, Callback<UserRecord> done) = 0;
  virtual void create_user(UserRecord user, Callback<UserRecord> done) = 0;
  virtual void update_user(std::string_view id, UserPatch patch, Callback<UserRecord> done) = 0;
  virtual void delete_user(std::string_view id, StatusCallback done) = 0;  // and its keys
  virtual void list_keys(std::string_view user, Callback<std::vector<KeyRecord>> done) = 0;
  virtual void add_key(KeyRecord key, Callback<KeyRecord> done) = 0;
  virtual void revoke_key(std::string_view key_id, Callback<KeyRecord> done) = 0;
};

}  // namespace rl::store
