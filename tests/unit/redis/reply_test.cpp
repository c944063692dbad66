// Tests of redis/reply.h: the bounded reader (array headers over kMaxReplyElements refused
// before hiredis allocates for them) and the reply readers.
#include "redis/reply.h"

#include <string>

#include <doctest/doctest.h>

using namespace rl;

namespace {

struct Reader {
  Reader() : reader(redis::make_reader()) { REQUIRE(reader != nullptr); }
  ~Reader() { redisReaderFree(reader); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // REDIS_OK or REDIS_ERR; `reply` is set when a whole one was read.
  int read(const std::string& resp, redis::ReplyPtr& reply) {
    REQUIRE(redisReaderFeed(reader, resp.data(), resp.size()) == REDIS_OK);
    void* r = nullptr;
    const int status = redisReaderGetReply(reader, &r);
    reply.reset(static_cast<redisReply*>(r));
    return status;
  }

  redisReader* reader;
};

}  // namespace

// Found by the resp_reply fuzz harness: "*500100000" made hiredis calloc 4 GB for the element
// table of an array whose elements never came.
TEST_CASE("an array header over the element limit is a reader error, not an allocation") {
  Reader r;
  redis::ReplyPtr reply;
  CHECK(r.read("*" + std::to_string(redis::kMaxReplyElements + 1) + "\r\n", reply) == REDIS_ERR);
  CHECK_FALSE(reply);
}

TEST_CASE("arrays within the limit read as hiredis reads them, nested ones and nil ones too") {
  Reader r;
  redis::ReplyPtr reply;
  REQUIRE(r.read("*3\r\n:1\r\n*1\r\n$2\r\nok\r\n*-1\r\n", reply) == REDIS_OK);
  REQUIRE(reply);
  REQUIRE(redis::is_array(*reply));
  CHECK(redis::integer(*redis::element(*reply, 0)) == 1);
  CHECK(redis::text(*redis::element(*redis::element(*reply, 1), 0)) == "ok");
  CHECK(redis::is_nil(*redis::element(*reply, 2)));
  CHECK(redis::element(*reply, 3) == nullptr);
}
