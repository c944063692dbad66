// Redis replies as hiredis parses them (redisReply trees), owned by a unique_ptr, with small
// readers for what rl needs from them. The RESP protocol itself is hiredis' job; the reply
// objects come from make_reader()'s pooled builders and go back with free_reply().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <hiredis/hiredis.h>

namespace rl::redis {

// Frees a reply made by a make_reader() reader (not freeReplyObject(): its objects are pooled).
void free_reply(redisReply* r);

struct ReplyDeleter {
  void operator()(redisReply* r) const { free_reply(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

inline bool is_error(const redisReply& r) {
  return r.type == REDIS_REPLY_ERROR;
}
inline bool is_nil(const redisReply& r) {
  return r.type == REDIS_REPLY_NIL;
}
inline bool is_array(const redisReply& r) {
  return r.type == REDIS_REPLY_ARRAY;
}

// The text of a string, status or error reply (empty for other types).
std::string_view text(const redisReply& r);

// An integer reply, or a string reply holding a whole decimal number.
std::optional<std::int64_t> integer(const redisReply& r);

// Element `i` of an array reply, or nullptr.
const redisReply* element(const redisReply& r, std::size_t i);

// The most elements rl accepts in one array reply. hiredis allocates an array's table of
// elements from the count in its header, before any element arrives: "*500000000" alone
// would reserve 4 GB. 2^24 is far above any reply rl asks for (SMEMBERS of every user too).
inline constexpr std::size_t kMaxReplyElements = std::size_t{1} << 24;

// A hiredis reader like redisReaderCreate()'s, except that its replies' objects come from
// per-thread pools (free them with free_reply(), which a ReplyPtr does) and that an array header
// over kMaxReplyElements is a reader error (hiredis reports it as "Out of memory"). nullptr when
// out of memory; free with redisReaderFree(). Every reply a ReplyPtr owns must come from one.
redisReader* make_reader();

// Appends the RESP encoding of a command to `out`.
void append_command(std::string& out, std::span<const std::string_view> args);

}  // namespace rl::redis
