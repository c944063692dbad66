// The Redis backend: a shared store for any number of rld instances. Each worker wires its own
// Redis client, events subscriber, circuit breaker, RedisStore and RedisDirectory; the process
// shares the local MemoryStore of the `local` failure policy (so fallback limits are exact
// across workers) and the tier file, which bootstraps an empty Redis. Worker 0 keeps this
// instance's heartbeat key alive.
#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <unistd.h>

#include "apps/rld/backend.h"
#include "breaker/circuit_breaker.h"
#include "core/version.h"
#include "redis/factory.h"
#include "redis/subscriber.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"
#include "store/redis_directory.h"
#include "store/redis_errors.h"
#include "store/redis_store.h"

namespace rl::rld {
namespace {

constexpr std::uint64_t kHeartbeatMs = 5000;
constexpr std::int64_t kHeartbeatTtlMs = 15000;
constexpr std::uint64_t kBlockResyncMs = 30000;
constexpr std::uint64_t kProbeMs = 250;

redis::ConnectionOptions connection_options(const config::RedisConfig& r) {
  redis::ConnectionOptions o;
  o.url = *config::RedisUrl::parse(r.url);  // validated with the configuration
  o.timeout = r.timeout;
  o.connect_timeout = r.connect_timeout;
  o.stall_timeout = std::max(core::Millis{1000}, r.timeout * 20);
  // Every decision writes: a replica is no endpoint for rld (a cluster routes by itself).
  o.require_master = !o.url.cluster;
  return o;
}

std::string instance_id() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

// What the workers share: the fallback store, the tier file, and each worker's breaker state.
class SharedRedis final : public SharedBackend {
 public:
  explicit SharedRedis(const BackendContext& c)
      : config_(c.config),
        clock_(c.clock),
        log_(c.log),
        metrics_(c.metrics),
        decisions_(c.decisions),
        listeners_(c.listeners),
        id_(instance_id()),
        started_(std::to_string(core::to_unix_ms(c.clock.now()))),
        local_(c.clock, c.config.security.max_tracked_clients),
        file_directory_(c.clock),
        tiers_(c.tiers),
        client_metrics_(c.metrics),
        store_metrics_(c.metrics) {
    for (auto s : {breaker::State::closed, breaker::State::half_open, breaker::State::open}) {
      transitions_[static_cast<std::size_t>(s)] = &c.metrics.counter(
          "rl_redis_breaker_transitions_total",
          "Changes of the Redis circuit breaker's state (summed over the workers), by the "
          "state entered.",
          {{"to", breaker::to_string(s)}});
    }
    c.metrics.counter_fn("rl_store_evicted_clients_total",
                         "Clients evicted from a full attempt or block table (the local "
                         "fallback store's), since start.",
                         {}, [this] { return static_cast<double>(local_.evicted_clients()); });
    if (auto s = file_directory_.load(tiers_); !s) {
      c.log.error("tiers_load_failed", {{"error", s.error().message}});
    }
    for (auto& b : breakers_)
      b.store(0, std::memory_order_relaxed);
    c.metrics.gauge_fn("rl_redis_breaker_state",
                       "Redis circuit breaker, the worst over the workers: 0 closed, 1 "
                       "half-open, 2 open.",
                       {}, [this] {
                         int worst = 0;
                         for (const auto& b : breakers_)
                           worst = std::max(worst, b.load(std::memory_order_relaxed));
                         return static_cast<double>(worst);
                       });
    c.metrics.gauge_fn("rl_store_counters", "Rate counters held in this process (fallback).", {},
                       [this] { return static_cast<double>(local_.counter_count()); });
  }

  std::unique_ptr<Backend> make_worker(const WorkerContext& context) override;

  core::Status apply_tiers(const config::TierFile& tiers) override {
    if (auto s = file_directory_.load(tiers); !s) return s;
    {
      std::lock_guard lock(mutex_);
      tiers_ = tiers;  // bootstraps an empty Redis; Redis itself is changed with rlctl
    }
    log_.info("tier_file_not_applied",
              {{"note",
                "with the redis store the tier file only seeds an empty Redis; use rlctl "
                "or the admin API to change tiers, users and keys"}});
    return {};
  }

  void sweep() override { local_.sweep(); }

  config::TierFile tiers() const {
    std::lock_guard lock(mutex_);
    return tiers_;
  }
  void set_breaker(int worker, breaker::State state) {
    const int level = state == breaker::State::open        ? 2
                      : state == breaker::State::half_open ? 1
                                                           : 0;
    breakers_[static_cast<std::size_t>(worker) % breakers_.size()].store(level,
                                                                         std::memory_order_relaxed);
  }

