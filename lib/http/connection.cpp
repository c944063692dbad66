// The per-connection cycle: read into the server's shared buffer, parse, hand complete requests
// to the handler one at a time, batch responses into one write, and close gracefully
// (shutdown, then wait briefly for the peer's EOF so it receives our last answer).
#include "http/connection.h"

#include "http/server.h"

namespace rl::http {
namespace {

constexpr std::uint64_t kLingerMs = 2000;
constexpr std::size_t kKeepCapacity = 64 * 1024;  // larger idle buffers are given back

void shrink(std::string& buffer) {
  if (buffer.empty() && buffer.capacity() > kKeepCapacity) std::string().swap(buffer);
}

}  // namespace

void Exchange::done() {
  if (writer_) connection_->finish_or_defer();
}

Connection::Connection(Server& server, bool unix_socket)
    : server_(server), unix_socket_(unix_socket), parser_(server.options_.limits) {
  exchange_.connection_ = this;
}

Connection::~Connection() {
  out_.clear();
  writing_.clear();
  account();
}

bool Connection::init(uv_loop_t* loop) {
  const int r =
      unix_socket_ ? uv_pipe_init(loop, &handle_.pipe, 0) : uv_tcp_init(loop, &handle_.tcp);
  handle_.handle.data = this;
  return r == 0;
}

bool Connection::open(int fd) {
  return (unix_socket_ ? uv_pipe_open(&handle_.pipe, fd) : uv_tcp_open(&handle_.tcp, fd)) == 0;
}

void Connection::start(const Peer& peer) {
  parser_.set_peer(peer);
  if (!unix_socket_) uv_tcp_nodelay(&handle_.tcp, 1);
  last_activity_ms_ = uv_now(server_.loop_);
  update_reading();
}

bool Connection::over_budget() const {
  return out_.size() + writing_.size() >= kMaxBufferedOutput ||
         server_.buffered_output_ >= server_.options_.max_buffered_output;
}

bool Connection::idle() const {
  return !exchange_pending() && !parser_.in_request() && !writing() && out_.empty() &&
         pending_.empty();
}

void Connection::account() {
  const std::size_t now = out_.size() + writing_.size();
  server_.buffered_output_ = server_.buffered_output_ + now - accounted_;
  // A delta, not a set: the gauge is the sum over every worker's server.
  server_.metrics_.buffered.add(static_cast<std::int64_t>(now) -
                                static_cast<std::int64_t>(accounted_));
  accounted_ = now;
}

void Connection::update_reading() {
  if (phase_ == Phase::closed) return;
  // The socket stays armed while an answer is pending: stopping and restarting it cost two
  // epoll_ctl calls per request. What a pipelining client sends meanwhile waits in pending_.
  const bool want = (phase_ == Phase::open && !peer_eof_ && pending_.size() < kMaxPendingInput &&
                     !over_budget()) ||
                    (phase_ == Phase::shutting_down && !peer_eof_);
  if (want && !reading_) {
    reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  } else if (!want && reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  // One buffer per server: read_cb consumes it before libuv reads for anyone else.
  buf->base = c->server_.read_buffer_.get();
  buf->len = Server::kReadBufferSize;
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    c->last_activity_ms_ = uv_now(c->server_.loop_);
    if (c->phase_ == Phase::open) c->process(buf->base, static_cast<std::size_t>(nread));
    return;  // after we answered for the last time, whatever the client sends is discarded
  }
  if (nread == UV_EOF) {
    c->on_eof();
  } else if (nread < 0) {
    c->close();
  }
}

void Connection::on_eof() {
  peer_eof_ = true;
  update_reading();
  if (phase_ == Phase::shutting_down) return close();
  if (phase_ == Phase::open && !exchange_pending() && pending_.empty() && parser_.in_request()) {
    const auto step = parser_.finish();  // a request that ends at EOF (HTTP/1.0 style)
    if (step.state != RequestParser::State::request) return close();  // cut off mid-request
    dispatch();
  }
  flush();
}

void Connection::process(const char* data, std::size_t len) {
  if (exchange_pending() || !pending_.empty()) {  // read ahead: parsed after the answer, in order
    if (phase_ == Phase::open) pending_.append(data, len);
    update_reading();
    return;
  }
  while (len > 0 && phase_ == Phase::open) {
    if (over_budget()) break;  // the rest waits in pending_ until the client reads
    if (!parser_.in_request()) request_started_ms_ = uv_now(server_.loop_);
    const auto step = parser_.feed(data, len);
    data += step.consumed;
    len -= step.consumed;
    if (parser_.take_continue()) out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (step.state == RequestParser::State::need_more) break;
    if (step.state == RequestParser::State::error) {
      server_.metrics_.protocol_errors.inc();
      respond_error(parser_.error_status(), parser_.error_reason());
      return;
    }
    dispatch();
    if (exchange_pending()) break;  // the rest is parsed after the answer, in order
  }
  if (phase_ == Phase::open && len > 0) pending_.assign(data, len);
  account();
  update_reading();
  flush();
}

void Connection::dispatch() {
  server_.metrics_.requests.inc();
  server_.metrics_.worker_requests.inc();
  const Request& request = parser_.request();
  const bool keep_alive = request.keep_alive && !server_.draining_ && !peer_eof_;
  const auto now = server_.clock_.now();
  exchange_.request_ = &request;
  exchange_.writer_.emplace(out_, server_.dates_.get(core::to_unix_ms(now) / 1000),
                            request.method == Method::head, keep_alive, request.http_minor == 0);
  in_dispatch_ = true;
  completed_in_dispatch_ = false;
  const std::size_t mark = out_.size();
  try {
    server_.handler_.handle(exchange_);
  } catch (const std::exception& e) {
    // No exception may leave a libuv callback. Handlers do their fallible work before they
    // hand the exchange to anything asynchronous, so nothing else refers to it now.
    in_dispatch_ = false;
    server_.metrics_.internal_errors.inc();
    server_.log_.error("request_failed", {{"error", e.what()}});
    out_.resize(mark);
    exchange_.writer_.reset();
    exchange_.request_ = nullptr;
    respond_error(500, "internal error");
    return;
  }
  in_dispatch_ = false;
  if (completed_in_dispatch_) finish_exchange();
}

void Connection::finish_or_defer() {
  if (in_dispatch_) {
    completed_in_dispatch_ = true;
    return;
  }
  finish_exchange();
  if (phase_ == Phase::closed) {
    maybe_retire();  // the client left while we were deciding
    return;
  }
  resume();
  account();
  update_reading();
  flush();
}

void Connection::finish_exchange() {
  const bool keep_alive = exchange_.writer_->keep_alive();
  exchange_.writer_.reset();
  exchange_.request_ = nullptr;
  parser_.next();
  last_activity_ms_ = uv_now(server_.loop_);
  if (!keep_alive && phase_ == Phase::open) set_phase(Phase::closing_after_flush);
}

void Connection::resume() {
  if (phase_ != Phase::open || exchange_pending() || over_budget()) return;
  if (!pending_.empty()) {
    scratch_.swap(pending_);
    pending_.clear();
    process(scratch_.data(), scratch_.size());
    scratch_.clear();
  }
  // An EOF that arrived while a request was in progress is acted on now.
  if (peer_eof_ && phase_ == Phase::open && pending_.empty() && !exchange_pending()) on_eof();
}

void Connection::respond_error(int status, std::string_view reason) {
  const auto now = server_.clock_.now();
  ResponseWriter writer(out_, server_.dates_.get(core::to_unix_ms(now) / 1000), false, false);
  server_.handler_.write_error(writer, status, reason);
  pending_.clear();
  set_phase(Phase::closing_after_flush);
  account();
  update_reading();
  flush();
}

void Connection::set_phase(Phase phase) {
  phase_ = phase;
  phase_since_ms_ = uv_now(server_.loop_);
}

void Connection::flush() {
  if (writing() || phase_ == Phase::closed) return;
  if (out_.empty()) {
    after_flush();
    return;
  }
  // An answer nearly always fits the socket buffer: written here, it needs no write request,
  // whose completion would cost libuv an epoll_ctl per answer. What does not fit goes through
  // uv_write.
  uv_buf_t all = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  const int written = uv_try_write(stream(), &all, 1);
  if (written == static_cast<int>(out_.size())) {
    out_.clear();
    account();
    if (!pending_.empty() && !exchange_pending()) {  // held back by the budget, which has room
      resume();
      update_reading();
      flush();
      return;
    }
    update_reading();
    after_flush();
    return;
  }
  if (written > 0) {
    out_.erase(0, static_cast<std::size_t>(written));
  } else if (written != UV_EAGAIN && written != UV_ENOSYS) {
    close();  // the peer is gone (EPIPE, ECONNRESET)
    return;
  }
  writing_.swap(out_);
  out_.clear();
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (uv_write(&write_req_, stream(), &buf, 1, on_write) != 0) {
    close();
    return;
  }
  write_started_ms_ = uv_now(server_.loop_);
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->handle->data);
  c->writing_.clear();
  shrink(c->writing_);
  shrink(c->out_);
  c->account();
  if (status < 0) return c->close();
  if (c->phase_ == Phase::closed) return;
  c->resume();  // requests held back by the output budget
  c->update_reading();
  c->flush();
}

