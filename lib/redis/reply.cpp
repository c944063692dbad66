// Reply readers and command encoding.
#include "redis/reply.h"

#include <cstdlib>
#include <vector>

#include "core/text.h"

namespace rl::redis {

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

void append_command(std::string& out, std::span<const std::string_view> args) {
  constexpr std::size_t kInline = 16;
  const char* argv_inline[kInline];
  std::size_t lens_inline[kInline];
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> lens_heap;
  const char** argv = argv_inline;
  std::size_t* lens = lens_inline;
  if (args.size() > kInline) {
    argv_heap.resize(args.size());
    lens_heap.resize(args.size());
    argv = argv_heap.data();
    lens = lens_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  char* command = nullptr;
  const int len = redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv, lens);
  if (len < 0 || command == nullptr) std::abort();  // out of memory: nothing sane to do
  out.append(command, static_cast<std::size_t>(len));
  redisFreeCommand(command);
}

}  // namespace rl::redis
