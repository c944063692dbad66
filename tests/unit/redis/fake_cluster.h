// FakeCluster: several FakeRedis on the test's loop acting as one Redis Cluster — masters that
// own the 16384 slots in even ranges, optional replicas, CLUSTER SLOTS answered from the
// current assignment, and the cluster's error replies on demand: MOVED for a slot a node does
// not own (also at queue time inside MULTI), ASK for a slot "migrating" to another node (which
// serves it after ASKING), TRYAGAIN and CLUSTERDOWN a given number of times. Keyed commands are
// answered "n<node>:<command>:<key>", so a test sees where each went. ClusterHarness wires it
// to a ClusterClient. Loop-thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "redis/cluster_client.h"
#include "redis/command_route.h"
#include "redis/hash_slot.h"
#include "unit/redis/harness.h"

namespace rl::test {

class FakeCluster {
 public:
  FakeCluster(uv_loop_t* loop, std::size_t masters, std::size_t replicas = 0)
      : owner(redis::kSlotCount), masters_(masters) {
    for (std::size_t i = 0; i < masters + replicas; ++i) {
      nodes.push_back(std::make_unique<FakeRedis>(loop));
      const int n = static_cast<int>(i);
      nodes.back()->set_handler([this, n](const Command& c) { return answer(n, c); });
      nodes.back()->set_queue_check([this, n](const Command& c) { return queued(n, c); });
    }
    for (std::size_t s = 0; s < owner.size(); ++s)
      owner[s] = static_cast<int>(s * masters / owner.size());
    keys.resize(nodes.size());
  }

  int port(int node) const { return nodes[static_cast<std::size_t>(node)]->port(); }
  std::string address(int node) const { return "127.0.0.1:" + std::to_string(port(node)); }
  std::string url(std::vector<int> seeds = {0}) const {
    std::string out = "redis+cluster://";
    for (std::size_t i = 0; i < seeds.size(); ++i)
      out += (i == 0 ? "" : ",") + address(seeds[i]);
    return out;
  }
  // A key whose slot node `node` owns now; the n-th such key, for several different ones.
  std::string key_on(int node, int nth = 0) const {
    for (int i = 0;; ++i) {
      std::string key = "k" + std::to_string(i);
      if (owner[redis::key_slot(key)] == node && nth-- == 0) return key;
    }
  }
  void kill(int node) {
    nodes[static_cast<std::size_t>(node)]->close();
    down.insert(node);
  }
  // Every slot of `from` to `to` (a failover: `to` was its replica).
  void promote(int from, int to) {
    for (auto& o : owner) {
      if (o == from) o = to;
    }
    if (static_cast<std::size_t>(to) >= masters_) replica_of.erase(to);
  }
  std::size_t count(int node, std::string_view name) const {
    return nodes[static_cast<std::size_t>(node)]->count(name);
  }
  std::size_t total(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& f : nodes)
      n += f->count(name);
    return n;
  }
  void close() {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (down.count(static_cast<int>(i)) == 0) nodes[i]->close();
    }
  }

  std::vector<std::unique_ptr<FakeRedis>> nodes;
  std::vector<int> owner;                 // master of each slot
  std::map<int, int> replica_of;          // replica node → its master, listed in CLUSTER SLOTS
  std::map<std::uint16_t, int> ask_to;    // slot → node it is migrating to (the owner ASKs)
  std::map<std::uint16_t, int> tryagain;  // slot → TRYAGAIN replies still to give
  int clusterdown = 0;                    // CLUSTERDOWN replies still to give
  std::set<int> noscript;                 // nodes that answer EVALSHA with NOSCRIPT
  std::set<int> down;
  std::optional<std::string> slots_override;   // a CLUSTER SLOTS reply to give instead
  std::vector<std::vector<std::string>> keys;  // per node, what SCAN finds

 private:
  std::string slots_reply() const {
    std::vector<std::string> entries;
    for (std::size_t s = 0; s < owner.size();) {
      std::size_t e = s;
      while (e + 1 < owner.size() && owner[e + 1] == owner[s])
        ++e;
      std::string entry =
          ":" + std::to_string(s) + "\r\n:" + std::to_string(e) + "\r\n" + node_entry(owner[s]);
      std::size_t parts = 3;
      for (const auto& [replica, master] : replica_of) {
        if (master != owner[s]) continue;
        entry += node_entry(replica);
        ++parts;
      }
      entries.push_back("*" + std::to_string(parts) + "\r\n" + entry);
      s = e + 1;
    }
    std::string out = "*" + std::to_string(entries.size()) + "\r\n";
    for (const auto& e : entries)
      out += e;
    return out;
  }
  std::string node_entry(int node) const {
    return "*3\r\n" + bulk("127.0.0.1") + ":" + std::to_string(port(node)) + "\r\n" +
           bulk("id" + std::to_string(node));
  }

  // The redirect or retry reply node `n` gives a command on `key`, if any.
  std::optional<std::string> redirect(int n, std::string_view key) {
    const std::uint16_t slot = redis::key_slot(key);
    if (clusterdown > 0) {
      --clusterdown;
      return "-CLUSTERDOWN The cluster is down\r\n";
    }
    if (auto t = tryagain.find(slot); t != tryagain.end() && t->second > 0) {
      --t->second;
      return "-TRYAGAIN Multiple keys request during rehashing of slot\r\n";
    }
    const auto& received = nodes[static_cast<std::size_t>(n)]->current()->received;
    const bool asking = received.size() >= 2 && received[received.size() - 2][0] == "ASKING";
    const auto ask = ask_to.find(slot);
    if (owner[slot] != n) {
      if (asking && ask != ask_to.end() && ask->second == n) return std::nullopt;
      return "-MOVED " + std::to_string(slot) + " " + address(owner[slot]) + "\r\n";
    }
    if (ask != ask_to.end()) {
      return "-ASK " + std::to_string(slot) + " " + address(ask->second) + "\r\n";
    }
    return std::nullopt;
  }

  static std::optional<std::string_view> key_of(const Command& c) {
    std::vector<std::string_view> args(c.begin(), c.end());
    return redis::routing_key(args);  // a view into `c` itself
  }

  std::optional<std::string> queued(int n, const Command& c) {
    const auto key = key_of(c);
    return key ? redirect(n, *key) : std::nullopt;
  }

  std::optional<std::string> answer(int n, const Command& c) {
    if (c[0] == "CLUSTER" && c.size() > 1 && c[1] == "SLOTS") {
      return slots_override ? *slots_override : slots_reply();
    }
    if (c[0] == "SCAN") {
      std::string out = "*2\r\n" + bulk("0") + "*" +
                        std::to_string(keys[static_cast<std::size_t>(n)].size()) + "\r\n";
      for (const auto& k : keys[static_cast<std::size_t>(n)])
        out += bulk(k);
      return out;
    }
    if (c[0] == "PUBLISH") return ":1\r\n";
    const auto key = key_of(c);
    if (!key) return std::nullopt;
    if (auto r = redirect(n, *key)) return r;
    if (c[0] == "EVALSHA" && noscript.count(n) > 0) return "-NOSCRIPT No matching script.\r\n";
    return bulk("n" + std::to_string(n) + ":" + c[0] + ":" + std::string(*key));
  }

  std::size_t masters_;
};

