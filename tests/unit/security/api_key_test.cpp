// Tests of security/api_key.h: where a request's key is read from, the format and checksum
// check, key generation, the SHA-256 digest and key id, and constant-time comparison.
#include "security/api_key.h"

#include <set>
#include <string>

#include <doctest/doctest.h>

namespace {

using rl::security::extract_api_key;
using rl::security::is_well_formed_api_key;

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Keys in the generated format, checksums computed independently of this code base (base62 of
// the first four bytes of SHA-256 over prefix and body); keys issued once must stay valid.
constexpr std::string_view kIssuedKeys[] = {
    "rl_0123456789ABCDEFGHIJKLMNOPQRSTUV1Dludc",
    "rl_abcdefghijklmnopqrstuvwxyzABCDEF1IDwaO",
};

}  // namespace

TEST_CASE("extract_api_key prefers X-API-Key over Authorization") {
  CHECK(extract_api_key("key-from-header", "Bearer key-from-bearer") == "key-from-header");
}

TEST_CASE("extract_api_key falls back to an Authorization Bearer token") {
  CHECK(extract_api_key("", "Bearer abc12345") == "abc12345");
  CHECK(extract_api_key("   ", "Bearer abc12345") == "abc12345");
}

TEST_CASE("extract_api_key reads the Bearer scheme in any letter case") {
  CHECK(extract_api_key("", "bearer abc12345") == "abc12345");
  CHECK(extract_api_key("", "BEARER abc12345") == "abc12345");
  CHECK(extract_api_key("", "bEaReR abc12345") == "abc12345");
}

TEST_CASE("extract_api_key trims spaces around the key") {
  CHECK(extract_api_key("  \tabc12345 \r\n", "") == "abc12345");
  CHECK(extract_api_key("", "  Bearer    abc12345  ") == "abc12345");
}

TEST_CASE("extract_api_key finds nothing without a key or with another scheme") {
  CHECK(extract_api_key("", "").empty());
  CHECK(extract_api_key("", "Basic dXNlcjpwYXNz").empty());
  CHECK(extract_api_key("", "Bearer").empty());
  CHECK(extract_api_key("", "Bearer    ").empty());
  CHECK(extract_api_key("", "Bearerabc12345").empty());
  CHECK(extract_api_key("", "Token abc12345").empty());
}

TEST_CASE("a well-formed key has 8 to 256 characters") {
  CHECK(is_well_formed_api_key("abcdefgh"));
  CHECK_FALSE(is_well_formed_api_key("abcdefg"));
  CHECK_FALSE(is_well_formed_api_key(""));
  CHECK(is_well_formed_api_key(std::string(256, 'k')));
  CHECK_FALSE(is_well_formed_api_key(std::string(257, 'k')));
}

TEST_CASE("a well-formed key uses only letters, digits, '_', '-' and '.'") {
  CHECK(is_well_formed_api_key("demo_free_key_123"));
  CHECK(is_well_formed_api_key("Key.With-Every_char09"));
  CHECK_FALSE(is_well_formed_api_key("has a space"));
  CHECK_FALSE(is_well_formed_api_key("abcdefg!"));
  CHECK_FALSE(is_well_formed_api_key("abcd/efgh"));
  CHECK_FALSE(is_well_formed_api_key("abcd:efgh"));
  CHECK_FALSE(is_well_formed_api_key("abcdefgh\n"));
  CHECK_FALSE(
      is_well_formed_api_key("abcd\xC3\xA9"
                             "fgh"));
  CHECK_FALSE(is_well_formed_api_key(std::string_view("abcd\0efgh", 9)));
}

TEST_CASE("a key with the generated prefix needs the generated length and checksum") {
  for (std::string_view key : kIssuedKeys) {
    CHECK(is_well_formed_api_key(key));
  }
  CHECK_FALSE(is_well_formed_api_key("rl_custom_key_1"));
  CHECK_FALSE(is_well_formed_api_key(std::string(kIssuedKeys[0]) + "x"));
  CHECK_FALSE(is_well_formed_api_key(kIssuedKeys[0].substr(0, 40)));
}

TEST_CASE("a one-character typo in a generated key is refused") {
  // Every position after the prefix (a typo inside "rl_" turns it into an imported-style key,
  // which only the store can refuse), every other base62 character.
  for (std::string_view issued : kIssuedKeys) {
    for (std::size_t i = 3; i < issued.size(); ++i) {
      for (char c : kBase62) {
        std::string typo(issued);
        if (typo[i] == c) continue;
        typo[i] = c;
        CAPTURE(typo);
        CHECK_FALSE(is_well_formed_api_key(typo));
      }
    }
  }
}

TEST_CASE("a generated key is rl_ followed by 38 base62 characters") {
  const std::string key = rl::security::generate_api_key();
  CHECK(key.size() == 41);
  CHECK(key.starts_with("rl_"));
  CHECK(key.find_first_not_of(kBase62, 3) == std::string::npos);
}

TEST_CASE("generated keys are always well formed and never repeat") {
  std::set<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = rl::security::generate_api_key();
    CHECK(is_well_formed_api_key(key));
    keys.insert(key);
  }
  CHECK(keys.size() == 1000);
}

TEST_CASE("digest_api_key is lower-case hex SHA-256") {
  CHECK(rl::security::digest_api_key("abc").view() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(rl::security::digest_api_key("").view() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(rl::security::digest_api_key("demo_free_key_123").view() ==
        "fe279956530efc4009f3deaef3a35b040f26c4a56ee7a65285c99463c182afa3");
}

TEST_CASE("a key id is the first 16 hex digits of the digest") {
  CHECK(rl::security::digest_api_key("abc").key_id() == "ba7816bf8f01cfea");
}

TEST_CASE("is_key_digest accepts exactly 64 lower-case hex digits") {
  using rl::security::is_key_digest;
  CHECK(is_key_digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK(is_key_digest(rl::security::digest_api_key("x").view()));
  CHECK_FALSE(is_key_digest("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  CHECK_FALSE(is_key_digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
  CHECK_FALSE(is_key_digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
  CHECK_FALSE(is_key_digest("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK_FALSE(is_key_digest(""));
}

TEST_CASE("constant_time_equals is plain equality on secrets of any length") {
  using rl::security::constant_time_equals;
  CHECK(constant_time_equals("admin-secret", "admin-secret"));
  CHECK(constant_time_equals("", ""));
  CHECK_FALSE(constant_time_equals("admin-secret", "admin-secreT"));
  CHECK_FALSE(constant_time_equals("admin-secret", "admin-secret "));
  CHECK_FALSE(constant_time_equals("admin", "admin-secret"));
  CHECK_FALSE(constant_time_equals("", "a"));
  CHECK_FALSE(constant_time_equals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}
