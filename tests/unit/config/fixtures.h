// The config tests' fixture files (tests/unit/config/fixtures/), named relative to this path.
#pragma once

#include <string>

namespace rl::test {

inline const std::string kConfigFixtures = RL_TEST_DATA_DIR "/unit/config/fixtures/";

}  // namespace rl::test
