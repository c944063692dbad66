// Server: HTTP/1.1 on a libuv loop, over any number of TCP and Unix-socket listeners at once.
// Keep-alive and pipelining (answered in order, one request at a time per connection), a cap
// on connections, header/request/idle timeouts checked by one sweep timer (no per-request timer
// work), backpressure on clients that do not read, and a graceful drain for SIGTERM.
// Out of descriptors (EMFILE), it stops watching its listeners until a connection closes or the
// next sweep, clients waiting in the backlog meanwhile: no busy loop, one log line per episode.
// Single-threaded: every method runs on the loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "config/listen_address.h"
#include "core/clock.h"
#include "core/result.h"
#include "http/handler.h"
#include "http/listeners.h"
#include "http/parser.h"
#include "obs/logger.h"
#include "obs/metrics.h"

namespace rl::http {

struct ServerOptions {
  ParserLimits limits;
  std::size_t max_connections = 10000;
  std::uint64_t header_timeout_ms = 10000;
  std::uint64_t request_timeout_ms = 30000;
  std::uint64_t idle_timeout_ms = 60000;
  std::uint32_t unix_socket_mode = 0660;
  // Responses buffered for clients that have not read them yet, over all connections; past
  // this, connections stop reading until clients catch up.
  std::size_t max_buffered_output = 64 * 1024 * 1024;
};

// Every series is process-wide (the registry hands each worker the same one) except
// worker_requests, labelled with the worker's index to show how the load spreads.
struct ServerMetrics {
  explicit ServerMetrics(obs::Registry& registry, std::string_view worker = "0");
  obs::Gauge& open;
  obs::Counter& accepted;
  obs::Counter& rejected;
  obs::Counter& accept_paused;  // episodes of running out of descriptors at accept()
  obs::Counter& timeouts;
  obs::Counter& protocol_errors;  // malformed or over the limits: answered 4xx and closed
  obs::Counter& internal_errors;  // a handler threw: answered 500
  obs::Counter& requests;
  obs::Counter& worker_requests;
  obs::Gauge& buffered;
};

class Server {
 public:
  static constexpr std::size_t kReadBufferSize = 64 * 1024;

  Server(uv_loop_t* loop, Handler& handler, const core::Clock& clock, obs::Logger& log,
         ServerMetrics& metrics, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every address; on failure nothing is left listening.
  core::Status listen(const std::vector<config::ListenAddress>& addresses);
  // Serves sockets listened on elsewhere (Listeners, shared by several workers' servers); takes
  // them over, closing them on failure.
  core::Status adopt(std::vector<ListenSocket> sockets);
  // The addresses listen() bound (port 0 resolved), in the order given.
  const std::vector<std::string>& bound() const { return bound_; }

  // New timeouts apply to every connection; new parser limits to connections accepted from now
  // on (a parser keeps the limits it was made with).
  void set_options(const ServerOptions& options) { options_ = options; }

  // Stops accepting, closes idle connections, lets in-flight requests finish; `drained` runs
  // once no connection is left. close_all() then force-closes what remains.
  void drain(std::function<void()> drained);
  void close_all();
  std::size_t connection_count() const { return connection_count_; }

 private:
  friend class Connection;
  struct Listener;

  static void on_acceptable(uv_poll_t* poll, int status, int events);
  static void on_sweep(uv_timer_t* timer);
  static void on_reap(uv_check_t* check);
  void accept_pending(Listener& listener);
  void accept(Listener& listener, int fd);
  // Out of descriptors: stop watching every listener; resume_accepting() tries again.
  void pause_accepting(int err);
  void resume_accepting();
  // Unlinks a closed connection with nothing pending; it is deleted on the next loop turn,
  // outside any of its own callbacks.
  void retire(Connection* connection);
  void check_drained();

  uv_loop_t* loop_;
  Handler& handler_;
  const core::Clock& clock_;
  obs::Logger& log_;
  ServerMetrics& metrics_;
  ServerOptions options_;
  std::vector<Listener*> listeners_;  // each deletes itself once closed
  std::vector<std::string> bound_;
  std::unique_ptr<Listeners> own_;     // what listen() opened (Unix socket files to remove)
  Connection* connections_ = nullptr;  // intrusive list
  std::size_t connection_count_ = 0;
  uv_timer_t* sweep_timer_;  // deleted by its close callback
  uv_check_t* reaper_;       // deletes retired connections; deleted by its close callback
  std::vector<Connection*> retired_;
  std::size_t buffered_output_ = 0;
  bool draining_ = false;
  bool accept_paused_ = false;  // listeners not watched: out of descriptors
  // An accept failed for lack of descriptors, and the backlog has not been emptied since.
  bool accept_starved_ = false;
  std::uint64_t last_accept_error_log_ms_ = 0;
  std::function<void()> drained_;
  std::unique_ptr<char[]> read_buffer_;
  DateCache dates_;
};

}  // namespace rl::http
