// The Redis connection's life: dial (resolving names), handshake, pipelined commands with
// deadlines, replies in order, and on any failure: fail what is pending, close, dial again.
#include "redis/connection.h"

#include <algorithm>
#include <cstring>
#include <netdb.h>

#include <hiredis/read.h>

#include "core/random.h"
#include "security/ip_address.h"

namespace rl::redis {
namespace {

core::Error unavailable(std::string_view why) {
  return core::make_error(core::Errc::unavailable, std::string(why));
}

bool is_push_message(const redisReply& r) {
  const redisReply* kind = element(r, 0);
  return kind != nullptr && (text(*kind) == "message" || text(*kind) == "pmessage");
}

}  // namespace

std::string_view to_string(Connection::State state) {
  switch (state) {
    case Connection::State::disconnected:
      return "disconnected";
    case Connection::State::connecting:
      return "connecting";
    case Connection::State::ready:
      return "ready";
    case Connection::State::closed:
      return "closed";
  }
  return "closed";
}

Connection::Connection(uv_loop_t* loop, ConnectionOptions options)
    : loop_(loop), options_(std::move(options)) {}

Connection::~Connection() {
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void Connection::set_state(State state, std::string_view why) {
  if (state == state_) return;
  state_ = state;
  if (state_listener_) state_listener_(state, why);
}

void Connection::start() {
  uv_timer_init(loop_, &timer_);
  uv_timer_init(loop_, &retry_);
  timer_.data = retry_.data = this;
  handles_open_ = 2;
  reader_ = redisReaderCreate();
  dial();
}

void Connection::dial() {
  if (state_ == State::closed) return;
  set_state(State::connecting, "dialling");
  connect_started_ms_ = now();
  arm_timer();
  const config::RedisUrl& url = options_.url;
  if (url.kind == config::RedisUrl::Kind::unix_socket) {
    uv_pipe_init(loop_, &stream_.pipe, 0);
    stream_.handle.data = this;
    stream_open_ = true;
    ++handles_open_;
    connect_req_.data = this;
    uv_pipe_connect(&connect_req_, &stream_.pipe, url.path.c_str(), on_connect);
    return;
  }
  sockaddr_storage address{};
  if (const auto ip = security::IpAddress::parse(url.host)) {
    if (ip->is_v4()) {
      uv_ip4_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in*>(&address));
    } else {
      uv_ip6_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in6*>(&address));
    }
    return connect_to(reinterpret_cast<const sockaddr*>(&address));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  const std::string port = std::to_string(url.port);
  if (uv_getaddrinfo(loop_, &resolve_req_, on_resolved, url.host.c_str(), port.c_str(), &hints) !=
      0) {
    return fail("cannot resolve " + url.host);
  }
  resolving_ = true;
}

void Connection::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* c = static_cast<Connection*>(req->data);
  c->resolving_ = false;
  if (c->state_ == State::closed) {
    if (res != nullptr) uv_freeaddrinfo(res);
    return c->maybe_closed();
  }
  if (status != 0 || res == nullptr) {
    if (res != nullptr) uv_freeaddrinfo(res);
    return c->fail("cannot resolve " + c->options_.url.host + ": " + uv_strerror(status));
  }
  sockaddr_storage address{};
  std::memcpy(&address, res->ai_addr, std::min<std::size_t>(res->ai_addrlen, sizeof address));
  uv_freeaddrinfo(res);
  if (c->state_ == State::connecting) c->connect_to(reinterpret_cast<const sockaddr*>(&address));
}

void Connection::connect_to(const sockaddr* address) {
  uv_tcp_init(loop_, &stream_.tcp);
  stream_.handle.data = this;
  stream_open_ = true;
  ++handles_open_;
  uv_tcp_nodelay(&stream_.tcp, 1);
  connect_req_.data = this;
  if (const int r = uv_tcp_connect(&connect_req_, &stream_.tcp, address, on_connect); r != 0) {
    fail(std::string("connect: ") + uv_strerror(r));
  }
}

void Connection::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED || c->state_ != State::connecting) return;
  if (status < 0) return c->fail(std::string("connect: ") + uv_strerror(status));
  uv_read_start(&c->stream_.stream, on_alloc, on_read);
  c->handshake();
}

