// rlctl tier list | show | set | delete. `tier set` on an existing tier changes the limits and
// only the other settings it is given: a window, algorithm, shadow flag or failure policy left
// out keeps its stored value (a new window or algorithm would start every user's counter anew).
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

// The `tier set` command line as CLI11 leaves it; the options tell which were given.
struct SetArgs {
  std::string name;
  std::int64_t base = -1, burst = -1, degraded = -1, window = 60;
  std::string algorithm, on_failure;
  bool shadow = false;
  CLI::Option* window_option = nullptr;
  CLI::Option* algorithm_option = nullptr;
  CLI::Option* shadow_option = nullptr;
  CLI::Option* on_failure_option = nullptr;
};

// What `tier set` changes. A setting left out (nullopt) keeps the tier's own value, which for a
// new tier is the default.
struct TierChange {
  std::string name;
  std::int64_t base = 0, burst = 0, degraded = 0;
  std::optional<core::Seconds> window;
  std::optional<limiter::Algorithm> algorithm;
  std::optional<bool> shadow;
  std::optional<std::optional<policy::FailurePolicy>> on_failure;  // inner nullopt: "default"
};

core::Result<TierChange> read_change(const SetArgs& a) {
  TierChange change{a.name, a.base, a.burst, a.degraded, {}, {}, {}, {}};
  if (a.window_option->count() > 0) change.window = core::Seconds{a.window};
  if (a.algorithm_option->count() > 0) {
    change.algorithm = limiter::parse_algorithm(a.algorithm);
    if (!change.algorithm) {
      return core::make_error(core::Errc::invalid_argument,
                              "--algorithm: expected sliding_window, fixed_window or "
                              "token_bucket, got '" +
                                  a.algorithm + "'");
    }
  }
  if (a.shadow_option->count() > 0) change.shadow = a.shadow;
  if (a.on_failure_option->count() > 0) {
    const auto policy = policy::parse_failure_policy(a.on_failure);
    if (!policy && a.on_failure != "default") {
      return core::make_error(
          core::Errc::invalid_argument,
          "--on-failure: expected local, allow, deny or default, got '" + a.on_failure + "'");
    }
    change.on_failure = policy;
  }
  return change;
}

policy::Tier changed(policy::Tier tier, const TierChange& change) {
  tier.name = change.name;
  tier.base_limit = change.base;
  tier.burst_limit = change.burst;
  tier.degraded_limit = change.degraded;
  if (change.window) tier.window = *change.window;
  if (change.algorithm) tier.algorithm = *change.algorithm;
  if (change.shadow) tier.shadow = *change.shadow;
  if (change.on_failure) tier.on_failure = *change.on_failure;
  return tier;
}

core::Status check(const policy::Tier& tier) {
  const auto problems = policy::validate(tier);
  if (problems.empty()) return {};
  std::string text;
  for (const auto& p : problems)
    text += (text.empty() ? "" : "; ") + p.field + ": " + p.message;
  return core::make_error(core::Errc::invalid_argument, text);
}

int set_tier(Context& c, const SetArgs& args) {
  auto change = read_change(args);
  if (!change) return c.fail(change.error());
  // Checked before connecting. A window left out is checked again once the stored one is
  // known; until then the most lenient window (1 s) stands in for it.
  policy::Tier lenient;
  lenient.window = core::Seconds{1};
  if (auto s = check(changed(lenient, *change)); !s) return c.fail(s.error());
  if (const int rc = c.connect(); rc != kOk) return rc;
  auto stored = find_tier(c, change->name);
  if (!stored && stored.error().code != core::Errc::not_found) return c.fail(stored.error());
  const policy::Tier tier = changed(stored ? *stored : policy::Tier{}, *change);
  if (auto s = check(tier); !s) return c.fail(s.error());
  auto created = c.wait<bool>([&](auto done) { c.directory().put_tier(tier, std::move(done)); });
  if (!created) return c.fail(created.error());
  if (c.out().json()) {
    c.out().document({{"tier", service::to_json(tier)}, {"created", *created}});
  } else {
    c.out().message("tier " + tier.name + (*created ? " created" : " updated"));
  }
  return kOk;
}

