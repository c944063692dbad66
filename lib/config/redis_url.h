// Redis endpoint URLs: "redis://[[user]:password@]host[:port][/db]" (IPv6 hosts in brackets)
// and "unix:///path/to/redis.sock[?db=N]". Parsed once, when the configuration is loaded; the
// password never appears in what redacted() returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace rl::config {

struct RedisUrl {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string path;  // unix_socket
  int db = 0;
  std::string username;
  std::string password;

  static core::Result<RedisUrl> parse(std::string_view url);
  std::string to_string() const;
  std::string redacted() const;  // the password as "***"
};

}  // namespace rl::config
