// RedisStore: counters, invalid attempts and blocks shared by every rld instance through
// Redis (one Lua script per decision, server time). When Redis cannot answer — the circuit
// breaker is open, a call times out, the endpoint errs — the failure policy decides: `local`
// limits in this process with the same limits (the local Store), `allow` lets the request
// through, `deny` refuses it (503). A key known to be over its limit is answered from a local
// over-limit cache until its retry time, without a round trip. Blocks are cached locally and
// kept in sync through `block:<client>` events and a periodic resync, so a block costs no
// Redis call per request either; blocks made locally while Redis was away are written to
// Redis at the next resync, so every instance, rlctl and the admin API see and lift them.
// Loop-thread only.
#pragma once

#include "breaker/circuit_breaker.h"
#include "core/free_list.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/commands.h"
#include "store/block_cache.h"
#include "store/key_space.h"
#include "store/over_limit_cache.h"
#include "store/store.h"

namespace rl::store {

struct RedisStoreMetrics {
  explicit RedisStoreMetrics(obs::Registry& registry);
  obs::Counter& fallback_local;
  obs::Counter& fallback_allow;
  obs::Counter& fallback_deny;
  obs::Counter& over_limit_hits;
  obs::Counter& bad_replies;
};

struct RedisStoreOptions {
  policy::FailurePolicy on_failure = policy::FailurePolicy::local;
  std::size_t cache_size = 100000;  // over-limit and block cache entries, each
};

class RedisStore final : public Store {
 public:
  RedisStore(redis::Commands& client, KeySpace keys, const core::Clock& clock,
             breaker::CircuitBreaker& breaker, Store& local, obs::Logger& log,
             RedisStoreMetrics& metrics, RedisStoreOptions options);

  void consume(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
               Callback<limiter::Decision> done) override;
  void forget_user(std::string_view user, StatusCallback done) override;
  void find_block(std::string_view client, Callback<std::optional<Block>> done) override;
  void record_invalid_attempt(std::string_view client, const AttemptRules& rules,
                              Callback<AttemptOutcome> done) override;
  void list_blocks(Callback<std::vector<Block>> done) override;
  void add_block(Block block, StatusCallback done) override;
  void remove_block(std::string_view client, StatusCallback done) override;

  // A `block:<client>` event: re-reads that client's block (and lifts a local one when Redis
  // has none).
  void on_block_event(std::string_view client);
  // Writes the blocks made locally while Redis was away into Redis, then re-reads every block
  // (at start, when Redis is back, after a resubscription, and periodically).
  void resync_blocks();
  // Drops expired cache entries.
  void sweep();

 private:
  // `why`: the error a `deny` policy answers with; by default, Redis is unavailable.
  void fallback(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
                Callback<limiter::Decision> done, std::optional<core::Error> why = {});
  // A decision waiting for Redis: what its answer and the fallback need once the caller's
  // strings are gone. Pooled (core/free_list.h): waiting allocates nothing.
  struct Waiting {
    std::string user;
    CounterKey key;  // key.user views `user`
    limiter::Quota quota;
    std::int64_t cost = 0;
    std::string counter;
    Callback<limiter::Decision> done;
  };
  void on_reply(Waiting* w, core::Result<redis::ReplyPtr> r);
  void answer(Waiting& w, core::Result<redis::ReplyPtr> r);
  void log_bad_reply(redis::ScriptId script, std::string_view key, std::string_view reply);
  void cache_block(std::string_view client, core::WallTime until);
  void publish_block(std::string_view client);
  void push_local_blocks();

  redis::Commands& client_;
  KeySpace keys_;
  const core::Clock& clock_;
  breaker::CircuitBreaker& breaker_;
  Store& local_;
  obs::Logger& log_;
  RedisStoreMetrics& metrics_;
  RedisStoreOptions options_;
  std::string counter_key_;  // reused buffer
  OverLimitCache over_limit_;
  BlockCache blocks_;
  core::WallTime last_bad_reply_log_{};
  std::size_t suppressed_bad_replies_ = 0;
  core::FreeList<Waiting> waiting_;
};

}  // namespace rl::store
