// Getting a connection up: dialling (resolving names first), the AUTH/SELECT/ROLE/PING
// handshake, and after a failure the jittered, capped exponential backoff before the next
// attempt.
#include <algorithm>
#include <cstring>
#include <netdb.h>

#include "core/random.h"
#include "redis/connection.h"
#include "security/ip_address.h"

namespace rl::redis {
namespace {

// A ROLE reply of a replica: ["slave", master host, port, state, offset].
bool is_replica(const redisReply& r) {
  const redisReply* role = element(r, 0);
  return role != nullptr && (text(*role) == "slave" || text(*role) == "replica");
}

}  // namespace

void Connection::dial() {
  if (state_ == State::closed) return;
  set_state(State::connecting, "dialling");
  connect_started_ = fresh_now();
  arm_timer();
  const config::RedisUrl& url = options_.url;
  if (url.kind == config::RedisUrl::Kind::unix_socket) {
    uv_pipe_init(loop_, &stream_.pipe, 0);
    stream_.handle.data = this;
    stream_open_ = true;
    ++handles_open_;
    connect_req_.data = this;
    uv_pipe_connect(&connect_req_, &stream_.pipe, url.path.c_str(), on_connect);
    return;
  }
  sockaddr_storage address{};
  if (const auto ip = security::IpAddress::parse(url.host)) {
    if (ip->is_v4()) {
      uv_ip4_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in*>(&address));
    } else {
      uv_ip6_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in6*>(&address));
    }
    return connect_to(reinterpret_cast<const sockaddr*>(&address));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_req_.data = this;
  const std::string port = std::to_string(url.port);
  if (uv_getaddrinfo(loop_, &resolve_req_, on_resolved, url.host.c_str(), port.c_str(), &hints) !=
      0) {
    return fail("cannot resolve " + url.host);
  }
  resolving_ = true;
}

void Connection::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* c = static_cast<Connection*>(req->data);
  c->resolving_ = false;
  if (c->state_ == State::closed) {
    if (res != nullptr) uv_freeaddrinfo(res);
    return c->maybe_closed();
  }
  if (status != 0 || res == nullptr) {
    if (res != nullptr) uv_freeaddrinfo(res);
    return c->fail("cannot resolve " + c->options_.url.host + ": " + uv_strerror(status));
  }
  sockaddr_storage address{};
  std::memcpy(&address, res->ai_addr, std::min<std::size_t>(res->ai_addrlen, sizeof address));
  uv_freeaddrinfo(res);
  if (c->state_ == State::connecting) c->connect_to(reinterpret_cast<const sockaddr*>(&address));
}

void Connection::connect_to(const sockaddr* address) {
  uv_tcp_init(loop_, &stream_.tcp);
  stream_.handle.data = this;
  stream_open_ = true;
  ++handles_open_;
  uv_tcp_nodelay(&stream_.tcp, 1);
  connect_req_.data = this;
  if (const int r = uv_tcp_connect(&connect_req_, &stream_.tcp, address, on_connect); r != 0) {
    fail(std::string("connect: ") + uv_strerror(r));
  }
}

void Connection::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED || c->state_ != State::connecting) return;
  if (status < 0) return c->fail(std::string("connect: ") + uv_strerror(status));
  uv_read_start(&c->stream_.stream, on_alloc, on_read);
  c->handshake();
}

void Connection::handshake() {
  const config::RedisUrl& url = options_.url;
  const Instant deadline = connect_started_ + options_.connect_timeout;
  // A write that fails at once fails the attempt inside enqueue(): send no more steps then.
  const auto send_step = [&](std::span<const std::string_view> args, bool role = false) {
    if (state_ != State::connecting) return;
    ++handshake_replies_;
    enqueue(
        args, [this, role](core::Result<ReplyPtr> r) { on_handshake_reply(std::move(r), role); },
        deadline);
  };
  handshake_replies_ = 0;
  if (!url.password.empty()) {
    if (url.username.empty()) {
      const std::string_view args[] = {"AUTH", url.password};
      send_step(args);
    } else {
      const std::string_view args[] = {"AUTH", url.username, url.password};
      send_step(args);
    }
  }
  const std::string db = std::to_string(url.db);
  if (url.db != 0) {
    const std::string_view args[] = {"SELECT", db};
    send_step(args);
  }
  if (options_.require_master) {
    const std::string_view args[] = {"ROLE"};
    send_step(args, true);
  }
  const std::string_view ping[] = {"PING"};  // proves the server answers
  send_step(ping);
}

// Once one step failed the attempt is over: the steps failed with it count for nothing. An
// error reply refuses the attempt, except to ROLE, which a proxy or an ACL may not allow: the
// server is then taken as it is.
void Connection::on_handshake_reply(core::Result<ReplyPtr> r, bool role) {
  if (state_ != State::connecting) return;
  if (!r) return fail(r.error().message);
  if (role && is_replica(**r)) {
    return fail("handshake refused: the server is a replica (ROLE), it cannot take writes");
  }
  if (!role && is_error(**r)) {
    return fail(std::string("handshake refused: ") + std::string(text(**r)));
  }
  if (--handshake_replies_ == 0) {
    backoff_ = core::Millis{0};
    set_state(State::ready, "connected");
  }
}

void Connection::on_stream_closed(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  --c->handles_open_;
  if (c->state_ == State::closed) return c->maybe_closed();
  c->schedule_retry();
}

core::Millis retry_delay(core::Millis backoff, std::uint64_t random) {
  const std::int64_t half = backoff.count() / 2;
  const auto jitter =
      static_cast<std::int64_t>(random % static_cast<std::uint64_t>(backoff.count() - half + 1));
  return core::Millis{half + jitter};
}

void Connection::schedule_retry() {
  last_retry_delay_ = retry_delay(backoff_, core::fast_random());
  uv_timer_start(&retry_, on_retry, static_cast<std::uint64_t>(last_retry_delay_.count()), 0);
}

void Connection::on_retry(uv_timer_t* timer) {
  auto* c = static_cast<Connection*>(timer->data);
  if (c->resolving_) return c->schedule_retry();  // a cancelled lookup has not returned yet
  c->dial();
}

}  // namespace rl::redis
