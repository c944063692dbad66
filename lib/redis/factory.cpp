// The choice between one endpoint and a cluster, made from the URL.
#include "redis/factory.h"

#include "redis/cluster_client.h"

namespace rl::redis {

std::unique_ptr<Commands> make_commands(uv_loop_t* loop, ConnectionOptions options, int connections,
                                        obs::Logger& log, ClientMetrics& metrics,
                                        obs::Registry& registry) {
  if (options.url.cluster) {
    return std::make_unique<ClusterClient>(loop, std::move(options), connections, log, metrics,
                                           registry);
  }
  return std::make_unique<Client>(loop, std::move(options), connections, log, metrics);
}

}  // namespace rl::redis
