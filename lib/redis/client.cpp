// Picking a connection, EVALSHA with EVAL fallback, SCAN, script loading and metrics.
// Batches are in client_batch.cpp.
#include "redis/client.h"

#include <charconv>
#include <chrono>
#include <utility>

#include "redis/command_route.h"

namespace rl::redis {

// A command in flight, as track() measures it. Pooled: measuring allocates nothing.
struct Client::Tracked {
  Callback inner;
  Connection* connection = nullptr;
  Connection::Instant sent{0};
};

// A script call in flight: its callback and deadline, and its keys and arguments, owned, so it
// can be sent again as EVAL after NOSCRIPT. Pooled: once the pool's buffers have grown to the
// working size, a call allocates nothing.
struct Client::ScriptCall {
  ScriptId id{};
  Connection::Instant deadline{0};
  Callback done;
  std::string text;  // keys then args, back to back
  std::vector<std::size_t> lengths;
  std::size_t keys = 0;
  std::vector<std::string_view> command;  // the last one built, viewing `text`

  void fill(std::span<const std::string_view> k, std::span<const std::string_view> a) {
    text.clear();
    lengths.clear();
    keys = k.size();
    for (auto part : {k, a}) {
      for (std::string_view v : part) {
        text.append(v);
        lengths.push_back(v.size());
      }
    }
  }

  // VERB SCRIPT NUMKEYS keys... args...; valid until the next build() or fill().
  std::span<const std::string_view> build(std::string_view verb, std::string_view script,
                                          std::string_view numkeys) {
    command.assign({verb, script, numkeys});
    std::size_t at = 0;
    for (std::size_t len : lengths) {
      command.emplace_back(text.data() + at, len);
      at += len;
    }
    return command;
  }
};

ClientMetrics::ClientMetrics(obs::Registry& r)
    : latency(r.histogram("rl_redis_command_duration_seconds",
                          "Time from sending a Redis command to its reply.",
                          obs::latency_buckets())),
      timeouts(r.counter("rl_redis_errors_total", "Redis calls that failed, by kind.",
                         {{"kind", "timeout"}})),
      unavailable(r.counter("rl_redis_errors_total", "Redis calls that failed, by kind.",
                            {{"kind", "unavailable"}})),
      error_replies(r.counter("rl_redis_errors_total", "Redis calls that failed, by kind.",
                              {{"kind", "error_reply"}})),
      refused(r.counter("rl_redis_errors_total", "Redis calls that failed, by kind.",
                        {{"kind", "too_many_in_flight"}})),
      noscript(r.counter("rl_redis_noscript_total",
                         "Script calls re-sent with EVAL because Redis had lost the script.")),
      reconnects(r.counter("rl_redis_disconnects_total", "Redis connections lost.")),
      connected(r.gauge("rl_redis_connections_ready", "Redis connections ready for commands.")),
      in_flight(r.gauge("rl_redis_pipeline_depth",
                        "Redis commands sent and not yet answered (the pipeline depth).")) {}

Client::Client(uv_loop_t* loop, ConnectionOptions options, int connections, obs::Logger& log,
               ClientMetrics& metrics)
    : loop_(loop),
      log_(log),
      metrics_(metrics),
      timeout_(options.timeout),
      setup_timeout_(options.connect_timeout),
      url_(options.url),
      endpoint_(options.url.redacted()),
      was_ready_(static_cast<std::size_t>(connections), false) {
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<Connection>(loop, options);
    Connection* raw = c.get();
    c->set_state_listener([this, raw, i](Connection::State state, std::string_view why) {
      const auto n = static_cast<std::size_t>(i);
      if (was_ready_[n] && state != Connection::State::ready) metrics_.connected.add(-1);
      if (state == Connection::State::ready) {
        metrics_.connected.add(1);
        log_.info("redis_connected", {{"endpoint", endpoint_}, {"connection", i}});
        load_scripts(*raw);
      } else if (state == Connection::State::disconnected) {
        last_error_ = std::string(why);
        if (was_ready_[n]) metrics_.reconnects.inc();
        log_.warn("redis_disconnected",
                  {{"endpoint", endpoint_}, {"connection", i}, {"reason", why}});
      }
      was_ready_[n] = state == Connection::State::ready;
      if (state == Connection::State::ready && on_ready_) on_ready_();
    });
    connections_.push_back(std::move(c));
  }
}

Client::~Client() = default;

void Client::start() {
  for (auto& c : connections_)
    c->start();
}

void Client::close(std::function<void()> closed) {
  auto remaining = std::make_shared<std::size_t>(connections_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(closed));
  for (auto& c : connections_) {
    c->close([remaining, done] {
      if (--*remaining == 0 && *done) (*done)();
    });
  }
}

bool Client::ready() const {
  for (const auto& c : connections_) {
    if (c->ready()) return true;
  }
  return false;
}

Connection* Client::pick() {
  Connection* best = nullptr;
  for (auto& c : connections_) {
    if (c->ready() && (best == nullptr || c->queued() < best->queued())) best = c.get();
  }
  return best;
}

void Client::track(Callback& done, Connection* c) {
  Tracked* t = tracked_.acquire();
  t->inner = std::move(done);
  t->connection = c;
  t->sent = Connection::fresh_now();
  done = [this, t](core::Result<ReplyPtr> r) { on_reply(t, std::move(r)); };
  metrics_.in_flight.add(1);
}

