// rlctl usage USER — where a user stands in its current window, without consuming anything.
#include <memory>

#include "apps/rlctl/commands.h"
#include "service/wire.h"

namespace rl::rlctl {

void add_usage_command(CLI::App& app, Slot& slot) {
  auto id = std::make_shared<std::string>();
  CLI::App* usage = app.add_subcommand("usage", "A user's limit, use and reset right now");
  usage->add_option("USER", *id, "User id")->required();
  usage->callback([&slot, id] {
    slot.action = [id](Context& c) {
      auto user = c.wait<store::UserRecord>(
          [&](auto done) { c.directory().get_user(*id, std::move(done)); });
      if (!user) return c.fail(user.error());
      auto tiers = c.wait<std::vector<policy::Tier>>(
          [&](auto done) { c.directory().list_tiers(std::move(done)); });
      if (!tiers) return c.fail(tiers.error());
      const policy::Tier* tier = nullptr;
      for (const auto& t : *tiers) {
        if (t.name == user->tier) tier = &t;
      }
      if (tier == nullptr) {
        return c.fail(core::make_error(core::Errc::not_found, "no tier '" + user->tier + "'"));
      }
      auto health =
          c.wait<store::HealthRecord>([&](auto done) { c.directory().health(std::move(done)); });
      if (!health) return c.fail(health.error());
      const store::CounterKey key{user->id, tier->algorithm, tier->window, tier->on_failure};
      auto d = c.wait<limiter::Decision>([&](auto done) {
        c.store().consume(key, policy::quota_for(*tier, health->state), 0, std::move(done));
      });
      if (!d) return c.fail(d.error());
      const auto reset = core::to_unix_seconds_ceil(d->reset);
      if (c.out().json()) {
        c.out().document({{"user", user->id},
                          {"tier", tier->name},
                          {"limit", d->limit},
                          {"used", d->used},
                          {"remaining", d->remaining},
                          {"reset", reset}});
      } else {
        c.out().fields(
            {{"user", user->id},
             {"tier", tier->name + " (" + std::string(policy::to_string(health->state)) + ")"},
             {"limit", std::to_string(d->limit)},
             {"used", std::to_string(d->used)},
             {"remaining", std::to_string(d->remaining)},
             {"reset", iso_time(d->reset)}});
      }
      return int{kOk};
    };
  });
}

}  // namespace rl::rlctl
