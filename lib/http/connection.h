// Connection: one accepted client socket of a Server. Owns the stream handle, the parser and
// the output buffers; runs the read → parse → handle → write cycle, one request at a time.
// Internal to lib/http. Lifetime: deleted once its handle is closed and no Exchange is pending.
#pragma once

#include <string>

#include <uv.h>

#include "http/handler.h"
#include "http/parser.h"

namespace rl::http {

class Server;

class Connection {
 public:
  Connection(Server& server, bool unix_socket);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_stream_t* stream() { return &handle_.stream; }
  bool init(uv_loop_t* loop);  // initialises the handle (before uv_accept)
  void start(const Peer& peer);
  // Closes now; a pending exchange still completes into nothing.
  void close();
  // Called by the sweep timer; closes the connection when a timeout has passed.
  void check_timeouts(std::uint64_t now_ms);
  // Drain: finish the current request, if any, then close.
  void drain();

  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  friend class Exchange;
  enum class Phase { open, closing_after_flush, shutting_down, closed };

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_close(uv_handle_t* handle);

  void process(const char* data, std::size_t len);
  void resume();
  void dispatch();
  void finish_or_defer();  // Exchange::done()
  void finish_exchange();
  void set_phase(Phase phase);
  void update_reading();
  void respond_error(int status, std::string_view reason);
  void flush();
  void after_flush();
  bool idle() const;

  Server& server_;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  bool unix_socket_;
  Peer peer_;
  RequestParser parser_;
  Exchange exchange_;
  std::string out_;      // responses waiting to be written
  std::string writing_;  // the buffer uv_write is sending
  std::string pending_;  // bytes read but not parsed while a request is in progress
  std::string scratch_;
  Phase phase_ = Phase::open;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool exchange_pending_ = false;
  bool in_dispatch_ = false;
  bool completed_in_dispatch_ = false;
  bool peer_eof_ = false;
  bool handle_closed_ = false;  // uv_close called
  bool handle_open_ = true;     // close callback not yet run
  std::uint64_t request_started_ms_ = 0;
  std::uint64_t last_activity_ms_ = 0;
  std::uint64_t phase_since_ms_ = 0;
  std::uint64_t write_started_ms_ = 0;
};

}  // namespace rl::http
