// How a Redis Cluster client reads a command and a reply: which argument is the key that picks
// the slot (EVAL's first key, argv[1] for most commands, none for PING, PUBLISH, SCRIPT, …),
// whether a command only reads (so a batch of them may go to several nodes at once), and what
// a redirect or retry error reply (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) says. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "redis/reply.h"

namespace rl::redis {

// The key that routes the command, or nullopt for a command with no key.
std::optional<std::string_view> routing_key(std::span<const std::string_view> args);

// Commands that change nothing: a batch of only these may be split over nodes in any order.
bool is_read_only(std::string_view command);

enum class Redirect { none, moved, ask, tryagain, clusterdown };

struct RedirectReply {
  Redirect kind = Redirect::none;
  std::uint16_t slot = 0;  // moved, ask
  std::string host;        // moved, ask; empty when Redis does not know it ("?")
  std::uint16_t port = 0;  // moved, ask
};

// Whether a reply is MOVED or ASK: not an error for the caller, who never sees it (the cluster
// client follows it), so not counted as one. Allocates nothing.
bool is_redirection(const redisReply& reply);

// What an error reply asks the client to do; kind none for any other reply, and for a MOVED
// or ASK the client cannot read.
RedirectReply redirect_of(const redisReply& reply);

}  // namespace rl::redis
