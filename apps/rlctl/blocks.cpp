// rlctl block list | add | remove — client blocks, held in Redis for every rld.
#include <memory>

#include "apps/rlctl/commands.h"
#include "security/ip_address.h"
#include "service/wire.h"

namespace rl::rlctl {
namespace {

// An address, or a client key as rld writes them (an IPv4 address or an IPv6 /64).
core::Result<std::string> client_key(const std::string& text) {
  if (const auto ip = security::IpAddress::parse(text)) return ip->client_key();
  if (text.ends_with("/64")) {
    if (const auto ip = security::IpAddress::parse(text.substr(0, text.size() - 3))) {
      if (!ip->is_v4()) return ip->client_key();
    }
  }
  return core::make_error(
      core::Errc::invalid_argument,
      "IP: expected an IPv4 or IPv6 address (or an IPv6 /64), got '" + text + "'");
}

struct AddOptions {
  std::string ip;
  std::int64_t ttl = 900;
  std::string reason = "blocked with rlctl";
};

int list_blocks(Context& c) {
  auto blocks =
      c.wait<std::vector<store::Block>>([&](auto done) { c.store().list_blocks(std::move(done)); });
  if (!blocks) return c.fail(blocks.error());
  if (c.out().json()) {
    auto list = service::json::array();
    for (const auto& b : *blocks)
      list.push_back(service::to_json(b));
    c.out().document({{"blocks", list}});
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : *blocks)
      rows.push_back({b.client, iso_time(b.until), b.reason});
    c.out().table({"CLIENT", "UNTIL", "REASON"}, rows);
  }
  return kOk;
}

int add_block(Context& c, const AddOptions& o) {
  auto who = client_key(o.ip);
  if (!who) return c.fail(who.error());
  if (const int rc = c.connect(); rc != kOk) return rc;
  store::Block b{*who, o.reason, c.clock().now() + core::Seconds{o.ttl}};
  auto s = c.wait_status([&](auto done) { c.store().add_block(b, std::move(done)); });
  if (!s) return c.fail(s.error());
  if (c.out().json()) c.out().document(service::to_json(b));
  c.out().message("blocked " + b.client + " until " + iso_time(b.until));
  return kOk;
}

int remove_block(Context& c, const std::string& ip) {
  auto who = client_key(ip);
  if (!who) return c.fail(who.error());
  if (const int rc = c.connect(); rc != kOk) return rc;
  auto s = c.wait_status([&](auto done) { c.store().remove_block(*who, std::move(done)); });
  if (!s) return c.fail(s.error());
  if (c.out().json()) c.out().document({{"removed", *who}});
  c.out().message("unblocked " + *who);
  return kOk;
}

}  // namespace

void add_block_commands(CLI::App& app, Slot& slot) {
  CLI::App* block = app.add_subcommand("block", "List, add and remove client blocks");
  block->require_subcommand(1);
  block->add_subcommand("list", "List blocked clients")->callback([&slot] {
    slot.action = list_blocks;
  });

  auto o = std::make_shared<AddOptions>();
  CLI::App* add = block->add_subcommand("add", "Block a client on every rld");
  add->add_option("IP", o->ip, "IPv4 or IPv6 address (IPv6 is blocked per /64)")->required();
  add->add_option("--ttl", o->ttl, "Seconds (default 900)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{366} * 86400));
  add->add_option("--reason", o->reason, "Why");
  add->callback([&slot, o] {
    slot.needs_redis = false;  // the address is checked first; add_block connects
    slot.writes = true;
    slot.action = [o](Context& c) { return add_block(c, *o); };
  });

  auto ip = std::make_shared<std::string>();
  CLI::App* remove = block->add_subcommand("remove", "Lift a client's block on every rld");
  remove->add_option("IP", *ip, "IPv4 or IPv6 address (or IPv6 /64)")->required();
  remove->callback([&slot, ip] {
    slot.needs_redis = false;  // the address is checked first; remove_block connects
    slot.writes = true;
    slot.action = [ip](Context& c) { return remove_block(c, *ip); };
  });
}

}  // namespace rl::rlctl
