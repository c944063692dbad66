// rlctl key create | list | revoke — a new key is printed once; only its SHA-256 is stored.
#include <memory>

#include "apps/rlctl/commands.h"
#include "security/api_key.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

int create_key(Context& c, const std::string& user, const std::string& label) {
  if (label.size() > 128) {
    return c.fail(
        core::make_error(core::Errc::invalid_argument, "--label: expected at most 128 bytes"));
  }
  if (const int rc = c.connect(); rc != kOk) return rc;
  const std::string api_key = security::generate_api_key();
  const auto digest = security::digest_api_key(api_key);
  store::KeyRecord record{
      std::string(digest.view()), std::string(digest.key_id()), user, label, {}};
  auto r =
      c.wait<store::KeyRecord>([&](auto done) { c.directory().add_key(record, std::move(done)); });
  if (!r) return c.fail(r.error());
  if (c.out().json()) {
    auto doc = service::to_json(*r);
    doc["api_key"] = api_key;
    c.out().document(doc);
  } else if (c.out().quiet()) {
    c.out().result(api_key);
  } else {
    c.out().fields({{"api_key", api_key}, {"key_id", r->key_id}, {"user", r->user}});
    c.out().message("Store the key now: it is not shown again.");
  }
  return kOk;
}

int list_keys(Context& c, const std::string& user) {
  auto keys = c.wait<std::vector<store::KeyRecord>>(
      [&](auto done) { c.directory().list_keys(user, std::move(done)); });
  if (!keys) return c.fail(keys.error());
  if (c.out().json()) {
    auto list = service::json::array();
    for (const auto& k : *keys)
      list.push_back(service::to_json(k));
    c.out().document({{"user", user}, {"keys", list}});
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : *keys)
      rows.push_back({k.key_id, k.label, iso_time(k.created_at)});
    c.out().table({"KEY_ID", "LABEL", "CREATED"}, rows);
  }
  return kOk;
}

int revoke_key(Context& c, const std::string& key_id) {
  auto r = c.wait<store::KeyRecord>(
      [&](auto done) { c.directory().revoke_key(key_id, std::move(done)); });
  if (!r) return c.fail(r.error());
  if (c.out().json()) c.out().document({{"revoked", r->key_id}, {"user", r->user}});
  c.out().message("key " + r->key_id + " of " + r->user + " revoked");
  return kOk;
}

}  // namespace

void add_key_commands(CLI::App& app, Slot& slot) {
  CLI::App* key = app.add_subcommand("key", "Create, list and revoke API keys");
  key->require_subcommand(1);

  auto user = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  CLI::App* create = key->add_subcommand(
      "create", "Create a key for USER and print it once (only its SHA-256 is stored)");
  create->add_option("USER", *user, "User id")->required();
  create->add_option("--label", *label, "What the key is for (at most 128 bytes)");
  create->callback([&slot, user, label] {
    slot.needs_redis = false;  // the label is checked first; create_key connects
    slot.writes = true;
    slot.action = [user, label](Context& c) { return create_key(c, *user, *label); };
  });

  auto list_user = std::make_shared<std::string>();
  CLI::App* list = key->add_subcommand("list", "List a user's key ids, labels and dates");
  list->add_option("USER", *list_user, "User id")->required();
  list->callback([&slot, list_user] {
    slot.action = [list_user](Context& c) { return list_keys(c, *list_user); };
  });

  auto key_id = std::make_shared<std::string>();
  CLI::App* revoke = key->add_subcommand("revoke", "Revoke a key by its id");
  revoke->add_option("KEY_ID", *key_id, "The key id (16 hex digits)")->required();
  revoke->callback([&slot, key_id] {
    slot.writes = true;
    slot.action = [key_id](Context& c) { return revoke_key(c, *key_id); };
  });
}

}  // namespace rl::rlctl
