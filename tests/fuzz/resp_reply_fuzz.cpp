// Fuzz harness of everything that reads a Redis reply: the bytes are two selector bytes, then
// the replies Redis "sends" (support/scripted_commands.h: RESP, with "!" for a command that got
// none). Operations of the real RedisStore, RedisDirectory and DecisionService — over a circuit
// breaker, a local fallback store and the tier file's directory, as rld wires them — run one
// after another, each taking the next replies in order: decisions and their response headers,
// invalid attempts and blocks, key → user → tier resolution, health, tiers, users and keys,
// the bootstrap, pub/sub events, CLUSTER SLOTS and cluster redirects. The first byte picks the
// first operation, the second the failure policy (local, allow, deny). Nothing may crash,
// every callback must run exactly once, and a decision's headers must be well-formed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "breaker/circuit_breaker.h"
#include "config/tier_file.h"
#include "fuzz/check.h"
#include "http/response.h"
#include "obs/logger.h"
#include "obs/metrics.h"
#include "redis/command_route.h"
#include "redis/slot_map.h"
#include "service/decision_service.h"
#include "service/health_service.h"
#include "service/responses.h"
#include "store/memory_directory.h"
#include "store/memory_store.h"
#include "store/redis_directory.h"
#include "store/redis_store.h"
#include "support/scripted_commands.h"

namespace {

using namespace rl;
using namespace std::chrono_literals;

class NullSink final : public obs::LogSink {
 public:
  void write(std::string_view) override {}
};

// Callbacks that must each run exactly once.
class Calls {
 public:
  template <class R>
  std::function<void(R)> once(std::function<void(R&)> check = {}) {
    auto ran = std::make_shared<bool>(false);
    ++pending_;
    return [this, ran, check = std::move(check)](R r) {
      fuzz::require(!*ran, "a callback runs at most once");
      *ran = true;
      --pending_;
      if (check) check(r);
    };
  }
  int pending() const { return pending_; }

 private:
  int pending_ = 0;
};

const config::TierFile& tier_file() {
  static const config::TierFile file = [] {
    auto f = config::load_tier_file(RL_FUZZ_TIER_FILE);
    fuzz::require(f.ok(), "config/rate_limits.json loads");
    return std::move(*f);
  }();
  return file;
}

const store::KeySpace kKeys{"rl:"};
const core::WallTime kStart = core::from_unix_ms(1'700'000'040'000);

// rld's Redis backend for one input, as apps/rld/redis_backend.cpp wires it.
struct Rig {
  Rig(std::string_view replies, policy::FailurePolicy on_failure)
      : clock(kStart),
        log(sink, clock, obs::LogLevel::debug),
        redis(replies),
        breaker(clock, breaker::Options{3, core::Millis{1000}, 1}),
        local(clock, 16),
        file_directory(clock),
        store_metrics(registry),
        store(redis, kKeys, clock, breaker, local, log, store_metrics,
              store::RedisStoreOptions{on_failure, 16}),
        directory(redis, kKeys, clock, breaker, log,
                  store::RedisDirectoryOptions{core::Seconds{60}, core::Seconds{5}, 16},
                  &file_directory),
        health(directory, clock, log, registry, core::Seconds{2}),
        metrics(registry),
        decisions(store, directory, health, clock, log, metrics) {
    fuzz::require(file_directory.load(tier_file()).ok(), "the tier file loads");
    auto settings = std::make_shared<service::ServiceSettings>();
    settings->attempts = store::AttemptRules{3, core::Seconds{60}, core::Seconds{120}};
    settings->unverified_policy = on_failure;
    settings->unverified_tier = std::make_shared<const policy::Tier>(tier_file().tiers.front());
    decisions.set_settings(std::move(settings));
  }

