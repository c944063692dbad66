// A reply parsed by hiredis from RESP text, for tests that need replies without a server.
#pragma once

#include <string>

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include "redis/reply.h"

namespace rl::test {

inline redis::ReplyPtr parse_resp(const std::string& resp) {
  redisReader* reader = redis::make_reader();
  REQUIRE(redisReaderFeed(reader, resp.data(), resp.size()) == REDIS_OK);
  void* reply = nullptr;
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  redisReaderFree(reader);
  REQUIRE(reply != nullptr);
  return redis::ReplyPtr(static_cast<redisReply*>(reply));
}

}  // namespace rl::test
