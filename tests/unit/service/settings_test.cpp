// Tests of service/settings.h: building ServiceSettings from a DaemonConfig, when the admin API
// is disabled and why, and path exclusion.
#include "service/settings.h"

#include <doctest/doctest.h>

using rl::config::DaemonConfig;
using rl::config::ListenAddress;
using rl::service::ServiceSettings;

namespace {

DaemonConfig with(std::vector<std::string> listen, std::string admin_key) {
  DaemonConfig c;
  c.server.listen.clear();
  for (const auto& text : listen) {
    auto a = ListenAddress::parse(text);
    REQUIRE(a.ok());
    c.server.listen.push_back(*a);
  }
  c.security.admin_key = std::move(admin_key);
  return c;
}

const std::string kPlaceholder(rl::config::kPlaceholderAdminKey);

}  // namespace

TEST_CASE("the admin API is disabled when no admin key is configured") {
  const auto s = ServiceSettings::from(with({"127.0.0.1:8000"}, ""));
  CHECK(s->admin_disabled_reason.find("no admin key") != std::string::npos);
}

TEST_CASE("the placeholder admin key disables the admin API on a non-loopback listener") {
  const auto s = ServiceSettings::from(with({"127.0.0.1:8000", "0.0.0.0:8001"}, kPlaceholder));
  CHECK(s->admin_disabled_reason.find("placeholder") != std::string::npos);
  CHECK(s->admin_disabled_reason.find(kPlaceholder) == std::string::npos);
}

TEST_CASE("the placeholder admin key is accepted on loopback and unix listeners only") {
  const auto s = ServiceSettings::from(
      with({"127.0.0.1:8000", "[::1]:8001", "unix:/tmp/rld.sock"}, kPlaceholder));
  CHECK(s->admin_disabled_reason.empty());
  CHECK(s->admin_key == kPlaceholder);
}

TEST_CASE("a real admin key is accepted on any listener") {
  const auto s = ServiceSettings::from(with({"0.0.0.0:8000"}, "a-real-secret-admin-key"));
  CHECK(s->admin_disabled_reason.empty());
}

TEST_CASE("the settings carry the http, security and health sections") {
  DaemonConfig c = with({"127.0.0.1:8000"}, "k");
  c.http.ietf_headers = false;
  c.http.trust_unix_socket = false;
  c.http.trusted_proxies = {*rl::security::Cidr::parse("10.0.0.0/8")};
  c.security.max_invalid_attempts = 4;
  c.security.invalid_window = rl::core::Seconds{30};
  c.security.block_duration = rl::core::Seconds{45};
  c.health.cache = rl::core::Seconds{7};
  const auto s = ServiceSettings::from(c);
  CHECK_FALSE(s->ietf_headers);
  CHECK_FALSE(s->trust_unix_socket);
  CHECK(s->trusted_proxies.size() == 1);
  CHECK(s->attempts.max_attempts == 4);
  CHECK(s->attempts.window == rl::core::Seconds{30});
  CHECK(s->attempts.block_for == rl::core::Seconds{45});
  CHECK(s->health_cache == rl::core::Seconds{7});
}

TEST_CASE("an excluded path without a star matches exactly") {
  ServiceSettings s;
  s.excluded_paths = {"/health"};
  CHECK(s.is_excluded("/health"));
  CHECK_FALSE(s.is_excluded("/health/"));
  CHECK_FALSE(s.is_excluded("/healthz"));
  CHECK_FALSE(s.is_excluded("/"));
}

TEST_CASE("an excluded path ending in /* matches everything under it") {
  ServiceSettings s;
  s.excluded_paths = {"/static/*"};
  CHECK(s.is_excluded("/static/app.js"));
  CHECK(s.is_excluded("/static/a/b"));
  CHECK(s.is_excluded("/static/"));
  CHECK_FALSE(s.is_excluded("/static"));
  CHECK_FALSE(s.is_excluded("/staticfile"));
}

