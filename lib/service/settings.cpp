// Building ServiceSettings from a DaemonConfig, including whether the admin API may run.
#include "service/settings.h"

#include <algorithm>

namespace rl::service {
namespace {

bool is_canonical_path(std::string_view path) {
  if (!path.starts_with('/')) return false;
  if (path.find_first_of("%\\;") != std::string_view::npos) return false;
  std::string_view rest = path.substr(1);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (segment == "." || segment == ".." || (segment.empty() && !last)) return false;
    if (last) return true;
    rest = rest.substr(slash + 1);
  }
}

}  // namespace

std::shared_ptr<const ServiceSettings> ServiceSettings::from(
    const config::DaemonConfig& c, const std::vector<policy::Tier>& tiers) {
  auto s = std::make_shared<ServiceSettings>();
  s->trusted_proxies = c.http.trusted_proxies;
  s->trust_unix_socket = c.http.trust_unix_socket;
  s->client_ip_header = c.http.client_ip_header;
  s->original_uri_header = c.http.original_uri_header;
  s->ietf_headers = c.http.ietf_headers;
  s->excluded_paths = c.http.excluded_paths;
  s->attempts = store::AttemptRules{c.security.max_invalid_attempts, c.security.invalid_window,
                                    c.security.block_duration};
  s->admin_key = c.security.admin_key;
  s->admin_networks = c.security.admin_networks;
  s->health_cache = c.health.cache;
  s->unverified_policy = c.redis.on_failure;
  // The lowest rate, not the lowest count: 100 per second is more than 200 per hour.
  const auto slower = [](const policy::Tier& a, const policy::Tier& b) {
    return static_cast<long double>(a.burst_limit) * b.window.count() <
           static_cast<long double>(b.burst_limit) * a.window.count();
  };
  const policy::Tier* strictest = nullptr;
  for (const auto& t : tiers) {
    s->tier_names.push_back(t.name);
    if (t.shadow) continue;
    if (strictest == nullptr || slower(t, *strictest)) strictest = &t;
  }
  if (strictest != nullptr) s->unverified_tier = std::make_shared<const policy::Tier>(*strictest);
  const bool exposed = std::any_of(c.server.listen.begin(), c.server.listen.end(),
                                   [](const auto& a) { return !a.is_local(); });
  if (c.security.admin_key.empty()) {
    s->admin_disabled_reason = "the admin API is disabled: no admin key is configured";
  } else if (c.security.admin_key == config::kPlaceholderAdminKey && exposed) {
    s->admin_disabled_reason =
        "the admin API is disabled: the placeholder admin key is refused on a non-loopback "
        "listener";
  }
  return s;
}

bool ServiceSettings::trusts(const http::Peer& peer) const {
  return peer.unix_socket ? trust_unix_socket : security::any_contains(trusted_proxies, peer.ip);
}

bool ServiceSettings::admin_allowed_from(const http::Peer& peer) const {
  return peer.unix_socket || security::any_contains(admin_networks, peer.ip);
}

bool ServiceSettings::is_excluded(std::string_view path) const {
  if (excluded_paths.empty() || !is_canonical_path(path)) return false;
  for (const auto& pattern : excluded_paths) {
    if (pattern.ends_with("/*")) {
      if (path.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))) return true;
    } else if (path == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace rl::service
