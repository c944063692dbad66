// Client: the Redis endpoint as the store sees it — a few pipelined Connections (commands go
// to the ready one with the fewest commands queued, overdue ones included), scripts called
// with EVALSHA and re-sent with EVAL on NOSCRIPT within the call's first deadline (so a SCRIPT
// FLUSH or a restarted Redis fails no call), scripts loaded with SCRIPT LOAD whenever a
// connection comes up, batches (large ones in chunks), a connection answered READONLY (its
// server was made a replica) dialled again, and metrics and logs of what happens.
// The Commands of a single Redis, and of each master in a cluster (cluster_client.h).
// Loop-thread only.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/free_list.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/commands.h"
#include "redis/connection.h"
#include "redis/scripts.h"

namespace rl::redis {

struct ClientMetrics {
  explicit ClientMetrics(obs::Registry& registry);
  obs::Histogram& latency;
  obs::Counter& timeouts;
  obs::Counter& unavailable;
  obs::Counter& error_replies;
  obs::Counter& refused;  // too many in flight: a local limit, not a Redis failure
  obs::Counter& noscript;
  obs::Counter& reconnects;
  obs::Gauge& connected;
  obs::Gauge& in_flight;
};

class Client final : public Commands {
 public:
  Client(uv_loop_t* loop, ConnectionOptions options, int connections, obs::Logger& log,
         ClientMetrics& metrics);
  ~Client() override;

  void start() override;
  void close(std::function<void()> closed) override;
  void set_ready_listener(std::function<void()> listener) override {
    on_ready_ = std::move(listener);
  }
  bool ready() const override;
  const std::string& last_error() const override { return last_error_; }
  std::vector<config::RedisUrl> endpoints() const override { return {url_}; }

  using Commands::command;
  void command(std::span<const std::string_view> args, Callback done) override;
  // The same with a deadline of the caller's (a cluster's retry within the call's budget).
  void command(std::span<const std::string_view> args, Connection::Instant deadline, Callback done);
  void eval(ScriptId id, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, Callback done) override;
  // The same with a deadline of the caller's, which the EVAL after NOSCRIPT shares.
  void eval(ScriptId id, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, Connection::Instant deadline, Callback done);

  // Sends `commands` in order; `done` runs once, with one result per command, in order.
  // A transaction (the first command is MULTI) goes whole on one connection, or, if that has
  // no room for all of it, not at all (every result too_many_in_flight()), so no MULTI is ever
  // left open. Other batches go
  // in chunks of kBatchChunk, each sent (with its own deadlines) once the previous one has
  // answered; after a chunk with a command that got no reply, the rest are not sent.
  static constexpr std::size_t kBatchChunk = 256;
  using Commands::batch;
  void batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) override;
  struct Batch;  // a batch in progress (client_batch.cpp)

  void scan(std::string pattern, std::size_t limit, ScanCallback done) override;

 private:
  Connection* pick();
  void send_chunk(std::shared_ptr<Batch> batch);
  void on_batch_reply(const std::shared_ptr<Batch>& batch, std::size_t i, core::Result<ReplyPtr> r);
  void load_scripts(Connection& c);
  struct Tracked;
  struct ScriptCall;
  void track(Callback& done, Connection* c);  // wraps `done` to measure and count the outcome
  void on_reply(Tracked* t, core::Result<ReplyPtr> r);
  void answer(ScriptCall* call, core::Result<ReplyPtr> r);

  uv_loop_t* loop_;
  obs::Logger& log_;
  ClientMetrics& metrics_;
  std::vector<std::unique_ptr<Connection>> connections_;
  core::Millis timeout_;
  core::Millis setup_timeout_;  // for what sets a connection up: its connect timeout
  config::RedisUrl url_;
  std::string endpoint_;  // for logs, password redacted
  std::function<void()> on_ready_;
  std::vector<bool> was_ready_;  // per connection, for the connected gauge
  std::string last_error_;
  core::FreeList<Tracked> tracked_;
  core::FreeList<ScriptCall> script_calls_;
};

}  // namespace rl::redis
