// Tests of store/memory_store.h on a manual clock: counters per (user, algorithm, window),
// peeks, sweeping, forget_user, invalid attempts and blocks, and the bound on tracked clients.
#include "store/memory_store.h"

#include <optional>
#include <string>

#include <doctest/doctest.h>

using rl::core::ManualClock;
using rl::core::Millis;
using rl::core::Seconds;
using rl::limiter::Algorithm;
using rl::limiter::Decision;
using rl::limiter::Quota;
using rl::store::AttemptOutcome;
using rl::store::AttemptRules;
using rl::store::Block;
using rl::store::CounterKey;
using rl::store::MemoryStore;

namespace {

// An instant aligned to every window used here (60 s and 10 s).
const rl::core::WallTime kStart = rl::core::from_unix_ms(1'700'000'040'000);

// The memory store answers synchronously; these helpers collect the answer.
Decision consume(MemoryStore& s, std::string_view user, std::int64_t limit,
                 Algorithm algorithm = Algorithm::sliding_window, Seconds window = Seconds{60},
                 std::int64_t cost = 1) {
  std::optional<Decision> out;
  s.consume(CounterKey{user, algorithm, window, std::nullopt}, Quota{limit, window}, cost,
            [&](rl::core::Result<Decision> r) {
              REQUIRE(r.ok());
              out = *r;
            });
  REQUIRE(out.has_value());
  return *out;
}

int admitted(MemoryStore& s, std::string_view user, std::int64_t limit, int tries,
             Algorithm algorithm = Algorithm::sliding_window, Seconds window = Seconds{60}) {
  int n = 0;
  for (int i = 0; i < tries; ++i)
    n += consume(s, user, limit, algorithm, window).allowed ? 1 : 0;
  return n;
}

AttemptOutcome attempt(MemoryStore& s, std::string_view client, const AttemptRules& rules) {
  std::optional<AttemptOutcome> out;
  s.record_invalid_attempt(client, rules, [&](rl::core::Result<AttemptOutcome> r) {
    REQUIRE(r.ok());
    out = *r;
  });
  REQUIRE(out.has_value());
  return *out;
}

std::optional<Block> find_block(MemoryStore& s, std::string_view client) {
  std::optional<Block> out;
  bool called = false;
  s.find_block(client, [&](rl::core::Result<std::optional<Block>> r) {
    REQUIRE(r.ok());
    out = *r;
    called = true;
  });
  REQUIRE(called);
  return out;
}

std::vector<Block> list_blocks(MemoryStore& s) {
  std::vector<Block> out;
  s.list_blocks([&](rl::core::Result<std::vector<Block>> r) {
    REQUIRE(r.ok());
    out = *r;
  });
  return out;
}

rl::core::Status status_of(const std::function<void(rl::store::StatusCallback)>& op) {
  std::optional<rl::core::Status> out;
  op([&](rl::core::Status s) { out = s; });
  REQUIRE(out.has_value());
  return *out;
}

const AttemptRules kRules{3, Seconds{60}, Seconds{300}};

}  // namespace

TEST_CASE("a counter admits exactly its limit and then rejects") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 5, 8) == 5);
  const Decision d = consume(s, "alice", 5);
  CHECK_FALSE(d.allowed);
  CHECK(d.remaining == 0);
  CHECK(d.retry_after > Millis{0});
}

TEST_CASE("different users have independent counters") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 3, 5) == 3);
  CHECK(admitted(s, "bob", 3, 5) == 3);
  CHECK(s.counter_count() == 2);
}

TEST_CASE("different algorithms of one user have independent counters") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 3, 5, Algorithm::sliding_window) == 3);
  CHECK(admitted(s, "alice", 3, 5, Algorithm::fixed_window) == 3);
  CHECK(admitted(s, "alice", 3, 5, Algorithm::token_bucket) == 3);
  CHECK(s.counter_count() == 3);
}

TEST_CASE("different windows of one user and algorithm have independent counters") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 3, 5, Algorithm::fixed_window, Seconds{60}) == 3);
  CHECK(admitted(s, "alice", 3, 5, Algorithm::fixed_window, Seconds{10}) == 3);
  CHECK(s.counter_count() == 2);
}

