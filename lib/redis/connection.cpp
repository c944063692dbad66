// The Redis connection's commands: pipelined with deadlines on a fresh clock, replies matched
// in order, expiry after the I/O poll, and on any failure: fail what is pending, close, and
// dial again (connection_dial.cpp).
#include "redis/connection.h"

#include <algorithm>
#include <utility>

#include <hiredis/read.h>

namespace rl::redis {
namespace {

core::Error unavailable(std::string_view why) {
  return core::make_error(core::Errc::unavailable, std::string(why));
}

core::Error deadline_passed() {
  return core::make_error(core::Errc::timeout, "Redis did not answer in time");
}

// Sets a flag for the length of a scope, then puts back what it was (callbacks nest).
class FlagScope {
 public:
  FlagScope(bool& flag, bool value) : flag_(flag), saved_(std::exchange(flag, value)) {}
  ~FlagScope() { flag_ = saved_; }
  FlagScope(const FlagScope&) = delete;
  FlagScope& operator=(const FlagScope&) = delete;

 private:
  bool& flag_;
  bool saved_;
};

bool is_push_message(const redisReply& r) {
  const redisReply* kind = element(r, 0);
  return kind != nullptr && (text(*kind) == "message" || text(*kind) == "pmessage");
}

}  // namespace

core::Error too_many_in_flight() {
  return core::make_error(core::Errc::overloaded,
                          "too many Redis commands in flight (max_pending reached in rld)");
}

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
  uv_check_init(loop_, &check_);
  uv_idle_init(loop_, &idle_);
  uv_prepare_init(loop_, &flush_prepare_);
  timer_.data = retry_.data = check_.data = idle_.data = flush_prepare_.data = this;
  handles_open_ = 5;
  reader_ = make_reader();
  dial();
}

void Connection::send(std::span<const std::string_view> args, Callback done) {
  send(args, fresh_now() + options_.timeout, std::move(done));
}

void Connection::send(std::span<const std::string_view> args, Instant deadline, Callback done) {
  if (state_ != State::ready) return refuse(done, unavailable("not connected to Redis"));
  if (queue_.size() >= options_.max_pending) return refuse(done, too_many_in_flight());
  if (deadline <= fresh_now()) return refuse(done, deadline_passed());
  enqueue(args, std::move(done), deadline);
}

void Connection::refuse(Callback& done, core::Error error) {
  const FlagScope single(repeated_failure_, false);  // even inside another burst's callback
  done(std::move(error));
}

void Connection::enqueue(std::span<const std::string_view> args, Callback done, Instant deadline) {
  append_command(out_, args);
  // A deadline earlier than one already queued (a retry's remaining budget) waits for that
  // one: the queue stays in deadline order, which expire() and arm_timer() rely on.
  if (!queue_.empty()) deadline = std::max(deadline, queue_.back().deadline);
  const bool first_live = queue_.size() == overdue_;
  queue_.push_back(Pending{std::move(done), deadline, fresh_now()});
  if (first_live) arm_timer();
  if (!flush_armed_) {
    flush_armed_ = true;
    uv_prepare_start(&flush_prepare_, on_flush_prepare);
  }
}

void Connection::on_flush_prepare(uv_prepare_t* prepare) {
  auto* c = static_cast<Connection*>(prepare->data);
  c->flush_armed_ = false;
  uv_prepare_stop(prepare);
  c->flush();
}

