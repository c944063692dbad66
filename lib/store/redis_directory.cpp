// RedisDirectory: cached reads for the hot path, and the admin writes with their events.
#include "store/redis_directory.h"

#include <algorithm>

#include "store/redis_codec.h"
#include "store/redis_directory_internal.h"

namespace rl::store {
using namespace detail;  // NOLINT: this file is that helper set's other half

RedisDirectory::RedisDirectory(redis::Commands& client, KeySpace keys, const core::Clock& clock,
                               breaker::CircuitBreaker& breaker, obs::Logger& log,
                               RedisDirectoryOptions options, Directory* fallback)
    : client_(client),
      keys_(std::move(keys)),
      clock_(clock),
      breaker_(breaker),
      log_(log),
      options_(options),
      fallback_(fallback),
      key_cache_(options.cache_size),
      user_cache_(options.cache_size),
      tier_cache_(options.cache_size) {}

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

namespace {

// A decoded hash as a shared record; null when the hash does not exist.
template <class T, class FromFields>
core::Result<std::shared_ptr<const T>> record_or_null(std::string_view id, const Fields& fields,
                                                      FromFields from_fields) {
  if (fields.empty()) return std::shared_ptr<const T>{};
  auto record = from_fields(id, fields);
  if (!record) return record.error();
  return std::make_shared<const T>(std::move(*record));
}

// The error for a record Redis answered with an error reply (WRONGTYPE): named as the codec
// names a malformed one (an API key by its key id, never its digest).
core::Error unreadable(std::string (KeySpace::*key_of)(std::string_view) const, std::string_view id,
                       std::string_view reply) {
  std::string what = "user '" + std::string(id) + "'";
  if (key_of == &KeySpace::api_key) what = "API key '" + std::string(id.substr(0, 16)) + "'";
  if (key_of == &KeySpace::tier) what = "tier '" + std::string(id) + "'";
  return core::make_error(core::Errc::internal,
                          "malformed " + what + ": " + error_of_reply(reply).message);
}

}  // namespace

template <class T, class Decode, class Then>
void RedisDirectory::read_through(RecordCache<T>& cache, std::string_view id, KeyOf key_of,
                                  std::string_view digest, Decode decode,
                                  Callback<std::optional<Identity>> done, Then then) {
  const auto* hit = cache.find(id);
  if (hit != nullptr && (fresh(hit->fetched, !hit->value) || !breaker_.allow())) {
    // Fresh, or stale while Redis is away: a known client keeps its limits.
    return then(hit->value, std::move(done));
  }
  if (hit == nullptr && breaker_.state() == breaker::State::open && !breaker_.allow()) {
    return fail_over(digest, unavailable("Redis is unavailable and the key is not cached"),
                     std::move(done));
  }
  const std::string key = (keys_.*key_of)(id);
  client_.command(
      {"HGETALL", key}, [this, &cache, key_of, name = std::string(id), digest = std::string(digest),
                         generation = cache.generation(), decode = std::move(decode),
                         then = std::move(then), done = std::move(done)](RedisResult r) mutable {
        note_outcome(breaker_, r, client_.repeated_failure(), Call::reads);
        if (!r || endpoint_failure(r)) {
          // Redis cannot say: what was known, else the fallback.
          if (const auto* stale = cache.find(name)) return then(stale->value, std::move(done));
          return fail_over(digest, *reply_error(r), std::move(done));
        }
        // Redis answered, and the record is damaged (WRONGTYPE: not a hash): an error naming
        // it, as for a malformed field; never an older or the tier file's version of it.
        if (redis::is_error(**r)) return done(unreadable(key_of, name, redis::text(**r)));
        auto fields = fields_of(**r);
        if (!fields) return done(fields.error());
        auto record = decode(name, *fields);
        if (!record) return done(record.error());
        cache.store(name, *record, clock_.now(), generation);  // unless invalidated meanwhile
        then(std::move(*record), std::move(done));
      });
}

void RedisDirectory::resolve(std::string_view digest, Callback<std::optional<Identity>> done) {
  read_through(
      key_cache_, digest, &KeySpace::api_key, digest,
      [](std::string_view id, const Fields& f) {
        return record_or_null<KeyRecord>(id, f, key_from_fields);
      },
      std::move(done),
      [this](std::shared_ptr<const KeyRecord> key, Callback<std::optional<Identity>> next) {
        if (!key) return next(std::optional<Identity>{});
        with_user(std::move(key), std::move(next));
      });
}

void RedisDirectory::with_user(std::shared_ptr<const KeyRecord> key,
                               Callback<std::optional<Identity>> done) {
  read_through(
      user_cache_, key->user, &KeySpace::user, key->digest,
      [](std::string_view id, const Fields& f) {
        return record_or_null<UserRecord>(id, f, user_from_fields);
      },
      std::move(done),
      [this, key](std::shared_ptr<const UserRecord> user, Callback<std::optional<Identity>> next) {
        if (!user) return next(std::optional<Identity>{});  // the key's user is gone
        with_tier(key, std::move(user), std::move(next));
      });
}

void RedisDirectory::with_tier(std::shared_ptr<const KeyRecord> key,
                               std::shared_ptr<const UserRecord> user,
                               Callback<std::optional<Identity>> done) {
  read_through(
      tier_cache_, user->tier, &KeySpace::tier, key->digest,
      [user](std::string_view name,
             const Fields& f) -> core::Result<std::shared_ptr<const policy::Tier>> {
        if (f.empty()) {
          return core::make_error(
              core::Errc::internal,
              "user '" + user->id + "' has tier '" + std::string(name) + "', which does not exist");
        }
        return record_or_null<policy::Tier>(name, f, tier_from_fields);
      },
      std::move(done),
      [key, user](std::shared_ptr<const policy::Tier> tier,
                  Callback<std::optional<Identity>> next) {
        next(std::optional<Identity>{Identity{key, user, std::move(tier)}});
      });
}

// -- events -----------------------------------------------------------------------------------

void RedisDirectory::on_event(const Event& e) {
  switch (e.kind) {
    case EventKind::key:
      return key_cache_.invalidate(e.subject);
    case EventKind::user:
      return user_cache_.invalidate(e.subject);
    case EventKind::tier:
      return tier_cache_.invalidate(e.subject);
    case EventKind::health:
      if (on_health_) on_health_();
      return;
    case EventKind::block:
      return;  // the store's business
  }
}

void RedisDirectory::resync() {
  // Stale, not gone: dropping them would make every client unknown while Redis comes back.
  key_cache_.mark_all_stale();
  user_cache_.mark_all_stale();
  tier_cache_.mark_all_stale();
  if (on_health_) on_health_();
}

void RedisDirectory::sweep() {
  const core::WallTime before = clock_.now() - options_.negative_ttl;
  key_cache_.sweep_negatives(before);
  user_cache_.sweep_negatives(before);
  tier_cache_.sweep_negatives(before);
}

void RedisDirectory::publish(EventKind kind, std::string_view subject, StatusCallback done) {
  client_.command({"PUBLISH", keys_.events(), event_message(kind, subject)},
                  [done = std::move(done)](core::Result<redis::ReplyPtr> r) {
                    auto e = reply_error(r);
                    done(e ? core::Status{std::move(*e)} : core::Status{});
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
                    if (auto e = reply_error(r)) return done(*e);
                    auto names = members(**r);
                    std::vector<std::string> keys;
                    for (const auto& n : names)
                      keys.push_back(keys_.tier(n));
                    read_all<policy::Tier>(
                        client_, std::move(keys),
                        [names = std::move(names)](std::size_t i, const Fields& fields) {
                          return tier_from_fields(names[i], fields);
                        },
                        std::move(done));
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
                  tier_cache_.invalidate(name);
                  done(redis::integer(**results[0]).value_or(0) == 0);
                });
}

}  // namespace rl::store
