// The rlctl command groups. Each registers its subcommands with CLI11; the one the user picked
// leaves its action in the slot, which main runs with a connected Context. An action returns
// the process exit code.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/rlctl/context.h"

namespace rl::rlctl {

using Action = std::function<int(Context&)>;

struct Slot {
  Action action;
  bool needs_redis = true;  // false: the action checks its arguments first, then connects
  bool writes = false;      // the action changes the data model
};

void add_tier_commands(CLI::App& app, Slot& slot);
void add_user_commands(CLI::App& app, Slot& slot);
void add_key_commands(CLI::App& app, Slot& slot);
void add_health_commands(CLI::App& app, Slot& slot);
void add_block_commands(CLI::App& app, Slot& slot);
void add_usage_command(CLI::App& app, Slot& slot);
void add_io_commands(CLI::App& app, Slot& slot);        // import, export
void add_instance_commands(CLI::App& app, Slot& slot);  // instances, ping

// Shared formatting.
std::string iso_time(core::WallTime t);

// The tier called `name`: not_found when there is none.
core::Result<policy::Tier> find_tier(Context& c, const std::string& name);

}  // namespace rl::rlctl
