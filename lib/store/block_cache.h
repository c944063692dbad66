// BlockCache: the client blocks RedisStore knows of, so that find_block costs no Redis call.
// Kept in sync by `block:<client>` events (set) and a periodic resync from a SCAN. A resync
// merges rather than replaces: what an event changed after the resync began is newer than
// the SCAN and stays, so a block learned (or lifted) while the SCAN is on its way is neither
// dropped nor brought back. Lifted blocks are kept as tombstones (negative entries) while a
// resync is in flight, for that. Bounded (BoundedCache). Pure: the caller passes the time.
// Loop-thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/bounded_cache.h"
#include "store/store.h"

namespace rl::store {

class BlockCache {
 public:
  explicit BlockCache(std::size_t capacity) : entries_(capacity) {}

  // When the block on `client` ends, if one is in force at `now`.
  std::optional<core::WallTime> find(std::string_view client, core::WallTime now) const;
  // What Redis says of `client` now: blocked until `until`, or not blocked (until <= now).
  void set(std::string_view client, core::WallTime until, core::WallTime now);

  // A resync: begin() before the SCAN is sent, then finish() with every block it found, or
  // abandon() when it failed.
  std::uint64_t begin_resync();
  void finish_resync(std::uint64_t resync, const std::vector<Block>& found, core::WallTime now);
  void abandon_resync(std::uint64_t resync);

  // Drops blocks that have ended (and tombstones, once no resync needs them).
  void sweep(core::WallTime now);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    core::WallTime until{};
    std::uint64_t version = 0;  // when it was last set; a resync started at v is older if > v
  };
  BoundedCache<Entry> entries_;
  std::uint64_t version_ = 0;
  int resyncs_in_flight_ = 0;
};

}  // namespace rl::store
