// RedisDirectory's writes and listings of users and API keys, and the bootstrap from the tier
// file. Each write publishes its event and drops what this instance cached.
#include "store/redis_codec.h"
#include "store/redis_directory.h"
#include "store/redis_directory_internal.h"

namespace rl::store {

using namespace detail;  // NOLINT: the helpers shared with redis_directory.cpp

// -- users ------------------------------------------------------------------------------------

void RedisDirectory::read_users(std::vector<std::string> ids,
                                Callback<std::vector<UserRecord>> done) {
  std::vector<std::string> keys;
  for (const auto& id : ids)
    keys.push_back(keys_.user(id));
  read_all<UserRecord>(
      client_, std::move(keys),
      [ids = std::move(ids)](std::size_t i, const Fields& f) {
        return user_from_fields(ids[i], f);
      },
      std::move(done));
}

void RedisDirectory::list_users(Callback<std::vector<UserRecord>> done) {
  client_.command({"SMEMBERS", keys_.users()},
                  [this, done = std::move(done)](core::Result<redis::ReplyPtr> r) {
                    if (auto e = reply_error(r)) return done(*e);
                    read_users(members(**r), done);
                  });
}

void RedisDirectory::get_user(std::string_view id, Callback<UserRecord> done) {
  read_users({std::string(id)}, [id = std::string(id), done = std::move(done)](
                                    core::Result<std::vector<UserRecord>> users) {
    if (!users) return done(users.error());
    if (users->empty())
      return done(core::make_error(core::Errc::not_found, "no user '" + id + "'"));
    done(std::move(users->front()));
  });
}

void RedisDirectory::create_user(UserRecord user, Callback<UserRecord> done) {
  user.created_at = clock_.now();
  // Arguments first: the order in which a call's arguments (and captures) are evaluated is
  // unspecified, so nothing read for the command may be moved into the callback in one call.
  const std::string tier_key = keys_.tier(user.tier);
  client_.command({"EXISTS", tier_key}, [this, user = std::move(user), done = std::move(done)](
                                            core::Result<redis::ReplyPtr> r) mutable {
    if (auto e = reply_error(r)) return done(*e);
    if (redis::integer(**r).value_or(0) == 0) {
      return done(core::make_error(core::Errc::invalid_argument, "no tier '" + user.tier + "'"));
    }
    const std::string key = keys_.user(user.id);
    const std::string tier = user.tier;
    client_.command(
        {"HSETNX", key, "tier", tier}, [this, key, user = std::move(user),
                                        done = std::move(done)](core::Result<redis::ReplyPtr> set) {
          if (auto e = reply_error(set)) return done(*e);
          if (redis::integer(**set).value_or(0) == 0) {
            return done(
                core::make_error(core::Errc::conflict, "user '" + user.id + "' already exists"));
          }
          client_.batch({hset(key, user_fields(user)),
                         {"SADD", keys_.users(), user.id},
                         {"PUBLISH", keys_.events(), event_message(EventKind::user, user.id)}},
                        [user, done](Results results) {
                          if (auto e = first_failure(results)) return done(*e);
                          done(user);
                        });
        });
  });
}

void RedisDirectory::update_user(std::string_view id, UserPatch patch, Callback<UserRecord> done) {
  get_user(id, [this, patch = std::move(patch),
                done = std::move(done)](core::Result<UserRecord> user) mutable {
    if (!user) return done(user.error());
    if (patch.tier) user->tier = *patch.tier;
    if (patch.disabled) user->disabled = *patch.disabled;
    const std::string tier_key = keys_.tier(user->tier);
    client_.command({"EXISTS", tier_key}, [this, u = std::move(*user), done = std::move(done)](
                                              core::Result<redis::ReplyPtr> tier) {
      if (auto e = reply_error(tier)) return done(*e);
      if (redis::integer(**tier).value_or(0) == 0) {
        return done(core::make_error(core::Errc::invalid_argument, "no tier '" + u.tier + "'"));
      }
      client_.batch({hset(keys_.user(u.id), user_fields(u)),
                     {"PUBLISH", keys_.events(), event_message(EventKind::user, u.id)}},
                    [this, u, done](Results results) {
                      if (auto e = first_failure(results)) return done(*e);
                      user_cache_.invalidate(u.id);
                      done(u);
                    });
    });
  });
}

void RedisDirectory::delete_user(std::string_view id, StatusCallback done) {
  const std::string who(id);
  client_.command({"SMEMBERS", keys_.user_keys(who)}, [this, who, done = std::move(done)](
                                                          core::Result<redis::ReplyPtr> r) {
    if (auto e = reply_error(r)) return done(*e);
    const auto digests = members(**r);
    std::vector<Client::Command> commands = {
        {"DEL", keys_.user(who)},
        {"DEL", keys_.user_keys(who)},
        {"SREM", keys_.users(), who},
        {"PUBLISH", keys_.events(), event_message(EventKind::user, who)}};
    for (const auto& d : digests) {
      commands.push_back({"DEL", keys_.api_key(d)});
      commands.push_back({"PUBLISH", keys_.events(), event_message(EventKind::key, d)});
    }
    client_.batch(std::move(commands), [this, who, digests, done](Results results) {
      if (auto e = first_failure(results)) return done(*e);
      user_cache_.invalidate(who);
      for (const auto& d : digests)
        key_cache_.invalidate(d);
      if (redis::integer(**results[0]).value_or(0) == 0) {
        return done(core::make_error(core::Errc::not_found, "no user '" + who + "'"));
      }
      done(core::Status{});
    });
  });
}

// -- keys -------------------------------------------------------------------------------------

void RedisDirectory::read_keys(std::vector<std::string> digests,
                               Callback<std::vector<KeyRecord>> done) {
  std::vector<std::string> keys;
  for (const auto& d : digests)
    keys.push_back(keys_.api_key(d));
  read_all<KeyRecord>(
      client_, std::move(keys),
      [digests = std::move(digests)](std::size_t i, const Fields& f) {
        return key_from_fields(digests[i], f);
      },
      [done = std::move(done)](core::Result<std::vector<KeyRecord>> found) {
        if (found) {
          std::sort(found->begin(), found->end(),
                    [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
        }
        done(std::move(found));
      });
}

void RedisDirectory::list_keys(std::string_view user, Callback<std::vector<KeyRecord>> done) {
  const std::string who(user);
  client_.batch({{"EXISTS", keys_.user(who)}, {"SMEMBERS", keys_.user_keys(who)}},
                [this, who, done = std::move(done)](Results results) {
                  if (auto e = first_failure(results)) return done(*e);
                  if (redis::integer(**results[0]).value_or(0) == 0) {
                    return done(core::make_error(core::Errc::not_found, "no user '" + who + "'"));
                  }
                  read_keys(members(**results[1]), done);
                });
}

void RedisDirectory::add_key(KeyRecord key, Callback<KeyRecord> done) {
  key.created_at = clock_.now();
  std::vector<Client::Command> checks = {{"EXISTS", keys_.user(key.user)},
                                         {"EXISTS", keys_.api_key(key.digest)}};
  client_.batch(std::move(checks), [this, key = std::move(key),
                                    done = std::move(done)](Results results) mutable {
    if (auto e = first_failure(results)) return done(*e);
    if (redis::integer(**results[0]).value_or(0) == 0) {
      return done(core::make_error(core::Errc::not_found, "no user '" + key.user + "'"));
    }
    if (redis::integer(**results[1]).value_or(0) != 0) {
      return done(core::make_error(core::Errc::conflict, "the key already exists"));
    }
    client_.batch({hset(keys_.api_key(key.digest), key_fields(key)),
                   {"SADD", keys_.user_keys(key.user), key.digest},
                   {"PUBLISH", keys_.events(), event_message(EventKind::key, key.digest)}},
                  [this, key, done](Results written) {
                    if (auto e = first_failure(written)) return done(*e);
                    key_cache_.invalidate(key.digest);  // it may be cached as unknown
                    done(key);
                  });
  });
}

void RedisDirectory::revoke_key(std::string_view key_id, Callback<KeyRecord> done) {
  const std::string id(key_id);
  const bool hex = id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  if (!hex) return done(core::make_error(core::Errc::not_found, "no key '" + id + "'"));
  client_.scan(keys_.api_key_pattern(id), 16,
               [this, id, done = std::move(done)](core::Result<std::vector<std::string>> found) {
                 if (!found) return done(found.error());
                 const std::string digest = digest_with_id(*found, keys_, id);
                 if (digest.empty())
                   return done(core::make_error(core::Errc::not_found, "no key '" + id + "'"));
                 read_keys({digest}, [this, id, done](core::Result<std::vector<KeyRecord>> keys) {
                   if (!keys) return done(keys.error());
                   if (keys->empty())
                     return done(core::make_error(core::Errc::not_found, "no key '" + id + "'"));
                   KeyRecord key = std::move(keys->front());
                   client_.batch(
                       {{"DEL", keys_.api_key(key.digest)},
                        {"SREM", keys_.user_keys(key.user), key.digest},
                        {"PUBLISH", keys_.events(), event_message(EventKind::key, key.digest)}},
                       [this, key, done](Results results) {
                         if (auto e = first_failure(results)) return done(*e);
                         key_cache_.invalidate(key.digest);
                         done(key);
                       });
                 });
               });
}

// -- tiers and instances, for rlctl ------------------------------------------------------------

void RedisDirectory::delete_tier(std::string_view name, bool force, StatusCallback done) {
  const std::string tier(name);
  list_users(
      [this, tier, force, done = std::move(done)](core::Result<std::vector<UserRecord>> users) {
        if (!users) return done(users.error());
        std::string holders;
        std::size_t count = 0;
        for (const auto& u : *users) {
          if (u.tier != tier) continue;
          if (++count <= 5) holders += (holders.empty() ? "" : ", ") + u.id;
        }
        if (count > 0 && !force) {
          return done(core::make_error(core::Errc::conflict,
                                       "tier '" + tier + "' is used by " + std::to_string(count) +
                                           " user(s): " + holders + (count > 5 ? ", ..." : "")));
        }
        client_.batch(
            {{"DEL", keys_.tier(tier)},
             {"SREM", keys_.tiers(), tier},
             {"PUBLISH", keys_.events(), event_message(EventKind::tier, tier)}},
            [this, tier, done](Results results) {
              if (auto e = first_failure(results)) return done(*e);
              tier_cache_.invalidate(tier);
              if (redis::integer(**results[0]).value_or(0) == 0) {
                return done(core::make_error(core::Errc::not_found, "no tier '" + tier + "'"));
              }
              done(core::Status{});
            });
      });
}

void RedisDirectory::list_instances(Callback<std::vector<Instance>> done) {
  client_.scan(keys_.instance_pattern(), 10000,
               [this, done = std::move(done)](core::Result<std::vector<std::string>> found) {
                 if (!found) return done(found.error());
                 std::vector<std::string> ids = std::move(*found);
                 std::sort(ids.begin(), ids.end());
                 std::vector<Client::Command> commands;
                 for (const auto& key : ids)
                   commands.push_back({"HGETALL", key});
                 client_.batch(std::move(commands), [this, ids, done](Results results) {
                   if (auto e = first_failure(results)) return done(*e);
                   std::vector<Instance> out;
                   const std::string head = keys_.instance("");
                   for (std::size_t i = 0; i < ids.size(); ++i) {
                     auto fields = fields_of(**results[i]);
                     const auto id = without_prefix(ids[i], head);
                     if (!fields || fields->empty() || !id) continue;  // gone, or not one
                     Instance instance{std::string(*id), {}};
                     for (const auto& [f, v] : *fields)
                       instance.second.emplace_back(f, v);
                     out.push_back(std::move(instance));
                   }
                   done(std::move(out));
                 });
               });
}

// -- bootstrap --------------------------------------------------------------------------------

// Setting an empty Redis up is no decision: each of its commands gets a second, not the
// decisions' redis.timeout_ms (a tier file of 100,000 users missed 5 ms deadlines 11 times,
// each failure starting over, before all of it was written).
constexpr core::Millis kBootstrapTimeout{1000};

void RedisDirectory::bootstrap(const config::TierFile& file, StatusCallback done) {
  // What to write, and the EXISTS checks that decide whether each entry is written.
  struct Entry {
    std::string key;
    Client::Command write;
    Client::Command index;
  };
  auto entries = std::make_shared<std::vector<Entry>>();
  const std::string now = std::to_string(core::to_unix_ms(clock_.now()));
  for (const auto& t : file.tiers) {
    entries->push_back({keys_.tier(t.name),
                        hset(keys_.tier(t.name), tier_fields(t)),
                        {"SADD", keys_.tiers(), t.name}});
  }
  for (const auto& u : file.users) {
    UserRecord user{u.id, u.tier, clock_.now(), u.disabled};
    entries->push_back({keys_.user(u.id),
                        hset(keys_.user(u.id), user_fields(user)),
                        {"SADD", keys_.users(), u.id}});
  }
  for (const auto& k : file.keys) {
    KeyRecord key{k.digest, k.digest.substr(0, 16), k.user, "from tier file", clock_.now()};
    entries->push_back({keys_.api_key(k.digest),
                        hset(keys_.api_key(k.digest), key_fields(key)),
                        {"SADD", keys_.user_keys(k.user), k.digest}});
  }
  client_.command({"GET", keys_.schema()}, [this, entries, done = std::move(done)](
                                               core::Result<redis::ReplyPtr> schema) {
    if (auto e = reply_error(schema)) return done(*e);
    if (!redis::is_nil(**schema)) return done(core::Status{});  // already set up: never overwrite
    std::vector<Client::Command> checks;
    for (const auto& e : *entries)
      checks.push_back({"EXISTS", e.key});
    client_.batch(std::move(checks), kBootstrapTimeout, [this, entries, done](Results exists) {
      if (auto e = first_failure(exists)) return done(*e);
      std::vector<Client::Command> writes;
      std::size_t written = 0;
      for (std::size_t i = 0; i < entries->size(); ++i) {
        if (redis::integer(**exists[i]).value_or(1) != 0) continue;
        writes.push_back((*entries)[i].write);
        writes.push_back((*entries)[i].index);
        ++written;
      }
      writes.push_back({"SET", keys_.schema(), "1", "NX"});
      client_.batch(std::move(writes), kBootstrapTimeout, [this, written, done](Results results) {
        if (auto e = first_failure(results)) return done(*e);
        log_.info("redis_bootstrapped", {{"entries", static_cast<std::int64_t>(written)}});
        done(core::Status{});
      });
    });
  });
}

}  // namespace rl::store
