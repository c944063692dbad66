// MemoryStore: shards of counters and the two client tables.
#include "store/memory_store.h"

#include <algorithm>

#include "core/text.h"

namespace rl::store {
namespace {

// "<user>\x1f<algorithm>\x1f<window>" in a reused per-thread buffer.
std::string_view counter_key(const CounterKey& key) {
  thread_local std::string buffer;
  buffer.assign(key.user);
  buffer.push_back('\x1f');
  buffer.append(limiter::to_string(key.algorithm));
  buffer.push_back('\x1f');
  core::append_int(buffer, key.window.count());
  return buffer;
}

}  // namespace

MemoryStore::MemoryStore(const core::Clock& clock, std::size_t max_tracked_clients)
    : clock_(clock), max_tracked_clients_(max_tracked_clients) {}

MemoryStore::Shard& MemoryStore::shard_for(std::string_view key) {
  return shards_[StringHash{}(key) % kShards];
}

void MemoryStore::consume(const CounterKey& key, const limiter::Quota& quota, std::int64_t cost,
                          Callback<limiter::Decision> done) {
  const core::WallTime now = clock_.now();
  const std::string_view k = counter_key(key);
  Shard& shard = shard_for(k);
  limiter::Decision decision;
  {
    std::lock_guard lock(shard.mutex);
    auto it = shard.counters.find(k);
    if (it == shard.counters.end()) {
      if (cost == 0) {  // a peek at a counter nobody used: answer from a fresh state, keep nothing
        limiter::CounterState fresh;
        decision = limiter::apply(fresh, key.algorithm, quota, now, 0);
      } else {
        it = shard.counters.emplace(std::string(k), Counter{}).first;
      }
    }
    if (it != shard.counters.end()) {
      decision = limiter::apply(it->second.state, key.algorithm, quota, now, cost);
      it->second.expires = limiter::expires_at(it->second.state, quota);
    }
  }
  done(decision);
}

void MemoryStore::forget_user(std::string_view user, StatusCallback done) {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    std::erase_if(shard.counters, [&](const auto& entry) {
      const std::string& k = entry.first;
      return k.size() > user.size() && k.starts_with(user) && k[user.size()] == '\x1f';
    });
  }
  done(core::Status{});
}

void MemoryStore::find_block(std::string_view client, Callback<std::optional<Block>> done) {
  const core::WallTime now = clock_.now();
  std::optional<Block> found;
  {
    std::lock_guard lock(clients_mutex_);
    auto it = blocks_.find(client);
    if (it != blocks_.end()) {
      if (it->second.until > now) {
        found = Block{std::string(client), it->second.reason, it->second.until};
      } else {
        blocks_.erase(it);
      }
    }
  }
  done(std::move(found));
}

void MemoryStore::sweep_clients(core::WallTime now) {
  std::erase_if(attempts_, [&](const auto& e) { return e.second.window_end <= now; });
  std::erase_if(blocks_, [&](const auto& e) { return e.second.until <= now; });
}

template <class Table>
void MemoryStore::make_room(Table& table, core::WallTime now) {
  if (table.size() < max_tracked_clients_) return;
  if (now - last_client_sweep_ >= kClientSweepInterval) {  // a full sweep is O(n): ration it
    last_client_sweep_ = now;
    sweep_clients(now);
    if (table.size() < max_tracked_clients_) return;
  }
  // Still full: evict an arbitrary entry, so a new client is always counted (and blockable);
  // an attacker needs max_tracked_clients addresses to push anyone out.
  table.erase(table.begin());
  evicted_.fetch_add(1, std::memory_order_relaxed);
}

void MemoryStore::put_block(std::string_view client, std::string reason, core::WallTime until,
                            core::WallTime now) {
  auto it = blocks_.find(client);
  if (it == blocks_.end()) {
    make_room(blocks_, now);
    blocks_.emplace(std::string(client), BlockEntry{std::move(reason), until});
  } else {
    it->second = BlockEntry{std::move(reason), until};
  }
}

void MemoryStore::record_invalid_attempt(std::string_view client, const AttemptRules& rules,
                                         Callback<AttemptOutcome> done) {
  const core::WallTime now = clock_.now();
  AttemptOutcome outcome;
  {
    std::lock_guard lock(clients_mutex_);
    auto it = attempts_.find(client);
    if (it != attempts_.end() && it->second.window_end <= now) {
      attempts_.erase(it);
      it = attempts_.end();
    }
    if (it == attempts_.end()) {
      make_room(attempts_, now);
      it = attempts_.emplace(std::string(client), Attempts{0, now + rules.window}).first;
    }
    outcome.attempts = ++it->second.count;
    if (outcome.attempts > rules.max_attempts) {
      outcome.blocked = true;
      outcome.blocked_until = now + rules.block_for;
      attempts_.erase(it);  // the block takes over from the count
      put_block(client, "too many invalid API keys", outcome.blocked_until, now);
    }
  }
  done(outcome);
}

void MemoryStore::list_blocks(Callback<std::vector<Block>> done) {
  const core::WallTime now = clock_.now();
  std::vector<Block> out;
  {
    std::lock_guard lock(clients_mutex_);
    for (const auto& [client, entry] : blocks_) {
      if (entry.until > now) out.push_back(Block{client, entry.reason, entry.until});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Block& a, const Block& b) { return a.client < b.client; });
  done(std::move(out));
}

void MemoryStore::add_block(Block block, StatusCallback done) {
  {
    std::lock_guard lock(clients_mutex_);
    put_block(block.client, std::move(block.reason), block.until, clock_.now());
  }
  done(core::Status{});
}

void MemoryStore::remove_block(std::string_view client, StatusCallback done) {
  bool removed = false;
  {
    std::lock_guard lock(clients_mutex_);
    auto it = blocks_.find(client);
    if (it != blocks_.end()) {
      removed = it->second.until > clock_.now();
      blocks_.erase(it);
    }
    if (auto a = attempts_.find(client); a != attempts_.end()) attempts_.erase(a);
  }
  if (removed) {
    done(core::Status{});
  } else {
    done(core::make_error(core::Errc::not_found, "no block on " + std::string(client)));
  }
}

void MemoryStore::sweep() {
  const core::WallTime now = clock_.now();
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    std::erase_if(shard.counters, [&](const auto& e) { return e.second.expires <= now; });
  }
  std::lock_guard lock(clients_mutex_);
  sweep_clients(now);
}

std::size_t MemoryStore::counter_count() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.counters.size();
  }
  return n;
}

}  // namespace rl::store