void Connection::handshake() {
  const config::RedisUrl& url = options_.url;
  const std::uint64_t deadline = connect_started_ms_ + options_.connect_timeout.count();
  const auto step = [this](core::Result<ReplyPtr> r) {
    if (!r) return fail(r.error().message);
    if (is_error(**r)) return fail(std::string("handshake refused: ") + std::string(text(**r)));
    if (--handshake_replies_ == 0) {
      backoff_ = core::Millis{0};
      set_state(State::ready, "connected");
    }
  };
  handshake_replies_ = 1;  // the PING that proves the server answers
  if (!url.password.empty()) {
    ++handshake_replies_;
    if (url.username.empty()) {
      const std::string_view args[] = {"AUTH", url.password};
      enqueue(args, step, deadline);
    } else {
      const std::string_view args[] = {"AUTH", url.username, url.password};
      enqueue(args, step, deadline);
    }
  }
  const std::string db = std::to_string(url.db);
  if (url.db != 0) {
    ++handshake_replies_;
    const std::string_view args[] = {"SELECT", db};
    enqueue(args, step, deadline);
  }
  const std::string_view ping[] = {"PING"};
  enqueue(ping, step, deadline);
}

void Connection::send(std::span<const std::string_view> args, Callback done) {
  if (state_ != State::ready) return done(unavailable("not connected to Redis"));
  if (queue_.size() >= options_.max_pending) {
    return done(unavailable("too many Redis commands in flight"));
  }
  enqueue(args, std::move(done), now() + static_cast<std::uint64_t>(options_.timeout.count()));
}

void Connection::enqueue(std::span<const std::string_view> args, Callback done,
                         std::uint64_t deadline_ms) {
  append_command(out_, args);
  const bool first_live = queue_.size() == overdue_;
  queue_.push_back(Pending{std::move(done), deadline_ms, now()});
  if (first_live) arm_timer();
  flush();
}

void Connection::flush() {
  if (!writing_.empty() || out_.empty() || !stream_open_) return;
  writing_.swap(out_);
  out_.clear();
  write_req_.data = this;
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (const int r = uv_write(&write_req_, &stream_.stream, &buf, 1, on_write); r != 0) {
    writing_.clear();
    fail(std::string("write: ") + uv_strerror(r));
  }
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->writing_.clear();
  if (status == UV_ECANCELED) return;  // the stream is being closed
  if (status < 0) return c->fail(std::string("write: ") + uv_strerror(status));
  c->flush();
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  buf->base = c->read_buffer_;
  buf->len = sizeof c->read_buffer_;
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    return c->fail(nread == UV_EOF ? "Redis closed the connection"
                                   : std::string("read: ") + uv_strerror(static_cast<int>(nread)));
  }
  if (redisReaderFeed(c->reader_, buf->base, static_cast<std::size_t>(nread)) != REDIS_OK) {
    return c->fail("protocol error");
  }
  while (c->stream_open_ && c->state_ != State::closed) {
    void* reply = nullptr;
    if (redisReaderGetReply(c->reader_, &reply) != REDIS_OK) {
      return c->fail(std::string("protocol error: ") + c->reader_->errstr);
    }
    if (reply == nullptr) break;
    c->deliver(ReplyPtr(static_cast<redisReply*>(reply)));
  }
}

void Connection::deliver(ReplyPtr reply) {
  last_reply_ms_ = now();
  if (push_handler_ && is_push_message(*reply)) return push_handler_(std::move(reply));
  if (queue_.empty()) return fail("a reply nobody asked for");
  Pending front = std::move(queue_.front());
  queue_.pop_front();
  if (!front.done) {  // answered already by its deadline: drop the late reply
    --overdue_;
    return;
  }
  front.done(std::move(reply));  // the deadline timer re-arms itself when it fires
}

void Connection::expire(std::uint64_t t) {
  while (overdue_ < queue_.size() && queue_[overdue_].deadline_ms <= t) {
    Callback done = std::move(queue_[overdue_].done);
    queue_[overdue_].done = nullptr;
    ++overdue_;
    done(core::make_error(core::Errc::timeout, "Redis did not answer in time"));
  }
}

