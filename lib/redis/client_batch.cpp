// Client::batch: commands answered together, in order, with one callback. A transaction
// (MULTI … EXEC) goes whole on one connection or not at all; anything else goes in chunks, each
// sent once the previous one answered, so a resync of thousands of keys neither fills max_pending
// nor races one short deadline.
#include <algorithm>

#include "core/text.h"
#include "redis/client.h"

namespace rl::redis {

struct Client::Batch {
  std::vector<Command> commands;
  std::vector<core::Result<ReplyPtr>> results;
  BatchCallback done;
  core::Millis timeout{0};  // for each command, from when its chunk is sent
  bool transaction = false;
  std::size_t next = 0;     // the first command not sent yet
  std::size_t waiting = 0;  // replies still due for the commands sent
  std::string cut;          // why a command got no reply, if one did: send no more
};

namespace {

// Answers the commands from `from` on with `error` (they were not sent) and runs the callback.
void finish(Client::Batch& b, std::size_t from, const core::Error& error) {
  for (std::size_t i = from; i < b.results.size(); ++i)
    b.results[i] = error;
  auto done = std::move(b.done);
  done(std::move(b.results));
}

core::Error not_connected() {
  return core::make_error(core::Errc::unavailable, "Redis is not connected");
}

}  // namespace

void Client::batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) {
  auto b = std::make_shared<Batch>();
  b->timeout = timeout > core::Millis{0} ? timeout : timeout_;
  b->commands = std::move(commands);
  b->done = std::move(done);
  const std::size_t n = b->commands.size();
  if (n == 0) return b->done({});
  b->results.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    b->results.emplace_back(core::make_error(core::Errc::internal, "not answered"));
  const Command& first = b->commands.front();
  b->transaction = !first.empty() && core::iequals(first.front(), "MULTI");
  send_chunk(std::move(b));
}

// The next chunk: the whole batch if it is a transaction, never interleaved with anything.
void Client::send_chunk(std::shared_ptr<Batch> b) {
  const std::size_t n = b->commands.size();
  const std::size_t from = b->next;
  const std::size_t to = b->transaction ? n : std::min(n, from + kBatchChunk);
  Connection* c = pick();  // the shortest queue: if it has no room, none has
  if (c == nullptr) return finish(*b, from, not_connected());
  if (c->room() < to - from) return finish(*b, from, too_many_in_flight());
  b->next = to;
  b->waiting = to - from;
  std::vector<std::string_view> args;
  const Connection::Instant deadline = Connection::fresh_now() + b->timeout;
  for (std::size_t i = from; i < to; ++i) {
    args.assign(b->commands[i].begin(), b->commands[i].end());
    Callback one = [this, b, i](core::Result<ReplyPtr> r) { on_batch_reply(b, i, std::move(r)); };
    track(one, c);
    c->send(args, deadline, std::move(one));  // the last one may already finish the batch
  }
}

void Client::on_batch_reply(const std::shared_ptr<Batch>& b, std::size_t i,
                            core::Result<ReplyPtr> r) {
  const bool lost = !r;
  if (lost && b->cut.empty()) b->cut = r.error().message;
  b->results[i] = std::move(r);
  // A transaction cannot be left open in Redis: send_chunk() wrote it whole, in one go, on a
  // connection with room for all of it, each command with a fresh deadline, so a command of it
  // is refused only when the connection is gone (taking the MULTI with it). A command that
  // timed out was sent: Redis runs the EXEC, and its late reply is dropped.
  if (--b->waiting > 0) return;
  if (b->next == b->commands.size()) return finish(*b, b->next, core::Error{});
  if (!b->cut.empty()) {
    return finish(*b, b->next,
                  core::make_error(core::Errc::unavailable,
                                   "not sent: an earlier command of the batch failed: " + b->cut));
  }
  send_chunk(b);
}

}  // namespace rl::redis
