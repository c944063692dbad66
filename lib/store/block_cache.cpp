// The block cache's merge of events and resyncs.
#include "store/block_cache.h"

#include "store/string_map.h"

namespace rl::store {

std::optional<core::WallTime> BlockCache::find(std::string_view client, core::WallTime now) const {
  const Entry* e = entries_.find(client);
  if (e == nullptr || e->until <= now) return std::nullopt;
  return e->until;
}

void BlockCache::set(std::string_view client, core::WallTime until, core::WallTime now) {
  const bool lifted = until <= now;
  if (lifted && resyncs_in_flight_ == 0) {
    entries_.erase(client);
    return;
  }
  entries_.put(client, Entry{until, ++version_}, lifted);
}

std::uint64_t BlockCache::begin_resync() {
  ++resyncs_in_flight_;
  return ++version_;
}

void BlockCache::finish_resync(std::uint64_t resync, const std::vector<Block>& found,
                               core::WallTime now) {
  StringMap<core::WallTime> scanned;
  for (const Block& b : found)
    scanned.emplace(b.client, b.until);
  // What no event has touched since the SCAN was sent is as the SCAN saw it.
  entries_.erase_if([&](const std::string& client, const Entry& e) {
    return e.version <= resync && !scanned.contains(client);
  });
  for (const auto& [client, until] : scanned) {
    const Entry* e = entries_.find(client);
    if (e != nullptr && e->version > resync) continue;  // newer than the SCAN
    if (until > now) entries_.put(client, Entry{until, resync});
  }
  abandon_resync(resync);
}

void BlockCache::abandon_resync(std::uint64_t) {
  if (resyncs_in_flight_ > 0) --resyncs_in_flight_;
}

void BlockCache::sweep(core::WallTime now) {
  if (resyncs_in_flight_ > 0) return;  // its merge needs the tombstones
  entries_.erase_if([now](const std::string&, const Entry& e) { return e.until <= now; });
}

}  // namespace rl::store
