// MemoryDirectory: tiers, users, keys and health state held in this process, seeded from the
// tier file. Entries remember whether they came from the file or the admin API, so a reload
// (SIGHUP) replaces what the file defines and keeps what admins added since. Thread-safe:
// readers share a lock, writers take it alone; records handed out are immutable.
#pragma once

#include <set>
#include <shared_mutex>

#include "config/tier_file.h"
#include "store/directory.h"
#include "store/string_map.h"

namespace rl::store {

class MemoryDirectory final : public Directory {
 public:
  explicit MemoryDirectory(const core::Clock& clock);

  // Replaces the file-defined tiers, users and keys with `file`'s, keeping admin-made ones.
  // All or nothing: on error (e.g. an admin-made user's tier vanished) nothing changes.
  core::Status load(const config::TierFile& file);

  void resolve(std::string_view key_digest, Callback<std::optional<Identity>> done) override;
  void health(Callback<HealthRecord> done) override;
  void set_health(HealthRecord record, Callback<HealthRecord> done) override;
  void list_tiers(Callback<std::vector<policy::Tier>> done) override;
  void put_tier(policy::Tier tier, Callback<bool> done) override;
  void list_users(Callback<std::vector<UserRecord>> done) override;
  void get_user(std::string_view id, Callback<UserRecord> done) override;
  void create_user(UserRecord user, Callback<UserRecord> done) override;
  void update_user(std::string_view id, UserPatch patch, Callback<UserRecord> done) override;
  void delete_user(std::string_view id, StatusCallback done) override;
  void list_keys(std::string_view user, Callback<std::vector<KeyRecord>> done) override;
  void add_key(KeyRecord key, Callback<KeyRecord> done) override;
  void revoke_key(std::string_view key_id, Callback<KeyRecord> done) override;

 private:
  template <class T>
  struct Entry {
    std::shared_ptr<const T> record;
    bool from_file = false;
  };
  struct State {
    StringMap<Entry<policy::Tier>> tiers;
    StringMap<Entry<UserRecord>> users;
    StringMap<Entry<KeyRecord>> keys;  // by digest
    StringMap<std::string> key_ids;    // key id → digest
  };
  core::Result<UserRecord> check_user_tier(const State& s, const UserRecord& user) const;
  static void erase_key(State& s, const std::string& digest);

  const core::Clock& clock_;
  mutable std::shared_mutex mutex_;
  State state_;
  HealthRecord health_;
};

}  // namespace rl::store
