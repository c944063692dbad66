// HttpApi: the http::Handler of rld. Routes each request (DESIGN.md §4): the decision endpoints
// (/test, /check, /v1/decide) through the DecisionService, liveness, readiness and metrics, and
// the admin routes — after the admin key and the client's block status are checked — through
// the AdminApi. Per-connection state lives in an ApiContext, so a warm keep-alive connection
// answers without allocating.
#pragma once

#include <functional>
#include <string>

#include "http/handler.h"
#include "http/router.h"
#include "obs/metrics.h"
#include "service/admin_api.h"
#include "service/decision_service.h"
#include "service/routes.h"

namespace rl::service {

struct ApiContext;

class HttpApi final : public http::Handler {
 public:
  // `not_ready` returns why decisions cannot be served now ("" when they can).
  HttpApi(DecisionService& decisions, AdminApi& admin, obs::Registry& metrics,
          const core::Clock& clock, std::function<std::string()> not_ready);

  void handle(http::Exchange& exchange) override;
  void write_error(http::ResponseWriter& writer, int status, std::string_view reason) override;

 private:
  bool route(ApiContext& ctx);  // false when the request was answered already
  void answer_operational(ApiContext& ctx);
  void start_decision(ApiContext& ctx);
  bool read_check(ApiContext& ctx);   // /check: deny_status and path exclusion
  bool read_decide(ApiContext& ctx);  // /v1/decide: the JSON body
  void start_admin(ApiContext& ctx);
  void on_job_done(ApiContext& ctx);
  void respond_decision(ApiContext& ctx);
  void write_decision_json(ApiContext& ctx);
  security::IpAddress client_of(ApiContext& ctx);

  DecisionService& decisions_;
  AdminApi& admin_;
  obs::Registry& metrics_;
  const core::Clock& clock_;
  std::function<std::string()> not_ready_;
  http::Router router_;
};

}  // namespace rl::service
