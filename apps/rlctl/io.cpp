// rlctl import | export — the reference's JSON schema (config/rate_limits.json). Import is
// idempotent: it creates what is missing, changes what differs and reports the rest as
// unchanged; --dry-run only reports. Export writes key digests ("sha256:<hex>"), never a key.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "apps/rlctl/commands.h"
#include "config/tier_file.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

using service::json;

struct Plan {
  std::vector<policy::Tier> tiers_to_put;
  std::vector<std::string> tiers_created, tiers_updated;
  std::size_t tiers_unchanged = 0;
  std::vector<config::TierFileUser> users_to_add, users_to_change;
  std::size_t users_unchanged = 0;
  std::vector<config::TierFileKey> keys_to_add;
  std::size_t keys_unchanged = 0;
  std::vector<std::string> conflicts;
};

core::Result<std::string> read_input(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::make_error(core::Errc::not_found, path + ": cannot open");
  text << in.rdbuf();
  return text.str();
}

void plan_tiers(Plan& p, const std::vector<policy::Tier>& have, const config::TierFile& file) {
  std::map<std::string, const policy::Tier*> by_name;
  for (const auto& t : have)
    by_name.emplace(t.name, &t);
  for (const auto& t : file.tiers) {
    auto it = by_name.find(t.name);
    if (it == by_name.end()) {
      p.tiers_to_put.push_back(t);
      p.tiers_created.push_back(t.name);
    } else if (!(*it->second == t)) {
      p.tiers_to_put.push_back(t);
      p.tiers_updated.push_back(t.name);
    } else {
      ++p.tiers_unchanged;
    }
  }
}

void plan_users(Plan& p, const std::vector<store::UserRecord>& have, const config::TierFile& file) {
  std::map<std::string, const store::UserRecord*> by_id;
  for (const auto& u : have)
    by_id.emplace(u.id, &u);
  for (const auto& u : file.users) {
    auto it = by_id.find(u.id);
    if (it == by_id.end()) {
      p.users_to_add.push_back(u);
    } else if (it->second->tier != u.tier || it->second->disabled != u.disabled) {
      p.users_to_change.push_back(u);
    } else {
      ++p.users_unchanged;
    }
  }
}

// Each key's owner in Redis: missing keys are added, another user's are conflicts.
core::Status plan_keys(Context& c, Plan& p, const config::TierFile& file) {
  const store::KeySpace keys(c.options().prefix);
  std::vector<redis::Commands::Command> lookups;
  for (const auto& k : file.keys)
    lookups.push_back({"HGET", keys.api_key(k.digest), "user"});
  auto owners = c.wait<std::vector<core::Result<redis::ReplyPtr>>>([&](auto done) {
    c.client().batch(std::move(lookups),
                     [done](std::vector<core::Result<redis::ReplyPtr>> r) { done(std::move(r)); });
  });
  if (!owners) return owners.error();
  for (std::size_t i = 0; i < file.keys.size(); ++i) {
    const auto& r = (*owners)[i];
    if (!r) return r.error();
    if (redis::is_error(**r)) {
      return core::make_error(core::Errc::internal,
                              "Redis replied: " + std::string(redis::text(**r)));
    }
    const auto& key = file.keys[i];
    if (redis::is_nil(**r)) {
      p.keys_to_add.push_back(key);
    } else if (redis::text(**r) == key.user) {
      ++p.keys_unchanged;
    } else {
      p.conflicts.push_back("key " + key.digest.substr(0, 16) + " belongs to user '" +
                            std::string(redis::text(**r)) + "', not '" + key.user + "'");
    }
  }
  return {};
}

// What Redis holds now: every tier and every user.
struct Holdings {
  std::vector<policy::Tier> tiers;
  std::vector<store::UserRecord> users;
};

core::Result<Holdings> holdings(Context& c) {
  auto tiers =
      c.wait<std::vector<policy::Tier>>([&](auto d) { c.directory().list_tiers(std::move(d)); });
  if (!tiers) return tiers.error();
  auto users = c.wait<std::vector<store::UserRecord>>(
      [&](auto d) { c.directory().list_users(std::move(d)); });
  if (!users) return users.error();
  return Holdings{std::move(*tiers), std::move(*users)};
}

core::Result<Plan> plan(Context& c, const config::TierFile& file) {
  auto have = holdings(c);
  if (!have) return have.error();
  Plan p;
  plan_tiers(p, have->tiers, file);
  plan_users(p, have->users, file);
  if (auto s = plan_keys(c, p, file); !s) return s.error();
  return p;
}

core::Status apply(Context& c, const Plan& p) {
  for (const auto& t : p.tiers_to_put) {
    auto r = c.wait<bool>([&](auto d) { c.directory().put_tier(t, std::move(d)); });
    if (!r) return r.error();
  }
  for (const auto& u : p.users_to_add) {
    auto r = c.wait<store::UserRecord>([&](auto d) {
      c.directory().create_user(store::UserRecord{u.id, u.tier, {}, u.disabled}, std::move(d));
    });
    if (!r) return r.error();
    if (u.disabled) {
      store::UserPatch patch;
      patch.disabled = true;
      auto d = c.wait<store::UserRecord>(
          [&](auto done) { c.directory().update_user(u.id, patch, std::move(done)); });
      if (!d) return d.error();
    }
  }
  for (const auto& u : p.users_to_change) {
    store::UserPatch patch;
    patch.tier = u.tier;
    patch.disabled = u.disabled;
    auto r = c.wait<store::UserRecord>(
        [&](auto d) { c.directory().update_user(u.id, patch, std::move(d)); });
    if (!r) return r.error();
  }
  for (const auto& k : p.keys_to_add) {
    store::KeyRecord record{k.digest, k.digest.substr(0, 16), k.user, "imported", {}};
    auto r = c.wait<store::KeyRecord>([&](auto d) { c.directory().add_key(record, std::move(d)); });
    if (!r) return r.error();
  }
  return {};
}

