// Daemon: start-up, the signal handlers, reload and graceful shutdown, driving the workers.
#include "apps/rld/daemon.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "apps/rld/backend.h"
#include "apps/rld/descriptor_limit.h"
#include "apps/rld/mailbox.h"
#include "apps/rld/service_manager.h"
#include "apps/rld/service_notifier.h"
#include "apps/rld/worker.h"
#include "core/version.h"
#include "http/listeners.h"

namespace rl::rld {
namespace {

constexpr std::uint64_t kSharedSweepMs = 5000;

// What a reload cannot change without a restart.
std::string restart_only_changes(const config::DaemonConfig& a, const config::DaemonConfig& b) {
  std::string changed;
  const auto note = [&](bool differs, const char* key) {
    if (differs) changed += (changed.empty() ? "" : ", ") + std::string(key);
  };
  note(a.server.listen != b.server.listen, "server.listen");
  note(a.server.workers != b.server.workers, "server.workers");
  note(a.server.unix_socket_mode != b.server.unix_socket_mode, "server.unix_socket_mode");
  note(a.server.unix_socket_gid != b.server.unix_socket_gid, "server.unix_socket_group");
  note(a.store.kind != b.store.kind, "store.type");
  // The Redis client, breaker and caches are built once at start: all of [redis].
  const config::RedisConfig &ra = a.redis, &rb = b.redis;
  note(ra.url != rb.url, "redis.url");
  note(ra.timeout != rb.timeout, "redis.timeout_ms");
  note(ra.connect_timeout != rb.connect_timeout, "redis.connect_timeout_ms");
  note(ra.connections != rb.connections, "redis.connections");
  note(ra.on_failure != rb.on_failure, "redis.on_failure");
  note(ra.prefix != rb.prefix, "redis.prefix");
  note(ra.breaker_failures != rb.breaker_failures, "redis.breaker_failures");
  note(ra.breaker_cooldown != rb.breaker_cooldown, "redis.breaker_cooldown_ms");
  note(ra.cache_ttl != rb.cache_ttl, "redis.cache_ttl_seconds");
  note(ra.cache_size != rb.cache_size, "redis.cache_size");
  note(a.security.max_tracked_clients != b.security.max_tracked_clients,
       "security.max_tracked_clients");
  return changed;
}

void keep_restart_only(const config::DaemonConfig& running, config::DaemonConfig& fresh) {
  fresh.server.listen = running.server.listen;
  fresh.server.workers = running.server.workers;
  fresh.server.unix_socket_mode = running.server.unix_socket_mode;
  fresh.server.unix_socket_group = running.server.unix_socket_group;
  fresh.server.unix_socket_gid = running.server.unix_socket_gid;
  fresh.store.kind = running.store.kind;
  fresh.redis = running.redis;
  fresh.security.max_tracked_clients = running.security.max_tracked_clients;
}

}  // namespace

core::Result<config::TierFile> load_tiers(const config::DaemonConfig& c) {
  if (c.store.tiers_file.empty()) return config::TierFile{};
  std::error_code ec;
  if (!c.store.tiers_file_required && !std::filesystem::exists(c.store.tiers_file, ec)) {
    return config::TierFile{};
  }
  return config::load_tier_file(c.store.tiers_file);
}

struct Daemon::Parts {
  Parts(uv_loop_t* loop, obs::Logger& log)
      : shared(log), mailbox(loop), notifier(loop, service_manager, log) {
    shared.metrics.gauge_fn("rl_build_info", "Build version and git revision.",
                            {{"version", core::kVersion}, {"revision", core::kGitRevision}},
                            [] { return 1.0; });
    const double started = static_cast<double>(core::to_unix_ms(shared.clock.now())) / 1000.0;
    shared.metrics.gauge_fn("rl_start_time_seconds", "When this rld started, in Unix seconds.", {},
                            [started] { return started; });
  }

