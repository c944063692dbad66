// Pieces of the daemon-config loader shared by its source files (not a public interface):
// the TOML schema reader, the environment overlay and the joining of problem lists.
#pragma once

#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "config/loader.h"
#include "core/result.h"

namespace rl::config {

// Reads the TOML file at `path` into `config`, adding every problem found.
void read_toml_file(const std::string& path, DaemonConfig& config,
                    std::vector<std::string>& problems);

// Applies the reference's environment variables.
void apply_environment(const Environment& env, DaemonConfig& config,
                       std::vector<std::string>& problems);

// REDIS_PASSWORD, when set, becomes the password of redis.url; with `keep_given`, only when
// that URL (from --redis) carries none of its own.
void apply_redis_password(const Environment& env, RedisConfig& redis, bool keep_given);

// Settles redis.mode, redis.nodes and redis.url into one URL (a redis+cluster:// one in cluster
// mode), reporting contradictions. `url_from_flag`: --redis was given, and names the seeds.
void resolve_redis_mode(DaemonConfig& config, bool url_from_flag,
                        std::vector<std::string>& problems);

// Parses listen addresses; each bad one is reported as "<source>: <message>".
std::vector<ListenAddress> parse_listeners(const std::vector<std::string>& texts,
                                           const std::string& source,
                                           std::vector<std::string>& problems);

// One invalid_argument Error whose message holds every problem, one per line.
core::Error problems_error(const std::vector<std::string>& problems);

}  // namespace rl::config
