// KeySpace: the one definition of every Redis key name of the data model (DESIGN.md §5), used
// by rld and rlctl alike. Per-user keys carry the user's hash tag and per-client keys the
// client's, so everything one script touches lives in one Redis Cluster slot.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "limiter/algorithm.h"

namespace rl::store {

class KeySpace {
 public:
  explicit KeySpace(std::string prefix = "rl:") : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string schema() const { return prefix_ + "schema"; }
  std::string tier(std::string_view name) const { return join("tier:", name); }
  std::string tiers() const { return prefix_ + "tiers"; }
  std::string user(std::string_view id) const { return join("user:", id); }
  std::string users() const { return prefix_ + "users"; }
  std::string api_key(std::string_view digest) const { return join("apikey:", digest); }
  std::string api_key_pattern(std::string_view key_id) const;  // for SCAN by key id
  std::string user_keys(std::string_view id) const { return tagged("keys:", id, ""); }
  std::string health() const { return prefix_ + "health"; }
  std::string attempts(std::string_view client) const { return tagged("bad:", client, ""); }
  std::string block(std::string_view client) const { return tagged("block:", client, ""); }
  std::string block_pattern() const { return prefix_ + "block:*"; }
  // The client of a block key, or empty when `key` is not one.
  std::string_view client_of_block(std::string_view key) const;
  // rl:c:{<user>}:<sw|fw|tb>:<window seconds>, written into `out` (reused, no allocation).
  void counter(std::string& out, std::string_view user, limiter::Algorithm algorithm,
               core::Seconds window) const;
  std::string counter_pattern(std::string_view user) const { return tagged("c:", user, ":*"); }
  std::string instance(std::string_view id) const { return join("inst:", id); }
  std::string instance_pattern() const { return prefix_ + "inst:*"; }
  std::string events() const { return prefix_ + "events"; }

 private:
  std::string join(std::string_view kind, std::string_view name) const {
    std::string out = prefix_;
    out.append(kind);
    out.append(name);
    return out;
  }
  std::string tagged(std::string_view kind, std::string_view tag, std::string_view rest) const;

  std::string prefix_;
};

// Messages on the events channel: "<kind>:<subject>".
enum class EventKind { user, key, tier, health, block };
std::string event_message(EventKind kind, std::string_view subject = {});
struct Event {
  EventKind kind;
  std::string_view subject;
};
std::optional<Event> parse_event(std::string_view message);

}  // namespace rl::store
