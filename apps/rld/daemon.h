// Daemon: rld's wiring — the one place that picks implementations — and its main thread: the
// listening sockets, the shared backend, `server.workers` Workers (one loop and thread each),
// signals and the process-wide timers on a loop of its own. SIGTERM/SIGINT drain every worker
// and exit 0; SIGHUP reloads the config and tier file for all of them, keeping the running ones
// if the new ones are bad.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "config/loader.h"
#include "config/tier_file.h"
#include "obs/logger.h"

namespace rl::rld {

struct Startup {
  std::string config_path;  // "" when none
  config::Environment env;
  config::Overrides overrides;
};

class Daemon {
 public:
  Daemon(Startup startup, config::DaemonConfig config, config::TierFile tiers, obs::Logger& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Serves until stopped; the process exit code.
  int run();

 private:
  struct Parts;
  static void on_signal(uv_signal_t* handle, int signum);
  void reload();
  core::Status open_listeners();
  core::Status apply_reload();  // all or nothing
  void begin_shutdown(int signum);
  void on_worker_drained();
  void finish_shutdown();
  void close_connections();

  Startup startup_;
  config::DaemonConfig config_;
  config::TierFile tiers_;  // until the workers are made
  obs::Logger& log_;
  uv_loop_t loop_{};
  std::unique_ptr<Parts> parts_;
  bool draining_ = false;
  bool inherited_ = false;  // serving sockets from systemd, not server.listen
  int workers_drained_ = 0;
};

// Reads the tier file the config names (none → empty). A missing file is an error only when the
// file was named explicitly.
core::Result<config::TierFile> load_tiers(const config::DaemonConfig& config);

}  // namespace rl::rld
