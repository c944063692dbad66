// The verify scenarios. Each makes fresh users (fresh counters), sends exactly as many requests
// as it needs to see the limit from both sides, and states what it expected and what it saw.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <unistd.h>

#include "apps/rlbench/load.h"
#include "apps/rlbench/verify.h"
#include "core/random.h"
#include "core/text.h"
#include "security/api_key.h"

namespace rl::rlbench {
namespace {

constexpr std::int64_t kSequentialAtMost = 5000;  // larger runs go through the load engine
constexpr std::int64_t kVerifiableAtMost = 1'000'000;
constexpr std::int64_t kMaxInvalidAttempts = 10'000;
constexpr int kInFlight = 50;
// How long a change made through one instance may take to reach the others.
constexpr auto kPropagation = std::chrono::seconds(2);

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// `"name";k=v;k=v` (RateLimit-Policy, RateLimit) → the value of `k`.
std::optional<std::int64_t> structured_param(const std::string& field, const std::string& k) {
  const std::string needle = ";" + k + "=";
  const auto at = field.find(needle);
  if (at == std::string::npos) return std::nullopt;
  const auto from = at + needle.size();
  return core::parse_int64(field.substr(from, field.find(';', from) - from));
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ScenarioResult failed(std::string name, std::string expected, std::string why) {
  return ScenarioResult{std::move(name), std::move(expected), std::move(why), false};
}

std::string decide_body(const std::string& key, const std::string& ip, std::int64_t cost) {
  nlohmann::json body = {{"api_key", key}, {"cost", cost}};
  if (!ip.empty()) body["ip"] = ip;
  return body.dump();
}

}  // namespace

std::string Tally::describe() const {
  std::string out = std::to_string(passed) + " passed, " + std::to_string(limited) + " limited";
  for (const auto& [status, n] : other) {
    out += ", " + std::to_string(n) +
           (status == 0 ? " unanswered" : " answered " + std::to_string(status));
  }
  if (!in_order) out += ", a 200 after a 429";
  return out;
}

Tally Verifier::sequential(const std::string& key, std::int64_t n) {
  Tally t;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    auto r = http_.test(next_target(), key);
    ++t.sent;
    if (!r) {
      ++t.other[0];
    } else if (r->status == 200) {
      ++t.passed;
      t.in_order = t.in_order && t.limited == 0;
    } else if (r->status == 429) {
      ++t.limited;
    } else {
      ++t.other[r->status];
    }
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

// Many requests in flight over all targets at once, on a loop of its own (the one-at-a-time
// connections keep theirs busy).
Tally Verifier::concurrent(const std::string& key, std::int64_t n, int in_flight) {
  LoadOptions o;
  o.targets = options_.targets;
  o.concurrent = in_flight;
  o.requests = static_cast<std::uint64_t>(n);
  o.keys = {key};
  uv_loop_t loop;
  uv_loop_init(&loop);
  const LoadReport report = run_load(&loop, o);
  uv_loop_close(&loop);
  Tally t;
  t.sent = n;
  t.seconds = report.duration_s;
  for (const auto& [status, count] : report.status) {
    const auto c = static_cast<std::int64_t>(count);
    if (status == 200)
      t.passed = c;
    else if (status == 429)
      t.limited = c;
    else
      t.other[status] = c;
  }
  if (report.errors > 0) t.other[0] = static_cast<std::int64_t>(report.errors);
  return t;
}

Tally Verifier::count(const TierInfo& tier, const std::string& key, std::int64_t n) {
  wait_out_window_edge(tier, n);
  return n <= kSequentialAtMost ? sequential(key, n) : concurrent(key, n, kInFlight);
}

// Window algorithms count per epoch-aligned window; a run that straddles a boundary may see
// the next window's allowance. Starting just after a boundary keeps the count exact (clocks of
// this host and of the store are assumed to agree within half a second).
void Verifier::wait_out_window_edge(const TierInfo& tier, std::int64_t requests) {
  if (tier.algorithm == "token_bucket") return;
  const std::int64_t window_ms = tier.window * 1000;
  const std::int64_t needed_ms = 1000 + requests * 2;
  if (window_ms < 2 * needed_ms) return;  // no quiet stretch long enough; the count may be off
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t to_edge = window_ms - now_ms % window_ms;
  if (to_edge < needed_ms + 500) usleep(static_cast<useconds_t>((to_edge + 500) * 1000));
}

bool Verifier::exact(const TierInfo& tier, std::int64_t limit, const Tally& t) const {
  if (!t.other.empty()) return false;
  if (tier.shadow) return t.passed == t.sent;
  if (t.limited != t.sent - t.passed) return false;
  if (tier.algorithm != "token_bucket") return t.passed == limit && t.in_order;
  // The bucket refills limit per window while the run goes on.
  const auto refilled = static_cast<std::int64_t>(
      std::floor(t.seconds * static_cast<double>(limit) / static_cast<double>(tier.window)));
  return t.passed >= limit && t.passed <= limit + refilled + 1;
}

const TierInfo* Verifier::smallest_enforced(std::int64_t at_least) const {
  const TierInfo* best = nullptr;
  for (const auto& t : tiers_) {
    if (t.shadow || t.burst < at_least) continue;
    if (best == nullptr || t.burst < best->burst) best = &t;
  }
  return best;
}

// ----------------------------------------------------------------------------------- tiers --
// One exact count: a fresh user of `tier` sends limit + 1 requests; `limit` pass, then 429 (a
// shadow tier passes them all). `what` names the limit in the message for an unverifiable one.
ScenarioResult Verifier::exact_count(const std::string& name, const TierInfo& tier,
                                     std::int64_t limit, const char* what) {
  const std::int64_t n = limit + 1;
  std::string expected = tier.shadow ? "all " + std::to_string(n) + " pass (shadow tier)"
                                     : std::to_string(limit) + " pass, then 429";
  if (tier.algorithm == "token_bucket" && !tier.shadow) expected += " (+ tokens refilled)";
  if (n > kVerifiableAtMost) {
    return failed(name, expected,
                  std::string(what) + " too large to verify (at most 1000000; see --tiers)");
  }
  auto key = make_user(tier);
  if (!key) return failed(name, expected, key.error().message);
  const Tally t = count(tier, *key, n);
  return {name, expected, t.describe(), exact(tier, limit, t)};
}

void Verifier::tiers(std::vector<ScenarioResult>& out) {
  for (const auto& tier : tiers_)
    out.push_back(exact_count("tiers/" + tier.name, tier, tier.burst, "burst_limit"));
}

// -------------------------------------------------------------------------------- degraded --
void Verifier::degraded(std::vector<ScenarioResult>& out) {
  if (auto s = set_health("DEGRADED", "verify: degraded scenario", 300); !s) {
    out.push_back(failed("degraded", "every target switches to DEGRADED", s.error().message));
    return;
  }
  for (const auto& tier : tiers_)
    out.push_back(exact_count("degraded/" + tier.name, tier, tier.degraded, "degraded_limit"));
  if (auto s = set_health("NORMAL", "verify: degraded scenario done", 0); !s) {
    out.push_back(failed("degraded", "every target switches back to NORMAL", s.error().message));
  }
}

// ----------------------------------------------------------------------------- consistency --
void Verifier::consistency(std::vector<ScenarioResult>& out) {
  const TierInfo* tier = smallest_enforced(5);
  const std::string targets =
      plural(static_cast<std::int64_t>(http_.targets()), "target", "targets");
  if (tier == nullptr) {
    out.push_back(
        failed("consistency", "a tier to test", "no enforced tier with burst_limit >= 5"));
    return;
  }
  const std::int64_t n = 3 * tier->burst;
  const int in_flight = static_cast<int>(std::min<std::int64_t>(kInFlight, n));
  std::string expected = std::to_string(tier->burst) + " of " + std::to_string(n) + " pass (" +
                         tier->name + ", " + targets + ", " + std::to_string(in_flight) +
                         " in flight)";
  if (n > kVerifiableAtMost) {
    out.push_back(failed("consistency", expected, "burst_limit too large to verify"));
    return;
  }
  auto key = make_user(*tier);
  if (!key) {
    out.push_back(failed("consistency", expected, key.error().message));
    return;
  }
  wait_out_window_edge(*tier, n);
  const Tally t = concurrent(*key, n, in_flight);
  out.push_back({"consistency", expected, t.describe(), exact(*tier, tier->burst, t)});
}

// --------------------------------------------------------------------------------- headers --
void Verifier::headers(std::vector<ScenarioResult>& out) {
  const TierInfo* tier = smallest_enforced(1);
  const std::string expected = "rate headers agree with each answer";
  if (tier == nullptr || tier->burst >= kSequentialAtMost) {
    out.push_back(failed("headers", expected, "no enforced tier with 1 <= burst_limit < 5000"));
    return;
  }
  auto key = make_user(*tier);
  if (!key) {
    out.push_back(failed("headers", expected, key.error().message));
    return;
  }
  const std::int64_t limit = tier->burst;
  const bool bucket = tier->algorithm == "token_bucket";
  // How far ahead a reset or a retry may lie: a sliding window's count fades out over the
  // next window too.
  const std::int64_t horizon = (tier->algorithm == "sliding_window" ? 2 : 1) * tier->window + 1;
  wait_out_window_edge(*tier, limit + 1);
  const auto start = std::chrono::steady_clock::now();
  std::string problem;
  for (std::int64_t i = 0; i <= limit && problem.empty(); ++i) {
    auto r = http_.test(next_target(), *key);
    const std::string at = "answer " + std::to_string(i + 1) + ": ";
    if (!r) {
      problem = at + r.error().message;
      break;
    }
    const bool last = i == limit;
    const std::int64_t want_remaining = last ? 0 : limit - 1 - i;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::int64_t slack =
        bucket ? static_cast<std::int64_t>(elapsed * static_cast<double>(limit) /
                                           static_cast<double>(tier->window)) +
                     1
               : 0;
    const auto get = [&](const char* h) { return core::parse_int64(r->header(h)); };
    const auto lim = get("x-ratelimit-limit");
    const auto rem = get("x-ratelimit-remaining");
    const auto reset = get("x-ratelimit-reset");
    const std::int64_t now = unix_now();
    if (r->status != (last ? 429 : 200) && !(bucket && last && r->status == 200)) {
      problem = at + "status " + std::to_string(r->status);
    } else if (r->header("x-request-id").empty()) {
      problem = at + "no X-Request-ID";
    } else if (lim != limit) {
      problem = at + "X-RateLimit-Limit " + r->header("x-ratelimit-limit");
    } else if (!rem || *rem < want_remaining || *rem > want_remaining + slack) {
      problem = at + "X-RateLimit-Remaining " + r->header("x-ratelimit-remaining") + ", expected " +
                std::to_string(want_remaining);
    } else if (!reset || *reset < now - 2 || *reset > now + horizon + 1) {
      problem =
          at + "X-RateLimit-Reset " + r->header("x-ratelimit-reset") + " not within the window";
    } else if (r->status == 429) {
      const auto retry = get("retry-after");
      if (!retry || *retry < 1 || *retry > horizon) {
        problem = at + "Retry-After '" + r->header("retry-after") + "'";
      }
    } else if (!r->header("retry-after").empty()) {
      problem = at + "Retry-After on a 200";
    }
    if (problem.empty() && !r->header("ratelimit").empty()) {
      const std::string policy = r->header("ratelimit-policy");
      const std::string field = r->header("ratelimit");
      const auto t = structured_param(field, "t");
      if (structured_param(policy, "q") != limit || structured_param(policy, "w") != tier->window) {
        problem = at + "RateLimit-Policy '" + policy + "'";
      } else if (structured_param(field, "r") != rem || !t || *t < 0 || *t > horizon) {
        problem = at + "RateLimit '" + field + "'";
      }
    }
  }
  const std::string observed =
      problem.empty() ? std::to_string(limit + 1) + " answers (" + tier->name + ") consistent"
                      : problem;
  out.push_back({"headers", expected, observed, problem.empty()});
}

// -------------------------------------------------------------------------------- security --
// Unknown keys from one client: 401 until the attempt limit, then 429 and a block that every
// target enforces, lifted by DELETE /admin/blocks. The client is a made-up address from
// 198.18.0.0/15 (benchmarking) named in /v1/decide's "ip", which a target accepts only from a
// trusted caller (its trusted_proxies, or its Unix socket). rlbench never blocks the host it
// runs on: a blocked client is refused everything, the admin API included.
void Verifier::security(std::vector<ScenarioResult>& out) {
  const std::string expected = "401s, then 429; blocked on every target; 200 once unblocked";
  const TierInfo* tier = smallest_enforced(static_cast<std::int64_t>(http_.targets()));
  if (tier == nullptr) {
    out.push_back(failed("security", expected, "no enforced tier with burst_limit >= targets"));
    return;
  }
  auto key = make_user(*tier);
  if (!key) {
    out.push_back(failed("security", expected, key.error().message));
    return;
  }
  const std::uint64_t r = core::fast_random();
  const std::string ip =
      "198.18." + std::to_string((r >> 8) % 256) + "." + std::to_string(1 + r % 254);
  // One decision for `api_key` from `ip` on target i; the decision's status as the status.
  const auto decide = [&](std::size_t i, const std::string& api_key,
                          std::int64_t cost) -> core::Result<Answer> {
    auto a = http_.call(i, "POST", "/v1/decide", {{"Content-Type", "application/json"}},
                        decide_body(api_key, ip, cost));
    if (!a || a->status != 200) return a;
    const auto doc = a->json();
    Answer decision = *a;
    decision.status = doc.value("status", 0);
    if (doc.contains("retry_after")) decision.headers["retry-after"] = doc["retry_after"].dump();
    return decision;
  };
  std::vector<std::size_t> untrusting;
  for (std::size_t i = 0; i < http_.targets(); ++i) {
    auto a = decide(i, probe_key_, 0);
    if (!a) return out.push_back(failed("security", expected, a.error().message));
    if (a->status == 403) untrusting.push_back(i);
  }
  if (!untrusting.empty()) {
    return out.push_back(failed(
        "security", expected,
        http_.target(untrusting.front()).to_string() +
            " does not let this host name a client (/v1/decide \"ip\" answered 403): use its "
            "Unix socket, or add this host to its trusted_proxies"));
  }

  std::int64_t unauthorized = 0;
  std::string retry_after;
  for (std::int64_t i = 0; i < kMaxInvalidAttempts && retry_after.empty(); ++i) {
    auto a = decide(next_target(), security::generate_api_key(), 1);
    if (!a) return out.push_back(failed("security", expected, a.error().message));
    if (a->status == 401) {
      ++unauthorized;
    } else if (a->status == 429) {
      retry_after = a->header("retry-after");
      if (retry_after.empty()) retry_after = "none";
    } else {
      return out.push_back(
          failed("security", expected, "an unknown key answered " + std::to_string(a->status)));
    }
  }
  std::string observed = std::to_string(unauthorized) + " answered 401";
  if (retry_after.empty()) {
    return out.push_back(failed("security", expected, observed + " and never a 429"));
  }
  observed += ", then 429 (retry after " + retry_after + " s)";
  bool passed = unauthorized > 0 && core::parse_int64(retry_after).value_or(0) >= 1;

  const auto targets = static_cast<std::int64_t>(http_.targets());
  // Blocks reach the other instances by pub/sub: each target gets a moment to agree.
  const auto on_every_target = [&](int status) {
    std::int64_t n = 0;
    const auto deadline = std::chrono::steady_clock::now() + kPropagation;
    for (std::size_t i = 0; i < http_.targets(); ++i) {
      for (;;) {
        auto a = decide(i, *key, 0);
        if (a && a->status == status) {
          ++n;
          break;
        }
        if (!a || std::chrono::steady_clock::now() > deadline) break;
        usleep(10'000);
      }
    }
    return n;
  };
  const std::int64_t blocked_on = on_every_target(429);
  observed += "; blocked on " + std::to_string(blocked_on) + "/" + std::to_string(targets);
  passed = passed && blocked_on == targets;

  auto removed = http_.admin(0, "DELETE", "/admin/blocks/" + ip);
  if (!removed || removed->status / 100 != 2) {
    return out.push_back(
        failed("security", expected, observed + "; DELETE /admin/blocks/" + ip + " failed"));
  }
  const std::int64_t allowed_on = on_every_target(200);
  observed += "; unblocked: 200 on " + std::to_string(allowed_on) + "/" + std::to_string(targets);
  out.push_back({"security", expected, observed, passed && allowed_on == targets});
}

}  // namespace rl::rlbench
