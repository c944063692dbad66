// ClusterClient::batch and scan. A batch is cut into segments — one command, or a MULTI … EXEC
// group, which must be of one slot — each routed by its key; a keyless command (PUBLISH) goes
// with the segment before it (or, first in the batch, the next keyed one). Consecutive segments
// for one node form a run, sent as one Client batch. A batch that only reads sends its runs to
// their nodes at once; any other batch sends them one after another, so a write after another
// (rl:schema after the bootstrap's writes, an event after its change) lands after it. Redirect
// and retry replies are retried command by command through the routed path, a transaction
// whole. Results come back in the caller's order, with one callback.
#include <algorithm>
#include <map>

#include "core/text.h"
#include "redis/cluster_client.h"

namespace rl::redis {
namespace {

using Results = std::vector<core::Result<ReplyPtr>>;

bool named(const Commands::Command& c, std::string_view name) {
  return !c.empty() && core::iequals(c.front(), name);
}

bool is_redirect(const core::Result<ReplyPtr>& r) {
  return r && redirect_of(**r).kind != Redirect::none;
}

}  // namespace

struct ClusterClient::Batch {
  struct Segment {
    std::size_t from = 0, to = 0;  // commands [from, to)
    int slot = -1;                 // -1: no key
    std::uint16_t node = SlotMap::kNoNode;
    bool transaction = false;
  };
  struct Run {
    std::uint16_t node = SlotMap::kNoNode;
    std::vector<std::size_t> segments;
  };
  std::vector<Command> commands;
  core::Millis timeout{0};  // each node's batch()'s
  Results results;
  BatchCallback done;
  std::vector<Segment> segments;
  std::vector<Run> runs;
  bool parallel = false;
  std::size_t next_run = 0;  // sequential: the next run to send
  std::size_t pending = 0;   // runs and retries not answered yet
};

namespace {

// Cuts `b` into segments, each with the slot of its (first) key.
void cut_segments(ClusterClient::Batch& b) {
  std::vector<std::string_view> args;
  const auto slot_of = [&args](const Commands::Command& c) {
    args.assign(c.begin(), c.end());
    const auto key = routing_key(args);
    return key ? static_cast<int>(key_slot(*key)) : -1;
  };
  const std::size_t n = b.commands.size();
  for (std::size_t i = 0; i < n;) {
    ClusterClient::Batch::Segment s;
    s.from = i;
    if (named(b.commands[i], "MULTI")) {
      std::size_t j = i + 1;
      while (j < n && !named(b.commands[j], "EXEC") && !named(b.commands[j], "DISCARD"))
        ++j;
      s.to = std::min(j + 1, n);
      s.transaction = true;
      for (std::size_t k = i + 1; k < s.to && s.slot < 0; ++k)
        s.slot = slot_of(b.commands[k]);
    } else {
      s.to = i + 1;
      s.slot = slot_of(b.commands[i]);
    }
    b.segments.push_back(s);
    i = s.to;
  }
}

}  // namespace

void ClusterClient::batch(std::vector<Command> commands, core::Millis timeout, BatchCallback done) {
  if (commands.empty()) return done({});
  auto b = std::make_shared<Batch>();
  b->timeout = timeout;
  b->commands = std::move(commands);
  b->done = std::move(done);
  const std::size_t n = b->commands.size();
  b->results.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    b->results.emplace_back(core::make_error(core::Errc::unavailable,
                                             "not sent: an earlier command of the batch failed"));
  }
  if (!map_known_) {
    request_refresh();
    for (auto& r : b->results)
      r = core::make_error(core::Errc::unavailable, "the Redis Cluster slot map is not known yet");
    return finish_batch(b);
  }
  cut_segments(*b);
  route_segments(*b);
  if (!b->parallel) {
    b->pending = 1;
    send_run(b, b->next_run++);
    return;
  }
  b->pending = b->runs.size();
  for (std::size_t r = 0; r < b->runs.size(); ++r)
    send_run(b, r);
}

