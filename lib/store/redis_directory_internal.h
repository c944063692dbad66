// Helpers shared by the two halves of RedisDirectory (reads and writes). Internal.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "redis/client.h"
#include "store/string_map.h"

namespace rl::store::detail {

using redis::Client;
using Results = std::vector<core::Result<redis::ReplyPtr>>;

using redis::Client;
using Results = std::vector<core::Result<redis::ReplyPtr>>;

inline core::Error unavailable(std::string_view why) {
  return core::make_error(core::Errc::unavailable, std::string(why));
}

// The first failed result of a batch, as an Error; nullopt when every command got a reply
// that is not an error reply.
inline std::optional<core::Error> first_failure(const Results& results) {
  for (const auto& r : results) {
    if (!r) return r.error();
    if (redis::is_error(**r)) {
      return core::make_error(core::Errc::internal, std::string(redis::text(**r)));
    }
  }
  return std::nullopt;
}

template <class Map, class V>
void put(Map& map, std::size_t cap, std::string_view key, V value) {
  auto it = map.find(key);
  if (it != map.end()) {
    it->second = std::move(value);
    return;
  }
  if (map.size() >= cap) map.erase(map.begin());
  map.emplace(std::string(key), std::move(value));
}

template <class Map>
void forget(Map& map, std::string_view key) {
  if (auto it = map.find(key); it != map.end()) map.erase(it);
}

inline std::vector<std::string> members(const redisReply& r) {
  std::vector<std::string> out;
  if (!redis::is_array(r)) return out;
  for (std::size_t i = 0; i < r.elements; ++i)
    out.emplace_back(redis::text(*r.element[i]));
  std::sort(out.begin(), out.end());
  return out;
}

inline Client::Command hset(std::string key, std::vector<std::string> fields) {
  Client::Command c{"HSET", std::move(key)};
  c.insert(c.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
  return c;
}

}  // namespace rl::store::detail
