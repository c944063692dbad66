// Daemon: construction of the parts, the signal handlers, reload and graceful shutdown.
#include "apps/rld/daemon.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "apps/rld/backend.h"
#include "core/version.h"
#include "http/server.h"
#include "service/admin_api.h"
#include "service/http_api.h"

namespace rl::rld {
namespace {

constexpr std::uint64_t kStoreSweepMs = 5000;

http::ServerOptions server_options(const config::DaemonConfig& c) {
  http::ServerOptions o;
  o.limits = http::ParserLimits{c.http.max_url_bytes, c.http.max_header_bytes, c.http.max_headers,
                                c.http.max_body_bytes};
  o.max_connections = c.server.max_connections;
  o.header_timeout_ms = static_cast<std::uint64_t>(c.http.header_timeout.count());
  o.request_timeout_ms = static_cast<std::uint64_t>(c.http.request_timeout.count());
  o.idle_timeout_ms = static_cast<std::uint64_t>(c.http.idle_timeout.count());
  o.unix_socket_mode = c.server.unix_socket_mode;
  return o;
}

// What a reload cannot change without a restart.
std::string restart_only_changes(const config::DaemonConfig& a, const config::DaemonConfig& b) {
  std::string changed;
  const auto note = [&](bool differs, const char* key) {
    if (differs) changed += (changed.empty() ? "" : ", ") + std::string(key);
  };
  note(a.server.listen != b.server.listen, "server.listen");
  note(a.server.workers != b.server.workers, "server.workers");
  note(a.server.unix_socket_mode != b.server.unix_socket_mode, "server.unix_socket_mode");
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
  Parts(uv_loop_t* loop, const config::DaemonConfig& c, const config::TierFile& tiers,
        obs::Logger& log, Daemon& daemon)
      : backend(make_backend(loop, c, tiers, log)),
        health(backend->directory(), clock, log, metrics, c.health.cache),
        decision_metrics(metrics),
        decisions(backend->store(), backend->directory(), health, clock, log, decision_metrics),
        admin(backend->directory(), backend->store(), health, clock, log),
        api(decisions, admin, metrics, clock, [&daemon] { return daemon.not_ready(); }),
        server_metrics(metrics),
        server(loop, api, clock, log, server_metrics, server_options(c)),
        reloads_ok(metrics.counter("rl_config_reloads_total", "Configuration reloads by result.",
                                   {{"result", "success"}})),
        reloads_failed(metrics.counter("rl_config_reloads_total",
                                       "Configuration reloads by result.",
                                       {{"result", "failure"}})) {
    metrics.gauge_fn("rl_build_info", "Build version and git revision.",
                     {{"version", core::kVersion}, {"revision", core::kGitRevision}},
                     [] { return 1.0; });
    decisions.set_settings(service::ServiceSettings::from(c, tiers.tiers));
  }

  // The one place that picks the store implementation.
  std::unique_ptr<Backend> make_backend(uv_loop_t* loop, const config::DaemonConfig& c,
                                        const config::TierFile& tiers, obs::Logger& log) {
    BackendContext context{loop,
                           c,
                           tiers,
                           clock,
                           log,
                           metrics,
                           [this] { return server_metrics.requests.value(); },
                           [this] {
                             std::string out;
                             for (const auto& a : server.bound())
                               out += (out.empty() ? "" : ",") + a;
                             return out;
                           }};
    return c.store.kind == config::StoreKind::redis ? make_redis_backend(context)
                                                    : make_memory_backend(context);
  }

  core::SystemClock clock;
  obs::Registry metrics;
  std::unique_ptr<Backend> backend;
  service::HealthService health;
  service::DecisionMetrics decision_metrics;
  service::DecisionService decisions;
  service::AdminApi admin;
  service::HttpApi api;
  http::ServerMetrics server_metrics;
  http::Server server;
  obs::Counter& reloads_ok;
  obs::Counter& reloads_failed;
  uv_signal_t sigterm{}, sigint{}, sighup{};
  uv_timer_t sweep{}, drain_deadline{};
};

Daemon::Daemon(Startup startup, config::DaemonConfig config, config::TierFile tiers,
               obs::Logger& log)
    : startup_(std::move(startup)), config_(std::move(config)), log_(log) {
  uv_loop_init(&loop_);
  parts_ = std::make_unique<Parts>(&loop_, config_, tiers, log_, *this);
}

Daemon::~Daemon() {
  parts_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let close callbacks of the parts' handles run
  uv_loop_close(&loop_);
}

std::string Daemon::not_ready() const {
  if (draining_) return "draining";
  return parts_->backend->not_ready();
}

int Daemon::run() {
  Parts& p = *parts_;
  log_.info("start", {{"version", core::kVersion},
                      {"revision", core::kGitRevision},
                      {"config", config_.source},
                      {"store", config::to_string(config_.store.kind)},
                      {"tiers_file", config_.store.tiers_file},
                      {"workers", config_.server.workers},
                      {"pid", static_cast<std::int64_t>(getpid())}});
  if (const auto& reason = p.decisions.settings().admin_disabled_reason; !reason.empty()) {
    log_.warn("admin_api_disabled", {{"reason", reason}});
  }
  if (auto s = p.server.listen(config_.server.listen); !s) {
    log_.error("listen_failed", {{"error", s.error().message}});
    return 1;
  }
  for (const auto& address : p.server.bound())
    log_.info("listening", {{"address", address}});

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
      kStoreSweepMs, kStoreSweepMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&p.sweep));
  uv_timer_init(&loop_, &p.drain_deadline);
  p.drain_deadline.data = this;

