// Context: what every rlctl command needs — the Redis connection (one endpoint, or a Redis
// Cluster for a redis+cluster:// URL; on a private libuv loop, run until each operation
// completes), the data model's RedisDirectory and RedisStore (the same code rld uses, so there
// is one definition of every key), and the output settings. Exit codes are decided here too,
// from the error categories.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <uv.h>

#include "apps/rlctl/output.h"
#include "breaker/circuit_breaker.h"
#include "config/redis_url.h"
#include "core/result.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/commands.h"
#include "redis/factory.h"
#include "store/memory_store.h"
#include "store/redis_directory.h"
#include "store/redis_store.h"

namespace rl::rlctl {

// Exit codes (the rlctl contract).
enum Exit : int {
  kOk = 0,
  kFailure = 1,
  kUsage = 2,
  kNotFound = 3,
  kUnreachable = 4,
  kConflict = 5,
};

// 1 for internal and I/O errors (a damaged key, a script error, a file rlctl cannot write);
// 4 only when Redis cannot be reached or did not answer in time.
int exit_code_of(const core::Error& error);

// The rule rld applies to redis.prefix: 1-32 characters, none of them a space, a brace or a
// glob character (they would break hash tags and make SCAN patterns match other keys).
bool is_valid_prefix(std::string_view prefix);
inline constexpr std::string_view kPrefixRule =
    "expected 1-32 characters without spaces, braces or glob characters (* ? [ ]), e.g. rl:";

struct GlobalOptions {
  std::string redis_url;  // empty: from the environment, else the default
  std::string prefix = "rl:";
  bool json = false;
  bool quiet = false;
};

// The URL rlctl talks to: --redis, else REDIS_URL, else REDIS_HOST/PORT/DB, else the default.
core::Result<std::string> resolve_redis_url(const std::string& flag);

class Context {
 public:
  explicit Context(GlobalOptions options);
  ~Context();

  const GlobalOptions& options() const { return options_; }
  Output& out() { return out_; }
  const core::Clock& clock() const { return clock_; }

  // Connects (within 2 s at most) unless connected already: kOk, or the exit code (2 for a
  // malformed address, 4 when Redis is unreachable or refuses the password), error printed.
  int connect();
  // The command writes: an empty Redis it writes to is marked as set up (rl:schema), so an rld
  // started later does not bootstrap its own tier file into it.
  void set_writes(bool writes) { writes_ = writes; }
  store::RedisDirectory& directory() { return *directory_; }
  store::RedisStore& store() { return *store_; }
  redis::Commands& client() { return *client_; }

  // Runs `start` and the loop until its callback has delivered a result.
  template <class T>
  core::Result<T> wait(std::function<void(store::Callback<T>)> start) {
    std::optional<core::Result<T>> result;
    start([&result](core::Result<T> r) { result.emplace(std::move(r)); });
    while (!result && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
    if (!result) return core::make_error(core::Errc::internal, "the operation never completed");
    return std::move(*result);
  }
  core::Status wait_status(std::function<void(store::StatusCallback)> start);

  // Prints the error (stderr) and returns its exit code.
  int fail(const core::Error& error);

 private:
  // The client, directory and store on `url` (not started).
  void build(const config::RedisUrl& url);
  // Runs the loop until the client is ready, the connect timeout passes or the server refuses
  // the handshake; whether it is ready.
  bool wait_until_ready();
  // Marks an empty Redis as set up (rl:schema), for commands that write.
  int mark_set_up();

  GlobalOptions options_;
  bool writes_ = false;
  Output out_;
  core::SystemClock clock_;
  uv_loop_t loop_{};
  obs::StderrSink sink_;
  obs::Logger log_;
  obs::Registry metrics_;
  std::unique_ptr<redis::ClientMetrics> client_metrics_;
  std::unique_ptr<store::RedisStoreMetrics> store_metrics_;
  std::unique_ptr<breaker::CircuitBreaker> breaker_;
  std::unique_ptr<store::MemoryStore> unused_local_;
  std::unique_ptr<redis::Commands> client_;
  std::unique_ptr<store::RedisDirectory> directory_;
  std::unique_ptr<store::RedisStore> store_;
};

}  // namespace rl::rlctl
