// Redis endpoint URLs: "redis://[[user]:password@]host[:port][/db]" (IPv6 hosts in brackets),
// "unix:///path/to/redis.sock[?db=N]", and for Redis Cluster
// "redis+cluster://[[user]:password@]host:port,host:port[/0]" — the seed nodes rl asks for the
// slot map, every node reached with the same credentials. Parsed once, when the configuration
// is loaded; the password never appears in what redacted() returns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace rl::config {

struct HostPort {
  std::string host;
  std::uint16_t port = 6379;
  bool operator==(const HostPort&) const = default;
  // "host:port", an IPv6 host in brackets.
  std::string to_string() const;
  // "host:port" or "[v6]:port"; the port is required when `port_required`.
  static core::Result<HostPort> parse(std::string_view text, bool port_required);
};

struct RedisUrl {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string path;  // unix_socket
  int db = 0;
  std::string username;
  std::string password;
  // redis+cluster://: the seed nodes, the first of them also in host and port. A cluster has
  // only database 0, so db is always 0.
  bool cluster = false;
  std::vector<HostPort> nodes;

  static core::Result<RedisUrl> parse(std::string_view url);
  std::string to_string() const;
  std::string redacted() const;  // the password as "***"
  // One node of a cluster (or any other host:port) as a single-node URL with these credentials.
  RedisUrl node(const HostPort& address) const;
};

}  // namespace rl::config
