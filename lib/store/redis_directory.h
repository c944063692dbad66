// RedisDirectory: tiers, users, API keys and the health state in Redis (DESIGN.md §5), shared
// with every rld and with rlctl. The hot path reads through in-process caches: key → user →
// tier, bounded in size, with a TTL as a backstop, and invalidated at once by messages on
// rl:events (on_event), a read overtaken by an invalidation never cached (RecordCache). While
// Redis is unreachable, cached entries are served even when stale, so known clients keep their
// limits. Every write publishes its event. Loop-thread only.
#pragma once

#include "breaker/circuit_breaker.h"
#include "config/tier_file.h"
#include "obs/logger.h"
#include "redis/commands.h"
#include "store/directory.h"
#include "store/key_space.h"
#include "store/record_cache.h"
#include "store/redis_codec.h"

namespace rl::store {

struct RedisDirectoryOptions {
  core::Seconds cache_ttl{60};    // positive entries: a backstop, events invalidate sooner
  core::Seconds negative_ttl{5};  // unknown keys
  std::size_t cache_size = 100000;
};

class RedisDirectory final : public Directory {
 public:
  // `fallback` (may be null) answers for keys Redis cannot be asked about and this instance
  // has never cached — rld passes the tier file's directory, so its clients keep their tiers
  // through an outage that starts before rld ever reached Redis.
  RedisDirectory(redis::Commands& client, KeySpace keys, const core::Clock& clock,
                 breaker::CircuitBreaker& breaker, obs::Logger& log, RedisDirectoryOptions options,
                 Directory* fallback = nullptr);

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

  // Deletes a tier; conflict while users still have it, unless `force`. (rlctl)
  void delete_tier(std::string_view name, bool force, StatusCallback done);
  // Every live rld's heartbeat hash, by instance id. (rlctl)
  using Instance = std::pair<std::string, std::vector<std::pair<std::string, std::string>>>;
  void list_instances(Callback<std::vector<Instance>> done);

  // Writes the tier file's tiers, users and keys into an empty data model (rl:schema absent),
  // never overwriting what exists, then sets rl:schema.
  void bootstrap(const config::TierFile& file, StatusCallback done);
  // A message from rl:events; a health event is passed on to `on_health`.
  void on_event(const Event& event);
  // Everything cached may have missed events: mark it all stale (refetched when Redis answers,
  // still served while it does not).
  void resync();
  // Drops "unknown" entries past their TTL (known records stay: they are served, stale, while
  // Redis is away). rld calls it from its housekeeping timer.
  void sweep();
  void set_health_listener(std::function<void()> on_health) { on_health_ = std::move(on_health); }

 private:
  using KeyOf = std::string (KeySpace::*)(std::string_view) const;
  bool fresh(core::WallTime fetched, bool negative) const;
  // One step of the hot path: `id`'s record from `cache` while fresh (or, while Redis is away,
  // even stale), else read from Redis (HGETALL of (keys_.*key_of)(id), decoded by
  // decode(id, fields) → Result<shared_ptr<const T>>, null for "does not exist") and cached.
  // Then then(record, done). Redis unable to answer and nothing cached: fail_over(digest).
  template <class T, class Decode, class Then>
  void read_through(RecordCache<T>& cache, std::string_view id, KeyOf key_of,
                    std::string_view digest, Decode decode, Callback<std::optional<Identity>> done,
                    Then then);
  // Redis could not answer and nothing is cached: the fallback directory, else `error`.
  void fail_over(std::string_view digest, core::Error error,
                 Callback<std::optional<Identity>> done);
  void with_user(std::shared_ptr<const KeyRecord> key, Callback<std::optional<Identity>> done);
  void with_tier(std::shared_ptr<const KeyRecord> key, std::shared_ptr<const UserRecord> user,
                 Callback<std::optional<Identity>> done);
  void publish(EventKind kind, std::string_view subject, StatusCallback done);
  void read_users(std::vector<std::string> ids, Callback<std::vector<UserRecord>> done);
  void read_keys(std::vector<std::string> digests, Callback<std::vector<KeyRecord>> done);

  redis::Commands& client_;
  KeySpace keys_;
  const core::Clock& clock_;
  breaker::CircuitBreaker& breaker_;
  obs::Logger& log_;
  RedisDirectoryOptions options_;
  Directory* fallback_;
  RecordCache<KeyRecord> key_cache_;
  RecordCache<UserRecord> user_cache_;
  RecordCache<policy::Tier> tier_cache_;
  std::function<void()> on_health_;
};

}  // namespace rl::store
