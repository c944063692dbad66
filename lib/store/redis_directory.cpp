// RedisDirectory: cached reads for the hot path, and the admin writes with their events.
#include "store/redis_directory.h"

#include <algorithm>

#include "store/redis_codec.h"
#include "store/redis_directory_internal.h"

namespace rl::store {
using namespace detail;  // NOLINT: this file is that helper set's other half

RedisDirectory::RedisDirectory(redis::Client& client, KeySpace keys, const core::Clock& clock,
                               breaker::CircuitBreaker& breaker, obs::Logger& log,
                               RedisDirectoryOptions options, Directory* fallback)
    : client_(client),
      keys_(std::move(keys)),
      clock_(clock),
      breaker_(breaker),
      log_(log),
      options_(options),
      fallback_(fallback) {}

void RedisDirectory::fail_over(std::string_view digest, core::Error error,
                               Callback<std::optional<Identity>> done) {
  if (fallback_ == nullptr) return done(std::move(error));
  fallback_->resolve(digest, [error = std::move(error), done = std::move(done)](
                                 core::Result<std::optional<Identity>> r) mutable {
    if (r && r->has_value()) return done(std::move(r));
    done(std::move(error));  // unknown there too: it may still exist in Redis
  });
}

bool RedisDirectory::fresh(core::WallTime fetched, bool negative) const {
  return clock_.now() - fetched < (negative ? options_.negative_ttl : options_.cache_ttl);
}

// -- the hot path: key → user → tier --------------------------------------------------------

void RedisDirectory::resolve(std::string_view digest, Callback<std::optional<Identity>> done) {
  auto it = key_cache_.find(digest);
  const bool cached = it != key_cache_.end();
  if (cached && (fresh(it->second.fetched, !it->second.value) || !breaker_.allow())) {
    // Fresh, or stale while Redis is away: a known client keeps its limits.
    if (!it->second.value) return done(std::optional<Identity>{});
    return with_user(it->second.value, std::move(done));
  }
  if (!cached && breaker_.state() == breaker::State::open && !breaker_.allow()) {
    return fail_over(digest, unavailable("Redis is unavailable and the key is not cached"),
                     std::move(done));
  }
  fetch_key(std::string(digest), std::move(done));
}

void RedisDirectory::fetch_key(std::string digest, Callback<std::optional<Identity>> done) {
  client_.command({"HGETALL", keys_.api_key(digest)}, [this, digest, done = std::move(done)](
                                                          core::Result<redis::ReplyPtr> r) {
    auto fields = r ? fields_of(**r) : core::Result<Fields>(r.error());
    if (!fields) {
      breaker_.on_failure();
      auto it = key_cache_.find(digest);
      if (it == key_cache_.end()) return fail_over(digest, fields.error(), done);
      if (!it->second.value) return done(std::optional<Identity>{});
      return with_user(it->second.value, done);
    }
    breaker_.on_success();
    if (fields->empty()) {
      put(key_cache_, options_.cache_size, digest, Cached<KeyRecord>{nullptr, clock_.now()});
      return done(std::optional<Identity>{});
    }
    auto key = key_from_fields(digest, *fields);
    if (!key) return done(key.error());
    auto record = std::make_shared<const KeyRecord>(std::move(*key));
    put(key_cache_, options_.cache_size, digest, Cached<KeyRecord>{record, clock_.now()});
    with_user(std::move(record), done);
  });
}

void RedisDirectory::with_user(std::shared_ptr<const KeyRecord> key,
                               Callback<std::optional<Identity>> done) {
  auto it = user_cache_.find(key->user);
  if (it != user_cache_.end() && (fresh(it->second.fetched, false) || !breaker_.allow())) {
    if (!it->second.value) return done(std::optional<Identity>{});  // the key's user is gone
    return with_tier(std::move(key), it->second.value, std::move(done));
  }
  const std::string id = key->user;
  client_.command(
      {"HGETALL", keys_.user(id)}, [this, id, key = std::move(key), done = std::move(done)](
                                       core::Result<redis::ReplyPtr> r) mutable {
        auto fields = r ? fields_of(**r) : core::Result<Fields>(r.error());
        if (!fields) {
          breaker_.on_failure();
          auto stale = user_cache_.find(id);
          if (stale == user_cache_.end() || !stale->second.value) {
            return fail_over(key->digest, fields.error(), std::move(done));
          }
          return with_tier(std::move(key), stale->second.value, std::move(done));
        }
        breaker_.on_success();
        if (fields->empty()) {
          put(user_cache_, options_.cache_size, id, Cached<UserRecord>{nullptr, clock_.now()});
          return done(std::optional<Identity>{});
        }
        auto user = user_from_fields(id, *fields);
        if (!user) return done(user.error());
        auto record = std::make_shared<const UserRecord>(std::move(*user));
        put(user_cache_, options_.cache_size, id, Cached<UserRecord>{record, clock_.now()});
        with_tier(std::move(key), std::move(record), std::move(done));
      });
}

void RedisDirectory::with_tier(std::shared_ptr<const KeyRecord> key,
                               std::shared_ptr<const UserRecord> user,
                               Callback<std::optional<Identity>> done) {
  auto it = tier_cache_.find(user->tier);
  if (it != tier_cache_.end() && it->second.value &&
      (fresh(it->second.fetched, false) || !breaker_.allow())) {
    return done(
        std::optional<Identity>{Identity{std::move(key), std::move(user), it->second.value}});
  }
  const std::string name = user->tier;
  client_.command({"HGETALL", keys_.tier(name)}, [this, name, key = std::move(key),
                                                  user = std::move(user), done = std::move(done)](
                                                     core::Result<redis::ReplyPtr> r) mutable {
    auto fields = r ? fields_of(**r) : core::Result<Fields>(r.error());
    if (!fields) {
      breaker_.on_failure();
      auto stale = tier_cache_.find(name);
      if (stale == tier_cache_.end() || !stale->second.value) {
        return fail_over(key->digest, fields.error(), std::move(done));
      }
      return done(
          std::optional<Identity>{Identity{std::move(key), std::move(user), stale->second.value}});
    }
    breaker_.on_success();
    if (fields->empty()) {
      return done(core::make_error(core::Errc::internal, "user '" + user->id + "' has tier '" +
                                                             name + "', which does not exist"));
    }
    auto tier = tier_from_fields(name, *fields);
    if (!tier) return done(tier.error());
    auto record = std::make_shared<const policy::Tier>(std::move(*tier));
    put(tier_cache_, options_.cache_size, name, Cached<policy::Tier>{record, clock_.now()});
    done(std::optional<Identity>{Identity{std::move(key), std::move(user), std::move(record)}});
  });
}

// -- events -----------------------------------------------------------------------------------

void RedisDirectory::on_event(const Event& e) {
  switch (e.kind) {
    case EventKind::key:
      return forget(key_cache_, e.subject);
    case EventKind::user:
      return forget(user_cache_, e.subject);
    case EventKind::tier:
      return forget(tier_cache_, e.subject);
    case EventKind::health:
      if (on_health_) on_health_();
      return;
    case EventKind::block:
      return;  // the store's business
  }
}

void RedisDirectory::resync() {
  // Stale, not gone: dropping them would make every client unknown while Redis comes back.
  for (auto& [k, v] : key_cache_)
    v.fetched = core::WallTime{};
  for (auto& [k, v] : user_cache_)
    v.fetched = core::WallTime{};
  for (auto& [k, v] : tier_cache_)
    v.fetched = core::WallTime{};
  if (on_health_) on_health_();
}

void RedisDirectory::publish(EventKind kind, std::string_view subject, StatusCallback done) {
  client_.command({"PUBLISH", keys_.events(), event_message(kind, subject)},
                  [done = std::move(done)](core::Result<redis::ReplyPtr> r) {
                    done(r ? core::Status{} : core::Status{r.error()});
                  });
}

// -- health -----------------------------------------------------------------------------------

void RedisDirectory::health(Callback<HealthRecord> done) {
  client_.batch(
      {{"HGETALL", keys_.health()}, {"PTTL", keys_.health()}},
      [this, done = std::move(done)](Results results) {
        if (auto e = first_failure(results)) return done(*e);
        auto fields = fields_of(**results[0]);
        if (!fields) return done(fields.error());
        done(health_from_fields(*fields, redis::integer(**results[1]).value_or(-1), clock_.now()));
      });
}

void RedisDirectory::set_health(HealthRecord record, Callback<HealthRecord> done) {
  const std::string key = keys_.health();
  std::vector<Client::Command> commands = {{"MULTI"}, {"DEL", key}};
  commands.push_back(hset(key, health_fields(record)));
  if (record.expires_at) {
    const auto ms =
        std::chrono::duration_cast<core::Millis>(*record.expires_at - clock_.now()).count();
    commands.push_back({"PEXPIRE", key, std::to_string(std::max<std::int64_t>(ms, 1))});
  }
  commands.push_back({"EXEC"});
  commands.push_back({"PUBLISH", keys_.events(), event_message(EventKind::health)});
  client_.batch(std::move(commands),
                [record = std::move(record), done = std::move(done)](Results results) {
                  if (auto e = first_failure(results)) return done(*e);
                  done(record);
                });
}

// -- tiers ------------------------------------------------------------------------------------

void RedisDirectory::list_tiers(Callback<std::vector<policy::Tier>> done) {
  client_.command({"SMEMBERS", keys_.tiers()},
                  [this, done = std::move(done)](core::Result<redis::ReplyPtr> r) {
                    if (!r) return done(r.error());
                    const auto names = members(**r);
                    std::vector<Client::Command> commands;
                    for (const auto& n : names)
                      commands.push_back({"HGETALL", keys_.tier(n)});
                    client_.batch(std::move(commands), [names, done](Results results) {
                      if (auto e = first_failure(results)) return done(*e);
                      std::vector<policy::Tier> tiers;
                      for (std::size_t i = 0; i < names.size(); ++i) {
                        auto fields = fields_of(**results[i]);
                        if (!fields) return done(fields.error());
                        if (fields->empty()) continue;  // listed but gone: a writer is half way
                        auto tier = tier_from_fields(names[i], *fields);
                        if (!tier) return done(tier.error());
                        tiers.push_back(std::move(*tier));
                      }
                      done(std::move(tiers));
                    });
                  });
}

void RedisDirectory::put_tier(policy::Tier tier, Callback<bool> done) {
  const std::string key = keys_.tier(tier.name);
  client_.batch({{"EXISTS", key},
                 {"MULTI"},
                 {"DEL", key},
                 hset(key, tier_fields(tier)),
                 {"EXEC"},
                 {"SADD", keys_.tiers(), tier.name},
                 {"PUBLISH", keys_.events(), event_message(EventKind::tier, tier.name)}},
                [this, name = tier.name, done = std::move(done)](Results results) {
                  if (auto e = first_failure(results)) return done(*e);
                  forget(tier_cache_, name);
                  done(redis::integer(**results[0]).value_or(0) == 0);
                });
}

}  // namespace rl::store
