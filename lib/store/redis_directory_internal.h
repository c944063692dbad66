// Helpers shared by the two halves of RedisDirectory (reads and writes). Internal.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "redis/commands.h"
#include "store/key_space.h"
#include "store/redis_codec.h"
#include "store/redis_errors.h"

namespace rl::store::detail {

using Client = redis::Commands;
using Results = std::vector<core::Result<redis::ReplyPtr>>;

inline core::Error unavailable(std::string_view why) {
  return core::make_error(core::Errc::unavailable, std::string(why));
}

// The first failed result of a batch, as an Error (redis_errors.h); nullopt when every command
// got a reply that is not an error reply.
inline std::optional<core::Error> first_failure(const Results& results) {
  for (const auto& r : results) {
    if (auto e = reply_error(r)) return e;
  }
  return std::nullopt;
}

// Reads the hashes `keys` in one batch and decodes each with decode(i, fields) → Result<T>.
// A hash that does not exist is skipped: listed but gone, a writer is half way.
template <class T, class Decode>
void read_all(Client& client, std::vector<std::string> keys, Decode decode,
              std::function<void(core::Result<std::vector<T>>)> done) {
  std::vector<Client::Command> commands;
  commands.reserve(keys.size());
  for (auto& k : keys)
    commands.push_back({"HGETALL", std::move(k)});
  client.batch(std::move(commands),
               [decode = std::move(decode), done = std::move(done)](Results results) {
                 if (auto e = first_failure(results)) return done(*e);
                 std::vector<T> out;
                 for (std::size_t i = 0; i < results.size(); ++i) {
                   auto fields = fields_of(**results[i]);
                   if (!fields) return done(fields.error());
                   if (fields->empty()) continue;
                   auto record = decode(i, *fields);
                   if (!record) return done(record.error());
                   out.push_back(std::move(*record));
                 }
                 done(std::move(out));
               });
}

inline std::vector<std::string> members(const redisReply& r) {
  std::vector<std::string> out;
  if (!redis::is_array(r)) return out;
  for (std::size_t i = 0; i < r.elements; ++i)
    out.emplace_back(redis::text(*r.element[i]));
  std::sort(out.begin(), out.end());
  return out;
}

// `key` without `head`, or nullopt when it does not start with it: SCAN's MATCH is Redis'
// promise, and a reply that breaks it must not break us.
inline std::optional<std::string_view> without_prefix(std::string_view key, std::string_view head) {
  if (!key.starts_with(head)) return std::nullopt;
  return key.substr(head.size());
}

// The digest of the first of `found` (SCAN's answer for keys with id `key_id`) that is one.
// Empty when none is.
inline std::string digest_with_id(const std::vector<std::string>& found, const KeySpace& keys,
                                  std::string_view key_id) {
  const std::string head = keys.api_key(key_id);
  for (const auto& key : found) {
    if (const auto rest = without_prefix(key, head))
      return std::string(key_id) + std::string(*rest);
  }
  return {};
}

inline Client::Command hset(std::string key, std::vector<std::string> fields) {
  Client::Command c{"HSET", std::move(key)};
  c.insert(c.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
  return c;
}

}  // namespace rl::store::detail
