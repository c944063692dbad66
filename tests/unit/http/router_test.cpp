// Tests of http/router.h: exact and {param} routes, 404 against 405 with the Allow list,
// any-method routes, and paths that must not match.
#include "http/router.h"

#include <doctest/doctest.h>

using rl::http::Method;
using rl::http::Router;

namespace {

enum Route { kTest, kCheck, kUsers, kUsersPost, kUser, kUserPatch, kUserDelete, kKeys, kHealth };

Router make_router() {
  Router r;
  r.add(kTest, {Method::get}, "/test");
  r.add(kCheck, {}, "/check");
  r.add(kUsers, {Method::get}, "/admin/users");
  r.add(kUsersPost, {Method::post}, "/admin/users");
  r.add(kUser, {Method::get}, "/admin/users/{id}");
  r.add(kUserPatch, {Method::patch}, "/admin/users/{id}");
  r.add(kUserDelete, {Method::del}, "/admin/users/{id}");
  r.add(kKeys, {Method::post}, "/admin/users/{id}/keys/{key}");
  r.add(kHealth, {Method::get, Method::post}, "/admin/health");
  return r;
}

}  // namespace

TEST_CASE("an exact path matches its route") {
  const Router r = make_router();
  const auto m = r.match(Method::get, "/test");
  CHECK(m.route == kTest);
  CHECK(m.path_known);
}

TEST_CASE("two routes on one path are told apart by method") {
  const Router r = make_router();
  CHECK(r.match(Method::get, "/admin/users").route == kUsers);
  CHECK(r.match(Method::post, "/admin/users").route == kUsersPost);
}

TEST_CASE("a {param} segment captures the segment's text") {
  const Router r = make_router();
  const auto m = r.match(Method::patch, "/admin/users/alice");
  CHECK(m.route == kUserPatch);
  CHECK(m.params[0] == "alice");
}

TEST_CASE("two params are captured in order") {
  const Router r = make_router();
  const auto m = r.match(Method::post, "/admin/users/bob/keys/k1");
  CHECK(m.route == kKeys);
  CHECK(m.params[0] == "bob");
  CHECK(m.params[1] == "k1");
}

TEST_CASE("an unknown path is a 404: not found and not known") {
  const Router r = make_router();
  const auto m = r.match(Method::get, "/nope");
  CHECK(m.route == -1);
  CHECK_FALSE(m.path_known);
}

TEST_CASE("a known path with the wrong method is a 405 with the Allow list") {
  const Router r = make_router();
  const auto m = r.match(Method::put, "/admin/users/alice");
  CHECK(m.route == -1);
  CHECK(m.path_known);
  CHECK(m.allow == "GET, HEAD, PATCH, DELETE");
}

TEST_CASE("the Allow list of a GET route includes HEAD") {
  const Router r = make_router();
  const auto m = r.match(Method::post, "/test");
  CHECK(m.path_known);
  CHECK(m.allow == "GET, HEAD");
}

TEST_CASE("HEAD is routed wherever GET is") {
  const Router r = make_router();
  CHECK(r.match(Method::head, "/test").route == kTest);
  CHECK(r.match(Method::head, "/admin/health").route == kHealth);
  CHECK(r.match(Method::head, "/admin/users/bob/keys/k1").route == -1);
}

TEST_CASE("an any-method route matches every method") {
  const Router r = make_router();
  for (Method m : {Method::get, Method::head, Method::post, Method::put, Method::patch, Method::del,
                   Method::options, Method::other}) {
    CHECK(r.match(m, "/check").route == kCheck);
  }
}

TEST_CASE("a trailing slash does not match") {
  const Router r = make_router();
  CHECK(r.match(Method::get, "/test/").route == -1);
  CHECK_FALSE(r.match(Method::get, "/test/").path_known);
  CHECK(r.match(Method::get, "/admin/users/").route == -1);
}

TEST_CASE("extra or missing segments do not match") {
  const Router r = make_router();
  CHECK_FALSE(r.match(Method::get, "/test/more").path_known);
  CHECK_FALSE(r.match(Method::get, "/admin/users/alice/extra").path_known);
  CHECK_FALSE(r.match(Method::post, "/admin/users/bob/keys").path_known);
  CHECK_FALSE(r.match(Method::get, "/admin").path_known);
}

TEST_CASE("an empty segment does not fill a {param}") {
  const Router r = make_router();
  CHECK_FALSE(r.match(Method::post, "/admin/users//keys/k1").path_known);
}

TEST_CASE("a path not starting with a slash never matches") {
  const Router r = make_router();
  CHECK_FALSE(r.match(Method::get, "test").path_known);
  CHECK_FALSE(r.match(Method::get, "").path_known);
}

TEST_CASE("method names are the HTTP tokens") {
  CHECK(rl::http::method_name(Method::del) == "DELETE");
  CHECK(rl::http::method_name(Method::patch) == "PATCH");
  CHECK(rl::http::method_name(Method::other) == "OTHER");
}

TEST_CASE("a last {rest...} segment captures the rest of the path, slashes and all") {
  Router r = make_router();
  r.add(kCheck, {}, "/check/{path...}");
  const auto m = r.match(Method::get, "/check/api/items/7");
  CHECK(m.route == kCheck);
  CHECK(m.params[0] == "api/items/7");
  CHECK(r.match(Method::post, "/check/x/").params[0] == "x/");
  CHECK(r.match(Method::get, "/check").route == kCheck);  // the exact route still matches
  CHECK(r.match(Method::get, "/check/").route == -1);     // the rest must not be empty
  CHECK(r.match(Method::get, "/checks/a").route == -1);
}