  const config::DaemonConfig config_;
  const core::Clock& clock_;
  obs::Logger& log_;
  obs::Registry& metrics_;
  std::function<std::uint64_t()> decisions_;
  std::function<std::string()> listeners_;
  const std::string id_;
  const std::string started_;
  store::MemoryStore local_;
  store::MemoryDirectory file_directory_;  // the tier file: who is who while Redis is away

 private:
  mutable std::mutex mutex_;
  config::TierFile tiers_;

 public:
  redis::ClientMetrics client_metrics_;
  store::RedisStoreMetrics store_metrics_;
  std::array<obs::Counter*, 3> transitions_{};  // by breaker::State entered
  std::array<std::atomic<int>, config::kMaxWorkers> breakers_{};
};

class RedisBackend final : public Backend {
 public:
  RedisBackend(SharedRedis& shared, const WorkerContext& w)
      : shared_(shared),
        loop_(w.loop),
        index_(w.index),
        log_(shared.log_),
        keys_(shared.config_.redis.prefix),
        breaker_(shared.clock_,
                 breaker::Options{shared.config_.redis.breaker_failures,
                                  shared.config_.redis.breaker_cooldown, 1},
                 [this](breaker::State from, breaker::State to) { on_breaker(from, to); }),
        client_(redis::make_commands(w.loop, connection_options(shared.config_.redis),
                                     shared.config_.redis.connections, shared.log_,
                                     shared.client_metrics_, shared.metrics_)),
        store_(*client_, keys_, shared.clock_, breaker_, shared.local_, shared.log_,
               shared.store_metrics_,
               store::RedisStoreOptions{shared.config_.redis.on_failure,
                                        shared.config_.redis.cache_size}),
        directory_(*client_, keys_, shared.clock_, breaker_, shared.log_,
                   store::RedisDirectoryOptions{shared.config_.redis.cache_ttl, core::Seconds{5},
                                                shared.config_.redis.cache_size},
                   &shared.file_directory_),
        subscriber_(
            w.loop, subscriber_options(shared.config_.redis), keys_.events(), shared.log_,
            [this](std::string_view message) { on_message(message); }, [this] { on_resync(); }) {
    // In a Redis Cluster, events reach every node: the subscriber goes round all of them.
    subscriber_.set_endpoints([this] { return client_->endpoints(); });
  }

  store::Store& store() override { return store_; }
  store::Directory& directory() override { return directory_; }

  void start(std::function<void()> on_health) override {
    on_health_ = std::move(on_health);
    directory_.set_health_listener(on_health_);
    // Every new connection checks rl:schema: a Redis that came back empty is set up again.
    client_->set_ready_listener([this] { bootstrap(); });
    client_->start();
    subscriber_.start();
    uv_timer_init(loop_, &heartbeat_);
    heartbeat_.data = this;
    uv_timer_start(
        &heartbeat_, [](uv_timer_t* t) { static_cast<RedisBackend*>(t->data)->beat(); },
        kHeartbeatMs, kHeartbeatMs);
    uv_unref(reinterpret_cast<uv_handle_t*>(&heartbeat_));
    uv_timer_init(loop_, &resync_);
    resync_.data = this;
    uv_timer_start(
        &resync_,
        [](uv_timer_t* t) { static_cast<RedisBackend*>(t->data)->store_.resync_blocks(); },
        kBlockResyncMs, kBlockResyncMs);
    uv_unref(reinterpret_cast<uv_handle_t*>(&resync_));
    uv_timer_init(loop_, &probe_);
    probe_.data = this;
    uv_timer_start(
        &probe_, [](uv_timer_t* t) { static_cast<RedisBackend*>(t->data)->probe(); }, kProbeMs,
        kProbeMs);
    uv_unref(reinterpret_cast<uv_handle_t*>(&probe_));
  }

  std::string not_ready() const override {
    if (!bootstrapped_) return "connecting to Redis";
    if (breaker_.state() != breaker::State::closed)
      return "Redis is failing (circuit breaker open)";
    if (!client_->ready()) return "not connected to Redis";
    return "";
  }

  void sweep() override {
    store_.sweep();
    directory_.sweep();
  }

  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    for (uv_timer_t* t : {&heartbeat_, &resync_, &probe_}) {
      if (t->data != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);  // started
    }
    const auto close_all = [this] {
      pending_closes_ = 2;
      const auto one = [this] {
        if (--pending_closes_ == 0 && closed_) closed_();
      };
      client_->close(one);
      subscriber_.close(one);
    };
    if (index_ != 0) return close_all();
    // Leave the instance list at once rather than by TTL; then close everything.
    client_->command({"DEL", keys_.instance(shared_.id_)},
                     [close_all](core::Result<redis::ReplyPtr>) { close_all(); });
  }

