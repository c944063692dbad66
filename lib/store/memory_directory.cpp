// MemoryDirectory: maps guarded by one shared_mutex; callbacks run after the lock is released.
#include "store/memory_directory.h"

#include <algorithm>
#include <mutex>

namespace rl::store {
namespace {

core::Error not_found(std::string what) {
  return core::make_error(core::Errc::not_found, std::move(what));
}

}  // namespace

MemoryDirectory::MemoryDirectory(const core::Clock& clock) : clock_(clock) {}

core::Status MemoryDirectory::load(const config::TierFile& file) {
  std::unique_lock lock(mutex_);
  State next;
  const core::WallTime now = clock_.now();
  for (const auto& [name, entry] : state_.tiers) {
    if (!entry.from_file) next.tiers.emplace(name, entry);
  }
  for (const auto& tier : file.tiers) {
    next.tiers.insert_or_assign(tier.name,
                                Entry<policy::Tier>{std::make_shared<policy::Tier>(tier), true});
  }
  for (const auto& [id, entry] : state_.users) {
    if (!entry.from_file) next.users.emplace(id, entry);
  }
  for (const auto& u : file.users) {
    auto old = state_.users.find(u.id);
    const core::WallTime created = old != state_.users.end() ? old->second.record->created_at : now;
    next.users.insert_or_assign(
        u.id,
        Entry<UserRecord>{
            std::make_shared<UserRecord>(UserRecord{u.id, u.tier, created, u.disabled}), true});
  }
  for (const auto& [digest, entry] : state_.keys) {
    if (!entry.from_file && next.users.contains(entry.record->user)) {
      next.keys.emplace(digest, entry);
    }
  }
  for (const auto& k : file.keys) {
    auto old = state_.keys.find(k.digest);
    const core::WallTime created = old != state_.keys.end() ? old->second.record->created_at : now;
    auto record = std::make_shared<KeyRecord>(
        KeyRecord{k.digest, k.digest.substr(0, 16), k.user, "from tier file", created});
    next.keys.insert_or_assign(k.digest, Entry<KeyRecord>{std::move(record), true});
  }
  for (const auto& [id, entry] : next.users) {
    if (!next.tiers.contains(entry.record->tier)) {
      return core::make_error(core::Errc::invalid_argument, file.source + ": user '" + id +
                                                                "' (added through the admin API) "
                                                                "uses tier '" +
                                                                entry.record->tier +
                                                                "', which the file no longer "
                                                                "defines");
    }
  }
  for (const auto& [digest, entry] : next.keys)
    next.key_ids.emplace(entry.record->key_id, digest);
  state_ = std::move(next);
  return {};
}

void MemoryDirectory::resolve(std::string_view key_digest, Callback<std::optional<Identity>> done) {
  core::Result<std::optional<Identity>> result = std::optional<Identity>{};
  {
    std::shared_lock lock(mutex_);
    auto key = state_.keys.find(key_digest);
    if (key != state_.keys.end()) {
      auto user = state_.users.find(key->second.record->user);
      auto tier = user == state_.users.end() ? state_.tiers.end()
                                             : state_.tiers.find(user->second.record->tier);
      if (tier != state_.tiers.end()) {
        result = std::optional<Identity>{
            Identity{key->second.record, user->second.record, tier->second.record}};
      } else {
        // A key whose user or tier vanished is our inconsistency, not the client's mistake.
        result = core::make_error(core::Errc::internal,
                                  "key " + key->second.record->key_id + " has no user or tier");
      }
    }
  }
  done(std::move(result));
}

void MemoryDirectory::health(Callback<HealthRecord> done) {
  HealthRecord record;
  {
    std::shared_lock lock(mutex_);
    record = health_;
  }
  if (record.expires_at && *record.expires_at <= clock_.now()) record = HealthRecord{};
  done(std::move(record));
}

void MemoryDirectory::set_health(HealthRecord record, Callback<HealthRecord> done) {
  {
    std::unique_lock lock(mutex_);
    health_ = record;
  }
  done(std::move(record));
}

void MemoryDirectory::list_tiers(Callback<std::vector<policy::Tier>> done) {
  std::vector<policy::Tier> tiers;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [name, entry] : state_.tiers)
      tiers.push_back(*entry.record);
  }
  std::sort(tiers.begin(), tiers.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  done(std::move(tiers));
}

void MemoryDirectory::put_tier(policy::Tier tier, Callback<bool> done) {
  bool created = false;
  {
    std::unique_lock lock(mutex_);
    auto it = state_.tiers.find(tier.name);
    created = it == state_.tiers.end();
    const bool from_file = !created && it->second.from_file;
    std::string name = tier.name;
    state_.tiers.insert_or_assign(
        std::move(name),
        Entry<policy::Tier>{std::make_shared<policy::Tier>(std::move(tier)), from_file});
  }
  done(created);
}

