// rlctl instances | ping
#include <chrono>

#include "apps/rlctl/commands.h"
#include "core/text.h"
#include "service/wire.h"

namespace rl::rlctl {

std::string iso_time(core::WallTime t) {
  return service::rfc3339(t);
}

namespace {

using Instance = store::RedisDirectory::Instance;

std::string field(const Instance& i, std::string_view name) {
  for (const auto& [f, v] : i.second) {
    if (f == name) return v;
  }
  return {};
}

int list_instances(Context& c) {
  auto list = c.wait<std::vector<Instance>>(
      [&](auto done) { c.directory().list_instances(std::move(done)); });
  if (!list) return c.fail(list.error());
  if (c.out().json()) {
    auto doc = service::json::array();
    for (const auto& i : *list) {
      service::json one{{"instance", i.first}};
      for (const auto& [f, v] : i.second)
        one[f] = v;
      doc.push_back(one);
    }
    c.out().document({{"instances", doc}});
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : *list) {
    const auto started = core::parse_int64(field(i, "started"));
    rows.push_back({i.first, field(i, "version"),
                    started ? iso_time(core::from_unix_ms(*started)) : "-", field(i, "decisions"),
                    field(i, "listeners")});
  }
  c.out().table({"INSTANCE", "VERSION", "STARTED", "REQUESTS", "LISTENERS"}, rows);
  return kOk;
}

int ping(Context& c) {
  const auto start = std::chrono::steady_clock::now();
  auto r =
      c.wait<redis::ReplyPtr>([&](auto done) { c.client().command({"PING"}, std::move(done)); });
  if (!r) return c.fail(r.error());
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (c.out().json()) {
    c.out().document({{"reply", redis::text(**r)}, {"round_trip_us", us}});
  } else {
    c.out().result(std::string(redis::text(**r)) + " (" + std::to_string(us) + " us)");
  }
  return kOk;
}

}  // namespace

void add_instance_commands(CLI::App& app, Slot& slot) {
  app.add_subcommand("instances", "List live rld instances (from their heartbeats)")
      ->callback([&slot] { slot.action = list_instances; });
  app.add_subcommand("ping", "Check that Redis answers")->callback([&slot] { slot.action = ping; });
}

}  // namespace rl::rlctl
