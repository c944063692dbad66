// Building ServiceSettings from a DaemonConfig, including whether the admin API may run.
#include "service/settings.h"

#include <algorithm>
#include <optional>

#include "core/text.h"

namespace rl::service {

std::shared_ptr<const ServiceSettings> ServiceSettings::from(const config::DaemonConfig& c) {
  auto s = std::make_shared<ServiceSettings>();
  s->trusted_proxies = c.http.trusted_proxies;
  s->trust_unix_socket = c.http.trust_unix_socket;
  s->ietf_headers = c.http.ietf_headers;
  s->excluded_paths = c.http.excluded_paths;
  s->attempts = store::AttemptRules{c.security.max_invalid_attempts, c.security.invalid_window,
                                    c.security.block_duration};
  s->admin_key = c.security.admin_key;
  s->health_cache = c.health.cache;
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

namespace {

// The path a server would resolve: percent-escapes decoded, "." and ".." segments removed
// (RFC 3986 §5.2.4), so "/static/../test" cannot pass for "/static/*". nullopt when malformed.
std::optional<std::string> normalized(std::string_view raw) {
  std::string decoded;
  if (!core::percent_decode(raw, decoded)) return std::nullopt;
  std::vector<std::string_view> segments;
  std::string_view rest = decoded;
  if (rest.starts_with('/')) rest.remove_prefix(1);
  bool trailing_slash = false;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = last;
    } else if (segment == ".") {
      trailing_slash = last;
    } else {
      segments.push_back(segment);
      trailing_slash = false;
    }
    if (last) break;
    rest = rest.substr(slash + 1);
  }
  std::string out;
  for (const auto& segment : segments) {
    out.push_back('/');
    out.append(segment);
  }
  if (trailing_slash || out.empty()) out.push_back('/');
  return out;
}

}  // namespace

bool ServiceSettings::is_excluded(std::string_view raw_path) const {
  if (excluded_paths.empty()) return false;
  const auto path = normalized(raw_path);
  if (!path) return false;
  for (const auto& pattern : excluded_paths) {
    if (pattern.ends_with("/*")) {
      if (path->starts_with(std::string_view(pattern).substr(0, pattern.size() - 1))) return true;
    } else if (*path == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace rl::service
