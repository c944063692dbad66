// The decision pipeline, step by step.
#include "service/decision_service.h"

#include <functional>
#include <string_view>

#include "core/text.h"

namespace rl::service {
namespace {

// Local counters for keys that cannot be checked during an outage (see unverified()).
constexpr std::size_t kUnverifiedCounters = 65536;

core::Millis until(core::WallTime later, core::WallTime now) {
  return later > now ? std::chrono::duration_cast<core::Millis>(later - now) : core::Millis{0};
}

}  // namespace

DecisionService::DecisionService(store::Store& store, store::Directory& directory,
                                 HealthService& health, const core::Clock& clock, obs::Logger& log,
                                 DecisionMetrics& metrics)
    : store_(store),
      directory_(directory),
      health_(health),
      clock_(clock),
      log_(log),
      metrics_(metrics),
      counters_(metrics),
      settings_(std::make_shared<ServiceSettings>()) {}

void DecisionService::set_settings(std::shared_ptr<const ServiceSettings> settings) {
  metrics_.prepare(settings->tier_names);
  settings_ = std::move(settings);
}

void DecisionService::decide(DecisionJob& job) {
  job.admin = false;
  start(job);
}

void DecisionService::authorize_admin(DecisionJob& job, bool key_ok) {
  job.admin = true;
  job.admin_key_ok = key_ok;
  start(job);
}

void DecisionService::admin_network_refused(const security::IpAddress& peer,
                                            std::string_view request_id) {
  metrics_.security(SecurityEvent::admin_forbidden_network);
  const core::WallTime now = clock_.now();
  if (now - last_admin_refused_log_ < core::Seconds{1}) {
    ++suppressed_admin_refusals_;
    return;
  }
  std::string address;
  peer.append_to(address);
  log_.warn("admin_forbidden",
            {{"request_id", request_id},
             {"client", address},
             {"reason", "not in security.admin_networks"},
             {"similar_since_last", static_cast<std::int64_t>(suppressed_admin_refusals_)}});
  last_admin_refused_log_ = now;
  suppressed_admin_refusals_ = 0;
}

void DecisionService::start(DecisionJob& job) {
  job.started = std::chrono::steady_clock::now();
  job.result = DecisionResult{};
  job.client_key.clear();
  job.request.client.append_client_key(job.client_key);
  store_.find_block(job.client_key, [this, &job](core::Result<std::optional<store::Block>> r) {
    on_block_checked(job, std::move(r));
  });
}

void DecisionService::on_block_checked(DecisionJob& job,
                                       core::Result<std::optional<store::Block>> block) {
  if (!block) {
    log_.warn("block_check_failed", {{"request_id", job.request.request_id},
                                     {"client", job.client_key},
                                     {"error", block.error().message}});
  } else if (block->has_value()) {
    metrics_.security(SecurityEvent::blocked_request);
    job.result.retry_after = until((*block)->until, clock_.now());
    return finish(job, Verdict::client_blocked);
  }
  if (!job.admin) return check_key(job);
  if (job.admin_key_ok) return finish(job, Verdict::allowed);
  invalid_attempt(job, Verdict::unknown_key, SecurityEvent::admin_key_invalid);
}

void DecisionService::check_key(DecisionJob& job) {
  const std::string_view key = job.request.api_key;
  if (key.empty()) return invalid_attempt(job, Verdict::missing_key, SecurityEvent::missing_key);
  if (!security::is_well_formed_api_key(key)) {
    return invalid_attempt(job, Verdict::malformed_key, SecurityEvent::malformed_key);
  }
  job.digest = security::digest_api_key(key);
  directory_.resolve(job.digest.view(),
                     [this, &job](core::Result<std::optional<store::Identity>> r) {
                       on_resolved(job, std::move(r));
                     });
}

void DecisionService::on_resolved(DecisionJob& job,
                                  core::Result<std::optional<store::Identity>> identity) {
  if (!identity) {
    log_store_error("identity_lookup_failed", job, identity.error());
    const core::Errc code = identity.error().code;
    if (code == core::Errc::unavailable || code == core::Errc::timeout ||
        code == core::Errc::overloaded) {
      return unverified(job);
    }
    return finish(job, Verdict::account_error);  // e.g. the user's tier was deleted
  }
  if (!identity->has_value()) {
    return invalid_attempt(job, Verdict::unknown_key, SecurityEvent::unknown_key);
  }
  job.result.identity = std::move(**identity);
  if (job.result.identity.user->disabled) return finish(job, Verdict::user_disabled);
  job.result.health = health_.current();
  const policy::Tier& tier = *job.result.identity.tier;
  const store::CounterKey key{job.result.identity.user->id, tier.algorithm, tier.window,
                              tier.on_failure};
  store_.consume(
      key, policy::quota_for(tier, job.result.health), job.request.cost,
      [this, &job](core::Result<limiter::Decision> r) { on_consumed(job, std::move(r)); });
}

// The store cannot say whose key this is right now. redis.on_failure decides: allow admits it,
// deny answers 503, and local limits the client (not the key: keys are free to invent) by the
// most restrictive tier, counted apart from every user, in one of kUnverifiedCounters.
void DecisionService::unverified(DecisionJob& job) {
  const ServiceSettings& s = *settings_;
  const policy::FailurePolicy policy = s.unverified_policy;
  if (policy == policy::FailurePolicy::allow) return finish(job, Verdict::unverified);
  if (policy == policy::FailurePolicy::deny || !s.unverified_tier) {
    job.result.retry_after = core::Millis{1000};
    return finish(job, Verdict::unavailable);
  }
  job.result.identity.tier = s.unverified_tier;
  job.result.health = health_.current();
  const policy::Tier& tier = *s.unverified_tier;
  // Clients hashed into a fixed number of counters: an outage cannot make an attacker with
  // many addresses (IPv6 /64s) grow the table; two clients rarely share one.
  job.unverified_user.assign("~unverified:");
  core::append_int(job.unverified_user,
                   static_cast<std::int64_t>(std::hash<std::string_view>{}(job.client_key) %
                                             kUnverifiedCounters));
  const store::CounterKey key{job.unverified_user, tier.algorithm, tier.window,
                              policy::FailurePolicy::local};
  store_.consume(
      key, policy::quota_for(tier, job.result.health), job.request.cost,
      [this, &job](core::Result<limiter::Decision> r) { on_consumed(job, std::move(r)); });
}

void DecisionService::on_consumed(DecisionJob& job, core::Result<limiter::Decision> decision) {
  if (!decision) {
    log_store_error("consume_failed", job, decision.error());
    job.result.retry_after = core::Millis{1000};
    return finish(job, Verdict::unavailable);
  }
  job.result.decision = *decision;
  job.result.has_quota = true;
  // No user: an unverified key, limited by its client.
  const Verdict pass = job.result.identity.user ? Verdict::allowed : Verdict::unverified;
  if (decision->allowed) return finish(job, pass);
  if (job.result.identity.tier->shadow) {
    job.result.shadow_denied = true;
    return finish(job, pass);
  }
  job.result.retry_after = decision->retry_after;
  finish(job, Verdict::limited);
}

void DecisionService::invalid_attempt(DecisionJob& job, Verdict verdict, SecurityEvent event) {
  metrics_.security(event);
  job.result.verdict = verdict;  // remembered across the store call
  store_.record_invalid_attempt(
      job.client_key, settings_->attempts, [this, &job](core::Result<store::AttemptOutcome> r) {
        const Verdict reason = job.result.verdict;
        if (!r) {
          log_.warn("attempt_count_failed", {{"request_id", job.request.request_id},
                                             {"client", job.client_key},
                                             {"error", r.error().message}});
          return finish(job, reason);
        }
        if (!r->blocked) return finish(job, reason);
        metrics_.security(SecurityEvent::client_blocked);
        log_.warn(
            "security_alert",
            {{"kind", "client_blocked"},
             {"request_id", job.request.request_id},
             {"client", job.client_key},
             {"attempts", r->attempts},
             {"last_reason", job.admin ? "admin_key_invalid" : to_string(reason)},
             {"block_seconds", static_cast<std::int64_t>(settings_->attempts.block_for.count())}});
        job.result.retry_after = until(r->blocked_until, clock_.now());
        finish(job, Verdict::client_blocked);
      });
}

void DecisionService::log_store_error(std::string_view event, const DecisionJob& job,
                                      const core::Error& error) {
  // During an outage this would be every request: one line a second, with what it stands for.
  const core::WallTime now = clock_.now();
  if (now - last_store_error_log_ < core::Seconds{1}) {
    ++suppressed_store_errors_;
    return;
  }
  log_.error(event, {{"request_id", job.request.request_id},
                     {"client", job.client_key},
                     {"error", error.message},
                     {"similar_since_last", static_cast<std::int64_t>(suppressed_store_errors_)}});
  last_store_error_log_ = now;
  suppressed_store_errors_ = 0;
}

void DecisionService::finish(DecisionJob& job, Verdict verdict) {
  job.result.verdict = verdict;
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - job.started);
  if (!job.admin) counters_.record(job.result, latency);
  if (!job.admin && log_.enabled(obs::LogLevel::debug)) {
    const auto& id = job.result.identity;
    log_.debug("rate_limit_decision",
               {{"request_id", job.request.request_id},
                {"client", job.client_key},
                {"user", id.user ? std::string_view(id.user->id) : std::string_view{}},
                {"tier", id.tier ? std::string_view(id.tier->name) : std::string_view{}},
                {"result", to_string(verdict)},
                {"status", status_of(verdict)},
                {"limit", job.result.decision.limit},
                {"remaining", job.result.decision.remaining},
                {"shadow_denied", job.result.shadow_denied},
                {"duration_us", static_cast<std::int64_t>(latency.count())}});
  }
  job.done(job);
}

}  // namespace rl::service
