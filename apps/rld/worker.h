// Worker: one event loop on its own thread with its own HTTP server (on the listening sockets
// every worker shares), decision service, admin API and store connections. Workers share the
// process-wide parts (metrics, logger, the SharedBackend) and talk to the daemon's main thread
// only through their mailboxes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "apps/rld/backend.h"
#include "apps/rld/mailbox.h"
#include "config/tier_file.h"
#include "core/clock.h"
#include "http/listeners.h"
#include "http/server.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "service/decision_metrics.h"
#include "service/settings.h"

namespace rl::rld {

// What every worker shares; owned by the daemon, outlives the workers.
struct Shared {
  explicit Shared(obs::Logger& l) : log(l), server_metrics(metrics), decision_metrics(metrics) {}
  obs::Logger& log;
  core::SystemClock clock;
  obs::Registry metrics;
  http::ServerMetrics server_metrics;
  service::DecisionMetrics decision_metrics;
  std::atomic<bool> draining{false};
  // Called on worker `origin`'s loop after it changed the health state (admin API): the daemon
  // tells the other workers to read it again. Set before the workers start.
  std::function<void(int origin)> health_changed;
  // Whether each worker served decisions from the configured store when it last looked: the
  // process is ready only when every worker is.
  std::vector<std::unique_ptr<std::atomic<bool>>> worker_ready;
};

http::ServerOptions server_options(const config::DaemonConfig& c);
// "" when every worker served from the store when it last looked, else the first that did not.
std::string unready_worker(const Shared& shared);

class Worker {
 public:
  // On the main thread; the worker's loop does not run until start().
  Worker(int index, Shared& shared, SharedBackend& backend, const config::DaemonConfig& c,
         std::shared_ptr<const service::ServiceSettings> settings);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Main thread, before start(): serves these listening sockets (takes them over).
  core::Status serve(std::vector<http::ListenSocket> sockets);
  // Main thread: starts the store and the loop's thread.
  void start();
  // Any thread: runs `job` on this worker's loop.
  void post(std::function<void()> job) { mailbox_->post(std::move(job)); }
  int index() const { return index_; }
  // Main thread, after finish() was posted: waits for the thread to end.
  void join();

  // On the worker's loop (post them): the lifecycle steps the daemon drives.
  void drain(std::function<void()> drained);  // `drained` runs on this loop
  void close_connections();
  void finish();          // closes the store and every handle: the loop ends
  void refresh_health();  // another worker changed it
  void apply(std::shared_ptr<const service::ServiceSettings> settings,
             const http::ServerOptions& options, core::Seconds health_cache);

 private:
  struct Parts;
  std::string not_ready();
  void run();

  const int index_;
  Shared& shared_;
  const std::string label_;  // the index, as a metric label
  uv_loop_t loop_{};
  std::unique_ptr<Mailbox> mailbox_;
  std::unique_ptr<Parts> parts_;
  std::thread thread_;
};

}  // namespace rl::rld