TEST_CASE("the health state's limit changes the quota, not the counter") {
  // NORMAL allows 20, DEGRADED 2, over one counter: after 5 requests DEGRADED denies at once.
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 20, 5) == 5);
  CHECK_FALSE(consume(s, "alice", 2).allowed);
  CHECK(consume(s, "alice", 20).remaining == 14);
}

TEST_CASE("rejected requests consume nothing") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 5, 3) == 3);
  // Cost 3 does not fit in the 2 left: rejected, and the 2 are still there.
  CHECK_FALSE(consume(s, "alice", 5, Algorithm::sliding_window, Seconds{60}, 3).allowed);
  CHECK(admitted(s, "alice", 5, 3) == 2);
}

TEST_CASE("a cost-0 peek answers without consuming") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 5, 2) == 2);
  const Decision peek = consume(s, "alice", 5, Algorithm::sliding_window, Seconds{60}, 0);
  CHECK(peek.allowed);
  CHECK(peek.remaining == 3);
  CHECK(admitted(s, "alice", 5, 5) == 3);
}

TEST_CASE("a cost-0 peek at an unused counter creates nothing") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  const Decision peek = consume(s, "nobody", 5, Algorithm::token_bucket, Seconds{60}, 0);
  CHECK(peek.allowed);
  CHECK(peek.remaining == 5);
  CHECK(s.counter_count() == 0);
}

TEST_CASE("sweep drops expired counters and keeps live ones") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  consume(s, "short", 5, Algorithm::fixed_window, Seconds{10});
  consume(s, "long", 5, Algorithm::fixed_window, Seconds{60});
  REQUIRE(s.counter_count() == 2);
  clock.advance(Seconds{30});
  s.sweep();
  CHECK(s.counter_count() == 1);
  clock.advance(Seconds{150});
  s.sweep();
  CHECK(s.counter_count() == 0);
}

TEST_CASE("a swept counter starts again from a full quota") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(admitted(s, "alice", 2, 3, Algorithm::sliding_window, Seconds{10}) == 2);
  clock.advance(Seconds{25});
  s.sweep();
  CHECK(admitted(s, "alice", 2, 3, Algorithm::sliding_window, Seconds{10}) == 2);
}

TEST_CASE("forget_user drops only that user's counters") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  consume(s, "bob", 5);
  consume(s, "bob", 5, Algorithm::token_bucket);
  consume(s, "bobby", 5);  // "bob" is a prefix of this user's id
  consume(s, "alice", 5);
  REQUIRE(s.counter_count() == 4);
  CHECK(status_of([&](auto done) { s.forget_user("bob", done); }).ok());
  CHECK(s.counter_count() == 2);
  CHECK(consume(s, "bobby", 5).remaining == 3);
  CHECK(consume(s, "bob", 5).remaining == 4);
}

TEST_CASE("exactly max_attempts invalid attempts are answered without a block") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  for (int i = 1; i <= 3; ++i) {
    const AttemptOutcome o = attempt(s, "192.0.2.1", kRules);
    CHECK(o.attempts == i);
    CHECK_FALSE(o.blocked);
  }
  CHECK_FALSE(find_block(s, "192.0.2.1").has_value());
}

TEST_CASE("the attempt after max_attempts blocks the client until now + block_for") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  for (int i = 0; i < 3; ++i)
    attempt(s, "192.0.2.1", kRules);
  clock.advance(Seconds{5});
  const AttemptOutcome o = attempt(s, "192.0.2.1", kRules);
  CHECK(o.blocked);
  CHECK(o.attempts == 4);
  CHECK(o.blocked_until == clock.now() + Seconds{300});
  const auto block = find_block(s, "192.0.2.1");
  REQUIRE(block.has_value());
  CHECK(block->client == "192.0.2.1");
  CHECK(block->until == o.blocked_until);
  CHECK_FALSE(block->reason.empty());
  CHECK_FALSE(find_block(s, "192.0.2.2").has_value());
}

TEST_CASE("a block expires at its end") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  for (int i = 0; i < 4; ++i)
    attempt(s, "192.0.2.1", kRules);
  clock.advance(Seconds{299});
  CHECK(find_block(s, "192.0.2.1").has_value());
  clock.advance(Seconds{1});
  CHECK_FALSE(find_block(s, "192.0.2.1").has_value());
  CHECK(list_blocks(s).empty());
}

