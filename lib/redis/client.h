// Client: the Redis endpoint as the store sees it — a few pipelined Connections (commands go
// to the ready one with the fewest in flight), scripts called with EVALSHA and re-sent with
// EVAL on NOSCRIPT (so a SCRIPT FLUSH or a restarted Redis fails no call), scripts loaded with
// SCRIPT LOAD whenever a connection comes up, and metrics and logs of what happens.
// Loop-thread only.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/connection.h"
#include "redis/scripts.h"

namespace rl::redis {

struct ClientMetrics {
  explicit ClientMetrics(obs::Registry& registry);
  obs::Histogram& latency;
  obs::Counter& timeouts;
  obs::Counter& unavailable;
  obs::Counter& error_replies;
  obs::Counter& noscript;
  obs::Counter& reconnects;
  obs::Gauge& connected;
  obs::Gauge& in_flight;
};

class Client {
 public:
  using Callback = Connection::Callback;

  Client(uv_loop_t* loop, ConnectionOptions options, int connections, obs::Logger& log,
         ClientMetrics& metrics);
  ~Client();

  void start();
  void close(std::function<void()> closed);
  // Runs each time a connection becomes ready (after its handshake).
  void set_ready_listener(std::function<void()> listener) { on_ready_ = std::move(listener); }

  bool ready() const;
  // Why a connection last went down ("" if none has): e.g. a refused AUTH.
  const std::string& last_error() const { return last_error_; }
  std::size_t in_flight() const;

  void command(std::span<const std::string_view> args, Callback done);
  void command(std::initializer_list<std::string_view> args, Callback done) {
    command(std::span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }
  // Runs a script on `keys` (all of one hash tag) and `args`.
  void eval(ScriptId id, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, Callback done);

  // Sends `commands` in order on one connection; `done` gets one result per command, in order.
  using Command = std::vector<std::string>;
  using BatchCallback = std::function<void(std::vector<core::Result<ReplyPtr>>)>;
  void batch(std::vector<Command> commands, BatchCallback done);

  // Every key matching `pattern` (SCAN, so Redis is never blocked), at most `limit` of them.
  void scan(std::string pattern, std::size_t limit,
            std::function<void(core::Result<std::vector<std::string>>)> done);

 private:
  Connection* pick();
  void load_scripts(Connection& c);
  void track(Callback& done);  // wraps `done` to measure and count the outcome

  uv_loop_t* loop_;
  obs::Logger& log_;
  ClientMetrics& metrics_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::string_view> scratch_;
  std::string endpoint_;  // for logs, password redacted
  std::function<void()> on_ready_;
  std::vector<bool> was_ready_;  // per connection, for the connected gauge
  std::string last_error_;
};

}  // namespace rl::redis
