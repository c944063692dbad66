// ServiceSettings: the slice of the daemon configuration the request pipeline reads, as one
// immutable snapshot. A reload builds a new snapshot and swaps the pointer; requests in flight
// keep the one they started with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "security/ip_address.h"
#include "store/store.h"

namespace rl::service {

struct ServiceSettings {
  std::vector<security::Cidr> trusted_proxies;
  bool trust_unix_socket = true;
  bool ietf_headers = true;
  std::vector<std::string> excluded_paths;
  store::AttemptRules attempts;
  std::string admin_key;
  std::string admin_disabled_reason;  // non-empty: the admin API answers 403 with it
  core::Seconds health_cache{2};

  static std::shared_ptr<const ServiceSettings> from(const config::DaemonConfig& config);
  // "/x" matches exactly; "/x/*" matches everything under "/x/".
  bool is_excluded(std::string_view path) const;
};

}  // namespace rl::service
