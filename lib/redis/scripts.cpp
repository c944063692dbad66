// Script lookup and SHA-1 digests (OpenSSL).
#include "redis/scripts.h"

#include <cstdlib>

#include <openssl/evp.h>

namespace rl::redis {
namespace {

std::string sha1_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::array<Script, kScriptCount> load() {
  constexpr std::string_view kNames[kScriptCount] = {"sliding_window", "fixed_window",
                                                     "token_bucket", "invalid_attempt"};
  std::array<Script, kScriptCount> out;
  for (std::size_t i = 0; i < kScriptCount; ++i) {
    bool found = false;
    for (const auto& s : script_sources()) {
      if (s.name == kNames[i]) {
        out[i] = Script{s.name, s.source, sha1_hex(s.source)};
        found = true;
      }
    }
    if (!found) std::abort();  // the build embeds every script
  }
  return out;
}

}  // namespace

const std::array<Script, kScriptCount>& all_scripts() {
  static const std::array<Script, kScriptCount> kScripts = load();
  return kScripts;
}

const Script& script(ScriptId id) {
  return all_scripts()[static_cast<std::size_t>(id)];
}

}  // namespace rl::redis