void Client::on_reply(Tracked* t, core::Result<ReplyPtr> r) {
  Callback inner = std::move(t->inner);
  Connection* c = t->connection;
  const Connection::Instant sent = t->sent;
  tracked_.release(t);
  metrics_.in_flight.add(-1);
  if (r) {
    metrics_.latency.observe(
        std::chrono::duration_cast<std::chrono::microseconds>(Connection::fresh_now() - sent));
    // A redirection is followed by the cluster client, and counted there.
    if (is_error(**r) && !is_redirection(**r)) metrics_.error_replies.inc();
  } else if (r.error().code == core::Errc::timeout) {
    metrics_.timeouts.inc();
  } else if (r.error().code == core::Errc::overloaded) {
    metrics_.refused.inc();
  } else {
    metrics_.unavailable.inc();
  }
  const bool repeated = !r && c != nullptr && c->repeated_failure();
  // A master turned replica (a failover) refuses every write on this connection, and a
  // name or address that moved to the new master is only followed by dialling it again.
  const bool demoted = r && is_error(**r) && text(**r).starts_with("READONLY");
  const bool outer = std::exchange(repeated_failure_, repeated);  // callbacks may nest
  inner(std::move(r));
  repeated_failure_ = outer;
  if (demoted && c != nullptr) c->reset("Redis answered READONLY: the server is a replica now");
}

void Client::command(std::span<const std::string_view> args, Callback done) {
  command(args, Connection::fresh_now() + timeout_, std::move(done));
}

void Client::command(std::span<const std::string_view> args, Connection::Instant deadline,
                     Callback done) {
  Connection* c = pick();
  track(done, c);
  if (c == nullptr)
    return done(core::make_error(core::Errc::unavailable, "Redis is not connected"));
  c->send(args, deadline, std::move(done));
}

void Client::eval(ScriptId id, std::span<const std::string_view> keys,
                  std::span<const std::string_view> args, Callback done) {
  eval(id, keys, args, Connection::fresh_now() + timeout_, std::move(done));
}

void Client::eval(ScriptId id, std::span<const std::string_view> keys,
                  std::span<const std::string_view> args, Connection::Instant deadline,
                  Callback done) {
  ScriptCall* call = script_calls_.acquire();
  call->id = id;
  call->deadline = deadline;
  call->done = std::move(done);
  call->fill(keys, args);
  char numkeys[8];
  *std::to_chars(numkeys, numkeys + sizeof numkeys - 1, keys.size()).ptr = '\0';
  // The retry gets what is left of this deadline: the caller's wait is bounded by one timeout.
  command(call->build("EVALSHA", script(id).sha1, numkeys), deadline,
          [this, call](core::Result<ReplyPtr> r) {
            if (!r || !is_error(**r) || !text(**r).starts_with("NOSCRIPT")) {
              return answer(call, std::move(r));
            }
            // Redis lost the script (SCRIPT FLUSH, restart): send it whole, which caches it
            // again; not at all if the budget is spent (answered as a timeout).
            metrics_.noscript.inc();
            char n[8];
            *std::to_chars(n, n + sizeof n - 1, call->keys).ptr = '\0';
            command(call->build("EVAL", script(call->id).source, n), call->deadline,
                    [this, call](core::Result<ReplyPtr> again) { answer(call, std::move(again)); });
          });
}

void Client::answer(ScriptCall* call, core::Result<ReplyPtr> r) {
  Callback done = std::move(call->done);
  script_calls_.release(call);
  done(std::move(r));
}

void Client::scan(std::string pattern, std::size_t limit, ScanCallback done) {
  struct State {
    std::string pattern;
    std::size_t limit;
    std::vector<std::string> keys;
    std::function<void(core::Result<std::vector<std::string>>)> done;
    std::function<void(std::string)> next;
  };
  auto state = std::make_shared<State>(State{std::move(pattern), limit, {}, std::move(done), {}});
  state->next = [this, weak = std::weak_ptr<State>(state)](std::string cursor) {
    auto s = weak.lock();
    if (!s) return;
    command({"SCAN", cursor, "MATCH", s->pattern, "COUNT", "1000"}, [s](core::Result<ReplyPtr> r) {
      if (!r) return s->done(r.error());
      const redisReply* cursor_reply = element(**r, 0);
      const redisReply* keys = element(**r, 1);
      if (cursor_reply == nullptr || keys == nullptr || !is_array(*keys)) {
        return s->done(core::make_error(core::Errc::internal, "unexpected SCAN reply"));
      }
      for (std::size_t i = 0; i < keys->elements && s->keys.size() < s->limit; ++i) {
        s->keys.emplace_back(text(*keys->element[i]));
      }
      const std::string next(text(*cursor_reply));
      if (next == "0" || s->keys.size() >= s->limit) return s->done(std::move(s->keys));
      s->next(next);
    });
  };
  state->next("0");
}

// Part of setting a connection up, not a decision: the scripts get the connect deadline, not
// the decisions' few milliseconds, which a busy host at start-up may miss.
void Client::load_scripts(Connection& c) {
  const Connection::Instant deadline = Connection::fresh_now() + setup_timeout_;
  for (const Script& s : all_scripts()) {
    const std::string_view args[] = {"SCRIPT", "LOAD", s.source};
    c.send(args, deadline, [this, &s](core::Result<ReplyPtr> r) {
      if (!r || is_error(**r) || text(**r) != s.sha1) {
        log_.warn("redis_script_load_failed",
                  {{"script", s.name}, {"error", r ? std::string(text(**r)) : r.error().message}});
      }
    });
  }
}

}  // namespace rl::redis