  // The one place that picks the store implementation.
  std::unique_ptr<SharedBackend> make_backend(const config::DaemonConfig& c,
                                              const config::TierFile& tiers) {
    BackendContext context{c,
                           tiers,
                           shared.clock,
                           shared.log,
                           shared.metrics,
                           [this] { return shared.server_metrics.requests.value(); },
                           [this] {
                             std::string out;
                             for (const auto& a : listeners.bound())
                               out += (out.empty() ? "" : ",") + a;
                             return out;
                           }};
    return c.store.kind == config::StoreKind::redis ? make_redis_backend(context)
                                                    : make_memory_backend(context);
  }

  // Calls `turned` on the main thread once every worker's loop ran a job posted now.
  void round_trip(std::function<void()> turned) {
    auto left = std::make_shared<std::size_t>(workers.size());
    for (auto& w : workers) {
      w->post([this, left, turned] {
        mailbox.post([left, turned] {
          if (--*left == 0) turned();
        });
      });
    }
  }

  Shared shared;
  Mailbox mailbox;                 // jobs from the workers to the main thread
  ServiceManager service_manager;  // before anything starts a thread: it reads LISTEN_FDS
  ServiceNotifier notifier;
  http::Listeners listeners;
  std::unique_ptr<SharedBackend> backend;
  std::vector<std::unique_ptr<Worker>> workers;
  obs::Counter* reloads_ok = nullptr;
  obs::Counter* reloads_failed = nullptr;
  uv_signal_t sigterm{}, sigint{}, sighup{};
  uv_timer_t sweep{}, drain_deadline{};
};

Daemon::Daemon(Startup startup, config::DaemonConfig config, config::TierFile tiers,
               obs::Logger& log)
    : startup_(std::move(startup)),
      config_(std::move(config)),
      tiers_(std::move(tiers)),
      log_(log) {
  uv_loop_init(&loop_);
  parts_ = std::make_unique<Parts>(&loop_, log_);
  Parts& p = *parts_;
  p.reloads_ok = &p.shared.metrics.counter(
      "rl_config_reloads_total", "Configuration reloads by result.", {{"result", "success"}});
  p.reloads_failed = &p.shared.metrics.counter(
      "rl_config_reloads_total", "Configuration reloads by result.", {{"result", "failure"}});
}

Daemon::~Daemon() {
  Parts& p = *parts_;
  p.workers.clear();  // each joins its thread, or closes what it never started
  for (auto* h :
       {reinterpret_cast<uv_handle_t*>(&p.sigterm), reinterpret_cast<uv_handle_t*>(&p.sigint),
        reinterpret_cast<uv_handle_t*>(&p.sighup), reinterpret_cast<uv_handle_t*>(&p.sweep),
        reinterpret_cast<uv_handle_t*>(&p.drain_deadline)}) {
    if (h->data != nullptr && !uv_is_closing(h)) uv_close(h, nullptr);  // initialised ones
  }
  p.notifier.close();
  p.mailbox.close();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks run
  parts_.reset();
  uv_loop_close(&loop_);
}

int Daemon::run() {
  Parts& p = *parts_;
  const int n = config_.server.workers;
  log_.info("start", {{"version", core::kVersion},
                      {"revision", core::kGitRevision},
                      {"config", config_.source},
                      {"store", config::to_string(config_.store.kind)},
                      {"tiers_file", config_.store.tiers_file},
                      {"workers", n},
                      {"pid", static_cast<std::int64_t>(getpid())}});
  fit_descriptor_limit(config_, log_);
  if (auto s = open_listeners(); !s) {
    log_.error("listen_failed", {{"error", s.error().message}});
    return 1;
  }

  auto settings = service::ServiceSettings::from(config_, tiers_.tiers);
  if (const auto& reason = settings->admin_disabled_reason; !reason.empty()) {
    log_.warn("admin_api_disabled", {{"reason", reason}});
  }
  p.backend = p.make_backend(config_, tiers_);
  tiers_ = {};  // the backend has what it needs
  for (int i = 0; i < n; ++i)
    p.shared.worker_ready.push_back(std::make_unique<std::atomic<bool>>(false));
  p.shared.health_changed = [this](int origin) {
    for (auto& w : parts_->workers) {
      Worker* worker = w.get();
      if (worker->index() != origin) worker->post([worker] { worker->refresh_health(); });
    }
  };
  for (int i = 0; i < n; ++i) {
    p.workers.push_back(std::make_unique<Worker>(i, p.shared, *p.backend, config_, settings));
    auto sockets = p.listeners.take(i);
    core::Status s = sockets ? p.workers.back()->serve(std::move(*sockets)) : sockets.error();
    if (!s) {
      log_.error("listen_failed", {{"error", s.error().message}});
      return 1;
    }
  }
  p.listeners.release();  // every worker has its own descriptors now
  for (const auto& address : p.listeners.bound())
    log_.info("listening", {{"address", address}, {"source", inherited_ ? "systemd" : "config"}});

  for (auto* sig : {&p.sigterm, &p.sigint, &p.sighup}) {
    uv_signal_init(&loop_, sig);
    sig->data = this;
  }
  uv_signal_start(&p.sigterm, on_signal, SIGTERM);
  uv_signal_start(&p.sigint, on_signal, SIGINT);
  uv_signal_start(&p.sighup, on_signal, SIGHUP);
  uv_timer_init(&loop_, &p.sweep);
  p.sweep.data = this;
  uv_timer_start(
      &p.sweep, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->parts_->backend->sweep(); },
      kSharedSweepMs, kSharedSweepMs);
  uv_timer_init(&loop_, &p.drain_deadline);
  p.drain_deadline.data = this;

