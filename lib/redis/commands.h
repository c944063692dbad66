// Commands: Redis as the store, the directory and rlctl use it — one endpoint (Client) or a
// Redis Cluster (ClusterClient), picked once by make_commands() (factory.h). Every callback
// runs exactly once, on the loop thread; results are replies (error replies included) or an
// Error (not connected, deadline passed, connection lost, too many in flight).
// Loop-thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/redis_url.h"
#include "core/result.h"
#include "redis/connection.h"
#include "redis/scripts.h"

namespace rl::redis {

class Commands {
 public:
  using Callback = Connection::Callback;
  using Command = std::vector<std::string>;
  using BatchCallback = std::function<void(std::vector<core::Result<ReplyPtr>>)>;
  using ScanCallback = std::function<void(core::Result<std::vector<std::string>>)>;

  virtual ~Commands() = default;

  virtual void start() = 0;
  // Closes every connection (failing what is pending); `closed` runs once, when all are closed.
  virtual void close(std::function<void()> closed) = 0;
  // Runs each time a connection becomes ready to serve commands (after its handshake).
  virtual void set_ready_listener(std::function<void()> listener) = 0;
  // Whether commands can be served now (cluster: the slot map is known and every master is
  // connected).
  virtual bool ready() const = 0;
  // Why a connection last went down ("" if none has): e.g. a refused AUTH.
  virtual const std::string& last_error() const = 0;
  // Read inside a callback that got an error: whether it is the second or later failure of
  // one burst (deadlines expired together, commands failed with their lost connection). A
  // circuit breaker should count such a burst as one failure. Not virtual: it is read after
  // every call, so implementations set the flag around each callback they run.
  bool repeated_failure() const { return repeated_failure_; }
  // Where a subscriber may listen for pub/sub messages: the endpoint, or in a cluster the seed
  // nodes and every node known from the slot map (classic pub/sub reaches every node).
  virtual std::vector<config::RedisUrl> endpoints() const = 0;

  virtual void command(std::span<const std::string_view> args, Callback done) = 0;
  void command(std::initializer_list<std::string_view> args, Callback done) {
    command(std::span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }
  // Runs a script on `keys` (all of one hash tag) and `args`: EVALSHA, and EVAL if Redis lost
  // the script.
  virtual void eval(ScriptId id, std::span<const std::string_view> keys,
                    std::span<const std::string_view> args, Callback done) = 0;
  // Sends `commands` in order; `done` runs once, with one result per command, in order. A
  // batch that starts with MULTI is a transaction: it goes whole on one connection or not at
  // all (every result an error), so no MULTI is ever left open. Each command has `timeout` to
  // be answered; 0 is redis.timeout_ms, the decisions' deadline (setting up a Redis from a
  // large tier file, say, gets longer: it is no decision).
  virtual void batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) = 0;
  void batch(std::vector<Command> commands, BatchCallback done) {
    batch(std::move(commands), core::Millis{0}, std::move(done));
  }
  // Every key matching `pattern` (SCAN, so Redis is never blocked), at most `limit` of them.
  virtual void scan(std::string pattern, std::size_t limit, ScanCallback done) = 0;

 protected:
  bool repeated_failure_ = false;
};

}  // namespace rl::redis
