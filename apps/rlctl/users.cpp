// rlctl user list | show | add | set-tier | delete
#include <memory>

#include "apps/rlctl/commands.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

std::vector<std::string> row(const store::UserRecord& u) {
  return {u.id, u.tier, u.disabled ? "yes" : "no", iso_time(u.created_at)};
}

int show_user(Context& c, const std::string& id) {
  auto user =
      c.wait<store::UserRecord>([&](auto done) { c.directory().get_user(id, std::move(done)); });
  if (!user) return c.fail(user.error());
  auto keys = c.wait<std::vector<store::KeyRecord>>(
      [&](auto done) { c.directory().list_keys(id, std::move(done)); });
  if (!keys) return c.fail(keys.error());
  if (c.out().json()) {
    auto doc = service::to_json(*user);
    doc["keys"] = service::json::array();
    for (const auto& k : *keys)
      doc["keys"].push_back(service::to_json(k));
    c.out().document(doc);
    return kOk;
  }
  c.out().fields({{"user", user->id},
                  {"tier", user->tier},
                  {"disabled", user->disabled ? "yes" : "no"},
                  {"created", iso_time(user->created_at)},
                  {"keys", std::to_string(keys->size())}});
  for (const auto& k : *keys)
    c.out().result("  " + k.key_id + "  " + k.label);
  return kOk;
}

int write_user(Context& c, const core::Result<store::UserRecord>& r, std::string_view verb) {
  if (!r) return c.fail(r.error());
  if (c.out().json()) {
    c.out().document(service::to_json(*r));
  } else {
    c.out().message("user " + r->id + " " + std::string(verb) + " (tier " + r->tier + ")");
  }
  return kOk;
}

int list_users(Context& c) {
  auto users = c.wait<std::vector<store::UserRecord>>(
      [&](auto done) { c.directory().list_users(std::move(done)); });
  if (!users) return c.fail(users.error());
  if (c.out().json()) {
    auto list = service::json::array();
    for (const auto& u : *users)
      list.push_back(service::to_json(u));
    c.out().document({{"users", list}});
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : *users)
      rows.push_back(row(u));
    c.out().table({"USER", "TIER", "DISABLED", "CREATED"}, rows);
  }
  return kOk;
}

int add_user(Context& c, const std::string& id, const std::string& tier) {
  if (!policy::is_valid_user_id(id)) {
    return c.fail(core::make_error(core::Errc::invalid_argument,
                                   "ID: expected 1-128 characters of [A-Za-z0-9_.@-]"));
  }
  if (const int rc = c.connect(); rc != kOk) return rc;
  store::UserRecord u{id, tier, {}, false};
  auto r =
      c.wait<store::UserRecord>([&](auto done) { c.directory().create_user(u, std::move(done)); });
  if (!r && r.error().code == core::Errc::invalid_argument) {
    return c.fail(core::make_error(core::Errc::not_found, r.error().message));  // no tier
  }
  return write_user(c, r, "added");
}

int move_user(Context& c, const std::string& id, const std::string& tier) {
  store::UserPatch patch;
  patch.tier = tier;
  auto r = c.wait<store::UserRecord>(
      [&](auto done) { c.directory().update_user(id, patch, std::move(done)); });
  if (!r && r.error().code == core::Errc::invalid_argument) {
    return c.fail(core::make_error(core::Errc::not_found, r.error().message));  // no tier
  }
  return write_user(c, r, "moved");
}

int delete_user(Context& c, const std::string& id) {
  auto s = c.wait_status([&](auto done) { c.directory().delete_user(id, std::move(done)); });
  if (!s) return c.fail(s.error());
  auto forgotten = c.wait_status([&](auto done) { c.store().forget_user(id, std::move(done)); });
  if (!forgotten) return c.fail(forgotten.error());
  if (c.out().json()) c.out().document({{"deleted", id}});
  c.out().message("user " + id + " deleted");
  return kOk;
}

void add_add(CLI::App& user, Slot& slot) {
  auto id = std::make_shared<std::string>();
  auto tier = std::make_shared<std::string>();
  CLI::App* add = user.add_subcommand("add", "Add a user (exit 5 if it exists)");
  add->add_option("ID", *id, "User id: 1-128 of A-Z a-z 0-9 _ . @ -")->required();
  add->add_option("--tier", *tier, "The user's tier")->required();
  add->callback([&slot, id, tier] {
    slot.needs_redis = false;  // the id is checked first; add_user connects
    slot.writes = true;
    slot.action = [id, tier](Context& c) { return add_user(c, *id, *tier); };
  });
}

void add_set_tier(CLI::App& user, Slot& slot) {
  auto id = std::make_shared<std::string>();
  auto tier = std::make_shared<std::string>();
  CLI::App* set_tier = user.add_subcommand("set-tier", "Move a user to another tier");
  set_tier->add_option("ID", *id, "User id")->required();
  set_tier->add_option("TIER", *tier, "The new tier")->required();
  set_tier->callback([&slot, id, tier] {
    slot.writes = true;
    slot.action = [id, tier](Context& c) { return move_user(c, *id, *tier); };
  });
}

}  // namespace

void add_user_commands(CLI::App& app, Slot& slot) {
  CLI::App* user = app.add_subcommand("user", "List, show, add, move and delete users");
  user->require_subcommand(1);
  user->add_subcommand("list", "List every user")->callback([&slot] { slot.action = list_users; });

  auto id = std::make_shared<std::string>();
  CLI::App* show = user->add_subcommand("show", "Show a user and its key ids");
  show->add_option("ID", *id, "User id")->required();
  show->callback([&slot, id] { slot.action = [id](Context& c) { return show_user(c, *id); }; });

  add_add(*user, slot);
  add_set_tier(*user, slot);

  auto del_id = std::make_shared<std::string>();
  CLI::App* del = user->add_subcommand("delete", "Delete a user, its keys and its counters");
  del->add_option("ID", *del_id, "User id")->required();
  del->callback([&slot, del_id] {
    slot.writes = true;
    slot.action = [del_id](Context& c) { return delete_user(c, *del_id); };
  });
}

}  // namespace rl::rlctl
