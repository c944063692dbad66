// rlctl health get | set
#include <memory>

#include "apps/rlctl/commands.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

void print(Context& c, const store::HealthRecord& h) {
  if (c.out().json()) return c.out().document(service::to_json(h));
  const bool set = h.updated_at != core::WallTime{};
  c.out().fields({{"status", std::string(policy::to_string(h.state))},
                  {"updated_by", set ? h.updated_by : "-"},
                  {"reason", set ? h.reason : "-"},
                  {"updated_at", set ? iso_time(h.updated_at) : "-"},
                  {"expires_at", h.expires_at ? iso_time(*h.expires_at) : "-"}});
}

struct SetOptions {
  std::string status;
  std::int64_t ttl = 0;
  std::string reason;
  std::string by = "rlctl";
};

int get_health(Context& c) {
  auto h = c.wait<store::HealthRecord>([&](auto done) { c.directory().health(std::move(done)); });
  if (!h) return c.fail(h.error());
  print(c, *h);
  return kOk;
}

int set_health(Context& c, const SetOptions& o) {
  const auto state = policy::parse_health_state(o.status);
  if (!state) {
    return c.fail(core::make_error(core::Errc::invalid_argument,
                                   "STATUS: expected NORMAL or DEGRADED, got '" + o.status + "'"));
  }
  if (const int rc = c.connect(); rc != kOk) return rc;
  store::HealthRecord record;
  record.state = *state;
  record.updated_by = o.by;
  record.reason = o.reason;
  record.updated_at = c.clock().now();
  if (o.ttl > 0) record.expires_at = record.updated_at + core::Seconds{o.ttl};
  auto h = c.wait<store::HealthRecord>(
      [&](auto done) { c.directory().set_health(record, std::move(done)); });
  if (!h) return c.fail(h.error());
  print(c, *h);
  return kOk;
}

}  // namespace

void add_health_commands(CLI::App& app, Slot& slot) {
  CLI::App* health = app.add_subcommand("health", "Read or set the system health state");
  health->require_subcommand(1);
  health->add_subcommand("get", "Show the health state")->callback([&slot] {
    slot.action = get_health;
  });

  auto o = std::make_shared<SetOptions>();
  CLI::App* set =
      health->add_subcommand("set", "Set NORMAL or DEGRADED (every rld applies it at once)");
  set->add_option("STATUS", o->status, "NORMAL or DEGRADED")->required();
  set->add_option("--ttl", o->ttl, "Seconds until it falls back to NORMAL (0: never)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{366} * 86400));
  set->add_option("--reason", o->reason, "Why");
  set->add_option("--by", o->by, "Who (default: rlctl)");
  set->callback([&slot, o] {
    slot.needs_redis = false;  // the status is checked first; set_health connects
    slot.writes = true;
    slot.action = [o](Context& c) { return set_health(c, *o); };
  });
}

}  // namespace rl::rlctl
