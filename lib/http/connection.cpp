// The per-connection cycle: read into the server's shared buffer, parse, hand complete requests
// to the handler one at a time, batch responses into one write, and close gracefully
// (shutdown, then wait briefly for the peer's EOF so it receives our last answer).
#include "http/connection.h"

#include "http/server.h"

namespace rl::http {
namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;
constexpr std::size_t kMaxBufferedOutput = 1024 * 1024;  // stop reading a client that won't read
constexpr std::uint64_t kLingerMs = 2000;

}  // namespace

void Exchange::done() {
  connection_->finish_or_defer();
}

Connection::Connection(Server& server, bool unix_socket)
    : server_(server), unix_socket_(unix_socket), parser_(server.options_.limits) {
  exchange_.connection_ = this;
}

bool Connection::init(uv_loop_t* loop) {
  const int r =
      unix_socket_ ? uv_pipe_init(loop, &handle_.pipe, 0) : uv_tcp_init(loop, &handle_.tcp);
  handle_.handle.data = this;
  return r == 0;
}

void Connection::start(const Peer& peer) {
  peer_ = peer;
  parser_.set_peer(peer);
  if (!unix_socket_) uv_tcp_nodelay(&handle_.tcp, 1);
  last_activity_ms_ = uv_now(server_.loop_);
  update_reading();
}

bool Connection::idle() const {
  return !exchange_pending_ && !parser_.in_request() && !write_in_flight_ && out_.empty();
}

void Connection::update_reading() {
  if (handle_closed_) return;
  const bool want = (phase_ == Phase::open && !exchange_pending_ && !peer_eof_ &&
                     out_.size() + writing_.size() < kMaxBufferedOutput) ||
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
  buf->len = kReadBufferSize;
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    c->last_activity_ms_ = uv_now(c->server_.loop_);
    if (c->phase_ == Phase::open) c->process(buf->base, static_cast<std::size_t>(nread));
    return;  // after we answered for the last time, whatever the client sends is discarded
  }
  if (nread == 0) return;
  if (nread != UV_EOF) {
    c->close();
    return;
  }
  c->peer_eof_ = true;
  c->update_reading();
  if (c->phase_ == Phase::open && !c->exchange_pending_ && c->parser_.in_request()) {
    const auto step = c->parser_.finish();  // a request that ends at EOF (HTTP/1.0 style)
    if (step.state != RequestParser::State::request) {
      c->close();  // cut off mid-request: nobody is left to answer
      return;
    }
    c->dispatch();
  }
  if (c->phase_ == Phase::shutting_down) {
    c->close();
    return;
  }
  c->flush();
}

void Connection::process(const char* data, std::size_t len) {
  while (len > 0 && phase_ == Phase::open) {
    if (!parser_.in_request()) request_started_ms_ = uv_now(server_.loop_);
    const auto step = parser_.feed(data, len);
    data += step.consumed;
    len -= step.consumed;
    if (parser_.take_continue()) out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (step.state == RequestParser::State::need_more) break;
    if (step.state == RequestParser::State::error) {
      respond_error(parser_.error_status(), parser_.error_reason());
      return;
    }
    dispatch();
    if (exchange_pending_) {
      pending_.assign(data, len);  // parsed after the answer, in order
      break;
    }
  }
  update_reading();
  flush();
}

void Connection::dispatch() {
  server_.metrics_.requests.inc();
  const Request& request = parser_.request();
  const bool keep_alive = request.keep_alive && !server_.draining_ && !peer_eof_;
  const auto now = server_.clock_.now();
  exchange_.request_ = &request;
  exchange_.writer_.emplace(out_, server_.dates_.get(core::to_unix_ms(now) / 1000),
                            request.method == Method::head, keep_alive, request.http_minor == 0);
  exchange_pending_ = true;
  in_dispatch_ = true;
  completed_in_dispatch_ = false;
  server_.handler_.handle(exchange_);
  in_dispatch_ = false;
  if (completed_in_dispatch_) finish_exchange();
}

void Connection::finish_or_defer() {
  if (in_dispatch_) {
    completed_in_dispatch_ = true;
    return;
  }
  finish_exchange();
  if (handle_closed_) {
    if (!handle_open_) delete this;  // the client left while we were deciding
    return;
  }
  if (phase_ == Phase::open) resume();
  update_reading();
  flush();
}

void Connection::finish_exchange() {
  exchange_pending_ = false;
  const bool keep_alive = exchange_.writer_->keep_alive();
  exchange_.writer_.reset();
  exchange_.request_ = nullptr;
  parser_.next();
  last_activity_ms_ = uv_now(server_.loop_);
  if (!keep_alive && phase_ == Phase::open) set_phase(Phase::closing_after_flush);
}

void Connection::resume() {
  if (pending_.empty()) return;
  scratch_.swap(pending_);
  pending_.clear();
  process(scratch_.data(), scratch_.size());
  scratch_.clear();
}

void Connection::respond_error(int status, std::string_view reason) {
  server_.metrics_.protocol_errors.inc();
  const auto now = server_.clock_.now();
  ResponseWriter writer(out_, server_.dates_.get(core::to_unix_ms(now) / 1000), false, false);
  server_.handler_.write_error(writer, status, reason);
  set_phase(Phase::closing_after_flush);
  update_reading();
  flush();
}

void Connection::set_phase(Phase phase) {
  phase_ = phase;
  phase_since_ms_ = uv_now(server_.loop_);
}

void Connection::flush() {
  if (write_in_flight_ || handle_closed_) return;
  if (out_.empty()) {
    after_flush();
    return;
  }
  writing_.swap(out_);
  out_.clear();
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (uv_write(&write_req_, stream(), &buf, 1, on_write) != 0) {
    close();
    return;
  }
  write_in_flight_ = true;
  write_started_ms_ = uv_now(server_.loop_);
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->handle->data);
  c->write_in_flight_ = false;
  c->writing_.clear();
  if (status < 0) {
    c->close();
    return;
  }
  c->update_reading();
  c->flush();
}

void Connection::after_flush() {
  if (exchange_pending_ || handle_closed_) return;
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
  if (handle_closed_) return;
  handle_closed_ = true;
  phase_ = Phase::closed;
  uv_close(&handle_.handle, on_close);
}

void Connection::on_close(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  c->handle_open_ = false;
  c->server_.connection_closed(c);
  if (!c->exchange_pending_) delete c;
}

void Connection::drain() {
  if (handle_closed_) return;
  if (idle()) {
    close();
  } else if (!exchange_pending_ && phase_ == Phase::open && !parser_.in_request()) {
    set_phase(Phase::closing_after_flush);  // an answer is still being written
  }
}

void Connection::check_timeouts(std::uint64_t now) {
  if (handle_closed_) return;
  const ServerOptions& o = server_.options_;
  if (phase_ == Phase::shutting_down || phase_ == Phase::closing_after_flush) {
    if (now - phase_since_ms_ > kLingerMs + (write_in_flight_ ? o.idle_timeout_ms : 0)) close();
    return;
  }
  if (write_in_flight_ && now - write_started_ms_ > o.idle_timeout_ms) {
    close();  // the client stopped reading
    return;
  }
  if (exchange_pending_) return;  // the store's own deadline bounds this
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
