// MemoryStore: counters, invalid attempts and blocks in this process — the single-instance
// store, and the shape RedisStore's local fallback takes. Thread-safe: counters are striped
// over mutex-guarded shards so several workers can share one store with exact limits. Memory is
// bounded: expired entries are swept, and the attempt and block tables hold at most
// `max_tracked_clients` entries each (beyond that an arbitrary entry is evicted, and counted).
#pragma once

#include <array>
#include <atomic>
#include <mutex>

#include "limiter/limiter.h"
#include "store/store.h"
#include "store/string_map.h"

namespace rl::store {

class MemoryStore final : public Store {
 public:
  MemoryStore(const core::Clock& clock, std::size_t max_tracked_clients);

  void consume(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
               Callback<limiter::Decision> done) override;
  void forget_user(std::string_view user, StatusCallback done) override;
  void find_block(std::string_view client, Callback<std::optional<Block>> done) override;
  void record_invalid_attempt(std::string_view client, const AttemptRules& rules,
                              Callback<AttemptOutcome> done) override;
  void list_blocks(Callback<std::vector<Block>> done) override;
  void add_block(Block block, StatusCallback done) override;
  void remove_block(std::string_view client, StatusCallback done) override;

  // Drops every entry that has expired; rld calls it from a timer.
  void sweep();
  std::size_t counter_count() const;
  // Entries evicted from a full attempt or block table.
  std::uint64_t evicted_clients() const { return evicted_.load(std::memory_order_relaxed); }

 private:
  struct Counter {
    limiter::CounterState state;
    core::WallTime expires{};
  };
  struct Shard {
    mutable std::mutex mutex;
    StringMap<Counter> counters;
  };
  struct Attempts {
    std::int64_t count = 0;
    core::WallTime window_end{};
  };
  struct BlockEntry {
    std::string reason;
    core::WallTime until{};
  };
  static constexpr std::size_t kShards = 32;

  Shard& shard_for(std::string_view key);
  static constexpr core::Millis kClientSweepInterval{1000};
  // Lets `table` grow by one: sweeps expired clients (at most once a second) and, if it is
  // still full, evicts an entry. clients_mutex_ held.
  template <class Table>
  void make_room(Table& table, core::WallTime now);
  void put_block(std::string_view client, std::string reason, core::WallTime until,
                 core::WallTime now);      // clients_mutex_ held
  void sweep_clients(core::WallTime now);  // clients_mutex_ held

  const core::Clock& clock_;
  const std::size_t max_tracked_clients_;
  std::array<Shard, kShards> shards_;
  std::mutex clients_mutex_;  // attempts_ and blocks_
  StringMap<Attempts> attempts_;
  StringMap<BlockEntry> blocks_;
  core::WallTime last_client_sweep_{};
  std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace rl::store
