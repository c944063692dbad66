// Connection: one Redis connection on a libuv loop — TCP or Unix socket, AUTH and SELECT on
// connect, any number of commands pipelined on it, replies matched to commands in order.
// hiredis only parses the protocol; deadlines are ours: every command gets one, measured on a
// fresh clock, and a command still unanswered past it — after the replies already waiting in
// the socket have been read — is answered with a timeout; its late reply is read and dropped.
// A connection whose oldest unanswered command has waited `stall_timeout` is dropped and
// dialled again with capped, jittered exponential backoff. With `require_master`, a server
// that says it is a replica (ROLE) fails the handshake like a refused AUTH. Every callback
// given to send() runs exactly once. Loop-thread only; owned by a Client or Subscriber, which
// closes it before deleting it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include <uv.h>

#include "config/redis_url.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/ring_queue.h"
#include "redis/reply.h"

struct redisReader;

namespace rl::redis {

struct ConnectionOptions {
  config::RedisUrl url;
  core::Millis timeout{5};             // per command
  core::Millis connect_timeout{1000};  // connect plus AUTH/SELECT
  core::Millis stall_timeout{1000};    // the oldest unanswered command has waited this long
  core::Millis backoff_min{50};
  core::Millis backoff_max{2000};
  // The commands write: a replica cannot serve them (READONLY), so it is not a usable
  // endpoint. A server that does not know ROLE (a proxy) is taken as it is.
  bool require_master = false;
  std::size_t max_pending = 20000;  // commands waiting for replies, overdue ones included
};

// The error of a command refused because this process already has `max_pending` commands
// waiting on the connection: a local limit (Errc::overloaded), not a sign that Redis is down.
core::Error too_many_in_flight();

// The wait before a dial after a failure: drawn between half the backoff and the backoff
// (`random` picks where), so connections that failed together do not all come back together,
// and the wait never exceeds backoff_max.
core::Millis retry_delay(core::Millis backoff, std::uint64_t random);

class Connection {
 public:
  enum class State { disconnected, connecting, ready, closed };
  using Callback = std::function<void(core::Result<ReplyPtr>)>;
  using StateListener = std::function<void(State state, std::string_view why)>;
  using PushHandler = std::function<void(ReplyPtr)>;
  // A point in time on uv_hrtime(), read fresh: never the loop's cached time, which lags by
  // however long the current loop iteration has run.
  using Instant = std::chrono::nanoseconds;
  static Instant fresh_now() { return Instant{uv_hrtime()}; }

