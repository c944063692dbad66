// AdminApi: the /admin routes (DESIGN.md §4) — health state, users, keys, tiers, usage and
// client blocks — over the Directory and Store interfaces. The caller has already checked the
// admin key. Every change is logged as an `admin_change` event with the request's id and client;
// new API keys are returned once and only their SHA-256 is kept (the log names the key id).
// Loop-thread only.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "http/handler.h"
#include "obs/logger.h"
#include "service/health_service.h"
#include "service/routes.h"
#include "store/directory.h"
#include "store/store.h"

namespace rl::service {

class AdminApi {
 public:
  using Params = std::array<std::string, 2>;
  // Who asked, for the audit log; both outlive the request.
  struct Origin {
    std::string_view request_id;
    std::string_view client;
  };

  AdminApi(store::Directory& directory, store::Store& store, HealthService& health,
           const core::Clock& clock, obs::Logger& log);

  // Answers the request and calls exchange.done(), now or when the store has answered.
  void handle(Route route, http::Exchange& exchange, const Params& params, Origin origin);

 private:
  struct Call;  // one admin request in progress
  void health(Call& call);
  void users(Call& call);
  void user(Call& call);
  void user_keys(Call& call);
  void revoke_key(Call& call);
  void tiers(Call& call);
  void tier(Call& call);
  void usage(Call& call);
  void blocks(Call& call);
  void unblock(Call& call);

  store::Directory& directory_;
  store::Store& store_;
  HealthService& health_;
  const core::Clock& clock_;
  obs::Logger& log_;
};

}  // namespace rl::service
