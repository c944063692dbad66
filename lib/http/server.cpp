// Listeners, accepting, the connection list, the sweep timer and the drain.
#include "http/server.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/connection.h"

namespace rl::http {
namespace {

constexpr int kBacklog = 511;
constexpr std::uint64_t kSweepMs = 250;

Peer peer_of(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  Peer peer;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return peer;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &in->sin_addr, 4);
    peer.ip = security::IpAddress::from_v4(bytes);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &in6->sin6_addr, 16);
    peer.ip = security::IpAddress::from_v6(bytes);
  }
  return peer;
}

}  // namespace

struct Server::Listener {
  Server* server = nullptr;
  bool unix_socket = false;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h{};

  // Closes the handle; the Listener deletes itself when libuv is done with it.
  void close() {
    uv_close(&h.handle, [](uv_handle_t* handle) { delete static_cast<Listener*>(handle->data); });
  }
};

ServerMetrics::ServerMetrics(obs::Registry& r, std::string_view worker)
    : open(r.gauge("rl_http_connections_open", "HTTP connections currently open.")),
      accepted(r.counter("rl_http_connections_total", "HTTP connections accepted.")),
      rejected(r.counter("rl_http_connections_rejected_total",
                         "Connections closed at once because max_connections was reached.")),
      timeouts(r.counter("rl_http_timeouts_total",
                         "Requests not received within the header or request timeout.")),
      protocol_errors(r.counter("rl_http_protocol_errors_total",
                                "Malformed or over-limit requests answered with an error and a "
                                "close.")),
      internal_errors(r.counter("rl_http_internal_errors_total",
                                "Requests answered 500 because a handler failed (a bug: see the "
                                "request_failed log line).")),
      requests(r.counter("rl_http_requests_total", "HTTP requests parsed.")),
      worker_requests(r.counter("rl_http_worker_requests_total",
                                "HTTP requests parsed, by worker thread.", {{"worker", worker}})),
      buffered(r.gauge("rl_http_buffered_bytes",
                       "Response bytes waiting for clients to read them, all connections.")) {}

Server::Server(uv_loop_t* loop, Handler& handler, const core::Clock& clock, obs::Logger& log,
               ServerMetrics& metrics, ServerOptions options)
    : loop_(loop),
      handler_(handler),
      clock_(clock),
      log_(log),
      metrics_(metrics),
      options_(options),
      sweep_timer_(new uv_timer_t{}),
      reaper_(new uv_check_t{}),
      read_buffer_(new char[kReadBufferSize]) {
  uv_timer_init(loop_, sweep_timer_);
  sweep_timer_->data = this;
  uv_timer_start(sweep_timer_, on_sweep, kSweepMs, kSweepMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));  // never keeps the loop alive alone
  uv_check_init(loop_, reaper_);
  reaper_->data = this;
}