void Connection::after_flush() {
  if (exchange_pending() || phase_ == Phase::closed || !pending_.empty()) return;
  if (peer_eof_ && !parser_.in_request()) {
    close();  // the client sent everything it will send and has all our answers
    return;
  }
  if (phase_ == Phase::open && server_.draining_ && idle()) set_phase(Phase::closing_after_flush);
  if (phase_ != Phase::closing_after_flush) return;
  set_phase(Phase::shutting_down);
  if (uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) {
    close();
    return;
  }
  update_reading();  // read on until EOF so the client is not reset before it reads our answer
}

void Connection::on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->handle->data);
  if (status < 0 || c->peer_eof_) c->close();
}

void Connection::close() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  pending_.clear();
  uv_close(&handle_.handle, on_close);
}

void Connection::on_close(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  c->handle_open_ = false;
  c->maybe_retire();
}

void Connection::maybe_retire() {
  if (handle_open_ || exchange_pending() || retired_) return;
  retired_ = true;
  server_.retire(this);
}

void Connection::drain() {
  if (phase_ == Phase::closed) return;
  pending_.clear();  // pipelined requests not yet started are not served
  if (idle()) {
    close();
  } else if (!exchange_pending() && phase_ == Phase::open && !parser_.in_request()) {
    set_phase(Phase::closing_after_flush);  // an answer is still being written
    account();
    flush();
  }
}

void Connection::check_timeouts(std::uint64_t now) {
  if (phase_ == Phase::closed) return;
  const ServerOptions& o = server_.options_;
  if (phase_ == Phase::shutting_down || phase_ == Phase::closing_after_flush) {
    // A client still reading its last answers gets idle_timeout, unless we are shutting down.
    const bool slow_reader = writing() && !server_.draining_;
    if (now - phase_since_ms_ > kLingerMs + (slow_reader ? o.idle_timeout_ms : 0)) close();
    return;
  }
  if (writing() && now - write_started_ms_ > o.idle_timeout_ms) {
    close();  // the client stopped reading
    return;
  }
  if (exchange_pending()) return;  // the store's own deadline bounds this
  if (!pending_.empty()) {
    resume();  // held back by the server-wide output budget, which may have room again
    update_reading();
    return;
  }
  if (parser_.in_request()) {
    const std::uint64_t limit =
        parser_.headers_complete() ? o.request_timeout_ms : o.header_timeout_ms;
    if (now - request_started_ms_ > limit) {
      server_.metrics_.timeouts.inc();
      respond_error(408, "request not received in time");
    }
  } else if (idle() && now - last_activity_ms_ > o.idle_timeout_ms) {
    close();
  }
}

}  // namespace rl::http
