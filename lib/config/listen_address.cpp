// Parsing and printing of listen addresses.
#include "config/listen_address.h"

#include "core/text.h"
#include "security/ip_address.h"

namespace rl::config {

core::Result<ListenAddress> ListenAddress::parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return core::make_error(core::Errc::invalid_argument,
                            "expected HOST:PORT, [IPv6]:PORT or unix:PATH, got '" +
                                std::string(text) + "' (" + std::string(why) + ")");
  };
  ListenAddress a;
  if (text.starts_with("unix:")) {
    a.kind = Kind::unix_socket;
    a.path = std::string(text.substr(5));
    if (a.path.empty()) return bad("empty socket path");
    if (a.path.size() > 107) return bad("socket path longer than 107 bytes");
    return a;
  }
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("IPv6 addresses are written [ADDR]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    const auto ip = security::IpAddress::parse(host);
    if (!ip || ip->is_v4()) return bad("not an IPv6 address");
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return bad("IPv6 addresses are written [ADDR]:PORT");
    if (host != "localhost" && !security::IpAddress::parse(host)) {
      return bad("host must be an IP address or localhost");
    }
  }
  const auto number = core::parse_int64(port);
  if (!number || *number < 0 || *number > 65535) return bad("port must be 0-65535");
  a.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  a.port = static_cast<std::uint16_t>(*number);
  return a;
}

std::string ListenAddress::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool ListenAddress::is_local() const {
  if (kind == Kind::unix_socket) return true;
  const auto ip = security::IpAddress::parse(host);
  return ip && ip->is_loopback();
}

}  // namespace rl::config