  p.backend->start([this] { parts_->health.refresh(); });
  if (p.backend->not_ready().empty()) p.health.refresh();  // else once the store is up
  log_.info("ready", {{"addresses", static_cast<std::int64_t>(p.server.bound().size())}});
  if (isatty(STDERR_FILENO) != 0) {
    std::string where;
    for (const auto& a : p.server.bound())
      where += (where.empty() ? "" : ", ") + a;
    std::fprintf(stderr,
                 "\nrld is listening on %s\ntry: curl -i -H 'X-API-Key: demo_free_key_123' "
                 "http://%s/test\n\n",
                 where.c_str(),
                 p.server.bound().empty() ? "127.0.0.1:8000" : p.server.bound().front().c_str());
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  log_.info("stopped", {});
  return 0;
}

void Daemon::on_signal(uv_signal_t* handle, int signum) {
  auto* d = static_cast<Daemon*>(handle->data);
  if (signum == SIGHUP) return d->reload();
  d->begin_shutdown(signum);
}

void Daemon::begin_shutdown(int signum) {
  Parts& p = *parts_;
  if (draining_) {
    log_.warn("shutdown_forced", {{"signal", signum}});
    p.server.close_all();
    return;
  }
  draining_ = true;
  log_.info("shutdown", {{"signal", signum},
                         {"connections", static_cast<std::int64_t>(p.server.connection_count())}});
  uv_timer_start(
      &p.drain_deadline,
      [](uv_timer_t* t) {
        auto* d = static_cast<Daemon*>(t->data);
        d->log_.warn(
            "drain_timeout",
            {{"connections", static_cast<std::int64_t>(d->parts_->server.connection_count())}});
        d->parts_->server.close_all();
      },
      static_cast<std::uint64_t>(config_.server.drain_timeout.count()), 0);
  p.server.drain([this] { finish_shutdown(); });
}

void Daemon::finish_shutdown() {
  Parts& p = *parts_;
  for (auto* h :
       {reinterpret_cast<uv_handle_t*>(&p.sigterm), reinterpret_cast<uv_handle_t*>(&p.sigint),
        reinterpret_cast<uv_handle_t*>(&p.sighup), reinterpret_cast<uv_handle_t*>(&p.sweep),
        reinterpret_cast<uv_handle_t*>(&p.drain_deadline)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
  p.backend->close([] {});  // the loop ends once the store's connections are closed too
}

void Daemon::reload() {
  Parts& p = *parts_;
  log_.info("reload_started", {{"config", startup_.config_path}});
  core::Status s;
  try {  // nothing may escape the signal callback; a failed reload keeps what runs
    s = apply_reload();
  } catch (const std::exception& e) {
    s = core::make_error(core::Errc::internal, e.what());
  }
  if (s) {
    p.reloads_ok.inc();
  } else {
    p.reloads_failed.inc();
    log_.error("reload_failed", {{"error", s.error().message}, {"kept", "running configuration"}});
  }
}

core::Status Daemon::apply_reload() {
  Parts& p = *parts_;
  auto fresh = config::load_daemon_config(startup_.config_path, startup_.env, startup_.overrides);
  if (!fresh) return fresh.error();
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
  p.decisions.set_settings(std::move(settings));
  p.server.set_options(server_options(*fresh));
  p.health.set_cache(fresh->health.cache);
  log_.set_level(fresh->log.level);
  config_ = std::move(*fresh);
  log_.info("config_reloaded", {{"tiers", static_cast<std::int64_t>(tiers->tiers.size())},
                                {"users", static_cast<std::int64_t>(tiers->users.size())},
                                {"keys", static_cast<std::int64_t>(tiers->keys.size())}});
  return {};
}

}  // namespace rl::rld