// Nodes for the segments, keyless ones beside a neighbour; then the runs.
void ClusterClient::route_segments(Batch& b) {
  constexpr std::uint16_t kUnrouted = kNoNode - 1;
  std::uint16_t previous = kUnrouted;
  for (auto& s : b.segments) {
    s.node = s.slot >= 0 ? slots_[static_cast<std::size_t>(s.slot)] : previous;
    if (s.slot >= 0) previous = s.node;
  }
  std::uint16_t following = kUnrouted;
  for (auto it = b.segments.rbegin(); it != b.segments.rend(); ++it) {
    if (it->slot >= 0) following = it->node;
    if (it->node == kUnrouted) it->node = following;
  }
  for (auto& s : b.segments) {
    if (s.node == kUnrouted) s.node = any_master();  // nothing in the batch has a key
  }
  b.parallel = std::all_of(b.commands.begin(), b.commands.end(),
                           [](const Command& c) { return !c.empty() && is_read_only(c.front()); });
  const bool parallel = b.parallel;
  std::map<std::uint16_t, std::size_t> run_of_node;  // parallel: one run per node
  std::size_t run_size = 0;
  for (std::size_t i = 0; i < b.segments.size(); ++i) {
    const auto& s = b.segments[i];
    const std::size_t size = s.to - s.from;
    bool same = !b.runs.empty() && b.runs.back().node == s.node;
    // A transaction inside a run is safe only within one chunk (one connection, one write).
    if (same && s.transaction && run_size + size > Client::kBatchChunk) same = false;
    if (parallel) {
      auto [it, added] = run_of_node.emplace(s.node, b.runs.size());
      if (added) b.runs.push_back({s.node, {}});
      b.runs[it->second].segments.push_back(i);
      continue;
    }
    if (!same) {
      b.runs.push_back({s.node, {}});
      run_size = 0;
    }
    b.runs.back().segments.push_back(i);
    run_size += size;
  }
}

void ClusterClient::send_run(const std::shared_ptr<Batch>& b, std::size_t run) {
  const Batch::Run& r = b->runs[run];
  if (r.node == kNoNode || closing_) {
    request_refresh();
    Results failed;
    for (std::size_t s : r.segments) {
      for (std::size_t i = b->segments[s].from; i < b->segments[s].to; ++i) {
        failed.emplace_back(core::make_error(
            core::Errc::unavailable,
            "no Redis Cluster master serves the slot of " + b->commands[i].front()));
      }
    }
    return on_run_done(b, run, std::move(failed));
  }
  if (connecting(r.node)) {  // a new master's Client, still dialling: as for single calls
    return defer(Connection::fresh_now() + core::Millis{1},
                 [this, b, run](bool) { send_run(b, run); });  // closing: fails them
  }
  std::vector<Command> commands;
  for (std::size_t s : r.segments) {
    for (std::size_t i = b->segments[s].from; i < b->segments[s].to; ++i)
      commands.push_back(b->commands[i]);  // kept: a redirect sends it again
  }
  client_of(r.node).batch(std::move(commands), b->timeout, [this, b, run](Results results) {
    on_run_done(b, run, std::move(results));
  });
}

void ClusterClient::on_run_done(const std::shared_ptr<Batch>& b, std::size_t run, Results results) {
  const Batch::Run& r = b->runs[run];
  std::size_t k = 0;
  for (std::size_t s : r.segments) {
    for (std::size_t i = b->segments[s].from; i < b->segments[s].to; ++i)
      b->results[i] = std::move(results[k++]);
  }
  for (std::size_t s : r.segments) {
    const Batch::Segment& seg = b->segments[s];
    if (seg.transaction) {
      if (std::any_of(b->results.begin() + static_cast<std::ptrdiff_t>(seg.from),
                      b->results.begin() + static_cast<std::ptrdiff_t>(seg.to), is_redirect)) {
        ++b->pending;
        retry_transaction(b, s, 1);
      }
      continue;
    }
    if (!is_redirect(b->results[seg.from])) continue;
    // The routed path follows it from here, as if the command had been sent alone.
    ++b->pending;
    const Command& c = b->commands[seg.from];
    const std::vector<std::string_view> args(c.begin(), c.end());
    follow(args, seg.slot, r.node, std::move(b->results[seg.from]),
           [this, b, i = seg.from](core::Result<ReplyPtr> reply) {
             b->results[i] = std::move(reply);
             --b->pending;
             step(b);
           });
  }
  --b->pending;
  step(b);
}

