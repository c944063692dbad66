// FakeRedis: a scripted Redis server on 127.0.0.1 (port 0) on the test's own libuv loop, so
// the Redis client can be tested against a socket without a redis-server. Commands are parsed
// with hiredis; replies come from an optional handler, else from defaults (PING, SCRIPT LOAD,
// ECHO, SUBSCRIBE, MULTI/EXEC with queueing, and a check at queue time that aborts the
// transaction as Redis does on a redirect); they can be held back, in order, like a server
// that stopped answering, and the server can stall the loop right after it answered, like an
// rld loop iteration that ran long, or drop its connections (after half a reply, say). Loop-thread
// only; close() before the loop is closed.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <hiredis/read.h>
#include <uv.h>

#include "redis/reply.h"
#include "redis/scripts.h"

namespace rl::test {

using Command = std::vector<std::string>;

inline std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

class FakeRedis {
 public:
  // The RESP answer to `command`, or nullopt for the default one.
  using Handler = std::function<std::optional<std::string>(const Command& command)>;

  struct Session {
    FakeRedis* owner = nullptr;
    uv_tcp_t tcp{};
    redisReader* reader = nullptr;
    bool open = true;
    std::vector<Command> received;
    std::optional<std::vector<Command>> multi;  // commands queued since MULTI
    bool multi_failed = false;                  // a command was refused at queue time
    std::string held;                           // replies not written yet
  };

  explicit FakeRedis(uv_loop_t* loop) : loop_(loop) {
    uv_tcp_init(loop_, &server_);
    server_.data = this;
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&address), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, on_connection);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~FakeRedis() {
    for (auto& s : sessions_)
      redisReaderFree(s.reader);
  }
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  std::string url(std::string_view userinfo = "", int db = 0) const {
    return "redis://" + std::string(userinfo) + "127.0.0.1:" + std::to_string(port_) +
           (db != 0 ? "/" + std::to_string(db) : "");
  }
  int port() const { return port_; }
  void set_handler(Handler handler) { handler_ = std::move(handler); }
  // Asked before a command is queued after MULTI: an error reply refuses it, and EXEC then
  // answers EXECABORT (Redis does this with MOVED, ASK and TRYAGAIN).
  void set_queue_check(Handler check) { queue_check_ = std::move(check); }
  // The session whose command a handler is answering.
  const Session* current() const { return current_; }

