// SlotMap: which master serves each of the 16384 hash slots, read from a CLUSTER SLOTS reply,
// and the replicas (not routed to, but asked for the map when masters fail). Parsing never
// trusts the reply: anything malformed is an Error saying what and where, never a crash.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/redis_url.h"
#include "core/result.h"
#include "redis/hash_slot.h"
#include "redis/reply.h"

namespace rl::redis {

struct SlotMap {
  static constexpr std::uint16_t kNoNode = 0xFFFF;
  std::vector<config::HostPort> masters;
  std::vector<config::HostPort> replicas;
  // Index into `masters` of each slot's master, or kNoNode for a slot nobody serves.
  std::array<std::uint16_t, kSlotCount> owner;

  SlotMap() { owner.fill(kNoNode); }
  std::size_t covered() const;  // slots with a master
};

// Parses a CLUSTER SLOTS reply received from `asked`. A node listed without an address (an
// empty, "?" or nil endpoint) is reached at `asked`'s host, as the Cluster specification says.
core::Result<SlotMap> parse_cluster_slots(const redisReply& reply, const config::HostPort& asked);

}  // namespace rl::redis
