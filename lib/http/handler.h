// The seam between the HTTP server and the application. The server parses a request and hands
// it to Handler::handle() inside an Exchange; the handler writes one response through
// exchange.response() and calls exchange.done() — right away or later (after a store round
// trip), but exactly once. The exchange stays valid until done(), even if the client goes away.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "http/request.h"
#include "http/response.h"

namespace rl::http {

class Connection;

// Per-connection state a handler keeps from one request to the next (buffers, a job object),
// so that answering a request on a warm connection allocates nothing.
class ExchangeContext {
 public:
  virtual ~ExchangeContext() = default;
};

class Exchange {
 public:
  const Request& request() const { return *request_; }
  ResponseWriter& response() { return *writer_; }
  // The response is complete; the connection moves on to the next request.
  void done();

  // The handler's per-connection context, created on first use. A server has one handler,
  // so one context type per connection.
  template <class T>
  T& context() {
    if (!context_) context_ = std::make_unique<T>();
    return static_cast<T&>(*context_);
  }

 private:
  friend class Connection;
  Connection* connection_ = nullptr;
  const Request* request_ = nullptr;
  std::optional<ResponseWriter> writer_;
  std::unique_ptr<ExchangeContext> context_;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void handle(Exchange& exchange) = 0;
  // Writes the server's own complete error answer (malformed request, limits, timeouts).
  virtual void write_error(ResponseWriter& writer, int status, std::string_view reason) = 0;
};

}  // namespace rl::http
