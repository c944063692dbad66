// ClusterClient: a Redis Cluster as Commands. It reads the slot map with CLUSTER SLOTS from any
// node it can reach (seeds, masters, replicas), keeps one Client (N pipelined connections,
// scripts loaded, NOSCRIPT handled) per master, and sends each command to the master of its
// key's slot: a CRC16 and a table lookup. MOVED updates that slot at once and retries on the
// new master (and refreshes the whole map, at most one refresh in flight, rate-limited); ASK
// sends ASKING and the command back to back on one connection of the target, without touching
// the map; TRYAGAIN and CLUSTERDOWN are retried after a short, growing wait while the call's
// deadline allows; at most kMaxRedirects of these per call. A node that fails or times out gets
// the map read again (a failed-over master is found through the others), every 100 ms while
// any master is unreachable. Batches are split by slot (cluster_batch.cpp), SCAN runs on every
// master. Loop-thread only; close() before destruction.
#pragma once

#include <array>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/client.h"
#include "redis/command_route.h"
#include "redis/commands.h"
#include "redis/slot_map.h"

namespace rl::redis {

struct ClusterMetrics {
  explicit ClusterMetrics(obs::Registry& registry);
  obs::Counter& moved;
  obs::Counter& ask;
  obs::Counter& tryagain;
  obs::Counter& clusterdown;
  obs::Counter& refreshes;
};

class ClusterClient final : public Commands {
 public:
  static constexpr int kMaxRedirects = 5;
  // While the map is wanted: the least time between two CLUSTER SLOTS rounds.
  static constexpr core::Millis kRefreshInterval{100};

  // `options.url` is a redis+cluster:// URL: its seeds and the credentials of every node.
  // `metrics` is shared by the per-master Clients; the cluster counters are registered in
  // `registry` (once per process: a registry returns the same counter for the same name).
  ClusterClient(uv_loop_t* loop, ConnectionOptions options, int connections, obs::Logger& log,
                ClientMetrics& metrics, obs::Registry& registry);
  ~ClusterClient() override;
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  void start() override;
  void close(std::function<void()> closed) override;
  void set_ready_listener(std::function<void()> listener) override {
    on_ready_ = std::move(listener);
  }
  bool ready() const override;
  const std::string& last_error() const override { return last_error_; }
  std::vector<config::RedisUrl> endpoints() const override;

  using Commands::command;
  void command(std::span<const std::string_view> args, Callback done) override;
  void eval(ScriptId id, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, Callback done) override;
  using Commands::batch;
  void batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) override;
  void scan(std::string pattern, std::size_t limit, ScanCallback done) override;

  // The masters of the current map, as "host:port" (for logs and tests).
  std::vector<std::string> masters() const;
  struct Call;   // a routed command or script call in progress (cluster_client.cpp)
  struct Batch;  // a batch in progress (cluster_batch.cpp)

 private:
  static constexpr std::uint16_t kNoNode = SlotMap::kNoNode;
  struct Node {
    config::HostPort address;
    std::unique_ptr<Client> client;  // masters (and nodes a MOVED named); made on demand
    bool master = false;
    bool replica = false;
    Connection::Instant created{0};  // when `client` was made
  };
  struct Retired {  // a Client closing after its node left the masters
    std::unique_ptr<Client> client;
    bool closed = false;
  };

  // Nodes and routing (cluster_client.cpp).
  std::uint16_t node_index(const config::HostPort& address);  // added if new
  Client& client_of(std::uint16_t node);                      // made and started on demand
  // Its Client was just made and is still dialling (a MOVED to a new master): worth a wait.
  bool connecting(std::uint16_t node) const;
  std::uint16_t node_of_slot(int slot);  // slot -1: keyless, any master
  std::uint16_t any_master();
  void on_node_ready();

  // Single calls (cluster_client.cpp).
  void send(std::unique_ptr<Call> call);
  // A command that got `reply` (a redirect) from `node`, followed as if command() had sent it.
  void follow(std::span<const std::string_view> args, int slot, std::uint16_t node,
              core::Result<ReplyPtr> reply, Callback done);
  void send_asking(std::unique_ptr<Call> call, std::uint16_t node);
  void on_reply(Call* call, core::Result<ReplyPtr> r);  // takes ownership of `call`
  void wait_and_send(std::unique_ptr<Call> call, core::Result<ReplyPtr> last);
  void finish(std::unique_ptr<Call> call, core::Result<ReplyPtr> r, bool repeated);

  // Lifecycle and timers (cluster_lifecycle.cpp). defer() runs `work(true)` at `at`, or
  // `work(false)` if the client closes first.
  void one_closed();
  void defer(Connection::Instant at, std::function<void(bool go)> work);
  void arm_wait_timer();
  static void on_wait_timer(uv_timer_t* timer);

  // The slot map (cluster_refresh.cpp).
  void request_refresh();
  void start_refresh();
  void next_candidate();
  void ask_node(Client* client, const config::HostPort& address);
  void open_probe(const config::HostPort& address);
  static void on_kick(uv_timer_t* timer);
  void close_probe();
  void on_slots(const config::HostPort& asked, core::Result<ReplyPtr> r);
  void refresh_failed();
  void apply(const SlotMap& map);
  void moved(std::uint16_t slot, const config::HostPort& to);
  static void on_tick(uv_timer_t* timer);
  void tick();
  void retire(Node& node);

  // Batches (cluster_batch.cpp).
  void route_segments(Batch& b);
  void send_run(const std::shared_ptr<Batch>& b, std::size_t run);
  void on_run_done(const std::shared_ptr<Batch>& b, std::size_t run,
                   std::vector<core::Result<ReplyPtr>> results);
  void retry_transaction(const std::shared_ptr<Batch>& b, std::size_t segment, int attempt);
  void step(const std::shared_ptr<Batch>& b);
  void finish_batch(const std::shared_ptr<Batch>& b);

  uv_loop_t* loop_;
  ConnectionOptions options_;  // url: the cluster URL; each node gets url_.node(address)
  int connections_;
  obs::Logger& log_;
  ClientMetrics& metrics_;
  ClusterMetrics cluster_metrics_;
  core::Millis timeout_;
  std::vector<config::HostPort> seeds_;
  std::vector<Node> nodes_;  // never shrinks: indexes stay valid
  std::array<std::uint16_t, kSlotCount> slots_;
  bool map_known_ = false;
  std::uint16_t next_master_ = 0;  // round robin for keyless commands
  std::list<Retired> retired_;
  std::string topology_;  // masters, coverage and replicas as last logged
  std::function<void()> on_ready_;
  std::string last_error_;

  // Refresh state: at most one round in flight; a round asks the candidates one at a time.
  bool refreshing_ = false;
  bool refresh_wanted_ = false;
  bool refresh_failing_ = false;
  Connection::Instant last_refresh_{0};
  std::vector<config::HostPort> candidates_;
  std::unique_ptr<Connection> probe_;  // to a node without a ready Client
  bool probe_failed_ = false;
  std::uint64_t probe_generation_ = 0;
  uv_timer_t tick_{};  // every kRefreshInterval: wanted refreshes, dead clients
  uv_timer_t kick_{};  // continues a refresh round outside a connection's callbacks
  // Calls waiting to be sent again (TRYAGAIN, CLUSTERDOWN), by when.
  std::multimap<Connection::Instant, std::function<void(bool)>> waiting_;
  uv_timer_t wait_timer_{};
  bool started_ = false;
  bool closing_ = false;
  int pending_closes_ = 0;
  std::function<void()> closed_;
};

}  // namespace rl::redis