void Connection::arm_timer() {
  if (state_ == State::closed || handles_open_ == 0) return;
  std::uint64_t at = UINT64_MAX;
  if (state_ == State::connecting) {
    at = connect_started_ms_ + static_cast<std::uint64_t>(options_.connect_timeout.count());
  }
  if (overdue_ < queue_.size()) at = std::min(at, queue_[overdue_].deadline_ms);
  if (overdue_ > 0) {
    at = std::min(
        at, queue_.front().sent_ms + static_cast<std::uint64_t>(options_.stall_timeout.count()));
  }
  if (at == UINT64_MAX) {
    uv_timer_stop(&timer_);
    return;
  }
  const std::uint64_t t = now();
  uv_timer_start(&timer_, on_timer, at > t ? at - t : 0, 0);
}

void Connection::on_timer(uv_timer_t* timer) {
  auto* c = static_cast<Connection*>(timer->data);
  const std::uint64_t t = c->now();
  if (c->state_ == State::connecting &&
      t - c->connect_started_ms_ >=
          static_cast<std::uint64_t>(c->options_.connect_timeout.count())) {
    return c->fail("connect timed out");
  }
  c->expire(t);
  if (c->overdue_ > 0 && c->state_ != State::closed &&
      t - c->queue_.front().sent_ms >=
          static_cast<std::uint64_t>(c->options_.stall_timeout.count())) {
    return c->fail("Redis stopped answering");
  }
  c->arm_timer();
}

void Connection::fail(std::string_view why) {
  if (state_ == State::closed) return;
  const std::string reason(why);
  std::deque<Pending> failed;
  failed.swap(queue_);
  overdue_ = 0;
  out_.clear();
  handshake_replies_ = 0;
  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  uv_timer_stop(&timer_);
  set_state(State::disconnected, reason);
  const std::int64_t doubled = std::max(options_.backoff_min.count(), backoff_.count() * 2);
  backoff_ = core::Millis{std::min(doubled, options_.backoff_max.count())};
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  if (stream_open_) {
    stream_open_ = false;
    uv_close(&stream_.handle, on_stream_closed);  // which schedules the next attempt
  } else {
    schedule_retry();
  }
  for (auto& p : failed) {
    if (p.done) p.done(unavailable(reason));
  }
}

void Connection::on_stream_closed(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  --c->handles_open_;
  if (c->state_ == State::closed) return c->maybe_closed();
  c->schedule_retry();
}

void Connection::schedule_retry() {
  // Jitter (0 to half the backoff) keeps many instances from reconnecting in lockstep.
  const std::int64_t base = backoff_.count();
  const auto jitter =
      static_cast<std::int64_t>(core::fast_random() % static_cast<std::uint64_t>(base / 2 + 1));
  uv_timer_start(&retry_, on_retry, static_cast<std::uint64_t>(base + jitter), 0);
}

void Connection::on_retry(uv_timer_t* timer) {
  auto* c = static_cast<Connection*>(timer->data);
  if (c->resolving_) return c->schedule_retry();  // a cancelled lookup has not returned yet
  c->dial();
}

void Connection::close(std::function<void()> closed) {
  closed_ = std::move(closed);
  if (state_ == State::closed) return;
  std::deque<Pending> failed;
  failed.swap(queue_);
  overdue_ = 0;
  set_state(State::closed, "closing");
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  const auto closed_cb = [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    --c->handles_open_;
    c->maybe_closed();
  };
  if (handles_open_ > 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), closed_cb);
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_), closed_cb);
  }
  if (stream_open_) {
    stream_open_ = false;
    uv_close(&stream_.handle, closed_cb);
  }
  for (auto& p : failed) {
    if (p.done) p.done(unavailable("closing"));
  }
  maybe_closed();
}

void Connection::maybe_closed() {
  if (state_ != State::closed || handles_open_ > 0 || resolving_ || !closed_) return;
  auto done = std::move(closed_);
  closed_ = nullptr;
  done();
}

}  // namespace rl::redis
