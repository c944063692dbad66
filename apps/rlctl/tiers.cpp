// rlctl tier list | show | set | delete
#include <memory>

#include "apps/rlctl/commands.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

std::vector<std::string> row(const policy::Tier& t) {
  return {t.name,
          std::to_string(t.base_limit),
          std::to_string(t.burst_limit),
          std::to_string(t.degraded_limit),
          std::to_string(t.window.count()),
          std::string(limiter::to_string(t.algorithm)),
          t.shadow ? "yes" : "no",
          t.on_failure ? std::string(policy::to_string(*t.on_failure)) : "-"};
}

const std::vector<std::string> kHeaders = {"NAME",   "BASE",      "BURST",  "DEGRADED",
                                           "WINDOW", "ALGORITHM", "SHADOW", "ON_FAILURE"};

core::Result<policy::Tier> find_tier(Context& c, const std::string& name) {
  auto tiers = c.wait<std::vector<policy::Tier>>(
      [&](auto done) { c.directory().list_tiers(std::move(done)); });
  if (!tiers) return tiers.error();
  for (auto& t : *tiers) {
    if (t.name == name) return t;
  }
  return core::make_error(core::Errc::not_found, "no tier '" + name + "'");
}

struct SetOptions {
  std::string name;
  std::int64_t base = -1, burst = -1, degraded = -1, window = 60;
  std::string algorithm = "sliding_window";
  bool shadow = false;
  std::string on_failure;
};

int set_tier(Context& c, const SetOptions& o) {
  policy::Tier tier;
  tier.name = o.name;
  tier.base_limit = o.base;
  tier.burst_limit = o.burst;
  tier.degraded_limit = o.degraded;
  tier.window = core::Seconds{o.window};
  tier.shadow = o.shadow;
  const auto algorithm = limiter::parse_algorithm(o.algorithm);
  if (!algorithm) {
    return c.fail(core::make_error(core::Errc::invalid_argument,
                                   "--algorithm: expected sliding_window, fixed_window or "
                                   "token_bucket, got '" +
                                       o.algorithm + "'"));
  }
  tier.algorithm = *algorithm;
  if (!o.on_failure.empty()) {
    tier.on_failure = policy::parse_failure_policy(o.on_failure);
    if (!tier.on_failure) {
      return c.fail(core::make_error(core::Errc::invalid_argument,
                                     "--on-failure: expected local, allow or deny"));
    }
  }
  if (const auto problems = policy::validate(tier); !problems.empty()) {
    std::string text;
    for (const auto& p : problems)
      text += (text.empty() ? "" : "; ") + p.field + ": " + p.message;
    return c.fail(core::make_error(core::Errc::invalid_argument, text));
  }
  if (const int rc = c.connect(); rc != kOk) return rc;
  auto created = c.wait<bool>([&](auto done) { c.directory().put_tier(tier, std::move(done)); });
  if (!created) return c.fail(created.error());
  if (c.out().json()) {
    c.out().document({{"tier", service::to_json(tier)}, {"created", *created}});
  } else {
    c.out().message("tier " + tier.name + (*created ? " created" : " updated"));
  }
  return kOk;
}

}  // namespace

void add_tier_commands(CLI::App& app, Slot& slot) {
  CLI::App* tier = app.add_subcommand("tier", "List, show, create or change, and delete tiers");
  tier->require_subcommand(1);

  tier->add_subcommand("list", "List every tier")->callback([&slot] {
    slot.action = [](Context& c) {
      auto tiers = c.wait<std::vector<policy::Tier>>(
          [&](auto done) { c.directory().list_tiers(std::move(done)); });
      if (!tiers) return c.fail(tiers.error());
      if (c.out().json()) {
        auto list = service::json::array();
        for (const auto& t : *tiers)
          list.push_back(service::to_json(t));
        c.out().document({{"tiers", list}});
      } else {
        std::vector<std::vector<std::string>> rows;
        for (const auto& t : *tiers)
          rows.push_back(row(t));
        c.out().table(kHeaders, rows);
      }
      return int{kOk};
    };
  });

  auto name = std::make_shared<std::string>();
  CLI::App* show = tier->add_subcommand("show", "Show one tier");
  show->add_option("NAME", *name, "Tier name")->required();
  show->callback([&slot, name] {
    slot.action = [name](Context& c) {
      auto t = find_tier(c, *name);
      if (!t) return c.fail(t.error());
      if (c.out().json()) {
        c.out().document(service::to_json(*t));
      } else {
        const auto r = row(*t);
        std::vector<std::pair<std::string, std::string>> pairs;
        for (std::size_t i = 0; i < kHeaders.size(); ++i)
          pairs.emplace_back(kHeaders[i], r[i]);
        c.out().fields(pairs);
      }
      return int{kOk};
    };
  });

  auto set = std::make_shared<SetOptions>();
  CLI::App* set_cmd = tier->add_subcommand(
      "set", "Create or change a tier (limits per window; DEGRADED uses --degraded)");
  set_cmd->add_option("NAME", set->name, "Tier name (a-z, 0-9, _ and -)")->required();
  // Ranges are checked by policy::validate, whose messages name the tier's fields.
  set_cmd->add_option("--base", set->base, "Base limit (requests per window)")->required();
  set_cmd->add_option("--burst", set->burst, "Limit in NORMAL (>= base)")->required();
  set_cmd->add_option("--degraded", set->degraded, "Limit in DEGRADED (<= burst)")->required();
  set_cmd->add_option("--window", set->window, "Window in seconds (default 60)");
  set_cmd->add_option("--algorithm", set->algorithm,
                      "sliding_window (default), fixed_window or token_bucket");
  set_cmd->add_flag("--shadow", set->shadow, "Decide and count, but never deny");
  set_cmd->add_option("--on-failure", set->on_failure,
                      "When Redis fails: local, allow or deny (default: rld's redis.on_failure)");
  set_cmd->callback([&slot, set] {
    slot.action = [set](Context& c) { return set_tier(c, *set); };
    slot.needs_redis = false;  // validated first; set_tier connects
    slot.writes = true;
  });

  auto del_name = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* del = tier->add_subcommand("delete", "Delete a tier (refused while users have it)");
  del->add_option("NAME", *del_name, "Tier name")->required();
  del->add_flag("--force", *force, "Delete even though users still have it");
  del->callback([&slot, del_name, force] {
    slot.writes = true;
    slot.action = [del_name, force](Context& c) {
      auto s = c.wait_status(
          [&](auto done) { c.directory().delete_tier(*del_name, *force, std::move(done)); });
      if (!s) return c.fail(s.error());
      if (c.out().json()) c.out().document({{"deleted", *del_name}});
      c.out().message("tier " + *del_name + " deleted");
      return int{kOk};
    };
  });
}

}  // namespace rl::rlctl
