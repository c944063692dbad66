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

core::Error listen_error(const config::ListenAddress& a, std::string_view what, int uv_err) {
  return core::make_error(core::Errc::io, "cannot listen on " + a.to_string() + ": " +
                                              std::string(what) + ": " + uv_strerror(uv_err));
}

// A Unix socket path left behind by a process that is gone is removed; one that a live process
// listens on, or a file that is not a socket, is left alone and reported.
core::Status clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return core::make_error(core::Errc::conflict, path + " exists and is not a socket");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::make_error(core::Errc::io, "socket(): " + std::string(strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (live) return core::make_error(core::Errc::conflict, "another process listens on " + path);
  unlink(path.c_str());
  return {};
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
  std::string path;  // Unix socket file, removed on close
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h{};

  // Closes the handle; the Listener deletes itself when libuv is done with it.
  void close() {
    if (!path.empty()) unlink(path.c_str());
    uv_close(&h.handle, [](uv_handle_t* handle) { delete static_cast<Listener*>(handle->data); });
  }
};

ServerMetrics::ServerMetrics(obs::Registry& r)
    : open(r.gauge("rl_http_connections_open", "HTTP connections currently open.")),
      accepted(r.counter("rl_http_connections_total", "HTTP connections accepted.")),
      rejected(r.counter("rl_http_connections_rejected_total",
                         "Connections closed at once because max_connections was reached.")),
      timeouts(r.counter("rl_http_timeouts_total",
                         "Requests not received within the header or request timeout.")),
      protocol_errors(r.counter("rl_http_protocol_errors_total",
                                "Malformed or over-limit requests answered with an error and a "
                                "close.")),
      requests(r.counter("rl_http_requests_total", "HTTP requests parsed.")),
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
  for (const auto& a : addresses) {
    core::Status s =
        a.kind == config::ListenAddress::Kind::unix_socket ? listen_unix(a) : listen_tcp(a);
    if (!s) {
      for (Listener* l : listeners_)
        l->close();
      listeners_.clear();
      bound_.clear();
      return s;
    }
  }
  return {};
}

core::Status Server::listen_tcp(const config::ListenAddress& a) {
  sockaddr_storage ss{};
  const bool v6 = a.host.find(':') != std::string::npos;
  int r = v6 ? uv_ip6_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in6*>(&ss))
             : uv_ip4_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in*>(&ss));
  if (r != 0) return listen_error(a, "bad address", r);
  auto* l = new Listener{};
  l->server = this;
  uv_tcp_init(loop_, &l->h.tcp);
  l->h.handle.data = l;
  r = uv_tcp_bind(&l->h.tcp, reinterpret_cast<const sockaddr*>(&ss), 0);
  if (r == 0) r = uv_listen(&l->h.stream, kBacklog, on_connection);
  if (r != 0) {
    l->close();
    return listen_error(a, "bind/listen", r);
  }
  int len = sizeof ss;
  uv_tcp_getsockname(&l->h.tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  const int port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listeners_.push_back(l);
  config::ListenAddress actual = a;
  actual.port = static_cast<std::uint16_t>(port);
  bound_.push_back(actual.to_string());
  return {};
}

core::Status Server::listen_unix(const config::ListenAddress& a) {
  if (auto s = clear_stale_socket(a.path); !s) {
    return core::make_error(s.error().code,
                            "cannot listen on " + a.to_string() + ": " + s.error().message);
  }
  auto* l = new Listener{};
  l->server = this;
  l->unix_socket = true;
  uv_pipe_init(loop_, &l->h.pipe, 0);
  l->h.handle.data = l;
  // Bind under a umask that already yields the configured mode: no moment at which any local
  // user could connect (a Unix-socket client is trusted with X-Forwarded-For).
  const mode_t old_mask = umask(static_cast<mode_t>(0777 & ~options_.unix_socket_mode));
  int r = uv_pipe_bind(&l->h.pipe, a.path.c_str());
  umask(old_mask);
  if (r == 0) {
    l->path = a.path;
    if (chmod(a.path.c_str(), options_.unix_socket_mode) != 0) r = uv_translate_sys_error(errno);
  }
  if (r == 0) r = uv_listen(&l->h.stream, kBacklog, on_connection);
  if (r != 0) {
    l->close();
    return listen_error(a, "bind/listen", r);
  }
  listeners_.push_back(l);
  bound_.push_back(a.to_string());
  return {};
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
  if (connection_count_ > options_.max_connections || draining_) {
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
