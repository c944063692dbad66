// Tests of store/redis_directory.h on scripted Redis replies (support/scripted_commands.h, no
// server): replies that break what Redis promises are refused, never trusted.
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "store/redis_directory.h"
#include "support/scripted_commands.h"

using namespace rl;

namespace {

class NullSink final : public obs::LogSink {
 public:
  void write(std::string_view) override {}
};

struct ScriptedDirectory {
  explicit ScriptedDirectory(std::string_view replies)
      : clock(core::from_unix_ms(1'700'000'040'000)),
        log(sink, clock),
        redis(replies),
        breaker(clock, breaker::Options{}),
        directory(redis, store::KeySpace{}, clock, breaker, log, store::RedisDirectoryOptions{}) {}

  core::ManualClock clock;
  NullSink sink;
  obs::Logger log;
  test::ScriptedCommands redis;
  breaker::CircuitBreaker breaker;
  store::RedisDirectory directory;
};

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

}  // namespace

// Found by the resp_reply fuzz harness: the id was cut out of the key with substr, which threw
// std::out_of_range from a Redis callback for a key shorter than "rl:inst:".
TEST_CASE("an instance key SCAN returns outside its pattern is skipped") {
  const std::string hash = "*2\r\n" + bulk("version") + bulk("1.0");
  ScriptedDirectory f("*2\r\n" + bulk("0") + "*2\r\n" + bulk("rl:inst:a") + bulk("x") + hash +
                      hash);
  std::optional<std::vector<store::RedisDirectory::Instance>> instances;
  f.directory.list_instances([&](core::Result<std::vector<store::RedisDirectory::Instance>> r) {
    REQUIRE(r.ok());
    instances = *r;
  });
  f.redis.drain();
  REQUIRE(instances.has_value());
  REQUIRE(instances->size() == 1);
  CHECK(instances->front().first == "a");
}

TEST_CASE("revoking a key when SCAN returns only keys of other names finds no key") {
  ScriptedDirectory f("*2\r\n" + bulk("0") + "*2\r\n" + bulk("rl:") + bulk("rl:apikey:ffff"));
  std::optional<core::Error> error;
  f.directory.revoke_key("0123456789abcdef", [&](core::Result<store::KeyRecord> r) {
    REQUIRE_FALSE(r.ok());
    error = r.error();
  });
  f.redis.drain();
  REQUIRE(error.has_value());
  CHECK(error->code == core::Errc::not_found);
  CHECK(f.redis.asked() == 1);  // the SCAN, and nothing read or deleted after it
}
