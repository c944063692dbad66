// CLUSTER SLOTS: an array of [start, end, master, replica...], each node [host, port, id, ...].
#include "redis/slot_map.h"

#include <algorithm>

namespace rl::redis {
namespace {

core::Error malformed(std::size_t entry, std::string_view why) {
  return core::make_error(
      core::Errc::internal,
      "malformed CLUSTER SLOTS reply: entry " + std::to_string(entry) + ": " + std::string(why));
}

core::Result<config::HostPort> node_of(const redisReply* r, const config::HostPort& asked,
                                       std::size_t entry) {
  if (r == nullptr || !is_array(*r) || r->elements < 2) return malformed(entry, "not a node");
  const redisReply& host = *r->element[0];
  const auto port = integer(*r->element[1]);
  if (!port || *port < 1 || *port > 65535) return malformed(entry, "bad port");
  if (!is_nil(host) && host.type != REDIS_REPLY_STRING) return malformed(entry, "bad host");
  config::HostPort out{std::string(text(host)), static_cast<std::uint16_t>(*port)};
  if (out.host.empty() || out.host == "?") out.host = asked.host;
  return out;
}

// The index of `node` in `list`, added if new.
std::uint16_t index_in(std::vector<config::HostPort>& list, const config::HostPort& node) {
  const auto it = std::find(list.begin(), list.end(), node);
  if (it != list.end()) return static_cast<std::uint16_t>(it - list.begin());
  list.push_back(node);
  return static_cast<std::uint16_t>(list.size() - 1);
}

}  // namespace

std::size_t SlotMap::covered() const {
  return static_cast<std::size_t>(
      std::count_if(owner.begin(), owner.end(), [](std::uint16_t n) { return n != kNoNode; }));
}

core::Result<SlotMap> parse_cluster_slots(const redisReply& reply, const config::HostPort& asked) {
  if (is_error(reply)) {
    return core::make_error(core::Errc::unavailable,
                            "CLUSTER SLOTS refused: " + std::string(text(reply)));
  }
  if (!is_array(reply))
    return core::make_error(core::Errc::internal, "CLUSTER SLOTS: not an array");
  SlotMap map;
  for (std::size_t i = 0; i < reply.elements; ++i) {
    const redisReply& e = *reply.element[i];
    if (!is_array(e) || e.elements < 3) return malformed(i, "not [start, end, master, ...]");
    const auto start = integer(*e.element[0]);
    const auto end = integer(*e.element[1]);
    if (!start || !end || *start < 0 || *end >= kSlotCount || *start > *end) {
      return malformed(i, "bad slot range");
    }
    auto master = node_of(e.element[2], asked, i);
    if (!master) return master.error();
    if (map.masters.size() >= SlotMap::kNoNode) return malformed(i, "too many masters");
    const std::uint16_t m = index_in(map.masters, *master);
    for (std::size_t j = 3; j < e.elements; ++j) {
      auto replica = node_of(e.element[j], asked, i);
      if (!replica) return replica.error();
      if (std::find(map.replicas.begin(), map.replicas.end(), *replica) == map.replicas.end()) {
        map.replicas.push_back(std::move(*replica));
      }
    }
    for (auto s = *start; s <= *end; ++s)
      map.owner[static_cast<std::size_t>(s)] = m;
  }
  if (map.masters.empty()) {
    return core::make_error(core::Errc::unavailable, "CLUSTER SLOTS: the cluster serves no slots");
  }
  return map;
}

}  // namespace rl::redis
