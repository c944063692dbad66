// fit_descriptor_limit: getrlimit/setrlimit(RLIMIT_NOFILE) at start.
#include "apps/rld/descriptor_limit.h"

#include <algorithm>
#include <cstdint>
#include <sys/resource.h>

namespace rl::rld {

void fit_descriptor_limit(const config::DaemonConfig& c, obs::Logger& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const auto workers = static_cast<rlim_t>(c.server.workers);
  const rlim_t wanted =
      c.server.max_connections + 64 + workers * (static_cast<rlim_t>(c.redis.connections) + 8);
  const rlim_t before = limit.rlim_cur;
  if (before >= wanted) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  if (limit.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = before;
  if (limit.rlim_cur > before) {
    log.info("descriptor_limit_raised",
             {{"from", std::uint64_t{before}}, {"to", std::uint64_t{limit.rlim_cur}}});
  }
  if (limit.rlim_cur < wanted) {
    log.warn(
        "descriptor_limit_low",
        {{"limit", std::uint64_t{limit.rlim_cur}},
         {"wanted", std::uint64_t{wanted}},
         {"max_connections", std::uint64_t{c.server.max_connections}},
         {"hint", "raise LimitNOFILE (systemd) or ulimit -n, or lower server.max_connections"}});
  }
}

}  // namespace rl::rld
