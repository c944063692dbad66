// The in-memory backend: one process, seeded from the tier file, reloaded in place. Every
// worker serves from the same thread-safe MemoryStore and MemoryDirectory, so limits are exact
// across workers; a health change made through one worker is pushed to the others at once.
#include <vector>

#include "apps/rld/backend.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"

namespace rl::rld {
namespace {

class MemoryWorker final : public Backend {
 public:
  MemoryWorker(store::MemoryStore& store, store::MemoryDirectory& directory,
               std::function<void()>& on_health)
      : store_(store), directory_(directory), on_health_(on_health) {}

  store::Store& store() override { return store_; }
  store::Directory& directory() override { return directory_; }
  void start(std::function<void()> on_health) override { on_health_ = std::move(on_health); }
  std::string not_ready() const override { return ""; }
  void sweep() override {}  // the shared store is swept once, by the daemon
  void close(std::function<void()> closed) override { closed(); }

 private:
  store::MemoryStore& store_;
  store::MemoryDirectory& directory_;
  std::function<void()>& on_health_;  // the slot the shared part calls through this worker
};

class MemoryBackend final : public SharedBackend {
 public:
  explicit MemoryBackend(const BackendContext& c)
      : store_(c.clock, c.config.security.max_tracked_clients), directory_(c.clock) {
    if (auto s = directory_.load(c.tiers); !s) {
      // A fresh directory has no admin-made entries, so a valid file always loads.
      c.log.error("tiers_load_failed", {{"error", s.error().message}});
    }
    // Workers are all made before any serves, so `workers_` no longer changes once this runs.
    directory_.set_health_listener([this] {
      for (auto& w : workers_)
        w.post([&w] {
          if (*w.on_health) (*w.on_health)();
        });
    });
    c.metrics.gauge_fn("rl_store_counters", "Rate counters held in this process.", {},
                       [this] { return static_cast<double>(store_.counter_count()); });
    c.metrics.gauge_fn("rl_store_evicted_clients",
                       "Clients evicted from a full attempt or block table, since start.", {},
                       [this] { return static_cast<double>(store_.evicted_clients()); });
  }

  std::unique_ptr<Backend> make_worker(const WorkerContext& context) override {
    workers_.push_back(Slot{context.post, std::make_unique<std::function<void()>>()});
    return std::make_unique<MemoryWorker>(store_, directory_, *workers_.back().on_health);
  }
  core::Status apply_tiers(const config::TierFile& tiers) override {
    return directory_.load(tiers);
  }
  void sweep() override { store_.sweep(); }

 private:
  struct Slot {
    Post post;
    std::unique_ptr<std::function<void()>> on_health;  // set by the worker's start()
  };
  store::MemoryStore store_;
  store::MemoryDirectory directory_;
  std::vector<Slot> workers_;
};

}  // namespace

std::unique_ptr<SharedBackend> make_memory_backend(const BackendContext& context) {
  return std::make_unique<MemoryBackend>(context);
}

}  // namespace rl::rld
