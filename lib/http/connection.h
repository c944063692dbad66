// Connection: one accepted client socket of a Server. Owns the stream handle, the parser and
// the output buffers; runs the read → parse → handle → write cycle, one request at a time.
// Output is budgeted: past kMaxBufferedOutput (or the server-wide budget) it stops parsing and
// reading until the client has taken its answers, so pipelining cannot make rld buffer without
// bound. Internal to lib/http. Lifetime: handed to the Server for deletion once its handle is
// closed and no Exchange is pending — never deleted from inside a callback of its own.
#pragma once

#include <string>

#include <uv.h>

#include "http/handler.h"
#include "http/parser.h"

namespace rl::http {

class Server;

class Connection {
 public:
  static constexpr std::size_t kMaxBufferedOutput = 256 * 1024;
  // Bytes read ahead while an answer is pending (a pipelining client), before reading pauses.
  static constexpr std::size_t kMaxPendingInput = 64 * 1024;

  Connection(Server& server, bool unix_socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uv_stream_t* stream() { return &handle_.stream; }
  bool init(uv_loop_t* loop);  // initialises the handle
  bool open(int fd);           // takes over an accepted socket (not closed on failure)
  void start(const Peer& peer);
  // Closes now; a pending exchange still completes, into nothing.
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

  void on_eof();
  void process(const char* data, std::size_t len);
  void resume();
  void dispatch();
  void finish_or_defer();  // Exchange::done()
  void finish_exchange();
  void respond_error(int status, std::string_view reason);
  void set_phase(Phase phase);
  void update_reading();
  void flush();
  void after_flush();
  void account();       // reports this connection's buffered bytes to the server
  void maybe_retire();  // hands a closed, idle connection to the server for deletion

  bool exchange_pending() const { return exchange_.writer_.has_value(); }
  bool writing() const { return !writing_.empty(); }
  bool over_budget() const;
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
  RequestParser parser_;
  Exchange exchange_;
  std::string out_;      // responses waiting to be written
  std::string writing_;  // the buffer uv_write is sending (non-empty while a write is in flight)
  std::string pending_;  // bytes read but not yet parsed (waiting for an answer or the budget)
  std::string scratch_;
  std::size_t accounted_ = 0;  // bytes of out_ + writing_ last reported to the server
  Phase phase_ = Phase::open;
  bool reading_ = false;
  bool in_dispatch_ = false;
  bool completed_in_dispatch_ = false;
  bool peer_eof_ = false;
  bool handle_open_ = true;  // close callback not yet run
  bool retired_ = false;
  std::uint64_t request_started_ms_ = 0;
  std::uint64_t last_activity_ms_ = 0;
  std::uint64_t phase_since_ms_ = 0;
  std::uint64_t write_started_ms_ = 0;
};

}  // namespace rl::http
