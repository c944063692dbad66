// An HTTP request as handlers see it: views into the connection's buffers, valid until the
// handler's response is complete. Header lookups are ASCII case-insensitive.
#pragma once

#include <span>
#include <string_view>

#include "security/ip_address.h"

namespace rl::http {

enum class Method { get, head, post, put, patch, del, options, other };

struct Header {
  std::string_view name;
  std::string_view value;
};

struct Peer {
  security::IpAddress ip;  // "::" for a Unix-socket peer
  bool unix_socket = false;
};

struct Request {
  Method method = Method::get;
  std::string_view method_name;
  std::string_view target;  // as sent: path and query
  std::string_view path;    // target up to '?' (for an absolute-form target, its path)
  std::string_view query;   // after '?', or empty
  std::span<const Header> headers;
  std::string_view body;
  bool keep_alive = true;
  int http_minor = 1;  // HTTP/1.x
  Peer peer;

  // The first header named `name`, or empty.
  std::string_view header(std::string_view name) const;
  // The value of `name` in the query string (not percent-decoded), or nullopt-like empty view
  // with `found` false.
  std::string_view query_param(std::string_view name, bool* found = nullptr) const;
};

}  // namespace rl::http
