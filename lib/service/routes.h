// The HTTP API's routes (DESIGN.md §4) and the router that recognises them.
#pragma once

#include "http/router.h"

namespace rl::service {

enum class Route {
  test,
  check,
  decide,
  health,
  ready,
  metrics,
  admin_health,
  admin_users,
  admin_user,
  admin_user_keys,
  admin_key,
  admin_tiers,
  admin_tier,
  admin_usage,
  admin_blocks,
  admin_block,
};

http::Router make_router();

}  // namespace rl::service
