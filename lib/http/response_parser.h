// ResponseParser: llhttp in response mode, for rl's own HTTP client (rlbench). Feeds bytes and
// yields complete responses one at a time — status, headers and body as views into buffers the
// parser reuses — with bounds on header and body sizes. Pure: no sockets, fuzzable.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <llhttp.h>

#include "http/header_spans.h"
#include "http/request.h"

namespace rl::http {

struct ClientResponse {
  int status = 0;
  std::span<const Header> headers;
  std::string_view body;
  bool keep_alive = true;
  std::string_view header(std::string_view name) const;
};

class ResponseParser {
 public:
  enum class State { need_more, response, error };
  struct Step {
    State state = State::need_more;
    std::size_t consumed = 0;
  };

  ResponseParser(std::size_t max_header_bytes = 64 * 1024, std::size_t max_body_bytes = 1 << 20);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  Step feed(const char* data, std::size_t len);
  // The peer closed: completes a response that ends at EOF, if any.
  Step finish();
  const ClientResponse& response() const { return response_; }
  // Forget the current response and get ready for the next one.
  void next();
  // Whether bytes of a response have been seen (0 between responses).
  bool in_response() const { return started_; }
  const char* error() const { return error_; }

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t len);
  static int on_message_complete(llhttp_t* p);
  Step map(llhttp_errno_t err, const char* data, std::size_t len);

  std::size_t max_header_bytes_;
  std::size_t max_body_bytes_;
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  std::string head_;
  std::string body_;
  HeaderSpans spans_;
  std::vector<Header> headers_;
  bool started_ = false;
  bool paused_ = false;
  const char* error_ = "";
  ClientResponse response_;
};

}  // namespace rl::http