void Connection::flush() {
  if (!writing_.empty() || out_.empty() || !stream_open_) return;
  // Usually all of it fits the socket buffer: written here, it needs no write request (whose
  // completion costs libuv an epoll_ctl). The rest, if any, goes through uv_write.
  uv_buf_t all = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  const int written = uv_try_write(&stream_.stream, &all, 1);
  if (written == static_cast<int>(out_.size())) {
    out_.clear();
    return;
  }
  if (written > 0) {
    out_.erase(0, static_cast<std::size_t>(written));
  } else if (written != UV_EAGAIN && written != UV_ENOSYS) {
    return fail(std::string("write: ") + uv_strerror(written));
  }
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

void Connection::on_timer(uv_timer_t* timer) {
  static_cast<Connection*>(timer->data)->start_pass();
}

// A deadline may have passed, but the loop (not Redis) may be what was slow: replies may be
// waiting in the socket. Expire only after the next I/O poll has read them.
void Connection::start_pass() {
  if (passing_) return;
  passing_ = true;
  uv_idle_start(&idle_, [](uv_idle_t*) {});  // an active idle handle makes the poll not block
  uv_check_start(&check_, on_check);
}

void Connection::stop_pass() {
  if (!passing_) return;
  passing_ = false;
  uv_idle_stop(&idle_);
  uv_check_stop(&check_);
}

void Connection::on_check(uv_check_t* check) {
  auto* c = static_cast<Connection*>(check->data);
  c->stop_pass();
  c->check_deadlines();
}

void Connection::check_deadlines() {
  const Instant t = fresh_now();
  if (state_ == State::connecting && t - connect_started_ >= options_.connect_timeout) {
    return fail("connect timed out");
  }
  expire(t);
  if (overdue_ > 0 && t - queue_.front().sent >= options_.stall_timeout) {
    return fail("Redis stopped answering");
  }
  arm_timer();
}

// Everything past its deadline at `t`, in one pass: one burst (see repeated_failure()).
void Connection::expire(Instant t) {
  bool first = true;
  while (overdue_ < queue_.size() && queue_[overdue_].deadline <= t) {
    Callback done = std::move(queue_[overdue_].done);
    queue_[overdue_].done = nullptr;
    ++overdue_;
    const FlagScope burst(repeated_failure_, !first);
    first = false;
    done(deadline_passed());  // which may send more, or reset() and empty the queue
  }
}

void Connection::arm_timer() {
  if (state_ == State::closed || handles_open_ == 0) return;
  Instant at = Instant::max();
  if (state_ == State::connecting) at = connect_started_ + options_.connect_timeout;
  if (overdue_ < queue_.size()) at = std::min(at, queue_[overdue_].deadline);
  if (overdue_ > 0) at = std::min(at, queue_.front().sent + options_.stall_timeout);
  if (at == Instant::max()) {
    uv_timer_stop(&timer_);
    return;
  }
  // In whole milliseconds, rounded up. The timer counts from the loop's cached time, which
  // may lag: it then fires early, finds nothing due by the fresh clock and is armed again.
  const Instant left = std::max(at - fresh_now(), Instant{0});
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  uv_timer_start(&timer_, on_timer, static_cast<std::uint64_t>(ms), 0);
}

void Connection::fail(std::string_view why) {
  // Once per attempt: what it fails (a handshake's other steps, say) cannot fail it again.
  if (state_ == State::closed || state_ == State::disconnected) return;
  const std::string reason(why);
  core::RingQueue<Pending> failed;
  failed.swap(queue_);
  overdue_ = 0;
  out_.clear();
  handshake_replies_ = 0;
  redisReaderFree(reader_);
  reader_ = make_reader();
  uv_timer_stop(&timer_);
  stop_pass();
  const std::int64_t doubled = std::max(options_.backoff_min.count(), backoff_.count() * 2);
  backoff_ = core::Millis{std::min(doubled, options_.backoff_max.count())};
  set_state(State::disconnected, reason);  // the listener sees the wait before the next dial
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req_));
  if (stream_open_) {
    stream_open_ = false;
    uv_close(&stream_.handle, on_stream_closed);  // which schedules the next attempt
  } else {
    schedule_retry();
  }
  answer_all(failed, unavailable(reason));
}

// Commands failed together by one event: one burst (see repeated_failure()).
void Connection::answer_all(core::RingQueue<Pending>& failed, const core::Error& error) {
  bool first = true;
  for (std::size_t i = 0; i < failed.size(); ++i) {
    Pending& p = failed[i];
    if (!p.done) continue;
    const FlagScope burst(repeated_failure_, !first);
    first = false;
    p.done(error);
  }
}

void Connection::close(std::function<void()> closed) {
  closed_ = std::move(closed);
  if (state_ == State::closed) return;
  core::RingQueue<Pending> failed;
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
    passing_ = flush_armed_ = false;
    for (auto* h :
         {reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&retry_),
          reinterpret_cast<uv_handle_t*>(&check_), reinterpret_cast<uv_handle_t*>(&idle_),
          reinterpret_cast<uv_handle_t*>(&flush_prepare_)}) {
      uv_close(h, closed_cb);
    }
  }
  if (stream_open_) {
    stream_open_ = false;
    uv_close(&stream_.handle, closed_cb);
  }
  answer_all(failed, unavailable("closing"));
  maybe_closed();
}

void Connection::maybe_closed() {
  if (state_ != State::closed || handles_open_ > 0 || resolving_ || !closed_) return;
  auto done = std::move(closed_);
  closed_ = nullptr;
  done();
}

}  // namespace rl::redis
