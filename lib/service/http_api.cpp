// Routing, the decision endpoints and the operational endpoints.
#include "service/http_api.h"

#include "core/text.h"
#include "security/client_ip.h"
#include "service/responses.h"
#include "service/wire.h"

namespace rl::service {

struct ApiContext final : http::ExchangeContext {
  http::Exchange* exchange = nullptr;
  Route route = Route::test;
  int deny_status = 0;
  std::string request_id;
  std::string scratch;
  std::string header_scratch;
  std::string decide_key;  // /v1/decide: the key from the body
  std::vector<std::string_view> forwarded_for;
  std::array<std::string, http::Router::kMaxParams> params;
  DecisionJob job;
};

namespace {

std::string_view error_code_for(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "body_too_large";
    case 414:
      return "uri_too_long";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    default:
      return "error";
  }
}

void error_for(Verdict v, std::string_view& code, std::string_view& message) {
  switch (v) {
    case Verdict::limited:
      code = "rate_limited";
      message = "Rate limit exceeded";
      return;
    case Verdict::client_blocked:
      code = "client_blocked";
      message = "Too many invalid API keys from this address; try again later";
      return;
    case Verdict::missing_key:
      code = "missing_api_key";
      message = "An API key is required: send it in X-API-Key or Authorization: Bearer";
      return;
    case Verdict::malformed_key:
      code = "malformed_api_key";
      message = "The API key is malformed";
      return;
    case Verdict::unknown_key:
      code = "invalid_api_key";
      message = "The API key is not valid";
      return;
    case Verdict::user_disabled:
      code = "user_disabled";
      message = "The user is disabled";
      return;
    case Verdict::unavailable:
    case Verdict::allowed:
      break;
  }
  code = "unavailable";
  message = "The rate limiter cannot decide right now";
}

}  // namespace

HttpApi::HttpApi(DecisionService& decisions, AdminApi& admin, obs::Registry& metrics,
                 const core::Clock& clock, std::function<std::string()> not_ready)
    : decisions_(decisions),
      admin_(admin),
      metrics_(metrics),
      clock_(clock),
      not_ready_(std::move(not_ready)),
      router_(make_router()) {}

void HttpApi::write_error(http::ResponseWriter& writer, int status, std::string_view reason) {
  std::string id, scratch;
  assign_request_id(http::Request{}, id);
  service::write_error(writer, status, error_code_for(status), reason, id, scratch);
}

void HttpApi::handle(http::Exchange& exchange) {
  auto& ctx = exchange.context<ApiContext>();
  ctx.exchange = &exchange;
  const http::Request& req = exchange.request();
  assign_request_id(req, ctx.request_id);
  http::ResponseWriter& w = exchange.response();

  const auto match = router_.match(req.method, req.path);
  if (match.route < 0) {
    const bool known = match.path_known;
    w.status(known ? 405 : 404);
    if (known) w.header("Allow", match.allow);
    const std::string message = known ? "Method " + std::string(req.method_name) +
                                            " is not allowed on " + std::string(req.path)
                                      : "No route for " + std::string(req.path);
    w.header("X-Request-ID", ctx.request_id);
    finish_error(w, known ? "method_not_allowed" : "not_found", message, ctx.request_id,
                 ctx.scratch);
    return exchange.done();
  }
  ctx.route = static_cast<Route>(match.route);
  for (std::size_t i = 0; i < match.params.size(); ++i) {
    if (!core::percent_decode(match.params[i], ctx.params[i])) {
      service::write_error(w, 400, "bad_request", "Malformed percent-encoding in the path",
                           ctx.request_id, ctx.scratch);
      return exchange.done();
    }
  }

  switch (ctx.route) {
    case Route::test:
    case Route::check:
    case Route::decide:
      return handle_decision(ctx);
    case Route::health:
      write_json(w, 200, R"({"status":"ok"})", ctx.request_id);
      return exchange.done();
    case Route::ready: {
      const std::string reason = not_ready_();
      if (reason.empty()) {
        write_json(w, 200, R"({"status":"ready"})", ctx.request_id);
      } else {
        w.status(503);
        w.header("Retry-After", std::int64_t{1});
        w.header("X-Request-ID", ctx.request_id);
        w.body("application/json", json{{"status", "not_ready"}, {"reason", reason}}.dump());
      }
      return exchange.done();
    }
    case Route::metrics:
      w.status(200);
      w.header("X-Request-ID", ctx.request_id);
      w.body("text/plain; version=0.0.4; charset=utf-8", metrics_.render());
      return exchange.done();
    default:
      break;
  }
  if (!admin_allowed(ctx)) return exchange.done();
  admin_.handle(ctx.route, exchange, ctx.params, ctx.request_id);
}

