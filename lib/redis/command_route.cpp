// The command table of the cluster client: only what rl sends and what commonly appears in
// pipelines needs an entry; anything else routes by its first argument, which is right for
// nearly every Redis command.
#include "redis/command_route.h"

#include <initializer_list>

#include "core/text.h"

namespace rl::redis {
namespace {

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (core::iequals(name, n)) return true;
  }
  return false;
}

bool keyless(std::string_view name) {
  return one_of(name,
                {"PING",     "PUBLISH",   "ECHO",     "TIME",         "INFO",       "SCRIPT",
                 "MULTI",    "EXEC",      "DISCARD",  "ASKING",       "CLUSTER",    "AUTH",
                 "SELECT",   "HELLO",     "CLIENT",   "CONFIG",       "COMMAND",    "DBSIZE",
                 "FLUSHALL", "FLUSHDB",   "SCAN",     "KEYS",         "RANDOMKEY",  "WAIT",
                 "LASTSAVE", "SLOWLOG",   "FUNCTION", "SUBSCRIBE",    "PSUBSCRIBE", "UNSUBSCRIBE",
                 "READONLY", "READWRITE", "ROLE",     "PUNSUBSCRIBE", "QUIT",       "RESET",
                 "ACL",      "LATENCY",   "MEMORY",   "DEBUG"});
}

std::optional<std::string_view> arg(std::span<const std::string_view> args, std::size_t i) {
  if (i < args.size()) return args[i];
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> routing_key(std::span<const std::string_view> args) {
  if (args.empty()) return std::nullopt;
  const std::string_view name = args[0];
  if (one_of(name, {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})) {
    const auto numkeys = args.size() > 2 ? core::parse_int64(args[2]) : std::nullopt;
    if (!numkeys || *numkeys <= 0) return std::nullopt;
    return arg(args, 3);
  }
  if (core::iequals(name, "MEMORY") && args.size() > 2 && core::iequals(args[1], "USAGE")) {
    return args[2];
  }
  if (core::iequals(name, "OBJECT")) return arg(args, 2);
  if (one_of(name, {"XREAD", "XREADGROUP"})) {
    for (std::size_t i = 1; i + 1 < args.size(); ++i) {
      if (core::iequals(args[i], "STREAMS")) return args[i + 1];
    }
    return std::nullopt;
  }
  if (keyless(name)) return std::nullopt;
  return arg(args, 1);
}

bool is_read_only(std::string_view name) {
  return one_of(name, {"GET",    "MGET",  "EXISTS",   "PTTL",        "TTL",       "TYPE",
                       "STRLEN", "HGET",  "HGETALL",  "HMGET",       "HEXISTS",   "HLEN",
                       "HKEYS",  "HVALS", "SMEMBERS", "SCARD",       "SISMEMBER", "SMISMEMBER",
                       "LRANGE", "LLEN",  "ZRANGE",   "ZSCORE",      "ZCARD",     "PING",
                       "ECHO",   "TIME",  "DBSIZE",   "PEXPIRETIME", "EXPIRETIME"});
}

bool is_redirection(const redisReply& reply) {
  if (!is_error(reply)) return false;
  const std::string_view t = text(reply);
  return t.starts_with("MOVED ") || t.starts_with("ASK ");
}

RedirectReply redirect_of(const redisReply& reply) {
  RedirectReply out;
  if (!is_error(reply)) return out;
  const std::string_view t = text(reply);
  if (t.starts_with("TRYAGAIN")) {
    out.kind = Redirect::tryagain;
    return out;
  }
  if (t.starts_with("CLUSTERDOWN")) {
    out.kind = Redirect::clusterdown;
    return out;
  }
  Redirect kind = Redirect::none;
  std::string_view rest;
  if (t.starts_with("MOVED ")) {
    kind = Redirect::moved;
    rest = t.substr(6);
  } else if (t.starts_with("ASK ")) {
    kind = Redirect::ask;
    rest = t.substr(4);
  } else {
    return out;
  }
  // "<slot> <host>:<port>"; an IPv6 host comes without brackets, so the port is after the
  // last colon.
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return out;
  const auto slot = core::parse_int64(rest.substr(0, space));
  const std::string_view address = rest.substr(space + 1);
  const auto colon = address.rfind(':');
  if (!slot || *slot < 0 || *slot >= 16384 || colon == std::string_view::npos) return out;
  const auto port = core::parse_int64(address.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return out;
  out.kind = kind;
  out.slot = static_cast<std::uint16_t>(*slot);
  out.host = std::string(address.substr(0, colon));
  if (out.host == "?") out.host.clear();
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

}  // namespace rl::redis
