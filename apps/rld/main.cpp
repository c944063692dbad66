// rld: the rate-limit decision daemon. Parses the command line (the contract in README and
// DESIGN.md §8), loads and validates the configuration, then hands over to the Daemon.
// Exit codes: 0 clean stop or valid --check-config, 1 bad configuration or start-up failure,
// 2 usage error.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "apps/rld/daemon.h"
#include "core/clock.h"
#include "core/version.h"

namespace {

struct Flags {
  std::string config;
  bool check_config = false;
  bool version = false;
};

void add_flags(CLI::App& app, Flags& flags, rl::config::Overrides& o) {
  app.add_option("--config", flags.config, "TOML configuration file (e.g. /etc/rld/rld.toml)")
      ->check(CLI::ExistingFile);
  app.add_option("--listen", o.listen,
                 "Listen on ADDR: HOST:PORT, [IPv6]:PORT or unix:PATH; repeat for several "
                 "(replaces server.listen)")
      ->type_name("ADDR");
  app.add_option_function<std::string>(
         "--store", [&o](const std::string& v) { o.store = v; },
         "Store: memory or redis (store.type)")
      ->type_name("KIND");
  app.add_option_function<std::string>(
         "--redis", [&o](const std::string& v) { o.redis_url = v; }, "Redis URL (redis.url)")
      ->type_name("URL");
  app.add_option_function<std::string>(
         "--tiers", [&o](const std::string& v) { o.tiers_file = v; },
         "Tier, user and key file in the reference JSON schema "
         "(store.tiers_file)")
      ->type_name("FILE");
  app.add_option_function<int>(
         "--workers", [&o](int v) { o.workers = v; }, "Event-loop threads (server.workers)")
      ->type_name("N");
  app.add_option_function<std::string>(
         "--admin-key", [&o](const std::string& v) { o.admin_key = v; },
         "Admin API key (security.admin_key); prefer ADMIN_API_KEY")
      ->type_name("KEY");
  app.add_option_function<std::string>(
         "--log-level", [&o](const std::string& v) { o.log_level = v; },
         "debug, info, warn or error (log.level)")
      ->type_name("LEVEL");
  app.add_flag("--check-config", flags.check_config,
               "Validate the configuration and tier file, print every problem, and exit");
  app.add_flag("--version", flags.version, "Print the version and exit");
}

}  // namespace

int main(int argc, char** argv) {
  // A client that hung up makes write() fail with EPIPE, which libuv reports on that connection;
  // the default SIGPIPE would instead kill the whole daemon. Before any thread starts.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "rld — rate-limit decision daemon: answers \"may this request pass?\" over HTTP "
      "on TCP and Unix sockets.\n\nEnvironment: REDIS_HOST, REDIS_PORT, REDIS_DB, "
      "REDIS_PASSWORD, REDIS_TIMEOUT (seconds), RATE_LIMITER_CONFIG_PATH (tier file), LOG_LEVEL, "
      "ADMIN_API_KEY. Precedence: defaults < --config file < environment < flags.\n\nUnder "
      "systemd: NOTIFY_SOCKET (READY, RELOADING, STOPPING and WATCHDOG notifications), "
      "WATCHDOG_USEC, LISTEN_FDS/LISTEN_PID (socket activation: the inherited sockets replace "
      "server.listen).\n\nSignals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the "
      "configuration and tier file.",
      "rld"};
  Flags flags;
  rl::config::Overrides overrides;
  add_flags(app, flags, overrides);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "rld: " << e.what() << "\nRun 'rld --help' for usage.\n";
    return 2;
  }
  if (flags.version) {
    std::printf("rld %s (%s)\n", rl::core::kVersion, rl::core::kGitRevision);
    return 0;
  }

  rl::rld::Startup startup{flags.config, rl::config::process_environment(), overrides};
  auto config = rl::config::load_daemon_config(startup.config_path, startup.env, startup.overrides);
  std::string problems = config ? "" : config.error().message;
  std::optional<rl::config::TierFile> tiers;
  if (config) {
    auto loaded = rl::rld::load_tiers(*config);
    if (loaded) {
      tiers = std::move(*loaded);
    } else {
      problems = loaded.error().message;
    }
  }
  if (flags.check_config) {
    if (!problems.empty()) {
      std::fprintf(stderr, "%s\n", problems.c_str());
      return 1;
    }
    std::printf(
        "configuration OK: %s; %zu tiers, %zu users, %zu keys from %s\n",
        startup.config_path.empty() ? "built-in defaults" : startup.config_path.c_str(),
        tiers->tiers.size(), tiers->users.size(), tiers->keys.size(),
        config->store.tiers_file.empty() ? "(no tier file)" : config->store.tiers_file.c_str());
    return 0;
  }

  rl::core::SystemClock clock;
  rl::obs::StderrSink sink;
  rl::obs::Logger log(sink, clock, config ? config->log.level : rl::obs::LogLevel::info);
  if (!problems.empty()) {
    log.error("config_invalid", {{"error", problems}});
    return 1;
  }
  rl::rld::Daemon daemon(std::move(startup), std::move(*config), std::move(*tiers), log);
  return daemon.run();
}
