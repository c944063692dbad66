// Reply readers, the bounded hiredis reader and command encoding.
#include "redis/reply.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/text.h"

namespace rl::redis {
namespace {

// hiredis would malloc every object of a reply: a script's five integers are seven calls (the
// array, its table of elements, five integers) on every decision. These builders, which
// otherwise do what hiredis' own do, take redisReply objects and small element tables from
// per-thread pools, and free_reply() gives them back: in steady state a reply allocates only
// its strings. Every reader rl uses is made by make_reader(), so every table of at most
// kPooledElements elements came from a pool and may go back to one.
constexpr std::size_t kPooledElements = 8;
#if defined(__SANITIZE_ADDRESS__)
#define RL_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RL_ADDRESS_SANITIZER 1
#endif
#endif
#ifdef RL_ADDRESS_SANITIZER
// Nothing kept under AddressSanitizer: a reply used after it was freed is still caught.
constexpr bool kPooling = false;
#else
constexpr bool kPooling = true;
#endif
constexpr std::size_t kPoolMax = 4096;  // objects kept per pool and thread; more are freed

class Pool {
 public:
  explicit Pool(std::size_t size) : size_(size) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    for (void* p : free_)
      std::free(p);
  }
  void* take() {
    if (free_.empty()) return std::malloc(size_);
    void* p = free_.back();
    free_.pop_back();
    return p;
  }
  void give(void* p) {
    if (!kPooling || free_.size() >= kPoolMax) return std::free(p);
    if (free_.capacity() == 0) free_.reserve(kPoolMax);
    free_.push_back(p);
  }

 private:
  std::size_t size_;
  std::vector<void*> free_;
};

Pool& reply_pool() {
  thread_local Pool pool(sizeof(redisReply));
  return pool;
}

Pool& table_pool() {
  thread_local Pool pool(kPooledElements * sizeof(redisReply*));
  return pool;
}

void free_table(redisReply** table, std::size_t elements) {
  if (table == nullptr) return;
  if (elements <= kPooledElements) return table_pool().give(table);
  std::free(table);
}

// A new reply of `type`, put in its parent array's place.
redisReply* create_reply(const redisReadTask* task, int type) {
  auto* r = static_cast<redisReply*>(reply_pool().take());
  if (r == nullptr) return nullptr;
  *r = redisReply{};
  r->type = type;
  if (task->parent != nullptr) {
    auto* parent = static_cast<redisReply*>(task->parent->obj);
    parent->element[task->idx] = r;
  }
  return r;
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  auto* buffer = static_cast<char*>(std::malloc(len + 1));
  if (buffer == nullptr) return nullptr;
  redisReply* r = create_reply(task, task->type);
  if (r == nullptr) {
    std::free(buffer);
    return nullptr;
  }
  std::memcpy(buffer, str, len);
  buffer[len] = '\0';
  r->str = buffer;
  r->len = len;
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  if (elements < 0 || static_cast<std::size_t>(elements) > kMaxReplyElements) return nullptr;
  const auto n = static_cast<std::size_t>(elements);
  redisReply** table = nullptr;
  if (n > 0) {
    table = static_cast<redisReply**>(n <= kPooledElements ? table_pool().take()
                                                           : std::malloc(n * sizeof *table));
    if (table == nullptr) return nullptr;
    std::memset(table, 0, std::max(n, kPooledElements) * sizeof *table);
  }
  redisReply* r = create_reply(task, REDIS_REPLY_ARRAY);
  if (r == nullptr) {
    free_table(table, n);
    return nullptr;
  }
  r->elements = n;
  r->element = table;
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  redisReply* r = create_reply(task, REDIS_REPLY_INTEGER);
  if (r != nullptr) r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) {
  return create_reply(task, REDIS_REPLY_NIL);
}

void free_object(void* reply) {
  free_reply(static_cast<redisReply*>(reply));
}

}  // namespace

redisReader* make_reader() {
  static redisReplyObjectFunctions builders{create_string, create_array, create_integer, create_nil,
                                            free_object};
  return redisReaderCreateWithFunctions(&builders);
}

void free_reply(redisReply* r) {
  if (r == nullptr) return;
  switch (r->type) {
    case REDIS_REPLY_ARRAY:
      for (std::size_t i = 0; i < r->elements; ++i)
        free_reply(r->element[i]);
      free_table(r->element, r->elements);
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      std::free(r->str);
      break;
    default:
      break;
  }
  reply_pool().give(r);
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
