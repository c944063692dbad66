// Fuzz harness of the tier file loader (config/rate_limits.json's schema): the bytes are a
// tier file. One the loader accepts must load into the memory directory, resolve each of its
// keys to its user and tier, and survive both other encodings of a tier unchanged: the Redis
// hash (store/redis_codec.h) and the admin API's JSON (service/wire.h). One it refuses must say
// why without quoting a clear-text API key.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/tier_file.h"
#include "fuzz/check.h"
#include "security/api_key.h"
#include "service/settings.h"
#include "service/wire.h"
#include "store/memory_directory.h"
#include "store/redis_codec.h"

namespace {

using namespace rl;

// Every string of the document, keys included, but for the API keys themselves.
void other_strings(const nlohmann::ordered_json& value, bool api_keys,
                   std::vector<std::string>& out) {
  if (value.is_string()) out.push_back(value.get<std::string>());
  if (value.is_array()) {
    for (const auto& v : value)
      other_strings(v, false, out);
  }
  if (!value.is_object()) return;
  for (const auto& [key, v] : value.items()) {
    if (!api_keys) out.push_back(key);
    other_strings(v, false, out);
  }
}

// A clear-text key that looks like one (16 or more characters of [A-Za-z0-9_.-], 3 digits at
// least) is never in the error message — unless the file has it elsewhere too, in a user id
// say, where the message may quote it.
void check_no_key_quoted(std::string_view text, const std::string& message) {
  const auto root = nlohmann::ordered_json::parse(text.begin(), text.end(), nullptr, false, true);
  if (root.is_discarded() || !root.is_object() || !root.contains("api_keys")) return;
  const auto& keys = root.at("api_keys");
  if (!keys.is_object()) return;
  std::vector<std::string> others;
  for (const auto& [name, value] : root.items()) {
    others.push_back(name);
    other_strings(value, name == "api_keys", others);
  }
  for (const auto& entry : keys.items()) {
    const std::string& key = entry.key();
    const auto looks_like_a_key =
        key.size() >= 16 &&
        key.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            "0123456789_.-") == std::string::npos &&
        std::count_if(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; }) >= 3;
    const auto elsewhere = std::any_of(others.begin(), others.end(), [&](const std::string& s) {
      return s.find(key) != std::string::npos;
    });
    if (!looks_like_a_key || elsewhere) continue;
    fuzz::require(message.find(key) == std::string::npos,
                  "a tier file error never quotes an API key", message);
  }
}

void check_round_trips(const policy::Tier& tier) {
  const auto tier_json = service::dump(service::to_json(tier));
  const auto fields = store::tier_fields(tier);
  store::Fields pairs;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2)
    pairs.emplace_back(fields[i], fields[i + 1]);
  const auto from_redis = store::tier_from_fields(tier.name, pairs);
  fuzz::require(from_redis.ok(), "a tier reads back from its Redis hash", tier_json);
  fuzz::require(service::dump(service::to_json(*from_redis)) == tier_json,
                "a tier reads back the same from its Redis hash", tier_json);
  const auto from_api = service::tier_from_json(tier.name, service::to_json(tier));
  fuzz::require(from_api.ok(), "a tier reads back from the admin API's JSON", tier_json);
  fuzz::require(service::dump(service::to_json(*from_api)) == tier_json,
                "a tier reads back the same from the admin API's JSON", tier_json);
  for (const auto state : {policy::HealthState::normal, policy::HealthState::degraded}) {
    const auto q = policy::quota_for(tier, state);
    fuzz::require(q.limit >= 0 && q.window.count() >= 1, "a tier's quota is usable", tier_json);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto file = config::parse_tier_file(text, "fuzz.json");
  if (!file) {
    fuzz::require(!file.error().message.empty(), "a refused tier file says why", text);
    check_no_key_quoted(text, file.error().message);
    return 0;
  }
  for (const auto& tier : file->tiers)
    check_round_trips(tier);

  core::ManualClock clock;
  store::MemoryDirectory directory(clock);
  const auto loaded = directory.load(*file);
  fuzz::require(loaded.ok(), "an accepted tier file loads into an empty directory",
                loaded.ok() ? "" : loaded.error().message);
  for (const auto& key : file->keys) {
    bool answered = false;
    directory.resolve(key.digest, [&](core::Result<std::optional<store::Identity>> r) {
      answered = true;
      fuzz::require(r.ok() && r->has_value() && (*r)->user && (*r)->tier,
                    "every key of an accepted file resolves to a user and a tier", key.user);
      fuzz::require((*r)->user->id == key.user, "a key resolves to its own user", key.user);
    });
    fuzz::require(answered, "the memory directory answers at once");
  }
  const auto settings = service::ServiceSettings::from(config::DaemonConfig{}, file->tiers);
  fuzz::require(settings->tier_names.size() == file->tiers.size(), "every tier is named");
  return 0;
}