TEST_CASE("dot-segments cannot climb out of an excluded prefix") {
  // X-Original-URI is the raw request target: "/static/../test" names /test, which is limited.
  ServiceSettings s;
  s.excluded_paths = {"/static/*"};
  CHECK_FALSE(s.is_excluded("/static/../test"));
  CHECK_FALSE(s.is_excluded("/static/%2e%2e/test"));
}

TEST_CASE("no excluded paths exclude nothing") {
  ServiceSettings s;
  CHECK_FALSE(s.is_excluded("/"));
  CHECK_FALSE(s.is_excluded("/test"));
}

TEST_CASE("a key that cannot be checked is limited by the tier with the lowest rate") {
  const auto tier = [](std::string name, std::int64_t burst, std::int64_t window_s,
                       bool shadow = false) {
    rl::policy::Tier t;
    t.name = std::move(name);
    t.base_limit = t.burst_limit = t.degraded_limit = burst;
    t.window = rl::core::Seconds{window_s};
    t.shadow = shadow;
    return t;
  };
  DaemonConfig c;
  c.redis.on_failure = rl::policy::FailurePolicy::local;
  // 100 per second is 360,000 per hour: more than 200 per hour, whatever the counts say.
  auto s = ServiceSettings::from(
      c, {tier("per_second", 100, 1), tier("hourly", 200, 3600), tier("trial", 1, 60, true)});
  REQUIRE(s->unverified_tier);
  CHECK(s->unverified_tier->name == "hourly");  // the shadow tier never limits anything
  CHECK(s->unverified_policy == rl::policy::FailurePolicy::local);
  CHECK_FALSE(ServiceSettings::from(c, {tier("trial", 1, 60, true)})->unverified_tier);
}

namespace {

rl::http::Peer tcp_peer(std::string_view address) {
  const auto ip = rl::security::IpAddress::parse(address);
  REQUIRE(ip.has_value());
  return rl::http::Peer{*ip, false};
}

}  // namespace

TEST_CASE("by default the admin API answers loopback TCP peers and the Unix socket only") {
  const auto s = ServiceSettings::from(with({"0.0.0.0:8000"}, "a-real-secret-admin-key"));
  CHECK(s->admin_allowed_from(tcp_peer("127.0.0.1")));
  CHECK(s->admin_allowed_from(tcp_peer("127.0.0.2")));
  CHECK(s->admin_allowed_from(tcp_peer("::1")));
  CHECK(s->admin_allowed_from(tcp_peer("::ffff:127.0.0.1")));  // IPv4-mapped, folded
  CHECK(s->admin_allowed_from(rl::http::Peer{{}, true}));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("192.0.2.2")));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("::ffff:192.0.2.2")));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("fd00::2")));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("::")));  // a peer whose address is unknown
}

TEST_CASE("admin_networks replaces the loopback default") {
  DaemonConfig c = with({"0.0.0.0:8000"}, "a-real-secret-admin-key");
  c.security.admin_networks = {*rl::security::Cidr::parse("127.0.0.1/32"),
                               *rl::security::Cidr::parse("10.1.0.0/16")};
  const auto s = ServiceSettings::from(c);
  CHECK(s->admin_allowed_from(tcp_peer("127.0.0.1")));
  CHECK(s->admin_allowed_from(tcp_peer("10.1.200.3")));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("127.0.0.2")));
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("::1")));
  CHECK(s->admin_allowed_from(rl::http::Peer{{}, true}));
}

TEST_CASE("an empty admin_networks leaves only the Unix socket") {
  DaemonConfig c = with({"127.0.0.1:8000"}, "a-real-secret-admin-key");
  c.security.admin_networks.clear();
  const auto s = ServiceSettings::from(c);
  CHECK_FALSE(s->admin_allowed_from(tcp_peer("127.0.0.1")));
  CHECK(s->admin_allowed_from(rl::http::Peer{{}, true}));
}
