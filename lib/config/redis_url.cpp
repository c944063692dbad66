// Parsing and printing of Redis URLs.
#include "config/redis_url.h"

#include "core/text.h"

namespace rl::config {
namespace {

core::Error bad(std::string_view why) {
  return core::make_error(core::Errc::invalid_argument,
                          "expected redis://[[user]:password@]host[:port][/db] or "
                          "unix:///path/to/redis.sock[?db=N] (" +
                              std::string(why) + ")");
}

bool parse_db(std::string_view text, int& db) {
  const auto n = core::parse_int64(text);
  if (!n || *n < 0 || *n > 65535) return false;
  db = static_cast<int>(*n);
  return true;
}

}  // namespace

core::Result<RedisUrl> RedisUrl::parse(std::string_view url) {
  RedisUrl u;
  if (url.starts_with("unix://")) {
    u.kind = Kind::unix_socket;
    std::string_view rest = url.substr(7);
    const auto q = rest.find('?');
    u.path = std::string(rest.substr(0, q));
    if (u.path.empty() || u.path.front() != '/') return bad("the socket path must be absolute");
    if (q != std::string_view::npos) {
      std::string_view query = rest.substr(q + 1);
      while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        if (key == "db") {
          if (!parse_db(value, u.db)) return bad("db must be a number from 0 to 65535");
        } else if (key == "password") {
          u.password = std::string(value);
        } else {
          return bad("unknown query parameter");
        }
      }
    }
    return u;
  }
  if (!url.starts_with("redis://")) return bad("unknown scheme");
  std::string_view rest = url.substr(8);
  const auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      u.password = std::string(userinfo);  // "redis://secret@host", as redis-cli accepts
    } else {
      u.username = std::string(userinfo.substr(0, colon));
      u.password = std::string(userinfo.substr(colon + 1));
    }
    rest = rest.substr(at + 1);
  }
  const auto slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    if (!parse_db(rest.substr(slash + 1), u.db)) return bad("db must be a number from 0 to 65535");
  }
  std::string_view port;
  if (hostport.starts_with('[')) {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    u.host = std::string(hostport.substr(1, close - 1));
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return bad("garbage after the IPv6 host");
      port = hostport.substr(close + 2);
    }
  } else {
    const auto colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) port = hostport.substr(colon + 1);
  }
  if (u.host.empty()) return bad("no host");
  if (!port.empty()) {
    const auto p = core::parse_int64(port);
    if (!p || *p < 1 || *p > 65535) return bad("port must be 1-65535");
    u.port = static_cast<std::uint16_t>(*p);
  }
  return u;
}

static std::string format(const RedisUrl& u, std::string_view password) {
  if (u.kind == RedisUrl::Kind::unix_socket) {
    std::string out = "unix://" + u.path + "?db=" + std::to_string(u.db);
    if (!password.empty()) out += "&password=" + std::string(password);
    return out;
  }
  std::string out = "redis://";
  if (!u.username.empty() || !password.empty()) {
    out += u.username + ":" + std::string(password) + "@";
  }
  out += u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  out += ":" + std::to_string(u.port) + "/" + std::to_string(u.db);
  return out;
}

std::string RedisUrl::to_string() const {
  return format(*this, password);
}

std::string RedisUrl::redacted() const {
  return format(*this, password.empty() ? "" : "***");
}

}  // namespace rl::config