  for (auto& w : p.workers)
    w->start();
  log_.info("ready",
            {{"addresses", static_cast<std::int64_t>(p.listeners.bound().size())}, {"workers", n}});
  p.notifier.start([&p] { return unready_worker(p.shared); },
                   [&p](std::function<void()> turned) { p.round_trip(std::move(turned)); },
                   "serving " + std::to_string(p.listeners.bound().size()) + " listeners with " +
                       std::to_string(n) + " workers, " +
                       std::string(config::to_string(config_.store.kind)) + " store");
  if (isatty(STDERR_FILENO) != 0) {
    std::string where;
    for (const auto& a : p.listeners.bound())
      where += (where.empty() ? "" : ", ") + a;
    std::fprintf(
        stderr,
        "\nrld is listening on %s\ntry: curl -i -H 'X-API-Key: demo_free_key_123' "
        "http://%s/test\n\n",
        where.c_str(),
        p.listeners.bound().empty() ? "127.0.0.1:8000" : p.listeners.bound().front().c_str());
  }
  uv_run(&loop_, UV_RUN_DEFAULT);  // until finish_shutdown() closed the main loop's handles
  for (auto& w : p.workers)
    w->join();
  log_.info("stopped", {});
  return 0;
}

void Daemon::on_signal(uv_signal_t* handle, int signum) {
  auto* d = static_cast<Daemon*>(handle->data);
  if (signum == SIGHUP) return d->reload();
  d->begin_shutdown(signum);
}

void Daemon::close_connections() {
  for (auto& w : parts_->workers) {
    Worker* worker = w.get();
    worker->post([worker] { worker->close_connections(); });
  }
}

void Daemon::begin_shutdown(int signum) {
  Parts& p = *parts_;
  if (draining_) {
    log_.warn("shutdown_forced", {{"signal", signum}});
    close_connections();
    return;
  }
  draining_ = true;
  p.notifier.stopping();
  p.shared.draining.store(true, std::memory_order_relaxed);
  p.listeners.unlink_paths();  // no new client finds the Unix socket
  log_.info("shutdown",
            {{"signal", signum}, {"connections", p.shared.server_metrics.open.value()}});
  uv_timer_start(
      &p.drain_deadline,
      [](uv_timer_t* t) {
        auto* d = static_cast<Daemon*>(t->data);
        d->log_.warn("drain_timeout",
                     {{"connections", d->parts_->shared.server_metrics.open.value()}});
        d->close_connections();
      },
      static_cast<std::uint64_t>(config_.server.drain_timeout.count()), 0);
  for (auto& w : p.workers) {
    Worker* worker = w.get();
    worker->post([this, worker] {
      worker->drain([this] { parts_->mailbox.post([this] { on_worker_drained(); }); });
    });
  }
}

