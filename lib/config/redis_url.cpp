// Parsing and printing of Redis URLs.
#include "config/redis_url.h"

#include "core/text.h"

namespace rl::config {
namespace {

core::Error bad(std::string_view why) {
  return core::make_error(core::Errc::invalid_argument,
                          "expected redis://[[user]:password@]host[:port][/db], "
                          "unix:///path/to/redis.sock[?db=N] or "
                          "redis+cluster://[[user]:password@]host:port,host:port (" +
                              std::string(why) + ")");
}

bool parse_db(std::string_view text, int& db) {
  const auto n = core::parse_int64(text);
  if (!n || *n < 0 || *n > 65535) return false;
  db = static_cast<int>(*n);
  return true;
}

core::Result<RedisUrl> parse_unix(std::string_view rest) {
  RedisUrl u;
  u.kind = RedisUrl::Kind::unix_socket;
  const auto q = rest.find('?');
  u.path = std::string(rest.substr(0, q));
  if (u.path.empty() || u.path.front() != '/') return bad("the socket path must be absolute");
  if (q == std::string_view::npos) return u;
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
  return u;
}

// "[[user]:password@]": what comes before the host(s), if anything; `rest` loses it.
void parse_userinfo(std::string_view& rest, RedisUrl& u) {
  const auto at = rest.rfind('@');
  if (at == std::string_view::npos) return;
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

core::Result<RedisUrl> parse_tcp(std::string_view rest, bool cluster) {
  RedisUrl u;
  u.cluster = cluster;
  parse_userinfo(rest, u);
  const auto slash = rest.find('/');
  std::string_view hosts = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    if (!parse_db(rest.substr(slash + 1), u.db)) return bad("db must be a number from 0 to 65535");
    if (cluster && u.db != 0) return bad("a Redis Cluster has only database 0");
  }
  if (!cluster && hosts.find(',') != std::string_view::npos) {
    return bad("several hosts need redis+cluster://");
  }
  while (true) {
    const auto comma = hosts.find(',');
    auto node = HostPort::parse(hosts.substr(0, comma), false);
    if (!node) return bad(node.error().message);
    u.nodes.push_back(std::move(*node));
    if (comma == std::string_view::npos) break;
    hosts = hosts.substr(comma + 1);
  }
  u.host = u.nodes.front().host;
  u.port = u.nodes.front().port;
  if (!cluster) u.nodes.clear();
  return u;
}

std::string format(const RedisUrl& u, std::string_view password) {
  if (u.kind == RedisUrl::Kind::unix_socket) {
    std::string out = "unix://" + u.path + "?db=" + std::to_string(u.db);
    if (!password.empty()) out += "&password=" + std::string(password);
    return out;
  }
  std::string out = u.cluster ? "redis+cluster://" : "redis://";
  if (!u.username.empty() || !password.empty()) {
    out += u.username + ":" + std::string(password) + "@";
  }
  if (!u.cluster) {
    return out + HostPort{u.host, u.port}.to_string() + "/" + std::to_string(u.db);
  }
  for (std::size_t i = 0; i < u.nodes.size(); ++i)
    out += (i == 0 ? "" : ",") + u.nodes[i].to_string();
  // Never dropped silently: parse() refuses it, so the mistake is reported (REDIS_DB, say).
  if (u.db != 0) out += "/" + std::to_string(u.db);
  return out;
}

}  // namespace

std::string HostPort::to_string() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

core::Result<HostPort> HostPort::parse(std::string_view text, bool port_required) {
  const auto fail = [](std::string_view why) {
    return core::make_error(core::Errc::invalid_argument, std::string(why));
  };
  HostPort out;
  std::string_view port;
  bool has_port = false;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail("unclosed [ in the host");
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail("garbage after the IPv6 host");
      port = text.substr(close + 2);
      has_port = true;
    }
  } else {
    const auto colon = text.rfind(':');
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
  }
  if (out.host.empty()) return fail("no host");
  if (out.host.find_first_of("/@, ") != std::string::npos) return fail("not a host name");
  if (!has_port && port_required) return fail("no port");
  if (has_port) {
    const auto p = core::parse_int64(port);
    if (!p || *p < 1 || *p > 65535) return fail("port must be 1-65535");
    out.port = static_cast<std::uint16_t>(*p);
  }
  return out;
}

core::Result<RedisUrl> RedisUrl::parse(std::string_view url) {
  if (url.starts_with("unix://")) return parse_unix(url.substr(7));
  if (url.starts_with("redis://")) return parse_tcp(url.substr(8), false);
  if (url.starts_with("redis+cluster://")) return parse_tcp(url.substr(16), true);
  return bad("unknown scheme");
}

std::string RedisUrl::to_string() const {
  return format(*this, password);
}

std::string RedisUrl::redacted() const {
  return format(*this, password.empty() ? "" : "***");
}

RedisUrl RedisUrl::node(const HostPort& address) const {
  RedisUrl out;
  out.host = address.host;
  out.port = address.port;
  out.username = username;
  out.password = password;
  out.db = db;
  return out;
}

}  // namespace rl::config
