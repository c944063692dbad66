// Standalone or cluster: redis.mode, redis.nodes and the URL's scheme settle into one URL, so
// every consumer (rld's factory, --check-config, rlctl) reads the mode from the URL alone.
#include "config/internal.h"
#include "config/redis_url.h"

namespace rl::config {

void resolve_redis_mode(DaemonConfig& c, bool url_from_flag, std::vector<std::string>& problems) {
  const std::string where = c.source.empty() ? "configuration" : c.source;
  RedisConfig& r = c.redis;
  if (url_from_flag) r.nodes.clear();  // --redis overrides the file's seeds, like its URL
  auto url = RedisUrl::parse(r.url);
  if (!url) return;  // reported by validation, without the password
  if (url->cluster) r.mode = RedisMode::cluster;
  if (r.mode == RedisMode::standalone) {
    if (!r.nodes.empty()) {
      problems.push_back(where + ": redis.nodes: only used with redis.mode = \"cluster\" " +
                         "(set it, or remove redis.nodes)");
    }
    return;
  }
  if (url->kind == RedisUrl::Kind::unix_socket) {
    problems.push_back(where + ": redis.url: expected a redis:// or redis+cluster:// URL in " +
                       "cluster mode (cluster nodes are reached over TCP), got a unix:// URL");
    return;
  }
  if (url->db != 0) {
    problems.push_back(where + ": redis.url: expected database 0 in cluster mode (Redis " +
                       "Cluster has only database 0), got " + std::to_string(url->db) +
                       " (from the URL or REDIS_DB)");
    return;
  }
  if (!r.nodes.empty()) {
    if (url->cluster) {
      problems.push_back(where + ": redis.nodes: the seed nodes are given twice, here and in " +
                         "the redis+cluster:// URL of redis.url (keep one)");
      return;
    }
    url->nodes.clear();
    for (const auto& text : r.nodes) {
      auto node = HostPort::parse(text, true);
      if (!node) return;  // reported with its line by the schema reader
      url->nodes.push_back(std::move(*node));
    }
  } else if (!url->cluster) {
    url->nodes = {HostPort{url->host, url->port}};  // the URL's host is the one seed
  }
  url->cluster = true;
  url->host = url->nodes.front().host;
  url->port = url->nodes.front().port;
  r.url = url->to_string();
}

}  // namespace rl::config
