// The route table.
#include "service/routes.h"

namespace rl::service {

http::Router make_router() {
  using M = http::Method;
  http::Router r;
  const auto add = [&](Route route, std::vector<M> methods, std::string_view pattern) {
    r.add(static_cast<int>(route), std::move(methods), pattern);
  };
  add(Route::test, {M::get}, "/test");
  add(Route::check, {}, "/check");
  // Envoy's ext_authz (HTTP service) asks for path_prefix + the client's path.
  add(Route::check, {}, "/check/{path...}");
  add(Route::decide, {M::post}, "/v1/decide");
  add(Route::health, {M::get}, "/health");
  add(Route::ready, {M::get}, "/ready");
  add(Route::metrics, {M::get}, "/metrics");
  add(Route::admin_health, {M::get, M::post}, "/admin/health");
  add(Route::admin_users, {M::get, M::post}, "/admin/users");
  add(Route::admin_user, {M::get, M::patch, M::del}, "/admin/users/{id}");
  add(Route::admin_user_keys, {M::get, M::post}, "/admin/users/{id}/keys");
  add(Route::admin_key, {M::del}, "/admin/keys/{key_id}");
  add(Route::admin_tiers, {M::get}, "/admin/tiers");
  add(Route::admin_tier, {M::get, M::put}, "/admin/tiers/{name}");
  add(Route::admin_usage, {M::get}, "/admin/usage/{user}");
  add(Route::admin_blocks, {M::get}, "/admin/blocks");
  add(Route::admin_block, {M::del}, "/admin/blocks/{client}");
  return r;
}

}  // namespace rl::service
