// Backend: the store behind rld — the in-memory one or Redis — as the daemon sees it, in two
// parts. The SharedBackend is made once per process and holds what every worker shares (the
// memory store and directory, or Redis's local fallback store and the tier file); each worker
// then gets its own Backend on its own loop (Redis connections, caches, breaker): the Store
// and Directory its service uses, readiness, housekeeping and an orderly close. The daemon's
// main picks one kind; nothing else knows which.
#pragma once

#include <cstdint>
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

// One worker's part. Every method runs on the worker's loop thread, except that the daemon
// makes and starts it on the main thread before that thread runs.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual store::Store& store() = 0;
  virtual store::Directory& directory() = 0;
  // Begins serving; `on_health` runs on this worker's loop when the health state may have
  // changed elsewhere (another worker, another instance).
  virtual void start(std::function<void()> on_health) = 0;
  // Why decisions are not served from the configured store right now; "" when they are.
  virtual std::string not_ready() const = 0;
  // Periodic housekeeping (expired entries).
  virtual void sweep() = 0;
  // Stops talking to the store; `closed` runs once every handle is closed.
  virtual void close(std::function<void()> closed) = 0;
};

// Runs a job on one worker's loop thread (thread-safe).
using Post = std::function<void(std::function<void()>)>;

struct WorkerContext {
  uv_loop_t* loop;
  int index;  // 0-based; worker 0 does the per-process chores (the Redis heartbeat)
  Post post;
};

class SharedBackend {
 public:
  virtual ~SharedBackend() = default;
  // Worker `context.index`'s part; called on the main thread, once per worker, at start.
  virtual std::unique_ptr<Backend> make_worker(const WorkerContext& context) = 0;
  // A reloaded tier file (SIGHUP); thread-safe.
  virtual core::Status apply_tiers(const config::TierFile& tiers) = 0;
  // Periodic housekeeping of the shared part; thread-safe.
  virtual void sweep() = 0;
};

struct BackendContext {
  const config::DaemonConfig& config;  // copied: read again when workers are made
  const config::TierFile& tiers;
  const core::Clock& clock;
  obs::Logger& log;
  obs::Registry& metrics;
  // For the heartbeat: requests served so far, and where this instance listens. Thread-safe.
  std::function<std::uint64_t()> decisions;
  std::function<std::string()> listeners;
};

std::unique_ptr<SharedBackend> make_memory_backend(const BackendContext& context);
std::unique_ptr<SharedBackend> make_redis_backend(const BackendContext& context);

}  // namespace rl::rld