int list_tiers(Context& c) {
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
  return kOk;
}

int show_tier(Context& c, const std::string& name) {
  auto t = find_tier(c, name);
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
  return kOk;
}

int delete_tier(Context& c, const std::string& name, bool force) {
  auto s =
      c.wait_status([&](auto done) { c.directory().delete_tier(name, force, std::move(done)); });
  if (!s) return c.fail(s.error());
  if (c.out().json()) c.out().document({{"deleted", name}});
  c.out().message("tier " + name + " deleted");
  return kOk;
}

void add_set(CLI::App& tier, Slot& slot) {
  auto set = std::make_shared<SetArgs>();
  CLI::App* cmd = tier.add_subcommand(
      "set",
      "Create or change a tier (limits per window; DEGRADED uses --degraded). Changing a tier "
      "keeps the settings not given.");
  cmd->add_option("NAME", set->name, "Tier name (a-z, 0-9, _ and -)")->required();
  // Ranges are checked by policy::validate, whose messages name the tier's fields.
  cmd->add_option("--base", set->base, "Base limit (requests per window)")->required();
  cmd->add_option("--burst", set->burst, "Limit in NORMAL (>= base)")->required();
  cmd->add_option("--degraded", set->degraded, "Limit in DEGRADED (<= burst)")->required();
  set->window_option =
      cmd->add_option("--window", set->window, "Window in seconds (a new tier: 60)");
  set->algorithm_option = cmd->add_option(
      "--algorithm", set->algorithm, "sliding_window (a new tier's), fixed_window or token_bucket");
  set->shadow_option = cmd->add_flag("--shadow,!--no-shadow", set->shadow,
                                     "Decide and count, but never deny (or, --no-shadow, deny)");
  set->on_failure_option =
      cmd->add_option("--on-failure", set->on_failure,
                      "When Redis fails: local, allow or deny; default (a new tier's): rld's "
                      "redis.on_failure");
  cmd->callback([&slot, set] {
    slot.action = [set](Context& c) { return set_tier(c, *set); };
    slot.needs_redis = false;  // validated first; set_tier connects
    slot.writes = true;
  });
}

void add_delete(CLI::App& tier, Slot& slot) {
  auto name = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* cmd = tier.add_subcommand("delete", "Delete a tier (refused while users have it)");
  cmd->add_option("NAME", *name, "Tier name")->required();
  cmd->add_flag("--force", *force, "Delete even though users still have it");
  cmd->callback([&slot, name, force] {
    slot.writes = true;
    slot.action = [name, force](Context& c) { return delete_tier(c, *name, *force); };
  });
}

}  // namespace

core::Result<policy::Tier> find_tier(Context& c, const std::string& name) {
  auto tiers = c.wait<std::vector<policy::Tier>>(
      [&](auto done) { c.directory().list_tiers(std::move(done)); });
  if (!tiers) return tiers.error();
  for (auto& t : *tiers) {
    if (t.name == name) return std::move(t);
  }
  return core::make_error(core::Errc::not_found, "no tier '" + name + "'");
}

void add_tier_commands(CLI::App& app, Slot& slot) {
  CLI::App* tier = app.add_subcommand("tier", "List, show, create or change, and delete tiers");
  tier->require_subcommand(1);
  tier->add_subcommand("list", "List every tier")->callback([&slot] { slot.action = list_tiers; });
  auto name = std::make_shared<std::string>();
  CLI::App* show = tier->add_subcommand("show", "Show one tier");
  show->add_option("NAME", *name, "Tier name")->required();
  show->callback(
      [&slot, name] { slot.action = [name](Context& c) { return show_tier(c, *name); }; });
  add_set(*tier, slot);
  add_delete(*tier, slot);
}

}  // namespace rl::rlctl
