// The daemon's configuration as an immutable value: built-in defaults, overlaid by the TOML
// file, the environment and the command line (in that order), then validated as a whole.
// Each component receives only its own section. See config/rld.toml for every key, documented.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/listen_address.h"
#include "core/clock.h"
#include "obs/logger.h"
#include "policy/tier.h"
#include "security/ip_address.h"

namespace rl::config {

enum class StoreKind { memory, redis };
// Where a trusted peer's client address comes from: X-Forwarded-For (right to left) or else
// X-Real-IP ("auto", DESIGN.md §3), or only the one header the proxy in front always sets.
enum class ClientIpHeader { automatic, x_forwarded_for, x_real_ip };
using FailurePolicy = policy::FailurePolicy;

std::string_view to_string(StoreKind kind);

inline constexpr int kMaxWorkers = 256;

struct ServerConfig {
  std::vector<ListenAddress> listen = {
      ListenAddress{ListenAddress::Kind::tcp, "127.0.0.1", 8000, ""}};
  int workers = 0;  // event-loop threads; 0: one per core (resolved by rld at start)
  std::size_t max_connections = 10000;
  core::Millis drain_timeout{10000};
  std::uint32_t unix_socket_mode = 0660;
  // Group of the Unix socket files (e.g. the proxy's "www-data"); -1: the process's own group.
  // rld must be a member of it. Resolved when the file is loaded: an unknown group is an error.
  std::string unix_socket_group;
  std::int64_t unix_socket_gid = -1;
};

struct HttpConfig {
  std::size_t max_url_bytes = 8 * 1024;
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers
  std::size_t max_headers = 100;
  std::size_t max_body_bytes = 64 * 1024;
  core::Millis header_timeout{10000};   // first byte of a request → end of its headers
  core::Millis request_timeout{30000};  // first byte of a request → end of its body
  core::Millis idle_timeout{60000};     // keep-alive connection with no request in progress
  bool trust_unix_socket = true;
  std::vector<security::Cidr> trusted_proxies;
  ClientIpHeader client_ip_header = ClientIpHeader::automatic;
  // /check: the header a trusted proxy puts the original request path in (nginx:
  // X-Original-URI; Traefik: X-Forwarded-Uri). Ignored from untrusted peers.
  std::string original_uri_header = "X-Original-URI";
  bool ietf_headers = true;
  // /check: requests whose original path matches are let through unlimited. "/x" matches
  // exactly, "/x/*" matches the prefix "/x/".
  std::vector<std::string> excluded_paths;
};

struct StoreConfig {
  StoreKind kind = StoreKind::memory;
  // Reference-schema JSON (tiers, users, api_keys). The default, like the reference's, is
  // optional: when it does not exist rld starts with no tiers. A file named explicitly (config,
  // RATE_LIMITER_CONFIG_PATH, --tiers) must exist.
  std::string tiers_file = "config/rate_limits.json";
  bool tiers_file_required = false;
};

// standalone: one Redis endpoint; cluster: a Redis Cluster, found through its seed nodes.
enum class RedisMode { standalone, cluster };

struct RedisConfig {
  // After loading, the one source of truth: in cluster mode a redis+cluster:// URL holding the
  // seeds (redis.nodes, or the host of a redis:// URL) and the credentials.
  std::string url = "redis://127.0.0.1:6379/0";
  RedisMode mode = RedisMode::standalone;
  std::vector<std::string> nodes;  // redis.nodes as written ("host:port"), folded into url
  core::Millis timeout{5};         // deadline of every command
  core::Millis connect_timeout{1000};
  int connections = 2;  // pipelined connections (per worker)
  FailurePolicy on_failure = FailurePolicy::local;
  std::string prefix = "rl:";
  int breaker_failures = 5;  // failures in a row that open the circuit breaker
  core::Millis breaker_cooldown{1000};
  core::Seconds cache_ttl{60};  // identity cache backstop; events invalidate at once
  std::size_t cache_size = 100000;
};

// Loopback only: 127.0.0.0/8 and ::1.
std::vector<security::Cidr> default_admin_networks();

struct SecurityConfig {
  std::int64_t max_invalid_attempts = 10;  // the attempt after these is blocked
  core::Seconds invalid_window{300};
  core::Seconds block_duration{900};
  std::string admin_key;                     // empty: admin API disabled (403)
  std::size_t max_tracked_clients = 100000;  // bound on in-memory attempt and block tables
  // TCP peers (the socket's address, never a forwarded one) the admin API answers; any other
  // gets 403 before its key is looked at. The Unix socket is always allowed. Empty: Unix only.
  std::vector<security::Cidr> admin_networks = default_admin_networks();
};

struct HealthConfig {
  core::Seconds cache{2};
};

struct LogConfig {
  obs::LogLevel level = obs::LogLevel::info;
};

struct DaemonConfig {
  std::string source;  // the file it came from, "" for built-in defaults
  ServerConfig server;
  HttpConfig http;
  StoreConfig store;
  RedisConfig redis;
  SecurityConfig security;
  HealthConfig health;
  LogConfig log;
};

// The reference's placeholder admin key, refused on any non-local listener.
inline constexpr std::string_view kPlaceholderAdminKey = "admin_secret_key_change_in_production";

}  // namespace rl::config