// A transaction with a redirect inside was discarded by Redis (EXECABORT): it is sent whole
// again, at once after a MOVED, after a short wait otherwise (ASK and TRYAGAIN while a slot
// migrates, CLUSTERDOWN during a failover), at most kMaxRedirects times.
void ClusterClient::retry_transaction(const std::shared_ptr<Batch>& b, std::size_t segment,
                                      int attempt) {
  const Batch::Segment& s = b->segments[segment];
  RedirectReply redirect;
  for (std::size_t i = s.from; i < s.to && redirect.kind == Redirect::none; ++i) {
    if (b->results[i]) redirect = redirect_of(**b->results[i]);
  }
  if (redirect.kind == Redirect::none || attempt > kMaxRedirects || closing_) {
    --b->pending;
    return step(b);
  }
  request_refresh();
  const auto resend = [this, b, segment, attempt](bool go) {
    const Batch::Segment& seg = b->segments[segment];
    const std::uint16_t node = go ? node_of_slot(seg.slot) : kNoNode;
    if (node == kNoNode) {
      --b->pending;
      return step(b);
    }
    std::vector<Command> commands(b->commands.begin() + static_cast<std::ptrdiff_t>(seg.from),
                                  b->commands.begin() + static_cast<std::ptrdiff_t>(seg.to));
    client_of(node).batch(std::move(commands), [this, b, segment, attempt](Results results) {
      const Batch::Segment& again = b->segments[segment];
      for (std::size_t i = again.from; i < again.to; ++i)
        b->results[i] = std::move(results[i - again.from]);
      retry_transaction(b, segment, attempt + 1);
    });
  };
  if (redirect.kind == Redirect::moved) {
    cluster_metrics_.moved.inc();
    const config::HostPort to{
        redirect.host.empty() ? nodes_[b->segments[segment].node].address.host : redirect.host,
        redirect.port};
    moved(redirect.slot, to);
    return resend(true);
  }
  (redirect.kind == Redirect::ask        ? cluster_metrics_.ask
   : redirect.kind == Redirect::tryagain ? cluster_metrics_.tryagain
                                         : cluster_metrics_.clusterdown)
      .inc();
  defer(Connection::fresh_now() + core::Millis{1LL << (attempt - 1)}, resend);
}

// Sequential: the next run once everything sent so far has answered, unless a command got no
// reply (the rest are then not sent, as a single Client does). Then the callback, once.
void ClusterClient::step(const std::shared_ptr<Batch>& b) {
  if (b->pending > 0) return;
  if (!b->parallel && b->next_run < b->runs.size()) {
    const Batch::Run& last = b->runs[b->next_run - 1];
    std::string cut;
    for (std::size_t s : last.segments) {
      for (std::size_t i = b->segments[s].from; i < b->segments[s].to && cut.empty(); ++i) {
        if (!b->results[i]) cut = b->results[i].error().message;
      }
    }
    if (cut.empty()) {
      b->pending = 1;
      return send_run(b, b->next_run++);
    }
    for (std::size_t r = b->next_run; r < b->runs.size(); ++r) {
      for (std::size_t s : b->runs[r].segments) {
        for (std::size_t i = b->segments[s].from; i < b->segments[s].to; ++i) {
          b->results[i] = core::make_error(
              core::Errc::unavailable, "not sent: an earlier command of the batch failed: " + cut);
        }
      }
    }
  }
  finish_batch(b);
}

void ClusterClient::finish_batch(const std::shared_ptr<Batch>& b) {
  auto done = std::move(b->done);
  const bool outer = std::exchange(repeated_failure_, false);
  done(std::move(b->results));
  repeated_failure_ = outer;
}

// SCAN on every master at once, merged: a key in a slot being migrated may be on two.
void ClusterClient::scan(std::string pattern, std::size_t limit, ScanCallback done) {
  std::vector<std::uint16_t> masters;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].master) masters.push_back(static_cast<std::uint16_t>(i));
  }
  if (!map_known_ || masters.empty() || closing_) {
    request_refresh();
    return done(
        core::make_error(core::Errc::unavailable, "the Redis Cluster slot map is not known yet"));
  }
  struct State {
    std::vector<std::string> keys;
    std::size_t pending;
    std::optional<core::Error> error;
    ScanCallback done;
  };
  auto state = std::make_shared<State>(State{{}, masters.size(), std::nullopt, std::move(done)});
  for (std::uint16_t m : masters) {
    client_of(m).scan(pattern, limit,
                      [this, state, limit](core::Result<std::vector<std::string>> keys) {
                        if (!keys && !state->error) state->error = keys.error();
                        if (keys) {
                          for (auto& k : *keys)
                            state->keys.push_back(std::move(k));
                        }
                        if (--state->pending > 0) return;
                        const bool outer = std::exchange(repeated_failure_, false);
                        if (state->error) {
                          state->done(*state->error);
                        } else {
                          auto& all = state->keys;
                          std::sort(all.begin(), all.end());
                          all.erase(std::unique(all.begin(), all.end()), all.end());
                          if (all.size() > limit) all.resize(limit);
                          state->done(std::move(all));
                        }
                        repeated_failure_ = outer;
                      });
  }
}

}  // namespace rl::redis