// A Harness with a FakeCluster and a ClusterClient on it.
struct ClusterHarness : Harness {
  explicit ClusterHarness(std::size_t masters, std::size_t replicas = 0)
      : cluster(&loop, masters, replicas) {}
  ~ClusterHarness() {
    if (cluster_client) {
      bool closed = false;
      cluster_client->close([&closed] { closed = true; });
      run_until([&] { return closed; });
      CHECK(closed);
    }
    cluster.close();
  }

  redis::ConnectionOptions cluster_options(std::vector<int> seeds = {0},
                                           std::chrono::milliseconds timeout = 1000ms) const {
    return options(timeout, cluster.url(std::move(seeds)));
  }
  redis::ClusterClient& make_cluster_client(redis::ConnectionOptions o, bool wait = true) {
    cluster_client =
        std::make_unique<redis::ClusterClient>(&loop, std::move(o), 1, log, metrics, registry);
    cluster_client->start();
    if (!wait) return *cluster_client;
    REQUIRE(run_until([&] { return cluster_client->ready(); }));
    // The scripts loaded on each master's connection, and their replies read.
    const std::size_t masters = cluster_client->masters().size();
    REQUIRE(run_until(
        [&] { return cluster.total("SCRIPT") >= masters * redis::all_scripts().size(); }));
    run_for(20ms);
    return *cluster_client;
  }
  std::uint64_t counter(std::string_view series) const {
    // The rendered metrics: "<series> <value>" on one line.
    const std::string text = "\n" + registry.render();
    const auto at = text.find("\n" + std::string(series) + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + series.size() + 2));
  }

  FakeCluster cluster;
  std::unique_ptr<redis::ClusterClient> cluster_client;
};

}  // namespace rl::test
