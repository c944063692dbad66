// ClientConnection: rl's own HTTP/1.1 client on libuv (rlbench drives rld with it): one
// keep-alive connection to an endpoint — "http://HOST:PORT" (IP literals or localhost) or
// "unix:PATH" — with requests pipelined in order, responses parsed by ResponseParser, and a
// fresh connection dialled when the server closed the last one. Every callback given to
// send() runs exactly once. Loop-thread only; close() before destroying.
#pragma once

#include <deque>
#include <functional>
#include <string>

#include <uv.h>

#include "core/result.h"
#include "http/response_parser.h"

namespace rl::http {

struct Endpoint {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host;  // an IP literal
  std::uint16_t port = 0;
  std::string path;

  static core::Result<Endpoint> parse(std::string_view text);
  std::string to_string() const;
  std::string host_header() const;  // for the Host header
};

class ClientConnection {
 public:
  // The response is valid only during the call.
  using Callback = std::function<void(core::Result<const ClientResponse*>)>;

  ClientConnection(uv_loop_t* loop, Endpoint endpoint);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Sends one complete request (bytes as they go on the wire).
  void send(std::string_view request, Callback done);
  void close(std::function<void()> closed);
  std::size_t in_flight() const { return waiting_.size(); }
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_closed(uv_handle_t* handle);

  void dial();
  void flush();
  void fail(std::string_view why);
  void drop_stream();

  uv_loop_t* loop_;
  Endpoint endpoint_;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } stream_{};
  enum class State { idle, connecting, connected, closing, closed } state_ = State::idle;
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  ResponseParser parser_;
  std::deque<Callback> waiting_;  // sent or queued, in order
  std::string out_;
  std::string writing_;
  char read_buffer_[64 * 1024];
  std::function<void()> closed_;
};

}  // namespace rl::http
