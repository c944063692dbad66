// ResponseWriter: serialises one HTTP/1.1 response straight into the connection's output buffer
// (reused between requests, so writing a response allocates nothing once warm). Call status(),
// then header() any number of times, then body() — which adds Content-Length, Date and
// Connection and the body itself. HEAD responses get the headers of the GET without the body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rl::http {

std::string_view reason_phrase(int status);

class ResponseWriter {
 public:
  // `http10`: the client speaks HTTP/1.0, so keep-alive must be announced explicitly.
  ResponseWriter(std::string& out, std::string_view date, bool head_request, bool keep_alive,
                 bool http10 = false)
      : out_(out), date_(date), head_(head_request), keep_alive_(keep_alive), http10_(http10) {}

  void status(int code);
  void header(std::string_view name, std::string_view value);
  void header(std::string_view name, std::int64_t value);
  void body(std::string_view content_type, std::string_view body);
  void empty_body() { body({}, {}); }

  int status_code() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  // The response will ask the client to close the connection.
  void close_connection() { keep_alive_ = false; }

 private:
  void require_status() const;  // aborts: writing a header first is a programming error

  std::string& out_;
  std::string_view date_;
  bool head_;
  bool keep_alive_;
  bool http10_;
  int status_ = 0;
};

// The IMF-fixdate form of the current second, for the Date header; cached per second.
class DateCache {
 public:
  std::string_view get(std::int64_t unix_seconds);

 private:
  std::int64_t second_ = -1;
  char text_[32] = {};
  std::size_t len_ = 0;
};

}  // namespace rl::http