void Daemon::on_worker_drained() {
  if (++workers_drained_ == static_cast<int>(parts_->workers.size())) finish_shutdown();
}

void Daemon::finish_shutdown() {
  Parts& p = *parts_;
  for (auto& w : p.workers) {
    Worker* worker = w.get();
    worker->post([worker] { worker->finish(); });
  }
  for (auto* h :
       {reinterpret_cast<uv_handle_t*>(&p.sigterm), reinterpret_cast<uv_handle_t*>(&p.sigint),
        reinterpret_cast<uv_handle_t*>(&p.sighup), reinterpret_cast<uv_handle_t*>(&p.sweep),
        reinterpret_cast<uv_handle_t*>(&p.drain_deadline)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
  p.notifier.close();
  p.mailbox.close();  // the main loop ends; run() then waits for the workers' threads
}

void Daemon::reload() {
  Parts& p = *parts_;
  log_.info("reload_started", {{"config", startup_.config_path}});
  p.notifier.reloading();
  core::Status s;
  try {  // nothing may escape the signal callback; a failed reload keeps what runs
    s = apply_reload();
  } catch (const std::exception& e) {
    s = core::make_error(core::Errc::internal, e.what());
  }
  if (s) {
    p.reloads_ok->inc();
    p.notifier.reloaded("configuration reloaded");
  } else {
    p.reloads_failed->inc();
    log_.error("reload_failed", {{"error", s.error().message}, {"kept", "running configuration"}});
    p.notifier.reloaded("reload failed, running configuration kept: " + s.error().message);
  }
}

// The configured addresses, or the sockets systemd passed: those replace `server.listen`, and
// the config then names them (the admin API's loopback check looks at what is served).
core::Status Daemon::open_listeners() {
  Parts& p = *parts_;
  const auto& inherited = p.service_manager.inherited_sockets();
  if (inherited.empty()) {
    auto l = http::Listeners::open(config_.server.listen, config_.server.workers,
                                   config_.server.unix_socket_mode, config_.server.unix_socket_gid);
    if (!l) return l.error();
    p.listeners = std::move(*l);
    return {};
  }
  auto l = http::Listeners::inherit(inherited);
  if (!l) return l.error();
  p.listeners = std::move(*l);
  inherited_ = true;
  config_.server.listen.clear();
  for (const auto& bound : p.listeners.bound()) {
    auto address = config::ListenAddress::parse(bound);
    if (!address) return address.error();
    config_.server.listen.push_back(std::move(*address));
  }
  return {};
}

core::Status Daemon::apply_reload() {
  Parts& p = *parts_;
  auto fresh = config::load_daemon_config(startup_.config_path, startup_.env, startup_.overrides);
  if (!fresh) return fresh.error();
  if (inherited_) fresh->server.listen = config_.server.listen;  // systemd's sockets stay
  auto tiers = load_tiers(*fresh);
  if (!tiers) return tiers.error();
  if (auto loaded = p.backend->apply_tiers(*tiers); !loaded) return loaded.error();
  if (const std::string changed = restart_only_changes(config_, *fresh); !changed.empty()) {
    log_.warn("restart_required",
              {{"keys", changed}, {"note", "these keys keep their running values"}});
    keep_restart_only(config_, *fresh);
  }
  auto settings = service::ServiceSettings::from(*fresh, tiers->tiers);
  if (!settings->admin_disabled_reason.empty()) {
    log_.warn("admin_api_disabled", {{"reason", settings->admin_disabled_reason}});
  }
  const http::ServerOptions options = server_options(*fresh);
  const core::Seconds health_cache = fresh->health.cache;
  for (auto& w : p.workers) {
    Worker* worker = w.get();
    worker->post([worker, settings, options, health_cache] {
      worker->apply(settings, options, health_cache);
    });
  }
  log_.set_level(fresh->log.level);
  config_ = std::move(*fresh);
  log_.info("config_reloaded", {{"tiers", static_cast<std::int64_t>(tiers->tiers.size())},
                                {"users", static_cast<std::int64_t>(tiers->users.size())},
                                {"keys", static_cast<std::int64_t>(tiers->keys.size())}});
  return {};
}

}  // namespace rl::rld
