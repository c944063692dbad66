// Names of the algorithms, as written in config files, the admin API and Redis keys.
#include "limiter/algorithm.h"

namespace rl::limiter {

std::string_view to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::sliding_window:
      return "sliding_window";
    case Algorithm::fixed_window:
      return "fixed_window";
    case Algorithm::token_bucket:
      return "token_bucket";
  }
  return "sliding_window";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  for (Algorithm a :
       {Algorithm::sliding_window, Algorithm::fixed_window, Algorithm::token_bucket}) {
    if (name == to_string(a)) return a;
  }
  return std::nullopt;
}

}  // namespace rl::limiter