bool HttpApi::admin_allowed(ApiContext& ctx) {
  const ServiceSettings& s = decisions_.settings();
  http::ResponseWriter& w = ctx.exchange->response();
  if (!s.admin_disabled_reason.empty()) {
    service::write_error(w, 403, "admin_disabled", s.admin_disabled_reason, ctx.request_id,
                         ctx.scratch);
    return false;
  }
  const http::Request& req = ctx.exchange->request();
  const std::string_view given =
      security::extract_api_key(req.header("x-admin-key"), req.header("authorization"));
  if (given.empty() || !security::constant_time_equals(given, s.admin_key)) {
    w.status(401);
    w.header("WWW-Authenticate", "Bearer");
    w.header("X-Request-ID", ctx.request_id);
    finish_error(w, "unauthorized", "A valid admin key is required", ctx.request_id, ctx.scratch);
    return false;
  }
  return true;
}

security::IpAddress HttpApi::client_of(ApiContext& ctx) {
  const http::Request& req = ctx.exchange->request();
  const ServiceSettings& s = decisions_.settings();
  const bool trusted = req.peer.unix_socket
                           ? s.trust_unix_socket
                           : security::any_contains(s.trusted_proxies, req.peer.ip);
  if (!trusted) return req.peer.ip;
  ctx.forwarded_for.clear();
  for (const auto& h : req.headers) {
    if (core::iequals(h.name, "x-forwarded-for")) ctx.forwarded_for.push_back(h.value);
  }
  return security::resolve_client_ip(
      req.peer.ip, true, {ctx.forwarded_for, req.header("x-real-ip")}, s.trusted_proxies);
}

