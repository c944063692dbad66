// Reply readers, the bounded hiredis reader and command encoding.
#include "redis/reply.h"

#include <cstdlib>

#include "core/text.h"

namespace rl::redis {
namespace {

// hiredis' own reply builders: not exported, so read from a reader that uses them.
const redisReplyObjectFunctions& hiredis_builders() {
  static const redisReplyObjectFunctions builders = [] {
    redisReader* probe = redisReaderCreate();
    if (probe == nullptr) std::abort();  // out of memory before the first connection
    const redisReplyObjectFunctions copy = *probe->fn;
    redisReaderFree(probe);
    return copy;
  }();
  return builders;
}

void* create_bounded_array(const redisReadTask* task, int elements) {
  if (elements < 0 || static_cast<std::size_t>(elements) > kMaxReplyElements) return nullptr;
  return hiredis_builders().createArray(task, elements);
}

}  // namespace

redisReader* make_reader() {
  static redisReplyObjectFunctions builders = [] {
    redisReplyObjectFunctions b = hiredis_builders();
    b.createArray = create_bounded_array;
    return b;
  }();
  return redisReaderCreateWithFunctions(&builders);
}

std::string_view text(const redisReply& r) {
  if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR) {
    return {r.str, r.len};
  }
  return {};
}

std::optional<std::int64_t> integer(const redisReply& r) {
  if (r.type == REDIS_REPLY_INTEGER) return static_cast<std::int64_t>(r.integer);
  if (r.type == REDIS_REPLY_STRING) return core::parse_int64(text(r));
  return std::nullopt;
}

const redisReply* element(const redisReply& r, std::size_t i) {
  if (r.type != REDIS_REPLY_ARRAY || i >= r.elements) return nullptr;
  return r.element[i];
}

// RESP is a length-prefixed format simple enough to write straight into the output buffer:
// hiredis' redisFormatCommandArgv would cost a malloc, a free and an sprintf per argument on
// every decision (the unit tests keep it as the reference encoder).
void append_command(std::string& out, std::span<const std::string_view> args) {
  std::size_t size = 16;
  for (const auto a : args)
    size += a.size() + 24;
  out.reserve(out.size() + size);
  out.push_back('*');
  core::append_int(out, static_cast<std::int64_t>(args.size()));
  out.append("\r\n");
  for (const auto a : args) {
    out.push_back('$');
    core::append_int(out, static_cast<std::int64_t>(a.size()));
    out.append("\r\n");
    out.append(a);
    out.append("\r\n");
  }
}

}  // namespace rl::redis
