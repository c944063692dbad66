// Where rld listens: "HOST:PORT", "[IPv6]:PORT" or "unix:PATH" (the rld --listen contract).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace rl::config {

struct ListenAddress {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host;  // tcp: an IPv4 or IPv6 literal, or "localhost"
  std::uint16_t port = 0;
  std::string path;  // unix_socket

  static core::Result<ListenAddress> parse(std::string_view text);
  std::string to_string() const;
  // Loopback TCP address or a Unix socket: reachable from this host only.
  bool is_local() const;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

}  // namespace rl::config
