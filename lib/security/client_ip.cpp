// Right-to-left X-Forwarded-For walk.
#include "security/client_ip.h"

#include "core/text.h"

namespace rl::security {
namespace {

// Parses one X-Forwarded-For element: an address, optionally "[v6]:port" or "v4:port".
std::optional<IpAddress> parse_hop(std::string_view hop) {
  hop = core::trim(hop);
  if (auto ip = IpAddress::parse(hop)) return ip;
  if (hop.starts_with('[')) {
    const auto close = hop.find(']');
    if (close != std::string_view::npos) return IpAddress::parse(hop.substr(1, close - 1));
    return std::nullopt;
  }
  const auto colon = hop.find(':');
  if (colon != std::string_view::npos && hop.find(':', colon + 1) == std::string_view::npos) {
    return IpAddress::parse(hop.substr(0, colon));
  }
  return std::nullopt;
}

}  // namespace

IpAddress resolve_client_ip(const IpAddress& peer, bool peer_trusted,
                            const ForwardingHeaders& headers, const std::vector<Cidr>& trusted) {
  if (!peer_trusted) return peer;
  IpAddress client = peer;
  bool saw_hop = false;
  for (auto header = headers.x_forwarded_for.rbegin(); header != headers.x_forwarded_for.rend();
       ++header) {
    std::string_view list = *header;
    while (!list.empty()) {
      const auto comma = list.rfind(',');
      const std::string_view element =
          comma == std::string_view::npos ? list : list.substr(comma + 1);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      if (core::trim(element).empty()) continue;
      const auto hop = parse_hop(element);
      if (!hop) return client;  // garbage from here on: the last believable hop is the client
      client = *hop;
      saw_hop = true;
      if (!any_contains(trusted, client)) return client;
    }
  }
  if (!saw_hop) {
    if (auto real = parse_hop(headers.x_real_ip)) return *real;
  }
  return client;
}

}  // namespace rl::security
