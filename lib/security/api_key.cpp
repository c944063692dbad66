// API-key format, generation, digest and constant-time comparison on OpenSSL libcrypto.
// Digests allocate nothing (see sha256()).
#include "security/api_key.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/text.h"

namespace rl::security {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kRandomChars = 32;
constexpr std::size_t kChecksumChars = 6;

// SHA-256 of `data` into `out`, allocating nothing: it runs on every request with a key.
// OpenSSL 3.0's EVP digests allocate a provider context at every init, even on a reused
// EVP_MD_CTX with a fetched EVP_MD (2 allocations per call with EVP_sha256(), measured with
// CRYPTO_set_mem_functions; openssl/openssl#19612), so the low-level SHA256_* functions, which
// 3.0 deprecates but keeps, are used while the library has them. Aborts only if libcrypto
// itself is broken.
#if defined(OPENSSL_NO_DEPRECATED_3_0)
void sha256(std::string_view data, unsigned char (&out)[32]) {
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    std::abort();
  }
}
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void sha256(std::string_view data, unsigned char (&out)[32]) {
  SHA256_CTX ctx;
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA256_Final(out, &ctx) != 1) {
    std::abort();
  }
}
#pragma GCC diagnostic pop
#endif

void checksum(std::string_view body, char (&out)[kChecksumChars]) {
  unsigned char digest[32];
  sha256(body, digest);
  std::uint32_t value = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                        (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
  for (std::size_t i = kChecksumChars; i-- > 0;) {
    out[i] = kBase62[value % 62];
    value /= 62;
  }
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

}  // namespace

std::string_view extract_api_key(std::string_view x_api_key, std::string_view authorization) {
  x_api_key = core::trim(x_api_key);
  if (!x_api_key.empty()) return x_api_key;
  authorization = core::trim(authorization);
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() > kBearer.size() &&
      core::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return core::trim(authorization.substr(kBearer.size()));
  }
  return {};
}

bool is_well_formed_api_key(std::string_view key) {
  if (key.size() < kMinKeyLength || key.size() > kMaxKeyLength) return false;
  if (!std::all_of(key.begin(), key.end(), is_key_char)) return false;
  if (!key.starts_with(kGeneratedKeyPrefix)) return true;
  if (key.size() != kGeneratedKeyPrefix.size() + kRandomChars + kChecksumChars) return false;
  char expected[kChecksumChars];
  checksum(key.substr(0, key.size() - kChecksumChars), expected);
  return std::memcmp(expected, key.data() + key.size() - kChecksumChars, kChecksumChars) == 0;
}

std::string generate_api_key() {
  std::string key(kGeneratedKeyPrefix);
  while (key.size() < kGeneratedKeyPrefix.size() + kRandomChars) {
    unsigned char random[64];
    if (RAND_bytes(random, sizeof random) != 1) std::abort();  // no entropy: nothing safe to do
    for (unsigned char byte : random) {
      // Rejection sampling keeps every character equally likely: 248 = 4 × 62.
      if (byte < 248 && key.size() < kGeneratedKeyPrefix.size() + kRandomChars) {
        key.push_back(kBase62[byte % 62]);
      }
    }
  }
  char sum[kChecksumChars];
  checksum(key, sum);
  key.append(sum, kChecksumChars);
  return key;
}

KeyDigest digest_api_key(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char digest[32];
  sha256(key, digest);
  KeyDigest out;
  for (std::size_t i = 0; i < 32; ++i) {
    out.hex[2 * i] = kHex[digest[i] >> 4];
    out.hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

bool is_key_digest(std::string_view hex) {
  return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char da[32], db[32];
  sha256(a, da);
  sha256(b, db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

}  // namespace rl::security
