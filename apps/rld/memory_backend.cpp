// The in-memory backend: one process, seeded from the tier file, reloaded in place.
#include "apps/rld/backend.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"

namespace rl::rld {
namespace {

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(const BackendContext& c)
      : store_(c.clock, c.config.security.max_tracked_clients), directory_(c.clock) {
    if (auto s = directory_.load(c.tiers); !s) {
      // A fresh directory has no admin-made entries, so a valid file always loads.
      c.log.error("tiers_load_failed", {{"error", s.error().message}});
    }
    c.metrics.gauge_fn("rl_store_counters", "Rate counters held in this process.", {},
                       [this] { return static_cast<double>(store_.counter_count()); });
    c.metrics.gauge_fn("rl_store_evicted_clients",
                       "Clients evicted from a full attempt or block table, since start.", {},
                       [this] { return static_cast<double>(store_.evicted_clients()); });
  }

  store::Store& store() override { return store_; }
  store::Directory& directory() override { return directory_; }
  void start(std::function<void()>) override {}
  std::string not_ready() const override { return ""; }
  core::Status apply_tiers(const config::TierFile& tiers) override {
    return directory_.load(tiers);
  }
  void sweep() override { store_.sweep(); }
  void close(std::function<void()> closed) override { closed(); }

 private:
  store::MemoryStore store_;
  store::MemoryDirectory directory_;
};

}  // namespace

std::unique_ptr<Backend> make_memory_backend(const BackendContext& context) {
  return std::make_unique<MemoryBackend>(context);
}

}  // namespace rl::rld
