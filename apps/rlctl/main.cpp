// rlctl: manage rl's tiers, users, API keys, health state and client blocks directly in Redis,
// without going through a daemon. Every change is published on rl:events, so every running rld
// applies it at once. Exit codes: 0 success, 1 other failure, 2 usage error, 3 not found,
// 4 Redis unreachable, 5 conflict.
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/rlctl/commands.h"
#include "core/version.h"

int main(int argc, char** argv) {
  using namespace rl::rlctl;
  CLI::App app{
      "rlctl — manage rl's tiers, users, API keys, health state and client blocks in "
      "Redis. Changes reach every running rld at once.\n\nRedis: --redis URL, else "
      "REDIS_URL, else REDIS_HOST/REDIS_PORT/REDIS_DB, else redis://127.0.0.1:6379/0.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage error, 3 not found, 4 Redis unreachable, "
      "5 conflict.",
      "rlctl"};
  GlobalOptions options;
  app.add_option("--redis", options.redis_url,
                 "redis://[[user]:password@]host:port/db or unix:///path?db=N")
      ->type_name("URL");
  app.add_option("--prefix", options.prefix, "Key prefix (default rl:)")->type_name("P");
  app.add_flag("--json", options.json, "Print one JSON document");
  app.add_flag("--quiet", options.quiet, "Print only the essential (no headers or notes)");
  app.set_version_flag("--version", std::string("rlctl ") + rl::core::kVersion);
  app.require_subcommand(1);

  Slot slot;
  add_tier_commands(app, slot);
  add_user_commands(app, slot);
  add_key_commands(app, slot);
  add_health_commands(app, slot);
  add_usage_command(app, slot);
  add_block_commands(app, slot);
  add_io_commands(app, slot);
  add_instance_commands(app, slot);

  // Global options may also follow the command ("rlctl tier list --json").
  std::function<void(CLI::App*)> fall_through = [&](CLI::App* a) {
    for (CLI::App* sub : a->get_subcommands({})) {
      sub->fallthrough();
      fall_through(sub);
    }
  };
  fall_through(&app);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (CLI::App* sub : app.get_subcommands({}))
      known = known || sub->get_name() == argv[1];
    if (!known) {
      std::cerr << "rlctl: unknown command '" << argv[1]
                << "'\nRun 'rlctl --help' (or 'rlctl <command> --help').\n";
      return kUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rlctl: " << e.what() << "\nRun 'rlctl --help' (or 'rlctl <command> --help').\n";
    return kUsage;
  }
  if (!slot.action) return kUsage;
  Context context(options);
  context.set_writes(slot.writes);
  if (slot.needs_redis) {
    if (const int rc = context.connect(); rc != kOk) return rc;
  }
  return slot.action(context);
}