void HttpApi::handle_decision(ApiContext& ctx) {
  const http::Request& req = ctx.exchange->request();
  http::ResponseWriter& w = ctx.exchange->response();
  DecisionRequest& d = ctx.job.request;
  d = DecisionRequest{};
  d.client = client_of(ctx);
  ctx.deny_status = 0;

  if (ctx.route == Route::check) {
    bool found = false;
    const std::string_view deny = req.query_param("deny_status", &found);
    if (found) {
      const auto status = core::parse_int64(deny);
      if (!status || *status < 400 || *status > 499) {
        service::write_error(w, 400, "bad_request", "deny_status: expected a 4xx status code",
                             ctx.request_id, ctx.scratch);
        return ctx.exchange->done();
      }
      ctx.deny_status = static_cast<int>(*status);
    }
    std::string_view original = req.header("x-original-uri");
    if (original.empty()) original = req.header("x-forwarded-uri");
    original = original.substr(0, original.find('?'));
    if (!original.empty() && decisions_.settings().is_excluded(original)) {
      w.status(200);
      w.header("X-Request-ID", ctx.request_id);
      w.empty_body();
      return ctx.exchange->done();
    }
  }

  if (ctx.route == Route::decide) {
    auto body = parse_body(req.body, false);
    std::string problem;
    if (!body) {
      problem = body.error().message;
    } else {
      const auto key = body->find("api_key");
      const auto ip = body->find("ip");
      const auto cost = body->find("cost");
      if (key == body->end() || !key->is_string()) {
        problem = "api_key: expected a string";
      } else if (cost != body->end() &&
                 (!cost->is_number_integer() || cost->get<std::int64_t>() < 0 ||
                  cost->get<std::int64_t>() > 1'000'000'000)) {
        problem = "cost: expected an integer from 0 to 1000000000";
      } else if (ip != body->end() && !ip->is_null() &&
                 (!ip->is_string() || !security::IpAddress::parse(ip->get<std::string>()))) {
        problem = "ip: expected an IPv4 or IPv6 address";
      } else {
        ctx.decide_key = key->get<std::string>();
        d.api_key = ctx.decide_key;
        if (cost != body->end()) d.cost = cost->get<std::int64_t>();
        // Only a trusted caller (proxy, Unix socket) may say on whose behalf it asks.
        const bool trusted =
            req.peer.unix_socket
                ? decisions_.settings().trust_unix_socket
                : security::any_contains(decisions_.settings().trusted_proxies, req.peer.ip);
        if (ip != body->end() && ip->is_string() && trusted) {
          d.client = *security::IpAddress::parse(ip->get<std::string>());
        }
      }
    }
    if (!problem.empty()) {
      service::write_error(w, body ? 422 : 400, body ? "invalid_field" : "invalid_json", problem,
                           ctx.request_id, ctx.scratch);
      return ctx.exchange->done();
    }
  } else {
    d.api_key = security::extract_api_key(req.header("x-api-key"), req.header("authorization"));
  }

  ctx.job.done = [this, &ctx](DecisionJob&) { respond_decision(ctx); };
  decisions_.decide(ctx.job);
}

void HttpApi::respond_decision(ApiContext& ctx) {
  http::ResponseWriter& w = ctx.exchange->response();
  const DecisionResult& r = ctx.job.result;
  if (ctx.route == Route::decide) {
    write_decision_json(ctx);
    return ctx.exchange->done();
  }
  int status = status_of(r.verdict);
  if (ctx.deny_status != 0 && status == 429) status = ctx.deny_status;
  w.status(status);
  w.header("X-Request-ID", ctx.request_id);
  write_rate_headers(w, r, decisions_.settings().ietf_headers, clock_.now(), ctx.header_scratch);
  if (ctx.route == Route::check) {
    w.empty_body();
    return ctx.exchange->done();
  }
  ctx.scratch.clear();
  if (r.verdict == Verdict::allowed) {
    ctx.scratch.append("{\"message\":\"Request successful\",\"user\":");
    core::append_json_string(ctx.scratch, r.identity.user->id);
    ctx.scratch.append(",\"tier\":");
    core::append_json_string(ctx.scratch, r.identity.tier->name);
    ctx.scratch.append(",\"request_id\":");
    core::append_json_string(ctx.scratch, ctx.request_id);
    ctx.scratch.append("}");
  } else {
    std::string_view code, message;
    error_for(r.verdict, code, message);
    finish_error(w, code, message, ctx.request_id, ctx.scratch);
    return ctx.exchange->done();
  }
  w.body("application/json", ctx.scratch);
  ctx.exchange->done();
}

void HttpApi::write_decision_json(ApiContext& ctx) {
  const DecisionResult& r = ctx.job.result;
  json out{{"allowed", r.verdict == Verdict::allowed},
           {"status", status_of(r.verdict)},
           {"result", to_string(r.verdict)},
           {"health", to_string(r.health)},
           {"tier", r.identity.tier ? json(r.identity.tier->name) : json(nullptr)},
           {"user", r.identity.user ? json(r.identity.user->id) : json(nullptr)}};
  if (r.has_quota) {
    out["limit"] = r.decision.limit;
    out["remaining"] = r.decision.remaining;
    out["reset"] = core::to_unix_seconds_ceil(r.decision.reset);
  }
  if (r.verdict != Verdict::allowed && status_of(r.verdict) != 401 && status_of(r.verdict) != 403) {
    out["retry_after"] = retry_after_seconds(r.retry_after);
  }
  if (r.shadow_denied) out["shadow_denied"] = true;
  http::ResponseWriter& w = ctx.exchange->response();
  w.status(200);
  w.header("X-Request-ID", ctx.request_id);
  write_rate_headers(w, r, decisions_.settings().ietf_headers, clock_.now(), ctx.header_scratch);
  w.body("application/json", out.dump());
}

}  // namespace rl::service
