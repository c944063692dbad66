// The tier file: tiers, users and API keys in the reference's JSON schema
// (config/rate_limits.json), with rl's additions: `window_seconds`, `algorithm`, `shadow`, users
// as {"tier", "disabled"} objects, and keys given as "sha256:<hex>" digests (what export writes).
// Clear-text keys are hashed here, as soon as they are read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "policy/tier.h"

namespace rl::config {

struct TierFileUser {
  std::string id;
  std::string tier;
  bool disabled = false;
};

struct TierFileKey {
  std::string digest;  // 64 lower-case hex digits
  std::string user;
};

struct TierFile {
  std::string source;
  std::vector<policy::Tier> tiers;
  std::vector<TierFileUser> users;
  std::vector<TierFileKey> keys;
};

core::Result<TierFile> load_tier_file(const std::string& path);
// `source` names the text in error messages ("-" for standard input, say).
core::Result<TierFile> parse_tier_file(std::string_view json, const std::string& source);

}  // namespace rl::config
