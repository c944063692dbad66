// ScriptedCommands: a redis::Commands whose replies are given up front — a stream of RESP
// replies read with hiredis' own reader, as rl's connection reads them — handed out in order
// to whatever asks next; for unit tests of the Redis store and the resp_reply fuzz harness. Where a
// reply would start, "!" stands for a command that got no reply:
// "!o" refused here (too many in flight), "!u" not connected, "!" or "!t" deadline passed. The
// end of the input, or bytes hiredis refuses, is a lost connection for every later command.
// Callbacks never run inside the call that asked: they are queued and run by drain(), as the
// loop would run them. A batch gets one result per command (a MULTI batch all or nothing);
// scan() reads SCAN replies exactly as redis::Client does. With RL_FUZZ_TRACE set in the
// environment, each command is printed to stderr with the reply it got (for writing seeds).
// Single-threaded.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "redis/commands.h"

struct redisReader;

namespace rl::test {

struct ScanState;

class ScriptedCommands final : public redis::Commands {
 public:
  explicit ScriptedCommands(std::string_view replies);
  ~ScriptedCommands() override;
  ScriptedCommands(const ScriptedCommands&) = delete;
  ScriptedCommands& operator=(const ScriptedCommands&) = delete;

  void start() override {}
  void close(std::function<void()> closed) override {
    later([closed] { closed(); });
  }
  void set_ready_listener(std::function<void()>) override {}
  bool ready() const override { return !lost_; }
  const std::string& last_error() const override { return last_error_; }
  std::vector<config::RedisUrl> endpoints() const override { return {}; }

  void command(std::span<const std::string_view> args, Callback done) override;
  void eval(redis::ScriptId id, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, Callback done) override;
  using Commands::batch;
  void batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) override;
  void scan(std::string pattern, std::size_t limit, ScanCallback done) override;

  // The next reply, as the connection would deliver it.
  core::Result<redis::ReplyPtr> next();
  // Runs queued callbacks, and those they queue, until none is left.
  void drain();
  // Every reply has been handed out (or the connection is lost).
  bool exhausted() const;
  // Commands asked for so far: each took one reply.
  std::size_t asked() const { return asked_; }

 private:
  void later(std::function<void()> job) { queue_.push_back(std::move(job)); }
  void deliver(core::Result<redis::ReplyPtr> result, Callback done);
  // next(), traced.
  core::Result<redis::ReplyPtr> answer(std::span<const std::string_view> args);
  void scan_next(std::shared_ptr<ScanState> state);  // one SCAN round trip

  redisReader* reader_;
  bool lost_ = false;
  bool last_failed_ = false;
  bool trace_ = false;
  std::string last_error_;
  std::size_t asked_ = 0;
  std::deque<std::function<void()>> queue_;
};

}  // namespace rl::test
