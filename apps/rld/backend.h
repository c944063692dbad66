// Backend: the store behind rld — the in-memory one or Redis — as the daemon sees it: the
// Store and Directory the service uses, whether decisions come from the configured store
// (readiness), what a reloaded tier file does to it, and an orderly close. The daemon's main
// picks one; nothing else knows which.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <uv.h>

#include "config/daemon_config.h"
#include "config/tier_file.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "store/directory.h"
#include "store/store.h"

namespace rl::rld {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual store::Store& store() = 0;
  virtual store::Directory& directory() = 0;
  // Begins serving; `on_health` runs when the health state may have changed elsewhere.
  virtual void start(std::function<void()> on_health) = 0;
  // Why decisions are not served from the configured store right now; "" when they are.
  virtual std::string not_ready() const = 0;
  // A reloaded tier file (SIGHUP).
  virtual core::Status apply_tiers(const config::TierFile& tiers) = 0;
  // Periodic housekeeping (expired entries).
  virtual void sweep() = 0;
  // Stops talking to the store; `closed` runs once every handle is closed.
  virtual void close(std::function<void()> closed) = 0;
};

struct BackendContext {
  uv_loop_t* loop;
  const config::DaemonConfig& config;
  const config::TierFile& tiers;
  const core::Clock& clock;
  obs::Logger& log;
  obs::Registry& metrics;
  // For the heartbeat: requests served so far, and where this instance listens.
  std::function<std::uint64_t()> decisions;
  std::function<std::string()> listeners;
};

std::unique_ptr<Backend> make_memory_backend(const BackendContext& context);
std::unique_ptr<Backend> make_redis_backend(const BackendContext& context);

}  // namespace rl::rld
