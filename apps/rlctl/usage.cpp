// rlctl usage USER — where a user stands in its current window, without consuming anything.
// rlctl never applies a failure policy: a counter Redis cannot read is an error, not a number.
#include <memory>

#include "apps/rlctl/commands.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

// A peek (cost 0) at the user's counter. The tier's on_failure is left out on purpose: the
// store's own policy is deny, so an unreachable Redis or a damaged counter comes back as an
// error naming the counter.
core::Result<limiter::Decision> peek(Context& c, const store::UserRecord& user,
                                     const policy::Tier& tier, policy::HealthState health) {
  const store::CounterKey key{user.id, tier.algorithm, tier.window, std::nullopt};
  auto d = c.wait<limiter::Decision>([&](auto done) {
    c.store().consume(key, policy::quota_for(tier, health), 0, std::move(done));
  });
  if (d) return d;
  std::string counter;
  store::KeySpace(c.options().prefix).counter(counter, user.id, tier.algorithm, tier.window);
  return core::make_error(d.error().code, "counter " + counter + ": " + d.error().message);
}

void print(Context& c, const store::UserRecord& user, const policy::Tier& tier,
           policy::HealthState health, const limiter::Decision& d) {
  if (c.out().json()) {
    c.out().document({{"user", user.id},
                      {"tier", tier.name},
                      {"limit", d.limit},
                      {"used", d.used},
                      {"remaining", d.remaining},
                      {"reset", core::to_unix_seconds_ceil(d.reset)}});
    return;
  }
  c.out().fields({{"user", user.id},
                  {"tier", tier.name + " (" + std::string(policy::to_string(health)) + ")"},
                  {"limit", std::to_string(d.limit)},
                  {"used", std::to_string(d.used)},
                  {"remaining", std::to_string(d.remaining)},
                  {"reset", iso_time(d.reset)}});
}

int show_usage(Context& c, const std::string& id) {
  auto user =
      c.wait<store::UserRecord>([&](auto done) { c.directory().get_user(id, std::move(done)); });
  if (!user) return c.fail(user.error());
  auto tier = find_tier(c, user->tier);
  if (!tier) return c.fail(tier.error());
  auto health =
      c.wait<store::HealthRecord>([&](auto done) { c.directory().health(std::move(done)); });
  if (!health) return c.fail(health.error());
  auto d = peek(c, *user, *tier, health->state);
  if (!d) return c.fail(d.error());
  print(c, *user, *tier, health->state, *d);
  return kOk;
}

}  // namespace

void add_usage_command(CLI::App& app, Slot& slot) {
  auto id = std::make_shared<std::string>();
  CLI::App* usage = app.add_subcommand("usage", "A user's limit, use and reset right now");
  usage->add_option("USER", *id, "User id")->required();
  usage->callback([&slot, id] { slot.action = [id](Context& c) { return show_usage(c, *id); }; });
}

}  // namespace rl::rlctl