  // Replies from now on are kept back (in order) until release() or resume().
  void hold() { holding_ = true; }
  void release() {
    for (auto& s : sessions_) {
      if (s.open && !s.held.empty()) write(s, std::exchange(s.held, {}));
    }
  }
  void resume() {
    holding_ = false;
    release();
  }
  // The next batch of replies is followed by this much sleep, in the same loop iteration.
  void stall_after_reply(std::chrono::milliseconds d) { stall_ = d; }
  void push(std::string_view resp) {  // to every open session, e.g. a pub/sub message
    for (auto& s : sessions_) {
      if (s.open) write(s, std::string(resp));
    }
  }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    drop();
  }
  // Closes every open session (like a restarted or killed Redis); still accepts new ones.
  void drop() {
    for (auto& s : sessions_)
      close_session(s);
  }
  // Writes `resp` (e.g. half a reply) to every open session, then closes them: a reply cut
  // mid-stream.
  void cut_with(std::string_view resp) {
    push(resp);
    drop();
  }

  const std::list<Session>& sessions() const { return sessions_; }
  std::size_t open_sessions() const {
    std::size_t n = 0;
    for (const auto& s : sessions_)
      n += s.open ? 1 : 0;
    return n;
  }
  // Every command received whose name is `name`, on all sessions.
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& s : sessions_) {
      for (const auto& c : s.received)
        n += !c.empty() && c[0] == name ? 1 : 0;
    }
    return n;
  }
  bool any_in_multi() const {
    for (const auto& s : sessions_) {
      if (s.open && s.multi) return true;
    }
    return false;
  }

 private:
  static void on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<FakeRedis*>(server->data);
    if (status < 0) return;
    Session& s = self->sessions_.emplace_back();
    s.owner = self;
    s.reader = redis::make_reader();
    uv_tcp_init(self->loop_, &s.tcp);
    s.tcp.data = &s;
    uv_accept(server, reinterpret_cast<uv_stream_t*>(&s.tcp));
    uv_tcp_nodelay(&s.tcp, 1);  // as Redis does: no reply waits for the client's delayed ACK
    uv_read_start(reinterpret_cast<uv_stream_t*>(&s.tcp), on_alloc, on_read);
  }
  static void on_alloc(uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
    buf->base = new char[suggested];
    buf->len = suggested;
  }
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto& s = *static_cast<Session*>(stream->data);
    if (nread < 0) s.owner->close_session(s);
    if (nread > 0) s.owner->feed(s, buf->base, static_cast<std::size_t>(nread));
    delete[] buf->base;
  }

  void feed(Session& s, const char* data, std::size_t n) {
    redisReaderFeed(s.reader, data, n);
    std::string out;
    void* reply = nullptr;
    while (redisReaderGetReply(s.reader, &reply) == REDIS_OK && reply != nullptr) {
      redis::ReplyPtr owned(static_cast<redisReply*>(reply));
      Command c;
      for (std::size_t i = 0; i < owned->elements; ++i)
        c.emplace_back(redis::text(*owned->element[i]));
      s.received.push_back(c);
      std::string answered = answer(s, c);  // which may hold() this reply and the next
      (holding_ ? s.held : out) += answered;
    }
    if (!out.empty()) write(s, std::move(out));
    if (stall_.count() > 0) std::this_thread::sleep_for(std::exchange(stall_, {}));
  }

  std::string answer(Session& s, const Command& c) {
    current_ = &s;
    if (c[0] == "MULTI") {
      if (s.multi) return "-ERR MULTI calls can not be nested\r\n";
      s.multi.emplace();
      s.multi_failed = false;
      return "+OK\r\n";
    }
    if (c[0] == "EXEC" && s.multi) {
      auto queued = std::exchange(s.multi, std::nullopt);
      if (s.multi_failed) return "-EXECABORT Transaction discarded because of previous errors.\r\n";
      std::string out = "*" + std::to_string(queued->size()) + "\r\n";
      for (const auto& q : *queued)
        out += reply_to(q);
      return out;
    }
    if (s.multi) {
      if (queue_check_) {
        if (auto refused = queue_check_(c)) {
          s.multi_failed = true;
          return *refused;
        }
      }
      s.multi->push_back(c);
      return "+QUEUED\r\n";
    }
    return reply_to(c);
  }

  std::string reply_to(const Command& c) {
    if (handler_) {
      if (auto r = handler_(c)) return *r;
    }
    if (c[0] == "PING") return "+PONG\r\n";
    if (c[0] == "ECHO" && c.size() > 1) return bulk(c[1]);
    if (c[0] == "SUBSCRIBE" && c.size() > 1)
      return "*3\r\n" + bulk("subscribe") + bulk(c[1]) + ":1\r\n";
    if (c[0] == "SCRIPT" && c.size() > 2) {
      for (const auto& script : redis::all_scripts()) {
        if (script.source == c[2]) return bulk(script.sha1);
      }
      return "-ERR unknown script\r\n";
    }
    return "+OK\r\n";
  }

  void write(Session& s, std::string data) {
    struct Write {
      uv_write_t req;
      std::string data;
    };
    auto* w = new Write{{}, std::move(data)};
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    const auto done = [](uv_write_t* req, int) { delete static_cast<Write*>(req->data); };
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&s.tcp), &buf, 1, done) != 0) delete w;
  }

  void close_session(Session& s) {
    if (!s.open) return;
    s.open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&s.tcp), nullptr);
  }

  uv_loop_t* loop_;
  uv_tcp_t server_{};
  int port_ = 0;
  Handler handler_;
  Handler queue_check_;
  const Session* current_ = nullptr;
  std::list<Session> sessions_;  // never erased: handles stay valid until the loop closes
  bool holding_ = false;
  std::chrono::milliseconds stall_{0};
};

}  // namespace rl::test
