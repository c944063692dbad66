// Handing out replies, queueing callbacks, and the SCAN loop.
#include "support/scripted_commands.h"

#include <cstdio>
#include <cstdlib>

#include <hiredis/read.h>

namespace rl::test {

struct ScanState {
  std::string pattern;
  std::size_t limit = 0;
  std::vector<std::string> keys;
  redis::Commands::ScanCallback done;
};

ScriptedCommands::ScriptedCommands(std::string_view replies)
    : reader_(redis::make_reader()), trace_(std::getenv("RL_FUZZ_TRACE") != nullptr) {
  if (reader_ == nullptr) std::abort();  // out of memory
  if (!replies.empty() && redisReaderFeed(reader_, replies.data(), replies.size()) != REDIS_OK) {
    lost_ = true;
  }
}

ScriptedCommands::~ScriptedCommands() {
  redisReaderFree(reader_);
}

bool ScriptedCommands::exhausted() const {
  return lost_ || reader_->pos >= reader_->len;
}

core::Result<redis::ReplyPtr> ScriptedCommands::next() {
  ++asked_;
  if (lost_) return core::make_error(core::Errc::unavailable, "Redis is not connected");
  // Between replies the reader holds no partial one: its cursor is where the next one starts.
  if (reader_->pos < reader_->len && reader_->buf[reader_->pos] == '!') {
    const char kind = reader_->pos + 1 < reader_->len ? reader_->buf[reader_->pos + 1] : 't';
    reader_->pos += (kind == 'o' || kind == 'u' || kind == 't') ? 2 : 1;
    if (kind == 'o') return core::make_error(core::Errc::overloaded, "too many in flight");
    if (kind == 'u') return core::make_error(core::Errc::unavailable, "Redis is not connected");
    return core::make_error(core::Errc::timeout, "Redis did not answer in time");
  }
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK || reply == nullptr) {
    lost_ = true;
    last_error_ = "connection lost";
    return core::make_error(core::Errc::unavailable, "connection lost");
  }
  return redis::ReplyPtr(static_cast<redisReply*>(reply));
}

core::Result<redis::ReplyPtr> ScriptedCommands::answer(std::span<const std::string_view> args) {
  auto r = next();
  if (trace_) {
    std::string line;
    for (const auto a : args) {
      line.append(a.substr(0, 60));
      line.push_back(' ');
    }
    const std::string got = !r ? "(" + r.error().message + ")"
                               : "type " + std::to_string((*r)->type) + " " +
                                     std::string(redis::text(**r).substr(0, 60));
    std::fprintf(stderr, "redis: %s-> %s\n", line.c_str(), got.c_str());
  }
  return r;
}

void ScriptedCommands::deliver(core::Result<redis::ReplyPtr> r, Callback done) {
  auto result = std::make_shared<core::Result<redis::ReplyPtr>>(std::move(r));
  later([this, result, done = std::move(done)] {
    const bool failed = !*result;
    repeated_failure_ = failed && last_failed_;
    last_failed_ = failed;
    done(std::move(*result));
    repeated_failure_ = false;
  });
}

void ScriptedCommands::command(std::span<const std::string_view> args, Callback done) {
  deliver(answer(args), std::move(done));
}

void ScriptedCommands::eval(redis::ScriptId id, std::span<const std::string_view> keys,
                            std::span<const std::string_view> args, Callback done) {
  std::vector<std::string_view> all = {"EVALSHA", redis::script(id).name};
  all.insert(all.end(), keys.begin(), keys.end());
  all.insert(all.end(), args.begin(), args.end());
  deliver(answer(all), std::move(done));
}

void ScriptedCommands::batch(std::vector<Command> commands, core::Millis, BatchCallback done) {
  auto results = std::make_shared<std::vector<core::Result<redis::ReplyPtr>>>();
  std::optional<core::Error> failure;
  for (const auto& command : commands) {
    const std::vector<std::string_view> args(command.begin(), command.end());
    results->push_back(answer(args));
    if (!results->back() && !failure) failure = results->back().error();
  }
  // A transaction goes whole or not at all.
  if (failure && !commands.empty() && !commands.front().empty() &&
      commands.front().front() == "MULTI") {
    for (auto& r : *results)
      r = *failure;
  }
  later([results, done = std::move(done)] { done(std::move(*results)); });
}

void ScriptedCommands::scan(std::string pattern, std::size_t limit, ScanCallback done) {
  auto state =
      std::make_shared<ScanState>(ScanState{std::move(pattern), limit, {}, std::move(done)});
  scan_next(std::move(state));
}

// As redis::Client::scan reads each SCAN reply.
void ScriptedCommands::scan_next(std::shared_ptr<ScanState> s) {
  const std::string_view args[] = {"SCAN", "(cursor)", "MATCH", s->pattern};
  deliver(answer(args), [this, s](core::Result<redis::ReplyPtr> r) {
    if (!r) return s->done(r.error());
    const redisReply* cursor = redis::element(**r, 0);
    const redisReply* keys = redis::element(**r, 1);
    if (cursor == nullptr || keys == nullptr || !redis::is_array(*keys)) {
      return s->done(core::make_error(core::Errc::internal, "unexpected SCAN reply"));
    }
    for (std::size_t i = 0; i < keys->elements && s->keys.size() < s->limit; ++i)
      s->keys.emplace_back(redis::text(*keys->element[i]));
    const std::string next_cursor(redis::text(*cursor));
    if (next_cursor == "0" || s->keys.size() >= s->limit) return s->done(std::move(s->keys));
    scan_next(s);
  });
}

void ScriptedCommands::drain() {
  while (!queue_.empty()) {
    auto job = std::move(queue_.front());
    queue_.pop_front();
    job();
  }
}

}  // namespace rl::test
