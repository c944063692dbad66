// make_commands: the one place that picks how rl talks to Redis — a Client for one endpoint,
// a ClusterClient for a redis+cluster:// URL (config::RedisConfig settles redis.mode and
// redis.nodes into the URL). Callers hold Commands and need not know which.
#pragma once

#include <memory>

#include <uv.h>

#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/client.h"
#include "redis/commands.h"

namespace rl::redis {

// `connections`: pipelined connections to the endpoint, or to each master of a cluster.
// `metrics` must outlive the result; the cluster's own counters are registered in `registry`.
std::unique_ptr<Commands> make_commands(uv_loop_t* loop, ConnectionOptions options, int connections,
                                        obs::Logger& log, ClientMetrics& metrics,
                                        obs::Registry& registry);

}  // namespace rl::redis
