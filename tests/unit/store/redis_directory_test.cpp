// Tests of store/redis_directory.h against a FakeRedis (tests/unit/redis) holding damaged
// records: a user or tier hash of the wrong type (WRONGTYPE) or with a malformed field is an
// error naming the record and what is wrong with it — for the keys that need that record only,
// never an older cached version, and no failure of Redis for the circuit breaker.
#include "store/redis_directory.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "unit/redis/harness.h"

using namespace rl;
using namespace std::chrono_literals;

namespace {

constexpr const char* kWrongTypeRecord =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

std::string hash(std::initializer_list<std::string_view> fields) {
  std::string out = "*" + std::to_string(fields.size()) + "\r\n";
  for (auto f : fields)
    out += test::bulk(f);
  return out;
}

const std::string kGood(64, 'a');
const std::string kOther(64, 'b');

struct DirectoryFixture {
  DirectoryFixture() {
    records["rl:apikey:" + kGood] = hash({"user", "u1", "key_id", "aaaaaaaaaaaaaaaa"});
    records["rl:apikey:" + kOther] = hash({"user", "u2", "key_id", "bbbbbbbbbbbbbbbb"});
    records["rl:user:u1"] = hash({"tier", "free", "created_at", "1", "disabled", "0"});
    records["rl:user:u2"] = hash({"tier", "pro", "created_at", "1", "disabled", "0"});
    records["rl:tier:free"] = tier("20");
    records["rl:tier:pro"] = tier("150");
    h.fake->set_handler([this](const test::Command& c) -> std::optional<std::string> {
      if (c[0] != "HGETALL") return std::nullopt;
      const auto it = records.find(c[1]);
      return it == records.end() ? "*0\r\n" : it->second;
    });
    h.make_client(h.options());
    directory = std::make_unique<store::RedisDirectory>(
        *h.client, store::KeySpace{}, h.clock, breaker, h.log, store::RedisDirectoryOptions{});
  }

  static std::string tier(std::string_view burst) {
    return hash({"base_limit", "10", "burst_limit", burst, "degraded_limit", "2", "window_seconds",
                 "60", "algorithm", "sliding_window"});
  }

  core::Result<std::optional<store::Identity>> resolve(const std::string& digest) {
    std::optional<core::Result<std::optional<store::Identity>>> out;
    directory->resolve(digest, [&](auto r) { out = std::move(r); });
    REQUIRE(h.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }

  // The error resolving `digest`, which must fail.
  std::string error_of(const std::string& digest) {
    const auto r = resolve(digest);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == core::Errc::internal);
    return r.error().message;
  }

  test::Harness h;
  std::map<std::string, std::string, std::less<>> records;
  breaker::CircuitBreaker breaker{h.clock, {.failure_threshold = 1}};
  std::unique_ptr<store::RedisDirectory> directory;
};

}  // namespace

TEST_CASE("a user hash of the wrong type is an error naming the user, for its keys only") {
  DirectoryFixture f;
  f.records["rl:user:u1"] = kWrongTypeRecord;
  CHECK(f.error_of(kGood) ==
        "malformed user 'u1': Redis replied: WRONGTYPE Operation against a key holding the "
        "wrong kind of value");
  const auto other = f.resolve(kOther);
  REQUIRE(other.ok());
  REQUIRE(other->has_value());
  CHECK((*other)->tier->burst_limit == 150);
  CHECK(f.breaker.state() == breaker::State::closed);
}

TEST_CASE("a tier hash of the wrong type or with a malformed field is an error naming it") {
  DirectoryFixture f;
  f.records["rl:tier:free"] = kWrongTypeRecord;
  CHECK(f.error_of(kGood).starts_with("malformed tier 'free': Redis replied: WRONGTYPE"));
  f.records["rl:tier:free"] = DirectoryFixture::tier("abc");
  CHECK(f.error_of(kGood) == "malformed tier 'free': field burst_limit");
  f.records["rl:tier:free"] = hash({"base_limit", "10"});
  CHECK(f.error_of(kGood) == "malformed tier 'free': field burst_limit");
  REQUIRE(f.resolve(kOther).ok());
}

TEST_CASE("a user with an unknown tier or no tier is an error naming both") {
  DirectoryFixture f;
  f.records["rl:user:u1"] = hash({"tier", "gold", "created_at", "1"});
  CHECK(f.error_of(kGood) == "user 'u1' has tier 'gold', which does not exist");
  DirectoryFixture g;
  g.records["rl:user:u1"] = hash({"created_at", "1"});
  CHECK(g.error_of(kGood) == "malformed user 'u1': field tier");
}

TEST_CASE("an API key hash of the wrong type is named by its key id, never its digest") {
  DirectoryFixture f;
  f.records["rl:apikey:" + kGood] = kWrongTypeRecord;
  const std::string e = f.error_of(kGood);
  CHECK(e.starts_with("malformed API key 'aaaaaaaaaaaaaaaa': Redis replied: WRONGTYPE"));
  CHECK(e.find(kGood) == std::string::npos);
}

TEST_CASE("a record damaged after it was cached is an error once the cache is stale") {
  DirectoryFixture f;
  REQUIRE(f.resolve(kGood).ok());
  f.records["rl:user:u1"] = kWrongTypeRecord;
  CHECK(f.resolve(kGood).ok());  // still fresh in the cache
  f.h.clock.advance(61s);        // past cache_ttl
  CHECK(f.error_of(kGood).starts_with("malformed user 'u1'"));
  f.records["rl:user:u1"] = hash({"tier", "free"});  // repaired
  CHECK(f.resolve(kGood).ok());
}
