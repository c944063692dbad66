// Worker: the parts on one loop, the loop's thread, and the steps of its lifecycle.
#include "apps/rld/worker.h"

#include "service/admin_api.h"
#include "service/decision_service.h"
#include "service/health_service.h"
#include "service/http_api.h"

namespace rl::rld {
namespace {

constexpr std::uint64_t kSweepMs = 5000;
constexpr std::uint64_t kReadinessMs = 250;

}  // namespace

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

struct Worker::Parts {
  Parts(Worker& w, SharedBackend& shared_backend, const config::DaemonConfig& c,
        std::shared_ptr<const service::ServiceSettings> settings)
      : backend(shared_backend.make_worker(WorkerContext{
            &w.loop_, w.index_, [&w](std::function<void()> job) { w.post(std::move(job)); }})),
        health(backend->directory(), w.shared_.clock, w.shared_.log, w.shared_.metrics,
               c.health.cache, w.index_ == 0),
        decisions(backend->store(), backend->directory(), health, w.shared_.clock, w.shared_.log,
                  w.shared_.decision_metrics),
        admin(backend->directory(), backend->store(), health, w.shared_.clock, w.shared_.log),
        api(decisions, admin, w.shared_.metrics, w.shared_.clock, [&w] { return w.not_ready(); }),
        server_metrics(w.shared_.metrics, w.label_),
        server(&w.loop_, api, w.shared_.clock, w.shared_.log, server_metrics, server_options(c)) {
    decisions.set_settings(std::move(settings));
  }

  std::unique_ptr<Backend> backend;
  service::HealthService health;
  service::DecisionService decisions;
  service::AdminApi admin;
  service::HttpApi api;
  http::ServerMetrics server_metrics;
  http::Server server;
  uv_timer_t sweep{};
  uv_timer_t readiness{};
};

Worker::Worker(int index, Shared& shared, SharedBackend& backend, const config::DaemonConfig& c,
               std::shared_ptr<const service::ServiceSettings> settings)
    : index_(index), shared_(shared), label_(std::to_string(index)) {
  uv_loop_init(&loop_);
  mailbox_ = std::make_unique<Mailbox>(&loop_);
  parts_ = std::make_unique<Parts>(*this, backend, c, std::move(settings));
}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();  // a thread that never got finish() would hang here
  if (parts_ == nullptr) return;           // the thread cleaned up after itself
  // Never started (a failed start-up): close everything on this thread.
  for (uv_timer_t* t : {&parts_->sweep, &parts_->readiness}) {
    if (t->data != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  }
  parts_->backend->close([] {});
  mailbox_->close();
  parts_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

core::Status Worker::serve(std::vector<http::ListenSocket> sockets) {
  return parts_->server.adopt(std::move(sockets));
}

void Worker::start() {
  Parts& p = *parts_;
  uv_timer_init(&loop_, &p.sweep);
  p.sweep.data = this;
  uv_timer_start(
      &p.sweep, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->parts_->backend->sweep(); },
      kSweepMs, kSweepMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&p.sweep));
  uv_timer_init(&loop_, &p.readiness);
  p.readiness.data = this;
  uv_timer_start(
      &p.readiness,
      [](uv_timer_t* t) {
        auto* w = static_cast<Worker*>(t->data);
        w->shared_.worker_ready[static_cast<std::size_t>(w->index_)]->store(
            w->parts_->backend->not_ready().empty(), std::memory_order_relaxed);
      },
      0, kReadinessMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&p.readiness));

  p.health.set_change_listener([this] {
    if (shared_.health_changed) shared_.health_changed(index_);
  });
  p.backend->start([this] { parts_->health.refresh(); });
  const bool ready = p.backend->not_ready().empty();
  shared_.worker_ready[static_cast<std::size_t>(index_)]->store(ready, std::memory_order_relaxed);
  if (ready) p.health.refresh();  // else once the store is up
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  // finish() closed every handle; destroying the parts may close a few more.
  parts_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

std::string Worker::not_ready() {
  if (shared_.draining.load(std::memory_order_relaxed)) return "draining";
  std::string own = parts_->backend->not_ready();
  shared_.worker_ready[static_cast<std::size_t>(index_)]->store(own.empty(),
                                                                std::memory_order_relaxed);
  return own.empty() ? unready_worker(shared_) : own;
}

std::string unready_worker(const Shared& shared) {
  for (std::size_t i = 0; i < shared.worker_ready.size(); ++i) {
    if (!shared.worker_ready[i]->load(std::memory_order_relaxed))
      return "worker " + std::to_string(i) + " is not serving from the configured store";
  }
  return "";
}

void Worker::drain(std::function<void()> drained) {
  parts_->server.drain(std::move(drained));
}

void Worker::close_connections() {
  parts_->server.close_all();
}

void Worker::refresh_health() {
  parts_->health.refresh();
}

void Worker::finish() {
  Parts& p = *parts_;
  for (uv_timer_t* t : {&p.sweep, &p.readiness}) {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(t)))
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  }
  mailbox_->close();
  p.backend->close([] {});  // the loop ends once the store's connections are closed too
}

void Worker::apply(std::shared_ptr<const service::ServiceSettings> settings,
                   const http::ServerOptions& options, core::Seconds health_cache) {
  parts_->decisions.set_settings(std::move(settings));
  parts_->server.set_options(options);
  parts_->health.set_cache(health_cache);
}

}  // namespace rl::rld
