// Which client a request belongs to (DESIGN.md §3 step 1). The socket peer, unless the peer is
// a trusted proxy (or the Unix socket, when trusted): then X-Forwarded-For read right to left,
// skipping trusted hops, or X-Real-IP. A client cannot forge its way past a block by sending its
// own X-Forwarded-For, because only what trusted hops appended is believed.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "security/ip_address.h"

namespace rl::security {

struct ForwardingHeaders {
  std::span<const std::string_view> x_forwarded_for;  // every X-Forwarded-For, in order
  std::string_view x_real_ip;
};

IpAddress resolve_client_ip(const IpAddress& peer, bool peer_trusted,
                            const ForwardingHeaders& headers, const std::vector<Cidr>& trusted);

}  // namespace rl::security
