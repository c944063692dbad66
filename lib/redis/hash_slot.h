// Redis Cluster hash slots: CRC16 (XMODEM, as the Cluster specification defines it) of a key's
// hash tag, modulo 16384. A key with a non-empty "{...}" hashes only what is inside the first
// such braces, so every key of one user ("rl:c:{alice}:sw:60", "rl:keys:{alice}") lands in one
// slot. Pure functions: no allocation, no I/O.
#pragma once

#include <cstdint>
#include <string_view>

namespace rl::redis {

inline constexpr std::uint16_t kSlotCount = 16384;

std::uint16_t crc16(std::string_view data);

// The part of `key` that is hashed: the first non-empty {tag}, else the whole key.
std::string_view hash_tag(std::string_view key);

inline std::uint16_t key_slot(std::string_view key) {
  return static_cast<std::uint16_t>(crc16(hash_tag(key)) & (kSlotCount - 1));
}

}  // namespace rl::redis
