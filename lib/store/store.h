// Store: the per-request state of the limiter — rate counters, invalid-attempt counters and
// client blocks. Implemented by MemoryStore (one process) and RedisStore (shared by every
// instance). The service depends on this interface only; apps/rld picks the implementation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "limiter/algorithm.h"
#include "limiter/decision.h"
#include "policy/tier.h"
#include "store/callback.h"

namespace rl::store {

// One counter per user, algorithm and window, whatever the health state (DESIGN.md §3 step 6).
struct CounterKey {
  std::string_view user;
  limiter::Algorithm algorithm = limiter::Algorithm::sliding_window;
  core::Seconds window{60};
  // The tier's own failure policy, for stores that can fail (RedisStore); else the store's.
  std::optional<policy::FailurePolicy> on_failure;
};

struct AttemptRules {
  std::int64_t max_attempts = 10;  // this many are answered 401; the next one blocks
  core::Seconds window{300};
  core::Seconds block_for{900};
};

struct AttemptOutcome {
  std::int64_t attempts = 0;  // within the current window, this one included
  bool blocked = false;       // this attempt started a block
  core::WallTime blocked_until{};
};

struct Block {
  std::string client;  // client key: IPv4 address or IPv6 /64
  std::string reason;
  core::WallTime until{};
};

class Store {
 public:
  virtual ~Store() = default;

  // Atomically checks and consumes `cost` (0 = peek) on the counter. Rejections consume nothing.
  virtual void consume(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
                       Callback<limiter::Decision> done) = 0;
  // Drops every counter of `user` (user deleted).
  virtual void forget_user(std::string_view user, StatusCallback done) = 0;

  // The block on `client`, if one is in force.
  virtual void find_block(std::string_view client, Callback<std::optional<Block>> done) = 0;
  // Counts one invalid attempt; past the rules' maximum, blocks the client.
  virtual void record_invalid_attempt(std::string_view client, const AttemptRules& rules,
                                      Callback<AttemptOutcome> done) = 0;
  virtual void list_blocks(Callback<std::vector<Block>> done) = 0;
  virtual void add_block(Block block, StatusCallback done) = 0;
  // not_found when there was no block.
  virtual void remove_block(std::string_view client, StatusCallback done) = 0;
};

}  // namespace rl::store
