// RedisStore: scripts for decisions and attempts, the breaker, the failure policy and the
// local caches.
#include "store/redis_store.h"

#include <charconv>

#include "core/text.h"
#include "store/redis_codec.h"
#include "store/redis_errors.h"

namespace rl::store {
namespace {

redis::ScriptId script_for(limiter::Algorithm a) {
  switch (a) {
    case limiter::Algorithm::fixed_window:
      return redis::ScriptId::fixed_window;
    case limiter::Algorithm::token_bucket:
      return redis::ScriptId::token_bucket;
    case limiter::Algorithm::sliding_window:
      break;
  }
  return redis::ScriptId::sliding_window;
}

// Small decimal numbers for script arguments, without allocating.
struct Number {
  char text[24];
  std::size_t len;
  explicit Number(std::int64_t v)
      : len(static_cast<std::size_t>(std::to_chars(text, text + 24, v).ptr - text)) {}
  std::string_view view() const { return {text, len}; }
};

std::optional<limiter::Decision> decision_of(const redisReply& r, std::int64_t limit) {
  if (!redis::is_array(r) || r.elements != 5) return std::nullopt;
  std::int64_t v[5];
  for (std::size_t i = 0; i < 5; ++i) {
    const auto n = redis::integer(*r.element[i]);
    if (!n) return std::nullopt;
    v[i] = *n;
  }
  limiter::Decision d;
  d.allowed = v[0] == 1;
  d.limit = limit;
  d.remaining = v[1];
  d.used = v[2];
  d.reset = core::from_unix_ms(bounded_millis(v[3]));
  d.retry_after = core::Millis{bounded_millis(v[4])};
  return d;
}

}  // namespace

RedisStoreMetrics::RedisStoreMetrics(obs::Registry& r)
    : fallback_local(r.counter("rl_store_fallback_total",
                               "Decisions taken without Redis, by failure policy.",
                               {{"policy", "local"}})),
      fallback_allow(r.counter("rl_store_fallback_total",
                               "Decisions taken without Redis, by failure policy.",
                               {{"policy", "allow"}})),
      fallback_deny(r.counter("rl_store_fallback_total",
                              "Decisions taken without Redis, by failure policy.",
                              {{"policy", "deny"}})),
      over_limit_hits(r.counter("rl_store_over_limit_cache_hits_total",
                                "Denials answered from the local over-limit cache.")),
      bad_replies(r.counter("rl_store_bad_replies_total",
                            "Redis replies rl could not use (error replies, wrong shapes).")) {}

RedisStore::RedisStore(redis::Commands& client, KeySpace keys, const core::Clock& clock,
                       breaker::CircuitBreaker& breaker, Store& local, obs::Logger& log,
                       RedisStoreMetrics& metrics, RedisStoreOptions options)
    : client_(client),
      keys_(std::move(keys)),
      clock_(clock),
      breaker_(breaker),
      local_(local),
      log_(log),
      metrics_(metrics),
      options_(options),
      over_limit_(options.cache_size),
      blocks_(options.cache_size) {}

void RedisStore::consume(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
                         Callback<limiter::Decision> done) {
  keys_.counter(counter_key_, key.user, key.algorithm, key.window);
  if (auto refused = over_limit_.lookup(counter_key_, quota, cost, clock_.now())) {
    metrics_.over_limit_hits.inc();
    return done(*refused);
  }
  if (!breaker_.allow()) return fallback(key, quota, cost, std::move(done));
  const Number limit(quota.limit), window(quota.window.count() * 1000), units(cost);
  const std::string_view keys[] = {counter_key_};
  const std::string_view args[] = {limit.view(), window.view(), units.view()};
  Waiting* w = waiting_.acquire();
  w->user.assign(key.user);
  w->key = key;
  w->key.user = w->user;
  w->quota = quota;
  w->cost = cost;
  w->counter.assign(counter_key_);
  w->done = std::move(done);
  client_.eval(script_for(key.algorithm), keys, args,
               [this, w](core::Result<redis::ReplyPtr> r) { on_reply(w, std::move(r)); });
}

// `w` goes back to the pool only once answered: the answer may start another decision, which
// then takes another.
void RedisStore::on_reply(Waiting* w, core::Result<redis::ReplyPtr> r) {
  answer(*w, std::move(r));
  waiting_.release(w);
}

void RedisStore::answer(Waiting& w, core::Result<redis::ReplyPtr> r) {
  Callback<limiter::Decision> done = std::move(w.done);
  if (!note_outcome(breaker_, r, client_.repeated_failure()))
    return fallback(w.key, w.quota, w.cost, std::move(done));
  const auto d = decision_of(**r, w.quota.limit);
  if (!d) {
    // A damaged counter (WRONGTYPE) or script: the failure policy decides, but a `deny` says
    // what went wrong rather than "unavailable".
    log_bad_reply(script_for(w.key.algorithm), w.counter, redis::text(**r));
    auto why = reply_error(r);
    if (!why) why = core::make_error(core::Errc::internal, "unexpected reply from a script");
    return fallback(w.key, w.quota, w.cost, std::move(done), std::move(why));
  }
  if (!d->allowed) over_limit_.remember(w.counter, w.cost, *d, clock_.now());
  done(*d);
}

// One line a second at most: a damaged counter fails every request of its user.
void RedisStore::log_bad_reply(redis::ScriptId script, std::string_view key,
                               std::string_view reply) {
  metrics_.bad_replies.inc();
  const core::WallTime now = clock_.now();
  if (now - last_bad_reply_log_ < core::Seconds{1}) {
    ++suppressed_bad_replies_;
    return;
  }
  log_.warn("redis_bad_reply",
            {{"script", redis::script(script).name},
             {"key", key},
             {"reply", reply.substr(0, 200)},
             {"similar_since_last", static_cast<std::int64_t>(suppressed_bad_replies_)}});
  last_bad_reply_log_ = now;
  suppressed_bad_replies_ = 0;
}

void RedisStore::fallback(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
                          Callback<limiter::Decision> done, std::optional<core::Error> why) {
  switch (key.on_failure.value_or(options_.on_failure)) {
    case policy::FailurePolicy::local:
      metrics_.fallback_local.inc();
      return local_.consume(key, quota, cost, std::move(done));
    case policy::FailurePolicy::allow: {
      metrics_.fallback_allow.inc();
      limiter::Decision d;
      d.allowed = true;
      d.limit = quota.limit;
      d.remaining = quota.limit;  // unknown while Redis is away
      d.reset = clock_.now() + quota.window;
      return done(d);
    }
    case policy::FailurePolicy::deny:
      metrics_.fallback_deny.inc();
      if (why) return done(std::move(*why));
      return done(core::make_error(core::Errc::unavailable, "Redis is unavailable"));
  }
}

void RedisStore::forget_user(std::string_view user, StatusCallback done) {
  local_.forget_user(user, [](core::Status) {});
  std::string pattern = keys_.counter_pattern(user);
  over_limit_.forget_prefix(std::string_view(pattern).substr(0, pattern.size() - 1));  // no '*'
  client_.scan(std::move(pattern), 1000,
               [this, done = std::move(done)](core::Result<std::vector<std::string>> keys) {
                 if (!keys) return done(keys.error());
                 if (keys->empty()) return done(core::Status{});
                 redis::Commands::Command del{"DEL"};
                 del.insert(del.end(), keys->begin(), keys->end());
                 client_.batch({std::move(del)}, [done](auto results) {
                   if (auto e = reply_error(results[0])) return done(*e);
                   done(core::Status{});
                 });
               });
}

void RedisStore::find_block(std::string_view client, Callback<std::optional<Block>> done) {
  if (auto until = blocks_.find(client, clock_.now())) {
    return done(std::optional<Block>{Block{std::string(client), "blocked", *until}});
  }
  local_.find_block(client, std::move(done));  // blocks made while Redis was away
}

void RedisStore::cache_block(std::string_view client, core::WallTime until) {
  blocks_.set(client, until, clock_.now());
}

void RedisStore::publish_block(std::string_view client) {
  client_.command({"PUBLISH", keys_.events(), event_message(EventKind::block, client)},
                  [](core::Result<redis::ReplyPtr>) {});
}

void RedisStore::record_invalid_attempt(std::string_view client, const AttemptRules& rules,
                                        Callback<AttemptOutcome> done) {
  if (!breaker_.allow()) return local_.record_invalid_attempt(client, rules, std::move(done));
  const std::string bad = keys_.attempts(client), block = keys_.block(client);
  const Number max(rules.max_attempts), window(rules.window.count() * 1000),
      block_ms(rules.block_for.count() * 1000);
  const std::string_view keys[] = {bad, block};
  const std::string_view args[] = {max.view(), window.view(), block_ms.view(),
                                   "too many invalid API keys"};
  client_.eval(redis::ScriptId::invalid_attempt, keys, args,
               [this, rules, who = std::string(client),
                done = std::move(done)](core::Result<redis::ReplyPtr> r) mutable {
                 if (!note_outcome(breaker_, r, client_.repeated_failure())) {
                   return local_.record_invalid_attempt(who, rules, std::move(done));
                 }
                 const redisReply* n = redis::element(**r, 0);
                 const redisReply* blocked = redis::element(**r, 1);
                 const redisReply* left = redis::element(**r, 2);
                 if (n == nullptr || blocked == nullptr || left == nullptr) {
                   metrics_.bad_replies.inc();
                   return local_.record_invalid_attempt(who, rules, std::move(done));
                 }
                 AttemptOutcome outcome;
                 outcome.attempts = redis::integer(*n).value_or(0);
                 outcome.blocked = redis::integer(*blocked).value_or(0) == 1;
                 if (outcome.blocked) {
                   outcome.blocked_until =
                       clock_.now() +
                       core::Millis{bounded_millis(redis::integer(*left).value_or(0))};
                   cache_block(who, outcome.blocked_until);
                   if (outcome.attempts > 0) publish_block(who);  // this call made the block
                 }
                 done(outcome);
               });
}

void RedisStore::list_blocks(Callback<std::vector<Block>> done) {
  client_.scan(
      keys_.block_pattern(), 100000,
      [this, done = std::move(done)](core::Result<std::vector<std::string>> keys) {
        if (!keys) return done(keys.error());
        std::vector<redis::Commands::Command> commands;
        for (const auto& k : *keys) {
          commands.push_back({"GET", k});
          commands.push_back({"PTTL", k});
        }
        client_.batch(std::move(commands), [this, keys = std::move(*keys), done](auto results) {
          std::vector<Block> out;
          const core::WallTime now = clock_.now();
          for (std::size_t i = 0; i < keys.size(); ++i) {
            auto& reason = results[2 * i];
            auto& pttl = results[2 * i + 1];
            if (!reason || !pttl) return done(!reason ? reason.error() : pttl.error());
            const auto ms = bounded_millis(redis::integer(**pttl).value_or(-2));
            const std::string_view client = keys_.client_of_block(keys[i]);
            if (ms <= 0 || client.empty()) continue;
            out.push_back(Block{std::string(client), std::string(redis::text(**reason)),
                                now + core::Millis{ms}});
          }
          std::sort(out.begin(), out.end(),
                    [](const Block& a, const Block& b) { return a.client < b.client; });
          done(std::move(out));
        });
      });
}

void RedisStore::add_block(Block block, StatusCallback done) {
  const auto ms = std::chrono::duration_cast<core::Millis>(block.until - clock_.now()).count();
  if (ms <= 0) return done(core::make_error(core::Errc::invalid_argument, "the block has ended"));
  client_.batch({{"SET", keys_.block(block.client), block.reason, "PX", std::to_string(ms)},
                 {"PUBLISH", keys_.events(), event_message(EventKind::block, block.client)}},
                [this, block, done = std::move(done)](auto results) {
                  if (auto e = reply_error(results[0])) return done(*e);
                  cache_block(block.client, block.until);
                  done(core::Status{});
                });
}

void RedisStore::remove_block(std::string_view client, StatusCallback done) {
  const std::string who(client);
  // A block made here while Redis was away may not be in Redis yet: lifted all the same.
  auto lifted_here = std::make_shared<bool>(false);
  local_.remove_block(who, [lifted_here](core::Status s) { *lifted_here = s.ok(); });
  client_.batch({{"DEL", keys_.block(who)},
                 {"DEL", keys_.attempts(who)},
                 {"PUBLISH", keys_.events(), event_message(EventKind::block, who)}},
                [this, who, lifted_here, done = std::move(done)](auto results) {
                  if (auto e = reply_error(results[0])) return done(*e);
                  cache_block(who, core::WallTime{});
                  if (redis::integer(**results[0]).value_or(0) == 0 && !*lifted_here) {
                    return done(core::make_error(core::Errc::not_found, "no block on " + who));
                  }
                  done(core::Status{});
                });
}

void RedisStore::on_block_event(std::string_view client) {
  client_.command({"PTTL", keys_.block(client)},
                  [this, who = std::string(client)](core::Result<redis::ReplyPtr> r) {
                    if (reply_error(r)) return;
                    const auto ms = bounded_millis(redis::integer(**r).value_or(-2));
                    if (ms > 0) return cache_block(who, clock_.now() + core::Millis{ms});
                    // Lifted (rlctl block remove, DELETE /admin/blocks): everywhere, a block
                    // this instance made while Redis was away included.
                    cache_block(who, core::WallTime{});
                    local_.remove_block(who, [](core::Status) {});
                  });
}

void RedisStore::push_local_blocks() {
  if (breaker_.state() != breaker::State::closed) return;  // still away: kept locally
  local_.list_blocks([this](core::Result<std::vector<Block>> blocks) {
    if (!blocks) return;
    const core::WallTime now = clock_.now();
    for (Block& b : *blocks) {
      const auto ms = std::chrono::duration_cast<core::Millis>(b.until - now).count();
      if (ms <= 0) continue;
      const std::string key = keys_.block(b.client);
      // The longer block wins: NX keeps a block Redis already has (its reason too), GT extends
      // it when ours ends later (Redis 7; an older one refuses GT and keeps its own), and PTTL
      // says which end is in force now.
      const std::string px = std::to_string(ms);
      std::vector<redis::Commands::Command> commands = {
          {"SET", key, b.reason, "PX", px, "NX"},
          {"PEXPIRE", key, px, "GT"},
          {"PTTL", key},
          {"PUBLISH", keys_.events(), event_message(EventKind::block, b.client)}};
      client_.batch(std::move(commands), [this, who = std::move(b.client)](auto results) {
        if (reply_error(results[0]) || reply_error(results[2])) return;  // next resync
        const auto left = bounded_millis(redis::integer(**results[2]).value_or(-2));
        cache_block(who, left > 0 ? clock_.now() + core::Millis{left} : core::WallTime{});
        local_.remove_block(who, [](core::Status) {});
        log_.info("block_written_to_redis", {{"client", who}, {"ttl_ms", left}});
      });
    }
  });
}

void RedisStore::resync_blocks() {
  push_local_blocks();
  const std::uint64_t resync = blocks_.begin_resync();
  list_blocks([this, resync](core::Result<std::vector<Block>> blocks) {
    if (!blocks) {
      blocks_.abandon_resync(resync);
      log_.warn("redis_block_resync_failed", {{"error", blocks.error().message}});
      return;
    }
    blocks_.finish_resync(resync, *blocks, clock_.now());
  });
}

void RedisStore::sweep() {
  const core::WallTime now = clock_.now();
  over_limit_.sweep(now);
  blocks_.sweep(now);
}

}  // namespace rl::store