 private:
  static redis::ConnectionOptions subscriber_options(const config::RedisConfig& r) {
    redis::ConnectionOptions o = connection_options(r);
    o.timeout = core::Millis{1000};  // SUBSCRIBE and PING, not decisions
    o.require_master = false;        // a replica relays what the master publishes
    return o;
  }

  void bootstrap() {
    if (bootstrapping_) return;
    bootstrapping_ = true;
    directory_.bootstrap(shared_.tiers(), [this](core::Status s) {
      bootstrapping_ = false;
      if (!s) {
        log_.warn("redis_bootstrap_failed", {{"error", s.error().message}});
        return;  // tried again by probe() and at the next connection
      }
      const bool first = !bootstrapped_;
      bootstrapped_ = true;
      store_.resync_blocks();  // a new connection: blocks made here meanwhile go to Redis
      if (first) beat();
      if (on_health_) on_health_();
    });
  }

  // While the breaker is not closed and no decision comes to try Redis, probe it ourselves, so
  // readiness returns once Redis answers even without traffic (a load balancer that skips
  // not-ready instances would otherwise never send any). The probe asks what a decision needs,
  // that Redis runs a script that may write, without writing anything: Redis 7 refuses a
  // script with a shebang and no `no-writes` flag under OOM, on a replica and during CLIENT
  // PAUSE WRITE, before it runs. (An older Redis cannot compile it: an error reply, which
  // still proves Redis there.) Then an empty Redis is set up again.
  // A bootstrap that failed (its few-millisecond deadlines missed on a busy host) is tried
  // again here too, rather than only at the next heartbeat, 5 s later.
  void probe() {
    if (!bootstrapped_) {
      if (client_->ready()) bootstrap();
      return;
    }
    if (breaker_.state() == breaker::State::closed || !breaker_.allow()) return;
    client_->command({"EVAL", "#!lua\nreturn 1", "0"}, [this](core::Result<redis::ReplyPtr> r) {
      if (!store::note_outcome(breaker_, r, client_->repeated_failure())) return;
      client_->command({"GET", keys_.schema()}, [this](core::Result<redis::ReplyPtr> schema) {
        if (schema && redis::is_nil(**schema)) bootstrap();
      });
    });
  }

  void beat() {
    if (!bootstrapped_) return;  // probe() sets Redis up first
    subscriber_.ping();
    if (index_ != 0) return;  // one heartbeat per instance, not per worker
    const std::string key = keys_.instance(shared_.id_);
    client_->batch({{"HSET", key, "version", core::kVersion, "started", shared_.started_,
                     "listeners", shared_.listeners_ ? shared_.listeners_() : "", "decisions",
                     std::to_string(shared_.decisions_ ? shared_.decisions_() : 0)},
                    {"PEXPIRE", key, std::to_string(kHeartbeatTtlMs)}},
                   [](auto) {});
  }

  void on_message(std::string_view message) {
    const auto event = store::parse_event(message);
    if (!event) return;
    if (event->kind == store::EventKind::block) return store_.on_block_event(event->subject);
    directory_.on_event(*event);
  }

  void on_resync() {
    directory_.resync();
    if (bootstrapped_) store_.resync_blocks();
  }

  void on_breaker(breaker::State from, breaker::State to) {
    shared_.transitions_[static_cast<std::size_t>(to)]->inc();
    shared_.set_breaker(index_, to);
    const auto level = to == breaker::State::open ? obs::LogLevel::warn : obs::LogLevel::info;
    log_.log(level, "redis_breaker",
             {{"from", breaker::to_string(from)}, {"to", breaker::to_string(to)}});
    // Redis is back: the blocks made here while it was away go to Redis, where every instance,
    // rlctl and the admin API see (and can lift) them.
    if (to == breaker::State::closed && bootstrapped_) store_.resync_blocks();
  }

  SharedRedis& shared_;
  uv_loop_t* loop_;
  int index_;
  obs::Logger& log_;
  store::KeySpace keys_;
  breaker::CircuitBreaker breaker_;
  std::unique_ptr<redis::Commands> client_;
  store::RedisStore store_;
  store::RedisDirectory directory_;
  redis::Subscriber subscriber_;
  uv_timer_t heartbeat_{};
  uv_timer_t resync_{};
  uv_timer_t probe_{};
  bool bootstrapped_ = false;
  bool bootstrapping_ = false;
  std::function<void()> on_health_;
  std::function<void()> closed_;
  int pending_closes_ = 0;
};

}  // namespace

std::unique_ptr<Backend> SharedRedis::make_worker(const WorkerContext& context) {
  return std::make_unique<RedisBackend>(*this, context);
}

std::unique_ptr<SharedBackend> make_redis_backend(const BackendContext& context) {
  return std::make_unique<SharedRedis>(context);
}

}  // namespace rl::rld
