// ServiceSettings: the slice of the daemon configuration the request pipeline reads, as one
// immutable snapshot. A reload builds a new snapshot and swaps the pointer; requests in flight
// keep the one they started with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "http/request.h"
#include "policy/tier.h"
#include "security/ip_address.h"
#include "store/store.h"

namespace rl::service {

struct ServiceSettings {
  std::vector<security::Cidr> trusted_proxies;
  bool trust_unix_socket = true;
  config::ClientIpHeader client_ip_header = config::ClientIpHeader::automatic;
  std::string original_uri_header = "X-Original-URI";
  bool ietf_headers = true;
  std::vector<std::string> excluded_paths;
  store::AttemptRules attempts;
  std::string admin_key;
  std::string admin_disabled_reason;  // non-empty: the admin API answers 403 with it
  // TCP peers the admin API answers (security.admin_networks); the Unix socket always.
  std::vector<security::Cidr> admin_networks;
  core::Seconds health_cache{2};
  // A key the store cannot resolve now (Redis away, the key in no cache): redis.on_failure
  // decides — allow admits it, deny answers 503, local limits its client by this tier (the
  // tier file's lowest rate, burst_limit per window; none: 503).
  policy::FailurePolicy unverified_policy = policy::FailurePolicy::deny;
  std::shared_ptr<const policy::Tier> unverified_tier;
  // The tier file's tier names: their decision series are registered before any traffic.
  std::vector<std::string> tier_names;

  // `tiers`: the tier file's, for unverified_tier and tier_names.
  static std::shared_ptr<const ServiceSettings> from(const config::DaemonConfig& config,
                                                     const std::vector<policy::Tier>& tiers = {});

  // A peer whose forwarding headers (client address, original URI, /v1/decide's "ip") are
  // believed: a trusted proxy, or a Unix-socket client when trust_unix_socket is set.
  bool trusts(const http::Peer& peer) const;

  // Whether the admin API answers this peer at all: a Unix-socket client, or a TCP peer in
  // admin_networks. The socket's own address decides, never a forwarded one: a proxy on the
  // same host makes everything it relays come from loopback, so keep /admin off its routes.
  bool admin_allowed_from(const http::Peer& peer) const;

  // "/x" matches exactly; "/x/*" matches everything under "/x/". Only canonical paths can be
  // excluded — no empty, "." or ".." segments, no '%', '\' or ';' — so no spelling a backend
  // would resolve elsewhere ("/static/../api") escapes the limit.
  bool is_excluded(std::string_view path) const;
};

}  // namespace rl::service
