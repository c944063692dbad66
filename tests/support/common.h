// What several unit test files share: fixed instants (unit tests never read the real clock) and
// a substring check for messages. Defined once here because the test executables are built as
// unity batches, where each file's own copy would collide with its neighbour's.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/clock.h"

namespace rl::test {

// The start of a window: a multiple of 60 s, in Unix milliseconds.
inline constexpr std::int64_t kWindowStart = 1'699'999'980'000;

// "Now" for the caches and response writers: one minute after kWindowStart.
inline const core::WallTime kNow = core::from_unix_ms(kWindowStart + 60'000);

// True when `part` occurs in `text`.
inline bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace rl::test
