// Connection: one Redis connection on a libuv loop — TCP or Unix socket, AUTH and SELECT on
// connect, any number of commands pipelined on it, replies matched to commands in order.
// hiredis only parses the protocol; deadlines are ours: every command gets one, a command past
// it is answered with a timeout at once, and its late reply is read and dropped. A connection
// that stays silent past `stall_timeout` with commands overdue is dropped and dialled again
// with capped, jittered exponential backoff. Every callback given to send() runs exactly once.
// Loop-thread only; owned by a Client, which closes it before deleting it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>

#include <uv.h>

#include "config/redis_url.h"
#include "core/clock.h"
#include "core/result.h"
#include "redis/reply.h"

struct redisReader;

namespace rl::redis {

struct ConnectionOptions {
  config::RedisUrl url;
  core::Millis timeout{5};             // per command
  core::Millis connect_timeout{1000};  // connect plus AUTH/SELECT
  core::Millis stall_timeout{1000};    // overdue commands and no reply at all for this long
  core::Millis backoff_min{50};
  core::Millis backoff_max{2000};
  std::size_t max_pending = 20000;  // commands waiting for replies, overdue ones included
};

class Connection {
 public:
  enum class State { disconnected, connecting, ready, closed };
  using Callback = std::function<void(core::Result<ReplyPtr>)>;
  using StateListener = std::function<void(State state, std::string_view why)>;
  using PushHandler = std::function<void(ReplyPtr)>;

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

  State state() const { return state_; }
  bool ready() const { return state_ == State::ready; }
  std::size_t pending() const { return queue_.size() - overdue_; }

  // Sends a command. `done` gets the reply (error replies included), or an error: not
  // connected (unavailable), deadline passed (timeout), connection lost (unavailable).
  void send(std::span<const std::string_view> args, Callback done);
  void send(std::initializer_list<std::string_view> args, Callback done) {
    send(std::span<const std::string_view>(args.begin(), args.size()), std::move(done));
  }

 private:
  struct Pending {
    Callback done;  // empty once answered (overdue)
    std::uint64_t deadline_ms;
    std::uint64_t sent_ms;
  };

  static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void on_retry(uv_timer_t* timer);
  static void on_stream_closed(uv_handle_t* handle);

  void dial();
  void schedule_retry();
  void connect_to(const struct sockaddr* address);
  void maybe_closed();
  void handshake();
  void enqueue(std::span<const std::string_view> args, Callback done, std::uint64_t deadline_ms);
  void flush();
  void deliver(ReplyPtr reply);
  void expire(std::uint64_t now);
  void arm_timer();
  void fail(std::string_view why);
  void set_state(State state, std::string_view why);
  std::uint64_t now() const { return uv_now(loop_); }

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
  uv_timer_t timer_{};  // command deadlines, stall detection, connect timeout
  uv_timer_t retry_{};  // reconnect backoff
  redisReader* reader_ = nullptr;
  State state_ = State::disconnected;
  StateListener state_listener_;
  PushHandler push_handler_;
  std::deque<Pending> queue_;  // overdue ones first, then live ones, in send order
  std::size_t overdue_ = 0;
  std::string out_;
  std::string writing_;
  char read_buffer_[16 * 1024];
  std::uint64_t connect_started_ms_ = 0;
  std::uint64_t last_reply_ms_ = 0;
  core::Millis backoff_{0};
  std::size_t handshake_replies_ = 0;  // replies still expected before the connection is ready
  int handles_open_ = 0;
  std::function<void()> closed_;
};

std::string_view to_string(Connection::State state);

}  // namespace rl::redis