json report(const Plan& p, bool dry_run) {
  json users_added = json::array(), users_changed = json::array();
  for (const auto& u : p.users_to_add)
    users_added.push_back(u.id);
  for (const auto& u : p.users_to_change)
    users_changed.push_back(u.id);
  return {
      {"dry_run", dry_run},
      {"tiers",
       {{"created", p.tiers_created},
        {"updated", p.tiers_updated},
        {"unchanged", p.tiers_unchanged}}},
      {"users",
       {{"created", users_added}, {"updated", users_changed}, {"unchanged", p.users_unchanged}}},
      {"keys", {{"created", p.keys_to_add.size()}, {"unchanged", p.keys_unchanged}}},
      {"conflicts", p.conflicts}};
}

void print_summary(Context& c, const Plan& p, bool dry_run) {
  const std::string would = dry_run ? "would be " : "";
  c.out().result("tiers: " + std::to_string(p.tiers_created.size()) + " " + would + "created, " +
                 std::to_string(p.tiers_updated.size()) + " " + would + "updated, " +
                 std::to_string(p.tiers_unchanged) + " unchanged");
  c.out().result("users: " + std::to_string(p.users_to_add.size()) + " " + would + "created, " +
                 std::to_string(p.users_to_change.size()) + " " + would + "updated, " +
                 std::to_string(p.users_unchanged) + " unchanged");
  c.out().result("keys:  " + std::to_string(p.keys_to_add.size()) + " " + would + "created, " +
                 std::to_string(p.keys_unchanged) + " unchanged");
  for (const auto& conflict : p.conflicts)
    std::cerr << "rlctl: conflict: " << conflict << "\n";
}

int run_import(Context& c, const std::string& path, bool dry_run) {
  auto text = read_input(path);
  if (!text) return c.fail(text.error());
  auto file = config::parse_tier_file(*text, path == "-" ? "<stdin>" : path);
  if (!file) return c.fail(file.error());
  if (const int rc = c.connect(); rc != kOk) return rc;
  auto p = plan(c, *file);
  if (!p) return c.fail(p.error());
  if (!dry_run) {
    if (auto s = apply(c, *p); !s) return c.fail(s.error());
  }
  if (c.out().json()) {
    c.out().document(report(*p, dry_run));
  } else {
    print_summary(c, *p, dry_run);
  }
  return p->conflicts.empty() ? kOk : kConflict;
}

// The tier file of what Redis holds: tiers, users and their key digests.
core::Result<json> export_document(Context& c) {
  auto have = holdings(c);
  if (!have) return have.error();
  json doc{{"tiers", json::object()}, {"users", json::object()}, {"api_keys", json::object()}};
  for (const auto& t : have->tiers) {
    json tier = service::to_json(t);
    tier.erase("name");
    if (!t.on_failure) tier.erase("on_failure");
    doc["tiers"][t.name] = tier;
  }
  for (const auto& u : have->users) {
    doc["users"][u.id] = u.disabled ? json{{"tier", u.tier}, {"disabled", true}} : json(u.tier);
    auto keys = c.wait<std::vector<store::KeyRecord>>(
        [&](auto d) { c.directory().list_keys(u.id, std::move(d)); });
    if (!keys) return keys.error();
    for (const auto& k : *keys)
      doc["api_keys"]["sha256:" + k.digest] = u.id;
  }
  return doc;
}

int run_export(Context& c, const std::string& path) {
  auto doc = export_document(c);
  if (!doc) return c.fail(doc.error());
  const std::string text = doc->dump(2) + "\n";
  if (path.empty() || path == "-") {
    std::cout << text;
    return kOk;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) return c.fail(core::make_error(core::Errc::io, path + ": cannot write"));
  const std::size_t tiers = (*doc)["tiers"].size(), users = (*doc)["users"].size();
  if (c.out().json()) {
    c.out().document({{"written", path},
                      {"tiers", tiers},
                      {"users", users},
                      {"keys", (*doc)["api_keys"].size()}});
  }
  c.out().message("exported " + std::to_string(tiers) + " tiers and " + std::to_string(users) +
                  " users to " + path);
  return kOk;
}

}  // namespace

void add_io_commands(CLI::App& app, Slot& slot) {
  auto path = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* import = app.add_subcommand(
      "import", "Load tiers, users and keys from a tier file (reference JSON schema); idempotent");
  import->add_option("FILE", *path, "The file, or - for standard input")->required();
  import->add_flag("--dry-run", *dry_run, "Report what would change; change nothing");
  import->callback([&slot, path, dry_run] {
    slot.action = [path, dry_run](Context& c) { return run_import(c, *path, *dry_run);
};
slot.needs_redis = false;  // the file is checked before connecting
slot.writes = !*dry_run;
}  // namespace rl::rlctl
);

auto out_path = std::make_shared<std::string>();
CLI::App* export_cmd = app.add_subcommand(
    "export", "Write tiers, users and key digests as a tier file (never a clear-text key)");
export_cmd->add_option("FILE", *out_path, "Where to write (default: standard output)");
export_cmd->callback([&slot, out_path] {
  slot.action = [out_path](Context& c) { return run_export(c, *out_path); };
});
}

}  // namespace rl::rlctl
