// The in-memory backend: one process, seeded from the tier file, reloaded in place. Every
// worker serves from the same thread-safe MemoryStore and MemoryDirectory, so limits are exact
// across workers.
#include "apps/rld/backend.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"

namespace rl::rld {
namespace {

class MemoryWorker final : public Backend {
 public:
  MemoryWorker(store::MemoryStore& store, store::MemoryDirectory& directory)
      : store_(store), directory_(directory) {}

  store::Store& store() override { return store_; }
  store::Directory& directory() override { return directory_; }
  // Health changes come only through the admin API, which tells the other workers itself.
  void start(std::function<void()>) override {}
  std::string not_ready() const override { return ""; }
  void sweep() override {}  // the shared store is swept once, by the daemon
  void close(std::function<void()> closed) override { closed(); }

 private:
  store::MemoryStore& store_;
  store::MemoryDirectory& directory_;
};

class MemoryBackend final : public SharedBackend {
 public:
  explicit MemoryBackend(const BackendContext& c)
      : store_(c.clock, c.config.security.max_tracked_clients), directory_(c.clock) {
    if (auto s = directory_.load(c.tiers); !s) {
      // A fresh directory has no admin-made entries, so a valid file always loads.
      c.log.error("tiers_load_failed", {{"error", s.error().message}});
    }
    c.metrics.gauge_fn("rl_store_counters", "Rate counters held in this process.", {},
                       [this] { return static_cast<double>(store_.counter_count()); });
    c.metrics.counter_fn("rl_store_evicted_clients_total",
                         "Clients evicted from a full attempt or block table, since start.", {},
                         [this] { return static_cast<double>(store_.evicted_clients()); });
  }

  std::unique_ptr<Backend> make_worker(const WorkerContext&) override {
    return std::make_unique<MemoryWorker>(store_, directory_);
  }
  core::Status apply_tiers(const config::TierFile& tiers) override {
    return directory_.load(tiers);
  }
  void sweep() override { store_.sweep(); }

 private:
  store::MemoryStore store_;
  store::MemoryDirectory directory_;
};

}  // namespace

std::unique_ptr<SharedBackend> make_memory_backend(const BackendContext& context) {
  return std::make_unique<MemoryBackend>(context);
}

}  // namespace rl::rld
