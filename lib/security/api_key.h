// API keys: where a request carries one, the format check done before any store lookup,
// generation of new keys, and their SHA-256 digest — the only form in which a key is stored.
// Generated keys look like `rl_<32 base62><6 base62 checksum>` (GitHub-style), so a typo or
// garbage is refused without touching the store. Keys imported from a tier file keep their form.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace rl::security {

inline constexpr std::string_view kGeneratedKeyPrefix = "rl_";
inline constexpr std::size_t kMinKeyLength = 8;
inline constexpr std::size_t kMaxKeyLength = 256;

// The key from `X-API-Key`, else from `Authorization: Bearer <key>`; empty when neither.
std::string_view extract_api_key(std::string_view x_api_key, std::string_view authorization);

// 8–256 characters of [A-Za-z0-9_.-]; a key with the generated prefix must also carry a
// valid checksum.
bool is_well_formed_api_key(std::string_view key);

// A new random key (OpenSSL RAND_bytes) in the generated format.
std::string generate_api_key();

// Lower-case hex SHA-256; fixed size so hashing on the hot path allocates nothing.
struct KeyDigest {
  std::array<char, 64> hex{};
  std::string_view view() const { return {hex.data(), hex.size()}; }
  // Public identifier of a key: the first 16 hex digits of its digest.
  std::string_view key_id() const { return {hex.data(), 16}; }
};

KeyDigest digest_api_key(std::string_view key);

// True when `hex` is 64 lower-case hex digits (a digest as stored or exported).
bool is_key_digest(std::string_view hex);

// Compares two secrets in time independent of where they differ (and of their lengths).
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace rl::security