TEST_CASE("invalid attempts are forgotten when their window ends") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  for (int i = 0; i < 3; ++i)
    attempt(s, "192.0.2.1", kRules);
  clock.advance(Seconds{60});
  const AttemptOutcome o = attempt(s, "192.0.2.1", kRules);
  CHECK(o.attempts == 1);
  CHECK_FALSE(o.blocked);
}

TEST_CASE("add_block, list_blocks and remove_block manage blocks by hand") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  CHECK(status_of([&](auto done) {
          s.add_block(Block{"203.0.113.9", "abuse", clock.now() + Seconds{60}}, done);
        }).ok());
  CHECK(status_of([&](auto done) {
          s.add_block(Block{"2001:db8::/64", "abuse", clock.now() + Seconds{60}}, done);
        }).ok());
  const auto blocks = list_blocks(s);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0].client == "2001:db8::/64");  // sorted by client
  CHECK(blocks[1].client == "203.0.113.9");
  CHECK(blocks[1].reason == "abuse");
  CHECK(status_of([&](auto done) { s.remove_block("203.0.113.9", done); }).ok());
  CHECK_FALSE(find_block(s, "203.0.113.9").has_value());
  CHECK(list_blocks(s).size() == 1);
}

TEST_CASE("removing a block that does not exist is not_found") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  const auto st = status_of([&](auto done) { s.remove_block("198.51.100.1", done); });
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == rl::core::Errc::not_found);
}

TEST_CASE("removing a block also forgets the client's invalid attempts") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 1000);
  for (int i = 0; i < 4; ++i)
    attempt(s, "192.0.2.1", kRules);
  REQUIRE(status_of([&](auto done) { s.remove_block("192.0.2.1", done); }).ok());
  CHECK(attempt(s, "192.0.2.1", kRules).attempts == 1);
}

TEST_CASE("a full attempt table evicts an entry so a new client is still counted and blocked") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 2);
  const AttemptRules one{1, Seconds{60}, Seconds{300}};
  attempt(s, "10.0.0.1", one);
  attempt(s, "10.0.0.2", one);
  CHECK(s.evicted_clients() == 0);
  // A third client pushes one of the others out, and is itself counted: it gets blocked.
  CHECK(attempt(s, "10.0.0.3", one).attempts == 1);
  CHECK(attempt(s, "10.0.0.3", one).blocked);
  CHECK(s.evicted_clients() == 1);
}

TEST_CASE("the block table never holds more than max_tracked_clients") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 2);
  const auto until = clock.now() + Seconds{60};
  REQUIRE(status_of([&](auto done) { s.add_block(Block{"10.0.0.1", "x", until}, done); }).ok());
  REQUIRE(status_of([&](auto done) { s.add_block(Block{"10.0.0.2", "x", until}, done); }).ok());
  REQUIRE(status_of([&](auto done) { s.add_block(Block{"10.0.0.3", "x", until}, done); }).ok());
  CHECK(list_blocks(s).size() == 2);
  CHECK(find_block(s, "10.0.0.3").has_value());  // the newest block holds
  CHECK(s.evicted_clients() == 1);
  // Replacing an existing block evicts nothing.
  CHECK(status_of([&](auto done) {
          s.add_block(Block{"10.0.0.3", "y", until + Seconds{1}}, done);
        }).ok());
  CHECK(s.evicted_clients() == 1);
}

TEST_CASE("a full table is swept at most once a second") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 2);
  attempt(s, "10.0.0.1", kRules);
  attempt(s, "10.0.0.2", kRules);
  attempt(s, "10.0.0.3", kRules);  // sweeps (nothing expired) and evicts
  CHECK(s.evicted_clients() == 1);
  clock.advance(Seconds{61});      // everything has expired by now
  attempt(s, "10.0.0.4", kRules);  // more than a second later: the sweep makes room
  CHECK(s.evicted_clients() == 1);
}

TEST_CASE("expired entries are swept to make room for new clients") {
  ManualClock clock(kStart);
  MemoryStore s(clock, 2);
  attempt(s, "10.0.0.1", kRules);
  attempt(s, "10.0.0.2", kRules);
  clock.advance(Seconds{61});
  CHECK(attempt(s, "10.0.0.3", kRules).attempts == 1);
  CHECK(attempt(s, "10.0.0.3", kRules).attempts == 2);
  CHECK(s.evicted_clients() == 0);
}