  core::ManualClock clock;
  NullSink sink;
  obs::Logger log;
  obs::Registry registry;
  test::ScriptedCommands redis;
  breaker::CircuitBreaker breaker;
  store::MemoryStore local;
  store::MemoryDirectory file_directory;
  store::RedisStoreMetrics store_metrics;
  store::RedisStore store;
  store::RedisDirectory directory;
  service::HealthService health;
  service::DecisionMetrics metrics;
  service::DecisionService decisions;
  Calls calls;
};

// A decision's answer as rld writes it: status line, rate-limit headers, body.
void check_answer(const service::DecisionResult& r, core::WallTime now) {
  std::string out, scratch;
  http::ResponseWriter w(out, "Tue, 14 Nov 2023 22:14:00 GMT", false, true);
  w.status(service::status_of(r.verdict));
  service::write_rate_headers(w, r, true, now, scratch);
  w.body("application/json", "{}");
  const auto head_end = out.find("\r\n\r\n");
  fuzz::require(head_end != std::string::npos && out.substr(head_end + 4) == "{}",
                "a decision's answer has one header block", out);
  for (std::size_t i = 0; i < head_end; ++i) {
    if (out[i] == '\r') fuzz::require(out[i + 1] == '\n', "header lines end with CRLF", out);
    if (out[i] == '\n') fuzz::require(i > 0 && out[i - 1] == '\r', "no bare LF in headers", out);
  }
  if (service::asks_to_wait(r.verdict)) {
    fuzz::require(service::retry_after_seconds(r.retry_after) >= 1, "Retry-After is at least 1");
  }
}

void decide(Rig& rig, std::string_view key, std::int64_t cost) {
  auto job = std::make_shared<service::DecisionJob>();
  job->request.client = *security::IpAddress::parse("192.0.2.10");
  job->request.api_key = key;
  job->request.cost = cost;
  auto done = rig.calls.once<service::DecisionJob&>();
  job->done = [&rig, job_ref = job.get(), done](service::DecisionJob& j) {
    check_answer(j.result, rig.clock.now());
    done(*job_ref);
  };
  rig.decisions.decide(*job);
  rig.redis.drain();  // the job outlives its callback
}

template <class T>
store::Callback<T> any(Rig& rig) {
  return rig.calls.once<core::Result<T>>();
}

store::StatusCallback status(Rig& rig) {
  return rig.calls.once<core::Status>();
}

limiter::Quota quota(std::int64_t limit) {
  return limiter::Quota{limit, core::Seconds{60}};
}

using Op = std::function<void(Rig&)>;

// Operations 0-3: decisions and admin authorisation, through the DecisionService.
std::vector<Op> decision_operations() {
  return {
      [](Rig& r) { decide(r, "demo_pro_key_789", 1); },
      [](Rig& r) { decide(r, "demo_free_key_123", 0); },
      [](Rig& r) { decide(r, "unknown_key_0123456789", 1); },
      [](Rig& r) {
        auto job = std::make_shared<service::DecisionJob>();
        job->request.client = *security::IpAddress::parse("2001:db8::7");
        job->done = [done = r.calls.once<int>()](service::DecisionJob&) { done(0); };
        r.decisions.authorize_admin(*job, false);
        r.redis.drain();
      },
  };
}

// Operations 4-14: the RedisStore's counters, invalid attempts and blocks.
std::vector<Op> store_operations() {
  return {
      [](Rig& r) {
        store::CounterKey key{"demo_pro_user", limiter::Algorithm::sliding_window,
                              core::Seconds{60}, std::nullopt};
        r.store.consume(key, quota(150), 1, any<limiter::Decision>(r));
      },
      [](Rig& r) {
        store::CounterKey key{"u", limiter::Algorithm::token_bucket, core::Seconds{1},
                              policy::FailurePolicy::allow};
        r.store.consume(key, quota(5), 2, any<limiter::Decision>(r));
      },
      [](Rig& r) {
        store::CounterKey key{"u", limiter::Algorithm::fixed_window, core::Seconds{3600},
                              policy::FailurePolicy::deny};
        r.store.consume(key, quota(0), 1, any<limiter::Decision>(r));
      },
      [](Rig& r) {
        r.store.record_invalid_attempt("192.0.2.10", store::AttemptRules{},
                                       any<store::AttemptOutcome>(r));
      },
      [](Rig& r) { r.store.find_block("192.0.2.10", any<std::optional<store::Block>>(r)); },
      [](Rig& r) { r.store.list_blocks(any<std::vector<store::Block>>(r)); },
      [](Rig& r) {
        r.store.add_block(store::Block{"198.51.100.1", "fuzz", r.clock.now() + 60s}, status(r));
      },
      [](Rig& r) { r.store.remove_block("198.51.100.1", status(r)); },
      [](Rig& r) { r.store.resync_blocks(); },
      [](Rig& r) { r.store.on_block_event("192.0.2.10"); },
      [](Rig& r) { r.store.forget_user("demo_pro_user", status(r)); },
  };
}

// Operations 15-30: the RedisDirectory's reads, writes and bootstrap.
std::vector<Op> directory_operations() {
  return {
      [](Rig& r) {
        r.directory.resolve(std::string(64, 'a'), any<std::optional<store::Identity>>(r));
      },
      [](Rig& r) {
        r.health.refresh();
        r.directory.health(any<store::HealthRecord>(r));
      },
      [](Rig& r) { r.directory.list_tiers(any<std::vector<policy::Tier>>(r)); },
      [](Rig& r) { r.directory.put_tier(tier_file().tiers.back(), any<bool>(r)); },
      [](Rig& r) { r.directory.list_users(any<std::vector<store::UserRecord>>(r)); },
      [](Rig& r) { r.directory.get_user("demo_free_user", any<store::UserRecord>(r)); },
      [](Rig& r) {
        r.directory.create_user(store::UserRecord{"fuzz_user", "pro", {}, false},
                                any<store::UserRecord>(r));
      },
      [](Rig& r) {
        r.directory.update_user("demo_free_user", store::UserPatch{"pro", true},
                                any<store::UserRecord>(r));
      },
      [](Rig& r) { r.directory.delete_user("demo_free_user", status(r)); },
      [](Rig& r) { r.directory.list_keys("demo_pro_user", any<std::vector<store::KeyRecord>>(r)); },
      [](Rig& r) {
        r.directory.add_key(
            store::KeyRecord{std::string(64, 'b'), "bbbbbbbbbbbbbbbb", "demo_pro_user", "l", {}},
            any<store::KeyRecord>(r));
      },
      [](Rig& r) { r.directory.revoke_key("bbbbbbbbbbbbbbbb", any<store::KeyRecord>(r)); },
      [](Rig& r) {
        store::HealthRecord h;
        h.state = policy::HealthState::degraded;
        h.expires_at = r.clock.now() + 30s;
        r.directory.set_health(h, any<store::HealthRecord>(r));
      },
      [](Rig& r) { r.directory.delete_tier("free", false, status(r)); },
      [](Rig& r) {
        r.directory.list_instances(any<std::vector<store::RedisDirectory::Instance>>(r));
      },
      [](Rig& r) { r.directory.bootstrap(tier_file(), status(r)); },
  };
}

// Operations 31-34: pub/sub events, CLUSTER SLOTS, redirects, and housekeeping.
std::vector<Op> reply_operations() {
  return {
      [](Rig& r) {
        // A pub/sub message, as the subscriber and rld's backend read it.
        auto message = r.redis.next();
        if (!message) return;
        const redisReply* name = redis::element(**message, 1);
        const redisReply* payload = redis::element(**message, 2);
        if (name == nullptr || payload == nullptr || redis::text(*name) != kKeys.events()) return;
        const auto event = store::parse_event(redis::text(*payload));
        if (!event) return;
        if (event->kind == store::EventKind::block) return r.store.on_block_event(event->subject);
        r.directory.on_event(*event);
      },
      [](Rig& r) {
        auto reply = r.redis.next();
        if (!reply) return;
        const config::HostPort asked{"10.0.0.1", 7000};
        const auto map = redis::parse_cluster_slots(**reply, asked);
        if (!map) return;
        fuzz::require(!map->masters.empty() && map->covered() > 0, "a slot map has a master");
        for (const auto owner : map->owner) {
          fuzz::require(owner == redis::SlotMap::kNoNode || owner < map->masters.size(),
                        "every slot's owner is a known master");
        }
      },
      [](Rig& r) {
        auto reply = r.redis.next();
        if (!reply) return;
        // A MOVED or ASK the client cannot read is passed on as an error reply, not followed.
        const auto redirect = redis::redirect_of(**reply);
        if (redirect.kind == redis::Redirect::moved || redirect.kind == redis::Redirect::ask) {
          fuzz::require(redis::is_redirection(**reply), "a redirect followed is a redirection");
          fuzz::require(redirect.slot < redis::kSlotCount && redirect.port > 0,
                        "a redirect names a valid slot and port");
        }
      },
      [](Rig& r) {
        r.directory.resync();
        r.directory.sweep();
        r.store.sweep();
      },
  };
}

// Every operation, in the order the selector byte counts them.
const std::vector<Op>& operations() {
  static const std::vector<Op> ops = [] {
    std::vector<Op> all;
    for (const auto& group :
         {decision_operations(), store_operations(), directory_operations(), reply_operations()}) {
      all.insert(all.end(), group.begin(), group.end());
    }
    return all;
  }();
  return ops;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 64 * 1024) return 0;
  const policy::FailurePolicy policies[] = {
      policy::FailurePolicy::local, policy::FailurePolicy::allow, policy::FailurePolicy::deny};
  Rig rig(std::string_view(reinterpret_cast<const char*>(data + 2), size - 2),
          policies[data[1] % 3]);
  const auto& ops = operations();
  std::size_t op = data[0];
  // Until every reply is used, and one more round (what a lost connection leads to); bounded.
  for (int round = 0; round < 200; ++round, ++op) {
    const bool last = rig.redis.exhausted();
    ops[op % ops.size()](rig);
    rig.redis.drain();
    fuzz::require(rig.calls.pending() == 0, "every callback runs once its replies are in");
    rig.clock.advance(core::Millis{1500});
    if (last) break;
  }
  return 0;
}
