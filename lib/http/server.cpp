// Listeners, accepting, the connection list, the sweep timer and the drain. Listening sockets
// are watched with uv_poll and accepted with accept4(), not uv_listen(): libuv answers EMFILE by
// closing a reserve descriptor and dropping pending clients, and once another thread has taken
// that reserve, by retrying accept() in a loop that never returns — a spinning, log-flooding
// worker. Here running out pauses the listeners instead.
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

constexpr std::uint64_t kSweepMs = 250;
// Connections accepted per readiness event of one listener, so one busy listener cannot starve
// the loop's other work.
constexpr int kAcceptBatch = 64;
constexpr std::uint64_t kAcceptErrorLogMs = 1000;

bool out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

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
  int fd = -1;  // listening, non-blocking; owned
  uv_poll_t poll{};

  bool watch() { return uv_poll_start(&poll, UV_READABLE, &Server::on_acceptable) == 0; }
  void unwatch() { uv_poll_stop(&poll); }
  // Closes the handle, then the socket; the Listener deletes itself when libuv is done with it.
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), [](uv_handle_t* handle) {
      auto* l = static_cast<Listener*>(handle->data);
      ::close(l->fd);
      delete l;
    });
  }
};

ServerMetrics::ServerMetrics(obs::Registry& r, std::string_view worker)
    : open(r.gauge("rl_http_connections_open", "HTTP connections currently open.")),
      accepted(r.counter("rl_http_connections_total", "HTTP connections accepted.")),
      rejected(r.counter("rl_http_connections_rejected_total",
                         "Connections closed at once because max_connections was reached.")),
      accept_paused(r.counter("rl_http_accept_paused_total",
                              "Times accepting stopped because the process was out of file "
                              "descriptors (EMFILE); it resumes as connections close.")),
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
    auto listener = std::make_unique<Listener>();
    listener->server = this;
    listener->unix_socket = s.unix_socket;
    listener->fd = s.fd;
    int r = uv_poll_init_socket(loop_, &listener->poll, s.fd);
    if (r != 0) {  // the handle was not initialised: nothing for libuv to close
      ::close(s.fd);
    } else {
      Listener* l = listener.release();
      l->poll.data = l;
      if (!accept_paused_ && !l->watch()) r = UV_EINVAL;
      listeners_.push_back(l);
    }
    if (r != 0) {
      status = core::make_error(core::Errc::io,
                                std::string("cannot serve a listening socket: ") + uv_strerror(r));
    }
  }
  if (!status) {
    for (Listener* l : listeners_)
      l->close();
    listeners_.clear();
  }
  return status;
}

void Server::on_acceptable(uv_poll_t* poll, int status, int) {
  auto* l = static_cast<Listener*>(poll->data);
  if (status < 0) {
    l->server->log_.warn("accept_failed", {{"error", uv_strerror(status)}});
    return;
  }
  l->server->accept_pending(*l);
}

void Server::accept_pending(Listener& listener) {
  for (int i = 0; i < kAcceptBatch && !accept_paused_; ++i) {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept(listener, fd);
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      if (accept_starved_) {  // everyone who waited has been accepted: the episode is over
        accept_starved_ = false;
        log_.info("accept_resumed",
                  {{"connections", static_cast<std::int64_t>(connection_count_)}});
      }
      return;
    }
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;  // that client is gone
    if (out_of_descriptors(err)) return pause_accepting(err);
    // Anything else (EPERM from a firewall hook...): logged at most once a second.
    const std::uint64_t now = uv_now(loop_);
    if (now - last_accept_error_log_ms_ >= kAcceptErrorLogMs || last_accept_error_log_ms_ == 0) {
      log_.warn("accept_failed", {{"error", std::strerror(err)}});
      last_accept_error_log_ms_ = now;
    }
    return;
  }
}

void Server::pause_accepting(int err) {
  accept_paused_ = true;
  for (Listener* l : listeners_)
    l->unwatch();
  if (accept_starved_) return;  // the same episode (until the backlog is empty): said already
  accept_starved_ = true;
  metrics_.accept_paused.inc();
  log_.warn("accept_paused",
            {{"error", std::strerror(err)},
             {"connections", static_cast<std::int64_t>(connection_count_)},
             {"note",
              "out of file descriptors: new clients wait until connections close "
              "(raise LimitNOFILE / ulimit -n, or lower server.max_connections)"}});
}

void Server::resume_accepting() {
  if (!accept_paused_ || draining_) return;
  accept_paused_ = false;
  for (Listener* l : listeners_)
    l->watch();
}

void Server::accept(Listener& listener, int fd) {
  auto* c = new Connection(*this, listener.unix_socket);
  if (!c->init(loop_)) {
    ::close(fd);
    delete c;
    return;
  }
  c->next = connections_;
  if (connections_ != nullptr) connections_->prev = c;
  connections_ = c;
  ++connection_count_;
  metrics_.open.add(1);
  if (!c->open(fd)) {
    ::close(fd);
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
  resume_accepting();  // a descriptor was freed
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
  server->resume_accepting();  // descriptors may have been freed elsewhere (Redis, files)
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
