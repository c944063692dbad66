// The open-file limit rld starts with: raised toward what server.max_connections needs.
#pragma once

#include "config/daemon_config.h"
#include "obs/logger.h"

namespace rl::rld {

// Descriptors rld may need: one per allowed client plus its own (listeners, event loops, Redis
// links): server.max_connections + 64 + (redis.connections + 8) per worker. The soft
// RLIMIT_NOFILE is raised toward that, up to the hard limit (descriptor_limit_raised); when even
// the hard limit is short, descriptor_limit_low says so at start rather than accept_paused
// under load. Call once, with config.server.workers resolved.
void fit_descriptor_limit(const config::DaemonConfig& config, obs::Logger& log);

}  // namespace rl::rld