void MemoryDirectory::list_users(Callback<std::vector<UserRecord>> done) {
  std::vector<UserRecord> users;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [id, entry] : state_.users)
      users.push_back(*entry.record);
  }
  std::sort(users.begin(), users.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  done(std::move(users));
}

void MemoryDirectory::get_user(std::string_view id, Callback<UserRecord> done) {
  std::optional<UserRecord> user;
  {
    std::shared_lock lock(mutex_);
    auto it = state_.users.find(id);
    if (it != state_.users.end()) user = *it->second.record;
  }
  if (user) {
    done(std::move(*user));
  } else {
    done(not_found("no user '" + std::string(id) + "'"));
  }
}

core::Result<UserRecord> MemoryDirectory::check_user_tier(const State& s,
                                                          const UserRecord& user) const {
  if (!s.tiers.contains(user.tier)) {
    return core::make_error(core::Errc::invalid_argument, "no tier '" + user.tier + "'");
  }
  return user;
}

void MemoryDirectory::create_user(UserRecord user, Callback<UserRecord> done) {
  core::Result<UserRecord> result = core::make_error(core::Errc::internal, "");
  {
    std::unique_lock lock(mutex_);
    if (state_.users.contains(user.id)) {
      result = core::make_error(core::Errc::conflict, "user '" + user.id + "' already exists");
    } else {
      result = check_user_tier(state_, user);
      if (result) {
        user.created_at = clock_.now();
        std::string id = user.id;
        state_.users.emplace(std::move(id),
                             Entry<UserRecord>{std::make_shared<UserRecord>(user), false});
        result = std::move(user);
      }
    }
  }
  done(std::move(result));
}

void MemoryDirectory::update_user(std::string_view id, UserPatch patch, Callback<UserRecord> done) {
  core::Result<UserRecord> result = not_found("no user '" + std::string(id) + "'");
  {
    std::unique_lock lock(mutex_);
    auto it = state_.users.find(id);
    if (it != state_.users.end()) {
      UserRecord user = *it->second.record;
      if (patch.tier) user.tier = *patch.tier;
      if (patch.disabled) user.disabled = *patch.disabled;
      result = check_user_tier(state_, user);
      if (result) it->second.record = std::make_shared<UserRecord>(user);
    }
  }
  done(std::move(result));
}

void MemoryDirectory::erase_key(State& s, const std::string& digest) {
  auto it = s.keys.find(digest);
  if (it == s.keys.end()) return;
  s.key_ids.erase(it->second.record->key_id);
  s.keys.erase(it);
}

void MemoryDirectory::delete_user(std::string_view id, StatusCallback done) {
  bool found = false;
  {
    std::unique_lock lock(mutex_);
    auto it = state_.users.find(id);
    if (it != state_.users.end()) {
      found = true;
      std::vector<std::string> digests;
      for (const auto& [digest, entry] : state_.keys) {
        if (entry.record->user == id) digests.push_back(digest);
      }
      for (const auto& digest : digests)
        erase_key(state_, digest);
      state_.users.erase(it);
    }
  }
  if (found) {
    done(core::Status{});
  } else {
    done(not_found("no user '" + std::string(id) + "'"));
  }
}

void MemoryDirectory::list_keys(std::string_view user, Callback<std::vector<KeyRecord>> done) {
  std::vector<KeyRecord> keys;
  bool user_exists = false;
  {
    std::shared_lock lock(mutex_);
    user_exists = state_.users.contains(user);
    for (const auto& [digest, entry] : state_.keys) {
      if (entry.record->user == user) keys.push_back(*entry.record);
    }
  }
  if (!user_exists) return done(not_found("no user '" + std::string(user) + "'"));
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
  done(std::move(keys));
}

void MemoryDirectory::add_key(KeyRecord key, Callback<KeyRecord> done) {
  core::Result<KeyRecord> result = core::make_error(core::Errc::internal, "");
  {
    std::unique_lock lock(mutex_);
    if (!state_.users.contains(key.user)) {
      result = not_found("no user '" + key.user + "'");
    } else if (state_.keys.contains(key.digest) || state_.key_ids.contains(key.key_id)) {
      result = core::make_error(core::Errc::conflict, "the key already exists");
    } else {
      key.created_at = clock_.now();
      state_.key_ids.emplace(key.key_id, key.digest);
      state_.keys.emplace(key.digest, Entry<KeyRecord>{std::make_shared<KeyRecord>(key), false});
      result = std::move(key);
    }
  }
  done(std::move(result));
}

void MemoryDirectory::revoke_key(std::string_view key_id, Callback<KeyRecord> done) {
  core::Result<KeyRecord> result = not_found("no key '" + std::string(key_id) + "'");
  {
    std::unique_lock lock(mutex_);
    auto it = state_.key_ids.find(key_id);
    if (it != state_.key_ids.end()) {
      const std::string digest = it->second;
      result = *state_.keys.at(digest).record;
      erase_key(state_, digest);
    }
  }
  done(std::move(result));
}

}  // namespace rl::store
