// How the store reads the outcome of a Redis call. No reply at all (not connected, deadline
// passed), or an error reply saying the server cannot serve now (LOADING, BUSY, READONLY...),
// is the endpoint failing: the circuit breaker counts it and the caller sees `unavailable`.
// Any other error reply (WRONGTYPE on a damaged key, a script error) proves Redis reachable:
// no failure for the breaker, and the caller sees `internal` with Redis' own text.
// A command this process refused itself (too many in flight) says nothing of Redis.
#pragma once

#include <optional>
#include <string_view>

#include "breaker/circuit_breaker.h"
#include "core/result.h"
#include "redis/reply.h"

namespace rl::store {

using RedisResult = core::Result<redis::ReplyPtr>;

// Whether the outcome means the endpoint itself is failing (see above).
bool endpoint_failure(const RedisResult& r);

// What a call's success says of Redis. A script call (a decision, an attempt, rld's probe) may
// write: its success proves that Redis serves decisions, and closes the breaker. A read only
// proves that Redis answers — one that refuses writes (OOM, READONLY, CLIENT PAUSE WRITE) still
// answers reads — so its success leaves the breaker as it was.
enum class Call { writes, reads };

// Tells `breaker` what `r` says of Redis, and returns whether `r` is a reply the caller can
// read (an error reply included; not one saying the server cannot serve now). A failure counts
// once per burst: the commands that expired together, or failed with one lost connection, are
// one failure, not one each — `repeated` is redis::Commands::repeated_failure(), read inside the
// callback that got `r` — except while half-open, where any failure is the probe's. A call
// that proves nothing frees the probe slot it may hold, so the breaker never waits for it.
bool note_outcome(breaker::CircuitBreaker& breaker, const RedisResult& r, bool repeated,
                  Call call = Call::writes);

// The Error for an outcome that is not a usable reply; nullopt for a reply that is not an
// error reply.
std::optional<core::Error> reply_error(const RedisResult& r);

// The Error for an error reply, by the rules above.
core::Error error_of_reply(std::string_view error_text);

}  // namespace rl::store
