// rlctl: manage rl's tiers, users, API keys, health state and client blocks directly in Redis,
// without going through a daemon. Every change is published on rl:events, so every running rld
// applies it at once. Exit codes: 0 success, 1 other failure, 2 usage error, 3 not found,
// 4 Redis unreachable, 5 conflict.
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>

#include "apps/rlctl/commands.h"
#include "core/version.h"

namespace rl::rlctl {
namespace {

constexpr const char* kHint = "Run 'rlctl --help' (or 'rlctl <command> --help').";

// The command line: global options into `options`, the chosen command's action into `slot`.
std::unique_ptr<CLI::App> make_app(GlobalOptions& options, Slot& slot) {
  auto app = std::make_unique<CLI::App>(
      "rlctl — manage rl's tiers, users, API keys, health state and client blocks in "
      "Redis. Changes reach every running rld at once.\n\nRedis: --redis URL (a Redis "
      "Cluster: redis+cluster://host:port,host:port), else "
      "REDIS_URL, else REDIS_HOST/REDIS_PORT/REDIS_DB, else redis://127.0.0.1:6379/0; "
      "REDIS_PASSWORD fills in a password the URL lacks.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage error, 3 not found, 4 Redis unreachable, "
      "5 conflict.",
      "rlctl");
  app->add_option("--redis", options.redis_url,
                  "redis://[[user]:password@]host:port/db, unix:///path?db=N or "
                  "redis+cluster://[[user]:password@]host:port,host:port")
      ->type_name("URL");
  app->add_option("--prefix", options.prefix, "Key prefix (default rl:)")
      ->type_name("P")
      ->check(CLI::Validator(
          [](const std::string& p) { return is_valid_prefix(p) ? "" : std::string(kPrefixRule); },
          "", "prefix"));
  app->add_flag("--json", options.json, "Print one JSON document");
  app->add_flag("--quiet", options.quiet, "Print only the essential (no headers or notes)");
  app->set_version_flag("--version", std::string("rlctl ") + core::kVersion);
  app->footer(
      "Examples:\n"
      "  rlctl --redis redis://127.0.0.1:6379/0 import /etc/rld/rate_limits.json\n"
      "  rlctl user add alice --tier pro\n"
      "  rlctl key create alice --label laptop     # prints the key once\n"
      "  rlctl usage alice\n"
      "  rlctl health set DEGRADED --ttl 600 --reason 'db failover'\n"
      "  rlctl block list --json\n"
      "Each subcommand has its own --help (e.g. rlctl tier set --help).");
  app->require_subcommand(1);
  add_tier_commands(*app, slot);
  add_user_commands(*app, slot);
  add_key_commands(*app, slot);
  add_health_commands(*app, slot);
  add_usage_command(*app, slot);
  add_block_commands(*app, slot);
  add_io_commands(*app, slot);
  add_instance_commands(*app, slot);
  return app;
}

// Global options may also follow the command ("rlctl tier list --json").
void fall_through(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    sub->fallthrough();
    fall_through(*sub);
  }
}

// A first word that is no option and no command: CLI11 would take it for an extra argument.
bool unknown_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == argv[1]) return false;
  }
  std::cerr << "rlctl: unknown command '" << argv[1] << "'\n" << kHint << "\n";
  return true;
}

// Parses the command line: nullopt to go on, else the exit code (help, version, usage error).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rlctl: " << e.what() << "\n" << kHint << "\n";
    return kUsage;
  }
  return std::nullopt;
}

}  // namespace
}  // namespace rl::rlctl

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a Redis that closed the connection is an error, not a kill
  using namespace rl::rlctl;
  GlobalOptions options;
  Slot slot;
  const auto app = make_app(options, slot);
  fall_through(*app);
  if (unknown_command(*app, argc, argv)) return kUsage;
  if (const auto rc = parse(*app, argc, argv)) return *rc;
  if (!slot.action) return kUsage;
  Context context(options);
  context.set_writes(slot.writes);
  if (slot.needs_redis) {
    if (const int rc = context.connect(); rc != kOk) return rc;
  }
  return slot.action(context);
}
