// The rate-limit algorithms a tier can use (DESIGN.md §6) and their names in config and Redis.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rl::limiter {

enum class Algorithm : std::uint8_t {
  sliding_window,  // weighted current + previous window counters (the default)
  fixed_window,    // one counter per epoch-aligned window
  token_bucket,    // capacity = limit, refilled continuously at limit per window (GCRA-equivalent)
};

std::string_view to_string(Algorithm algorithm);
std::optional<Algorithm> parse_algorithm(std::string_view name);

}  // namespace rl::limiter
