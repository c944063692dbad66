// Routing, the decision endpoints, the admin gate and the operational endpoints.
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
  AdminApi::Params params;
  DecisionJob job;

  const http::Request& request() const { return exchange->request(); }
  http::ResponseWriter& response() { return exchange->response(); }
  void fail(int status, std::string_view code, std::string_view message) {
    service::write_error(response(), status, code, message, request_id, scratch);
    exchange->done();
  }
};

namespace {

// /v1/decide's "cost": absent means 1; otherwise an integer from 0 to 10^9.
std::optional<std::int64_t> cost_of(const json* cost) {
  constexpr std::int64_t kMaxCost = 1'000'000'000;
  if (cost == nullptr) return 1;
  if (cost->is_number_unsigned()) {
    const auto v = cost->get<std::uint64_t>();
    return v <= static_cast<std::uint64_t>(kMaxCost) ? std::optional(static_cast<std::int64_t>(v))
                                                     : std::nullopt;
  }
  if (!cost->is_number_integer()) return std::nullopt;
  const auto v = cost->get<std::int64_t>();
  return v >= 0 && v <= kMaxCost ? std::optional(v) : std::nullopt;
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
    case Verdict::account_error:
      code = "account_misconfigured";
      message = "This API key's account cannot be served; the operator has been told";
      return;
    case Verdict::unavailable:
    case Verdict::allowed:
    case Verdict::unverified:
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
  service::write_error(writer, status, protocol_error_code(status), reason, id, scratch);
}

void HttpApi::handle(http::Exchange& exchange) {
  auto& ctx = exchange.context<ApiContext>();
  if (!ctx.job.done) ctx.job.done = [this, &ctx](DecisionJob&) { on_job_done(ctx); };
  ctx.exchange = &exchange;
  assign_request_id(exchange.request(), ctx.request_id);
  if (!route(ctx)) return;
  switch (ctx.route) {
    case Route::test:
    case Route::check:
    case Route::decide:
      return start_decision(ctx);
    case Route::health:
    case Route::ready:
    case Route::metrics:
      return answer_operational(ctx);
    default:
      return start_admin(ctx);
  }
}

bool HttpApi::route(ApiContext& ctx) {
  const http::Request& req = ctx.request();
  http::ResponseWriter& w = ctx.response();
  const auto match = router_.match(req.method, req.path);
  if (match.route < 0) {
    const bool known = match.path_known;
    w.status(known ? 405 : 404);
    if (known) w.header("Allow", match.allow);
    w.header("X-Request-ID", ctx.request_id);
    const std::string message = known ? "Method " + std::string(req.method_name) +
                                            " is not allowed on " + std::string(req.path)
                                      : "No route for " + std::string(req.path);
    finish_error(w, known ? "method_not_allowed" : "not_found", message, ctx.request_id,
                 ctx.scratch);
    ctx.exchange->done();
    return false;
  }
  ctx.route = static_cast<Route>(match.route);
  for (std::size_t i = 0; i < match.params.size(); ++i) {
    if (!core::percent_decode(match.params[i], ctx.params[i])) {
      ctx.fail(400, "bad_request", "Malformed percent-encoding in the path");
      return false;
    }
  }
  return true;
}

void HttpApi::answer_operational(ApiContext& ctx) {
  http::ResponseWriter& w = ctx.response();
  if (ctx.route == Route::health) {
    write_json(w, 200, R"({"status":"ok"})", ctx.request_id);
  } else if (ctx.route == Route::metrics) {
    w.status(200);
    w.header("X-Request-ID", ctx.request_id);
    w.body("text/plain; version=0.0.4; charset=utf-8", metrics_.render());
  } else if (const std::string reason = not_ready_(); reason.empty()) {
    write_json(w, 200, R"({"status":"ready"})", ctx.request_id);
  } else {
    w.status(503);
    w.header("Retry-After", std::int64_t{1});
    w.header("X-Request-ID", ctx.request_id);
    w.body("application/json", dump(json{{"status", "not_ready"}, {"reason", reason}}));
  }
  ctx.exchange->done();
}

security::IpAddress HttpApi::client_of(ApiContext& ctx) {
  const http::Request& req = ctx.request();
  const ServiceSettings& s = decisions_.settings();
  if (!s.trusts(req.peer)) return req.peer.ip;
  ctx.forwarded_for.clear();
  std::string_view real_ip;
  if (s.client_ip_header != config::ClientIpHeader::x_real_ip) {
    for (const auto& h : req.headers) {
      if (core::iequals(h.name, "x-forwarded-for")) ctx.forwarded_for.push_back(h.value);
    }
  }
  if (s.client_ip_header != config::ClientIpHeader::x_forwarded_for) {
    real_ip = req.header("x-real-ip");
  }
  return security::resolve_client_ip(req.peer.ip, true, {ctx.forwarded_for, real_ip},
                                     s.trusted_proxies);
}

void HttpApi::start_decision(ApiContext& ctx) {
  const http::Request& req = ctx.request();
  DecisionRequest& d = ctx.job.request;
  d = DecisionRequest{};
  d.client = client_of(ctx);
  d.request_id = ctx.request_id;
  ctx.deny_status = 0;
  if (ctx.route == Route::check && !read_check(ctx)) return;
  if (ctx.route == Route::decide) {
    if (!read_decide(ctx)) return;
  } else {
    d.api_key = security::extract_api_key(req.header("x-api-key"), req.header("authorization"));
  }
  decisions_.decide(ctx.job);
}

bool HttpApi::read_check(ApiContext& ctx) {
  const http::Request& req = ctx.request();
  const ServiceSettings& s = decisions_.settings();
  bool found = false;
  const std::string_view deny = req.query_param("deny_status", &found);
  if (found) {
    const auto status = core::parse_int64(deny);
    if (!status || *status < 400 || *status > 499) {
      ctx.fail(400, "bad_request", "deny_status: expected a 4xx status code");
      return false;
    }
    ctx.deny_status = static_cast<int>(*status);
  }
  // Only a trusted proxy may say which path the request was for: in the path after /check
  // (Envoy's path_prefix), else in the original-URI header (nginx, Traefik).
  if (!s.trusts(req.peer)) return true;
  constexpr std::string_view kPrefix = "/check";
  std::string_view original = req.path.size() > kPrefix.size() ? req.path.substr(kPrefix.size())
                                                               : req.header(s.original_uri_header);
  original = original.substr(0, original.find('?'));
  if (original.empty() || !s.is_excluded(original)) return true;
  http::ResponseWriter& w = ctx.response();
  w.status(200);
  w.header("X-Request-ID", ctx.request_id);
  w.empty_body();
  ctx.exchange->done();
  return false;
}

bool HttpApi::read_decide(ApiContext& ctx) {
  const http::Request& req = ctx.request();
  auto body = parse_body(req.body, false);
  if (!body) {
    ctx.fail(400, "invalid_json", body.error().message);
    return false;
  }
  const auto field = [&](const char* name) -> const json* {
    const auto it = body->find(name);
    return it == body->end() || it->is_null() ? nullptr : &*it;
  };
  const std::string* key =
      field("api_key") ? field("api_key")->get_ptr<const std::string*>() : nullptr;
  const json* ip = field("ip");
  const std::string* ip_text = ip != nullptr ? ip->get_ptr<const std::string*>() : nullptr;
  const std::optional<security::IpAddress> address =
      ip_text != nullptr ? security::IpAddress::parse(*ip_text) : std::nullopt;
  const std::optional<std::int64_t> cost = cost_of(field("cost"));
  const char* problem = key == nullptr ? "api_key: expected a string"
                        : !cost        ? "cost: expected an integer from 0 to 1000000000"
                        : (ip != nullptr && !address) ? "ip: expected an IPv4 or IPv6 address"
                                                      : nullptr;
  if (problem != nullptr) {
    ctx.fail(422, "invalid_field", problem);
    return false;
  }
  DecisionRequest& d = ctx.job.request;
  if (address) {
    // Only a trusted caller may decide on behalf of another address; saying so beats
    // silently counting every end user's mistakes against the caller's own address. The
    // caller is the client the forwarding headers name (d.client), not the proxy that relayed
    // it: behind a load balancer every end user's request arrives from a trusted peer.
    const ServiceSettings& s = decisions_.settings();
    const bool caller_trusted =
        s.trusts(req.peer) &&
        (d.client == req.peer.ip || security::any_contains(s.trusted_proxies, d.client));
    if (!caller_trusted) {
      ctx.fail(403, "ip_not_allowed",
               "ip: only a trusted caller (trusted_proxies, or the Unix socket), not one "
               "relayed by a proxy, may give it");
      return false;
    }
    d.client = *address;
  }
  ctx.decide_key = *key;
  d.api_key = ctx.decide_key;
  d.cost = *cost;
  return true;
}

void HttpApi::start_admin(ApiContext& ctx) {
  const ServiceSettings& s = decisions_.settings();
  if (!s.admin_disabled_reason.empty()) {
    return ctx.fail(403, "admin_disabled", s.admin_disabled_reason);
  }
  const http::Request& req = ctx.request();
  if (!s.admin_allowed_from(req.peer)) {  // refused before the key is even looked at
    decisions_.admin_network_refused(req.peer.ip, ctx.request_id);
    return ctx.fail(403, "admin_forbidden_network",
                    "The admin API is not served to this address: connect from "
                    "security.admin_networks or over the Unix socket");
  }
  const std::string_view given =
      security::extract_api_key(req.header("x-admin-key"), req.header("authorization"));
  ctx.job.request = DecisionRequest{};
  ctx.job.request.client = client_of(ctx);
  ctx.job.request.request_id = ctx.request_id;
  decisions_.authorize_admin(ctx.job,
                             !given.empty() && security::constant_time_equals(given, s.admin_key));
}

void HttpApi::on_job_done(ApiContext& ctx) {
  if (!ctx.job.admin) return respond_decision(ctx);
  const DecisionResult& r = ctx.job.result;
  if (r.verdict == Verdict::allowed) {
    return admin_.handle(ctx.route, *ctx.exchange, ctx.params,
                         AdminApi::Origin{ctx.request_id, ctx.job.client_key});
  }
  http::ResponseWriter& w = ctx.response();
  if (r.verdict == Verdict::client_blocked) {
    w.status(429);
    w.header("Retry-After", retry_after_seconds(r.retry_after));
  } else {
    w.status(401);
    w.header("WWW-Authenticate", "Bearer");
  }
  w.header("X-Request-ID", ctx.request_id);
  if (r.verdict == Verdict::client_blocked) {
    finish_error(w, "client_blocked", "Too many invalid keys from this address; try again later",
                 ctx.request_id, ctx.scratch);
  } else {
    finish_error(w, "unauthorized", "A valid admin key is required", ctx.request_id, ctx.scratch);
  }
  ctx.exchange->done();
}

void HttpApi::respond_decision(ApiContext& ctx) {
  if (ctx.route == Route::decide) return write_decision_json(ctx);
  http::ResponseWriter& w = ctx.response();
  const DecisionResult& r = ctx.job.result;
  int status = status_of(r.verdict);
  if (ctx.deny_status != 0 && status == 429) status = ctx.deny_status;
  w.status(status);
  w.header("X-Request-ID", ctx.request_id);
  write_rate_headers(w, r, decisions_.settings().ietf_headers, clock_.now(), ctx.header_scratch);
  if (ctx.route == Route::check) {
    w.empty_body();
  } else if (status_of(r.verdict) != 200) {
    std::string_view code, message;
    error_for(r.verdict, code, message);
    finish_error(w, code, message, ctx.request_id, ctx.scratch);
  } else {
    // An unverified key (admitted by the failure policy) has no user, and a tier only when
    // its client was limited locally.
    const auto string_or_null = [&ctx](const std::string* text) {
      if (text != nullptr) {
        core::append_json_string(ctx.scratch, *text);
      } else {
        ctx.scratch.append("null");
      }
    };
    ctx.scratch.assign("{\"message\":\"Request successful\",\"user\":");
    string_or_null(r.identity.user ? &r.identity.user->id : nullptr);
    ctx.scratch.append(",\"tier\":");
    string_or_null(r.identity.tier ? &r.identity.tier->name : nullptr);
    ctx.scratch.append(",\"request_id\":");
    core::append_json_string(ctx.scratch, ctx.request_id);
    ctx.scratch.append("}");
    w.body("application/json", ctx.scratch);
  }
  ctx.exchange->done();
}

void HttpApi::write_decision_json(ApiContext& ctx) {
  const DecisionResult& r = ctx.job.result;
  const auto or_null = [&](auto value) { return r.has_quota ? json(value) : json(nullptr); };
  json out{{"allowed", status_of(r.verdict) == 200},
           {"status", status_of(r.verdict)},
           {"result", to_string(r.verdict)},
           {"health", to_string(r.health)},
           {"tier", r.identity.tier ? json(r.identity.tier->name) : json(nullptr)},
           {"user", r.identity.user ? json(r.identity.user->id) : json(nullptr)},
           {"limit", or_null(r.decision.limit)},
           {"remaining", or_null(r.decision.remaining)},
           {"reset", or_null(core::to_unix_seconds_ceil(r.decision.reset))}};
  if (asks_to_wait(r.verdict)) out["retry_after"] = retry_after_seconds(r.retry_after);
  if (r.shadow_denied) out["shadow_denied"] = true;
  http::ResponseWriter& w = ctx.response();
  w.status(200);
  w.header("X-Request-ID", ctx.request_id);
  write_rate_headers(w, r, decisions_.settings().ietf_headers, clock_.now(), ctx.header_scratch);
  w.body("application/json", dump(out));
  ctx.exchange->done();
}

}  // namespace rl::service