  Connection(uv_loop_t* loop, ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void set_state_listener(StateListener listener) { state_listener_ = std::move(listener); }
  // Subscriber mode: replies that are pub/sub messages go here instead of to a command.
  void set_push_handler(PushHandler handler) { push_handler_ = std::move(handler); }

  void start();
  // Fails what is pending, closes the handles; `closed` runs when libuv is done with them.
  void close(std::function<void()> closed);
  // Drops a connecting or ready connection (failing what is pending, as when it is lost) and
  // dials again after the backoff; for a connection left in a state we cannot trust.
  void reset(std::string_view why) { fail(why); }
  // The next dial (after a failure, with its backoff) goes to `url`: a subscriber moving to
  // another node of a cluster. The connection up now, if any, is left alone.
  void retarget(config::RedisUrl url) { options_.url = std::move(url); }

  State state() const { return state_; }
  bool ready() const { return state_ == State::ready; }
  const ConnectionOptions& options() const { return options_; }
  // Commands waiting for their replies: all of them, and those still within their deadline.
  std::size_t queued() const { return queue_.size(); }
  std::size_t pending() const { return queue_.size() - overdue_; }
  // How many more commands send() accepts now (max_pending less what is queued).
  std::size_t room() const {
    return queue_.size() < options_.max_pending ? options_.max_pending - queue_.size() : 0;
  }
  // The backoff after a failure (doubles per failed attempt up to backoff_max, resets once
  // connected), and the jittered wait actually scheduled before the last dial (retry_delay()).
  core::Millis backoff() const { return backoff_; }
  core::Millis last_retry_delay() const { return last_retry_delay_; }
  // Read inside a callback: whether its failure is the second or later of one burst — the
  // deadlines expired together in one pass, or the commands failed together when the
  // connection was lost. Failure accounting (a circuit breaker) counts a burst once.
  bool repeated_failure() const { return repeated_failure_; }

  // Sends a command. `done` gets the reply (error replies included), or an error: not
  // connected (unavailable), deadline passed (timeout), connection lost (unavailable), too
  // many commands waiting (too_many_in_flight()). A refused command is answered at once.
  void send(std::span<const std::string_view> args, Callback done);
  void send(std::initializer_list<std::string_view> args, Callback done) {
    send(std::span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }
  // The same with a deadline of the caller's (what is left of an earlier call's budget); one
  // already passed is answered with a timeout and not sent.
  void send(std::span<const std::string_view> args, Instant deadline, Callback done);

 private:
  struct Pending {
    Callback done;  // empty once answered (overdue)
    Instant deadline;
    Instant sent;
  };

  static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_check(uv_check_t* check);
  static void on_flush_prepare(uv_prepare_t* prepare);
  static void on_retry(uv_timer_t* timer);
  static void on_stream_closed(uv_handle_t* handle);

  void dial();
  void schedule_retry();
  void connect_to(const struct sockaddr* address);
  void maybe_closed();
  void handshake();
  void on_handshake_reply(core::Result<ReplyPtr> r, bool role);
  void enqueue(std::span<const std::string_view> args, Callback done, Instant deadline);
  void refuse(Callback& done, core::Error error);
  void flush();
  void deliver(ReplyPtr reply);
  void start_pass();
  void stop_pass();
  void check_deadlines();
  void expire(Instant now);
  void arm_timer();
  void fail(std::string_view why);
  void answer_all(core::RingQueue<Pending>& failed, const core::Error& error);
  void set_state(State state, std::string_view why);

  uv_loop_t* loop_;
  ConnectionOptions options_;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } stream_{};
  bool stream_open_ = false;
  uv_connect_t connect_req_{};
  uv_getaddrinfo_t resolve_req_{};
  bool resolving_ = false;
  uv_write_t write_req_{};
  // Deadlines, stall and connect timeout: the timer fires when one may have passed; it starts
  // a pass (check_ after the next I/O poll, idle_ so that poll does not block) which reads
  // the fresh clock and expires only what is still unanswered once waiting replies are read.
  uv_timer_t timer_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  bool passing_ = false;
  // Commands are written once per loop turn, just before the loop polls: everything sent in
  // that turn (a batch of HTTP requests' decisions) goes to Redis in one write.
  uv_prepare_t flush_prepare_{};
  bool flush_armed_ = false;
  uv_timer_t retry_{};  // reconnect backoff
  redisReader* reader_ = nullptr;
  State state_ = State::disconnected;
  StateListener state_listener_;
  PushHandler push_handler_;
  // Overdue ones first, then live ones, in send order. Deadlines never decrease along the
  // queue (enqueue() clamps), so the first live command is always the next to expire.
  core::RingQueue<Pending> queue_;  // allocates nothing in steady state, unlike std::deque
  std::size_t overdue_ = 0;
  std::string out_;
  std::string writing_;
  char read_buffer_[16 * 1024];
  Instant connect_started_{0};
  core::Millis backoff_{0};
  core::Millis last_retry_delay_{0};
  std::size_t handshake_replies_ = 0;  // replies still expected before the connection is ready
  bool repeated_failure_ = false;
  int handles_open_ = 0;
  std::function<void()> closed_;
};

std::string_view to_string(Connection::State state);

}  // namespace rl::redis
