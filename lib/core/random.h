// Fast non-cryptographic randomness for request ids and jitter (never for secrets: API keys use
// OpenSSL's RAND_bytes). One generator per thread, seeded from std::random_device.
#pragma once

#include <cstdint>

namespace rl::core {

// splitmix64: 64 random-looking bits per call, no allocation, no locking.
std::uint64_t fast_random();

}  // namespace rl::core
