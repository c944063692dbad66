// RecordCache: what RedisDirectory remembers of one kind of record (API keys, users or tiers):
// the record, or null for "known not to exist", and when it was read. Bounded (BoundedCache:
// unknown names go first). Each invalidation bumps a generation, and a read of Redis stores
// its result only if no invalidation happened while it was on its way: a reply carrying the
// record as it was before an admin's write, arriving after that write's event, is used for
// the request that asked but never cached. Loop-thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "store/bounded_cache.h"

namespace rl::store {

template <class T>
class RecordCache {
 public:
  struct Entry {
    std::shared_ptr<const T> value;  // null: known not to exist
    core::WallTime fetched{};        // the epoch: stale, to be read again
  };

  explicit RecordCache(std::size_t capacity) : entries_(capacity) {}

  const Entry* find(std::string_view id) const { return entries_.find(id); }

  // Taken when a read of Redis starts, and given back to store() with its result.
  std::uint64_t generation() const { return generation_; }
  // Caches what a read begun at `generation` found, unless something was invalidated since.
  bool store(std::string_view id, std::shared_ptr<const T> value, core::WallTime fetched,
             std::uint64_t generation) {
    if (generation != generation_) return false;
    const bool negative = value == nullptr;
    return entries_.put(id, Entry{std::move(value), fetched}, negative);
  }

  // `id` changed in Redis (an event, or this instance's own write).
  void invalidate(std::string_view id) {
    ++generation_;
    entries_.erase(id);
  }
  // Everything may have missed events: keep it, as stale (served only while Redis is away).
  void mark_all_stale() {
    ++generation_;
    entries_.for_each([](const std::string&, Entry& e) { e.fetched = core::WallTime{}; });
  }
  // Drops "known not to exist" entries read before `before`.
  void sweep_negatives(core::WallTime before) {
    entries_.erase_if(
        [before](const std::string&, const Entry& e) { return !e.value && e.fetched < before; });
  }
  std::size_t size() const { return entries_.size(); }

 private:
  BoundedCache<Entry> entries_;
  std::uint64_t generation_ = 0;
};

}  // namespace rl::store
