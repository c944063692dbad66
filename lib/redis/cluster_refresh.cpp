// ClusterClient: reading the slot map. A round asks one candidate at a time — masters with a
// ready Client first (no dial), then the other masters, replicas and seeds through a probe
// connection — until one answers CLUSTER SLOTS; at most one round in flight, a new one at most
// every kRefreshInterval. A round that finds nobody is tried again after the interval, so a
// failed-over master is found as soon as any node knows of the new one.
#include <algorithm>

#include "redis/cluster_client.h"

namespace rl::redis {
namespace {

// CLUSTER SLOTS on a probe connection of its own: no decision waits behind it.
constexpr core::Millis kSlotsTimeout{1000};

}  // namespace

void ClusterClient::request_refresh() {
  if (closing_ || !started_) return;
  refresh_wanted_ = true;
  if (refreshing_ || Connection::fresh_now() - last_refresh_ < kRefreshInterval) return;
  start_refresh();  // else the tick starts it when the interval has passed
}

void ClusterClient::start_refresh() {
  refresh_wanted_ = false;
  refreshing_ = true;
  last_refresh_ = Connection::fresh_now();
  // Tried from the back: seeds last, then replicas, masters without a ready Client, and first
  // the masters with one.
  candidates_ = seeds_;
  std::vector<config::HostPort> ready_masters;
  for (const Node& n : nodes_) {
    if (n.replica) candidates_.push_back(n.address);
  }
  for (const Node& n : nodes_) {
    if (!n.master) continue;
    (n.client && n.client->ready() ? ready_masters : candidates_).push_back(n.address);
  }
  candidates_.insert(candidates_.end(), ready_masters.begin(), ready_masters.end());
  // Each address once, at its last (most preferred) place.
  std::vector<config::HostPort> unique;
  for (auto it = candidates_.rbegin(); it != candidates_.rend(); ++it) {
    if (std::find(unique.begin(), unique.end(), *it) == unique.end()) unique.push_back(*it);
  }
  candidates_.assign(unique.rbegin(), unique.rend());
  next_candidate();
}

void ClusterClient::next_candidate() {
  if (closing_) return;
  if (candidates_.empty()) return refresh_failed();
  const config::HostPort address = std::move(candidates_.back());
  candidates_.pop_back();
  for (const Node& n : nodes_) {
    if (n.address == address && n.client && n.client->ready())
      return ask_node(n.client.get(), address);
  }
  open_probe(address);
}

void ClusterClient::ask_node(Client* client, const config::HostPort& address) {
  const std::uint64_t generation = ++probe_generation_;
  const std::string_view args[] = {"CLUSTER", "SLOTS"};
  // The decision deadline, not kSlotsTimeout: a connection keeps its deadlines in order, so a
  // long one would hold every command queued behind it to the same long wait. A node too slow
  // for it is skipped for the next candidate.
  client->command(args, Connection::fresh_now() + timeout_,
                  [this, address, generation](core::Result<ReplyPtr> r) {
                    if (generation == probe_generation_) on_slots(address, std::move(r));
                  });
}

void ClusterClient::open_probe(const config::HostPort& address) {
  close_probe();
  ConnectionOptions o = options_;
  o.url = options_.url.node(address);
  o.timeout = kSlotsTimeout;
  probe_ = std::make_unique<Connection>(loop_, std::move(o));
  const std::uint64_t generation = ++probe_generation_;
  probe_failed_ = false;
  probe_->set_state_listener(
      [this, address, generation](Connection::State state, std::string_view why) {
        if (generation != probe_generation_) return;
        if (state == Connection::State::ready) {
          probe_->send({"CLUSTER", "SLOTS"}, [this, address, generation](core::Result<ReplyPtr> r) {
            if (generation == probe_generation_) on_slots(address, std::move(r));
          });
        } else if (state == Connection::State::disconnected) {
          // Not from inside the connection's own failure handling: the kick moves on.
          last_error_ = std::string(why);
          probe_failed_ = true;
          uv_timer_start(&kick_, on_kick, 0, 0);
        }
      });
  probe_->start();
}

void ClusterClient::on_kick(uv_timer_t* timer) {
  auto* self = static_cast<ClusterClient*>(timer->data);
  if (!self->probe_failed_ || !self->refreshing_) return;
  self->probe_failed_ = false;
  ++self->probe_generation_;
  self->close_probe();
  self->next_candidate();
}

// The probe is closed, and deleted once libuv is done with it.
void ClusterClient::close_probe() {
  if (!probe_) return;
  Connection* raw = probe_.release();
  if (closing_) ++pending_closes_;
  raw->close([this, raw] {
    delete raw;  // the last thing Connection does is to run this
    if (closing_) one_closed();
  });
}

void ClusterClient::on_slots(const config::HostPort& asked, core::Result<ReplyPtr> r) {
  if (closing_) return;
  if (!r) {
    last_error_ = "CLUSTER SLOTS from " + asked.to_string() + ": " + r.error().message;
    ++probe_generation_;
    close_probe();
    return next_candidate();
  }
  auto map = parse_cluster_slots(**r, asked);
  ++probe_generation_;
  close_probe();
  if (!map) {
    last_error_ = map.error().message + " (from " + asked.to_string() + ")";
    return next_candidate();
  }
  refreshing_ = false;
  apply(*map);
}

void ClusterClient::refresh_failed() {
  refreshing_ = false;
  refresh_wanted_ = true;  // the tick tries again after the interval
  if (refresh_failing_) return;
  refresh_failing_ = true;  // logged once per outage, not every 100 ms
  log_.warn("redis_cluster_map_unavailable", {{"error", last_error_}});
}

void ClusterClient::apply(const SlotMap& map) {
  std::vector<std::uint16_t> index;
  for (const auto& m : map.masters)
    index.push_back(node_index(m));
  for (Node& n : nodes_)
    n.master = n.replica = false;
  for (std::uint16_t i : index) {
    if (i != kNoNode) nodes_[i].master = true;
  }
  for (const auto& r : map.replicas) {
    const std::uint16_t i = node_index(r);
    if (i != kNoNode && !nodes_[i].master) nodes_[i].replica = true;
  }
  std::array<std::uint16_t, kSlotCount> next;
  for (std::size_t s = 0; s < kSlotCount; ++s)
    next[s] = map.owner[s] == SlotMap::kNoNode ? kNoNode : index[map.owner[s]];
  slots_ = next;
  map_known_ = true;
  cluster_metrics_.refreshes.inc();
  for (std::uint16_t i : index) {
    if (i != kNoNode) client_of(i);  // every master connected ahead of its first command
  }
  // The topology — masters, coverage, replicas — at info when it changes; slots moving between
  // the same masters (a reshard: thousands of them) show in the redirect counters instead.
  std::vector<std::string> masters;
  for (const auto& m : map.masters)
    masters.push_back(m.to_string());
  std::sort(masters.begin(), masters.end());
  std::string summary;
  for (const auto& m : masters)
    summary += (summary.empty() ? "" : ",") + m;
  summary += " " + std::to_string(map.covered()) + " " + std::to_string(map.replicas.size());
  if (summary != topology_ || refresh_failing_) {
    topology_ = summary;
    std::string list;
    for (const auto& m : masters)
      list += (list.empty() ? "" : ",") + m;
    log_.info("redis_cluster_map", {{"masters", list},
                                    {"slots", static_cast<std::uint64_t>(map.covered())},
                                    {"replicas", static_cast<std::uint64_t>(map.replicas.size())}});
  }
  refresh_failing_ = false;
  tick();
}

// A MOVED is the cluster's word on one slot: taken at once, the full map follows.
void ClusterClient::moved(std::uint16_t slot, const config::HostPort& to) {
  const std::uint16_t node = node_index(to);
  if (node == kNoNode) return;
  nodes_[node].master = true;
  nodes_[node].replica = false;
  slots_[slot] = node;
}

void ClusterClient::on_tick(uv_timer_t* timer) {
  static_cast<ClusterClient*>(timer->data)->tick();
}

// Housekeeping: Clients of nodes that are no masters and cannot connect are closed (a removed
// or dead node would otherwise be dialled forever), and while any master is unreachable the
// map is read again (it may have failed over).
void ClusterClient::tick() {
  if (closing_) return;
  for (Node& n : nodes_) {
    if (n.client && !n.master && !n.client->ready()) retire(n);
  }
  retired_.remove_if([](const Retired& r) { return r.closed; });
  for (const Node& n : nodes_) {
    if (n.master && n.client && !n.client->ready() && !n.client->last_error().empty()) {
      // Why the cluster is not ready, for whoever asks (rlctl prints it).
      last_error_ = "master " + n.address.to_string() + ": " + n.client->last_error();
    }
  }
  if (!ready()) refresh_wanted_ = true;
  if (refresh_wanted_ && !refreshing_ &&
      Connection::fresh_now() - last_refresh_ >= kRefreshInterval) {
    start_refresh();
  }
}

void ClusterClient::retire(Node& node) {
  Retired& r = retired_.emplace_back();
  r.client = std::move(node.client);
  Retired* raw = &r;
  log_.info("redis_cluster_node_retired", {{"node", node.address.to_string()}});
  raw->client->close([this, raw] {
    raw->closed = true;  // destroyed at the next tick, outside its own callbacks
    if (closing_) one_closed();
  });
}

}  // namespace rl::redis
