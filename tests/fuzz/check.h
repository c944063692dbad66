// What a fuzz harness does when an invariant does not hold: say which, with the evidence, and
// abort — libFuzzer then saves the input as a crash, and the replay driver fails its test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace rl::fuzz {

[[noreturn]] inline void violated(const char* invariant, std::string_view evidence = {}) {
  std::fprintf(stderr, "fuzz: invariant violated: %s\n", invariant);
  if (!evidence.empty()) {
    std::fprintf(stderr, "fuzz: evidence (%zu bytes): %.*s\n", evidence.size(),
                 static_cast<int>(evidence.size() > 2000 ? 2000 : evidence.size()),
                 evidence.data());
  }
  std::abort();
}

inline void require(bool ok, const char* invariant, std::string_view evidence = {}) {
  if (!ok) violated(invariant, evidence);
}

}  // namespace rl::fuzz
