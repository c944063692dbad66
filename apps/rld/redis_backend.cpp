// The Redis backend: a shared store for any number of rld instances. Wires the Redis client,
// the events subscriber, the circuit breaker, RedisStore and RedisDirectory (with a local
// MemoryStore for the `local` failure policy), bootstraps an empty Redis from the tier file,
// and keeps this instance's heartbeat key alive.
#include <unistd.h>

#include "apps/rld/backend.h"
#include "breaker/circuit_breaker.h"
#include "core/version.h"
#include "redis/client.h"
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
  return o;
}

std::string instance_id() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(const BackendContext& c)
      : loop_(c.loop),
        clock_(c.clock),
        log_(c.log),
        keys_(c.config.redis.prefix),
        tiers_(c.tiers),
        decisions_(c.decisions),
        listeners_(c.listeners),
        id_(instance_id()),
        started_(std::to_string(core::to_unix_ms(c.clock.now()))),
        local_(c.clock, c.config.security.max_tracked_clients),
        file_directory_(c.clock),
        client_metrics_(c.metrics),
        store_metrics_(c.metrics),
        transitions_(c.metrics.counter("rl_redis_breaker_transitions_total",
                                       "Changes of the Redis circuit breaker's state.")),
        breaker_(
            c.clock,
            breaker::Options{c.config.redis.breaker_failures, c.config.redis.breaker_cooldown, 1},
            [this](breaker::State from, breaker::State to) { on_breaker(from, to); }),
        client_(c.loop, connection_options(c.config.redis), c.config.redis.connections, c.log,
                client_metrics_),
        store_(client_, keys_, c.clock, breaker_, local_, c.log, store_metrics_,
               store::RedisStoreOptions{c.config.redis.on_failure, c.config.redis.cache_size}),
        directory_(client_, keys_, c.clock, breaker_, c.log,
                   store::RedisDirectoryOptions{c.config.redis.cache_ttl, core::Seconds{5},
                                                c.config.redis.cache_size},
                   &file_directory_),
        subscriber_(
            c.loop, subscriber_options(c.config.redis), keys_.events(), c.log,
            [this](std::string_view message) { on_message(message); }, [this] { on_resync(); }) {
    if (auto s = file_directory_.load(tiers_); !s) {
      c.log.error("tiers_load_failed", {{"error", s.error().message}});
    }
    c.metrics.gauge_fn("rl_redis_breaker_state",
                       "Redis circuit breaker: 0 closed, 1 half-open, 2 open.", {}, [this] {
                         switch (breaker_.state()) {
                           case breaker::State::closed:
                             return 0.0;
                           case breaker::State::half_open:
                             return 1.0;
                           case breaker::State::open:
                             return 2.0;
                         }
                         return 0.0;
                       });
    c.metrics.gauge_fn("rl_store_counters", "Rate counters held in this process (fallback).", {},
                       [this] { return static_cast<double>(local_.counter_count()); });
  }

  store::Store& store() override { return store_; }
  store::Directory& directory() override { return directory_; }

  void start(std::function<void()> on_health) override {
    on_health_ = std::move(on_health);
    directory_.set_health_listener(on_health_);
    // Every new connection checks rl:schema: a Redis that came back empty is set up again.
    client_.set_ready_listener([this] { bootstrap(); });
    client_.start();
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
    if (!client_.ready()) return "not connected to Redis";
    return "";
  }

  core::Status apply_tiers(const config::TierFile& tiers) override {
    if (auto s = file_directory_.load(tiers); !s) return s;
    tiers_ = tiers;  // bootstraps an empty Redis; Redis itself is changed with rlctl
    log_.info("tier_file_not_applied",
              {{"note",
                "with the redis store the tier file only seeds an empty Redis; use rlctl "
                "or the admin API to change tiers, users and keys"}});
    return {};
  }

  void sweep() override {
    local_.sweep();
    store_.sweep();
    directory_.sweep();
  }

  void close(std::function<void()> closed) override {
    closed_ = std::move(closed);
    for (uv_timer_t* t : {&heartbeat_, &resync_, &probe_}) {
      if (t->data != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);  // started
    }
    // Leave the instance list at once rather than by TTL; then close everything.
    client_.command({"DEL", keys_.instance(id_)}, [this](core::Result<redis::ReplyPtr>) {
      pending_closes_ = 2;
      const auto one = [this] {
        if (--pending_closes_ == 0 && closed_) closed_();
      };
      client_.close(one);
      subscriber_.close(one);
    });
  }

 private:
  static redis::ConnectionOptions subscriber_options(const config::RedisConfig& r) {
    redis::ConnectionOptions o = connection_options(r);
    o.timeout = core::Millis{1000};  // SUBSCRIBE and PING, not decisions
    return o;
  }

  void bootstrap() {
    if (bootstrapping_) return;
    bootstrapping_ = true;
    directory_.bootstrap(tiers_, [this](core::Status s) {
      bootstrapping_ = false;
      if (!s) {
        log_.warn("redis_bootstrap_failed", {{"error", s.error().message}});
        return;  // tried again at the next connection or heartbeat
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
  // not-ready instances would otherwise never send any).
  void probe() {
    if (breaker_.state() == breaker::State::closed || !breaker_.allow()) return;
    client_.command({"GET", keys_.schema()}, [this](core::Result<redis::ReplyPtr> r) {
      if (store::note_outcome(breaker_, r, client_.repeated_failure()) && redis::is_nil(**r))
        bootstrap();
    });
  }

  void beat() {
    if (!bootstrapped_) {
      if (client_.ready()) bootstrap();
      return;
    }
    const std::string key = keys_.instance(id_);
    client_.batch({{"HSET", key, "version", core::kVersion, "started", started_, "listeners",
                    listeners_ ? listeners_() : "", "decisions",
                    std::to_string(decisions_ ? decisions_() : 0)},
                   {"PEXPIRE", key, std::to_string(kHeartbeatTtlMs)}},
                  [](auto) {});
    subscriber_.ping();
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
    transitions_.inc();
    const auto level = to == breaker::State::open ? obs::LogLevel::warn : obs::LogLevel::info;
    log_.log(level, "redis_breaker",
             {{"from", breaker::to_string(from)}, {"to", breaker::to_string(to)}});
    // Redis is back: the blocks made here while it was away go to Redis, where every instance,
    // rlctl and the admin API see (and can lift) them.
    if (to == breaker::State::closed && bootstrapped_) store_.resync_blocks();
  }

  uv_loop_t* loop_;
  const core::Clock& clock_;
  obs::Logger& log_;
  store::KeySpace keys_;
  config::TierFile tiers_;
  std::function<std::uint64_t()> decisions_;
  std::function<std::string()> listeners_;
  std::string id_;
  std::string started_;
  store::MemoryStore local_;
  store::MemoryDirectory file_directory_;  // the tier file: who is who while Redis is away
  redis::ClientMetrics client_metrics_;
  store::RedisStoreMetrics store_metrics_;
  obs::Counter& transitions_;
  breaker::CircuitBreaker breaker_;
  redis::Client client_;
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

std::unique_ptr<Backend> make_redis_backend(const BackendContext& context) {
  return std::make_unique<RedisBackend>(context);
}

}  // namespace rl::rld