Server::~Server() {
  for (Listener* l : listeners_)
    l->close();
  listeners_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(sweep_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(reaper_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  for (Connection* c : retired_)
    delete c;
  // Connections must be gone: drain or close_all(), then run the loop until connection_count()
  // is 0, before destroying the server (a pending Exchange would outlive it otherwise).
  if (connections_ != nullptr) {
    std::fputs("rld: bug: server destroyed with connections still open\n", stderr);
    std::abort();
  }
}

core::Status Server::listen(const std::vector<config::ListenAddress>& addresses) {
  auto listeners = Listeners::open(addresses, 1, options_.unix_socket_mode);
  if (!listeners) return listeners.error();
  auto sockets = listeners->take(0);
  if (!sockets) return sockets.error();
  listeners->release();  // the server has its own duplicates of the Unix sockets
  if (auto s = adopt(std::move(*sockets)); !s) return s;
  bound_ = listeners->bound();
  own_ = std::make_unique<Listeners>(std::move(*listeners));
  return {};
}

core::Status Server::adopt(std::vector<ListenSocket> sockets) {
  core::Status status;
  for (const ListenSocket& s : sockets) {
    if (!status) {  // an earlier one failed: the rest are closed, not served
      ::close(s.fd);
      continue;
    }
    auto* l = new Listener{};
    l->server = this;
    l->unix_socket = s.unix_socket;
    l->h.handle.data = l;
    int r = 0;
    if (s.unix_socket) {
      uv_pipe_init(loop_, &l->h.pipe, 0);
      r = uv_pipe_open(&l->h.pipe, s.fd);
    } else {
      uv_tcp_init(loop_, &l->h.tcp);
      r = uv_tcp_open(&l->h.tcp, s.fd);
    }
    if (r != 0) ::close(s.fd);  // not taken over by the handle
    if (r == 0) r = uv_listen(&l->h.stream, kBacklog, on_connection);
    if (r != 0) {
      l->close();
      status = core::make_error(core::Errc::io,
                                std::string("cannot serve a listening socket: ") + uv_strerror(r));
      continue;
    }
    listeners_.push_back(l);
  }
  if (!status) {
    for (Listener* l : listeners_)
      l->close();
    listeners_.clear();
  }
  return status;
}

void Server::on_connection(uv_stream_t* stream, int status) {
  auto* l = static_cast<Listener*>(stream->data);
  if (status < 0) {
    l->server->log_.warn("accept_failed", {{"error", uv_strerror(status)}});
    return;
  }
  l->server->accept(*l);
}

void Server::accept(Listener& listener) {
  auto* c = new Connection(*this, listener.unix_socket);
  if (!c->init(loop_)) {
    delete c;
    return;
  }
  c->next = connections_;
  if (connections_ != nullptr) connections_->prev = c;
  connections_ = c;
  ++connection_count_;
  metrics_.open.add(1);
  if (uv_accept(&listener.h.stream, c->stream()) != 0) {
    c->close();
    return;
  }
  metrics_.accepted.inc();
  // The open-connections gauge counts every worker's connections (the workers' servers share
  // one registry), so max_connections caps the process, not each worker.
  const auto open = static_cast<std::size_t>(std::max<std::int64_t>(metrics_.open.value(), 0));
  if (std::max(open, connection_count_) > options_.max_connections || draining_) {
    metrics_.rejected.inc();
    c->close();
    return;
  }
  c->start(listener.unix_socket ? Peer{security::IpAddress{}, true}
                                : peer_of(reinterpret_cast<uv_tcp_t*>(c->stream())));
}

void Server::retire(Connection* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (connections_ == c) connections_ = c->next;
  c->prev = c->next = nullptr;
  --connection_count_;
  metrics_.open.add(-1);
  retired_.push_back(c);
  uv_check_start(reaper_, on_reap);
  check_drained();
}

void Server::on_reap(uv_check_t* check) {
  auto* server = static_cast<Server*>(check->data);
  std::vector<Connection*> doomed;
  doomed.swap(server->retired_);
  for (Connection* c : doomed)
    delete c;
  if (server->retired_.empty()) uv_check_stop(check);
}

void Server::on_sweep(uv_timer_t* timer) {
  auto* server = static_cast<Server*>(timer->data);
  const std::uint64_t now = uv_now(server->loop_);
  for (Connection* c = server->connections_; c != nullptr;) {
    Connection* next = c->next;  // closing is asynchronous, but be safe anyway
    c->check_timeouts(now);
    c = next;
  }
}

void Server::drain(std::function<void()> drained) {
  drained_ = std::move(drained);
  draining_ = true;
  for (Listener* l : listeners_)
    l->close();
  listeners_.clear();
  if (own_) own_->unlink_paths();
  for (Connection* c = connections_; c != nullptr; c = c->next)
    c->drain();
  check_drained();
}

void Server::close_all() {
  for (Connection* c = connections_; c != nullptr; c = c->next)
    c->close();
}

void Server::check_drained() {
  if (draining_ && connection_count_ == 0 && drained_) {
    auto callback = std::move(drained_);
    drained_ = nullptr;
    callback();
  }
}

}  // namespace rl::http
