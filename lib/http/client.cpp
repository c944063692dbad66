// The client connection's cycle: dial on demand, write what is queued, parse responses in
// order, and fail whatever is waiting when the connection goes down.
#include "http/client.h"

#include <cstring>

#include "core/text.h"
#include "security/ip_address.h"

namespace rl::http {
namespace {

core::Error unavailable(std::string_view why) {
  return core::make_error(core::Errc::unavailable, std::string(why));
}

}  // namespace

core::Result<Endpoint> Endpoint::parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return core::make_error(core::Errc::invalid_argument,
                            "expected http://HOST:PORT or unix:PATH, got '" + std::string(text) +
                                "' (" + std::string(why) + ")");
  };
  Endpoint e;
  if (text.starts_with("unix:")) {
    e.kind = Kind::unix_socket;
    e.path = std::string(text.substr(5));
    if (e.path.empty()) return bad("empty socket path");
    return e;
  }
  if (!text.starts_with("http://")) return bad("only http:// and unix: targets");
  std::string_view rest = text.substr(7);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 != rest.size()) return bad("a target is an address, not a URL with a path");
    rest = rest.substr(0, slash);
  }
  std::string_view host, port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("IPv6 hosts are written [ADDR]:PORT");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  if (!security::IpAddress::parse(host)) return bad("the host must be an IP address or localhost");
  const auto p = core::parse_int64(port);
  if (!p || *p < 1 || *p > 65535) return bad("the port must be 1-65535");
  e.host = std::string(host);
  e.port = static_cast<std::uint16_t>(*p);
  return e;
}

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  return "http://" + host_header();
}

std::string Endpoint::host_header() const {
  if (kind == Kind::unix_socket) return "localhost";
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ClientConnection::ClientConnection(uv_loop_t* loop, Endpoint endpoint)
    : loop_(loop), endpoint_(std::move(endpoint)) {}

ClientConnection::~ClientConnection() = default;

void ClientConnection::send(std::string_view request, Callback done) {
  if (state_ == State::closed || (state_ == State::closing && closed_)) {
    return done(unavailable("the connection is closed"));
  }
  // While an old stream is closing (the server ended keep-alive) the request waits and goes out
  // on the next one, which on_closed dials.
  out_.append(request);
  waiting_.push_back(std::move(done));
  if (state_ == State::idle) return dial();
  if (state_ == State::connected) flush();
}

void ClientConnection::dial() {
  state_ = State::connecting;
  connect_req_.data = this;
  int r = 0;
  if (endpoint_.kind == Endpoint::Kind::unix_socket) {
    uv_pipe_init(loop_, &stream_.pipe, 0);
    stream_.handle.data = this;
    uv_pipe_connect(&connect_req_, &stream_.pipe, endpoint_.path.c_str(), on_connect);
    return;
  }
  sockaddr_storage addr{};
  if (endpoint_.host.find(':') != std::string::npos) {
    r = uv_ip6_addr(endpoint_.host.c_str(), endpoint_.port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    r = uv_ip4_addr(endpoint_.host.c_str(), endpoint_.port, reinterpret_cast<sockaddr_in*>(&addr));
  }
  uv_tcp_init(loop_, &stream_.tcp);
  stream_.handle.data = this;
  uv_tcp_nodelay(&stream_.tcp, 1);
  if (r == 0)
    r = uv_tcp_connect(&connect_req_, &stream_.tcp, reinterpret_cast<sockaddr*>(&addr), on_connect);
  if (r != 0) fail(std::string("connect: ") + uv_strerror(r));
}

void ClientConnection::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<ClientConnection*>(req->data);
  if (c->state_ != State::connecting) return;
  if (status < 0) return c->fail(std::string("connect: ") + uv_strerror(status));
  c->state_ = State::connected;
  uv_read_start(&c->stream_.stream, on_alloc, on_read);
  c->flush();
}

void ClientConnection::flush() {
  if (!writing_.empty() || out_.empty() || state_ != State::connected) return;
  writing_.swap(out_);
  out_.clear();
  write_req_.data = this;
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (const int r = uv_write(&write_req_, &stream_.stream, &buf, 1, on_write); r != 0) {
    writing_.clear();
    fail(std::string("write: ") + uv_strerror(r));
  }
}

void ClientConnection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<ClientConnection*>(req->data);
  c->writing_.clear();
  if (status == UV_ECANCELED) return;
  if (status < 0) return c->fail(std::string("write: ") + uv_strerror(status));
  c->flush();
}

void ClientConnection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<ClientConnection*>(handle->data);
  buf->base = c->read_buffer_;
  buf->len = sizeof c->read_buffer_;
}

void ClientConnection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<ClientConnection*>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    if (nread == UV_EOF && c->waiting_.empty()) return c->drop_stream();  // idle keep-alive end
    if (nread == UV_EOF && c->parser_.in_response()) {
      if (c->parser_.finish().state == ResponseParser::State::response && !c->waiting_.empty()) {
        Callback done = std::move(c->waiting_.front());
        c->waiting_.pop_front();
        done(&c->parser_.response());
        c->parser_.next();
      }
    }
    return c->fail(nread == UV_EOF ? "the server closed the connection"
                                   : std::string("read: ") + uv_strerror(static_cast<int>(nread)));
  }
  const char* data = buf->base;
  std::size_t len = static_cast<std::size_t>(nread);
  while (len > 0 && c->state_ == State::connected) {
    const auto step = c->parser_.feed(data, len);
    data += step.consumed;
    len -= step.consumed;
    if (step.state == ResponseParser::State::need_more) break;
    if (step.state == ResponseParser::State::error || c->waiting_.empty()) {
      return c->fail(std::string("bad response: ") + c->parser_.error());
    }
    Callback done = std::move(c->waiting_.front());
    c->waiting_.pop_front();
    const bool keep_alive = c->parser_.response().keep_alive;
    done(&c->parser_.response());
    c->parser_.next();
    if (!keep_alive) return c->fail("the server closed the connection");
  }
}

void ClientConnection::drop_stream() {
  if (state_ == State::connecting || state_ == State::connected) {
    state_ = State::closing;
    uv_close(&stream_.handle, on_closed);
  }
}

void ClientConnection::on_closed(uv_handle_t* handle) {
  auto* c = static_cast<ClientConnection*>(handle->data);
  c->parser_.next();
  c->writing_.clear();
  if (c->closed_) {
    c->state_ = State::closed;
    auto done = std::move(c->closed_);
    c->closed_ = nullptr;
    return done();
  }
  c->state_ = State::idle;
  if (!c->waiting_.empty() || !c->out_.empty()) c->dial();  // sent after the close began
}

void ClientConnection::fail(std::string_view why) {
  const std::string reason(why);
  std::deque<Callback> failed;
  failed.swap(waiting_);
  out_.clear();
  drop_stream();
  for (auto& done : failed)
    done(unavailable(reason));
}

void ClientConnection::close(std::function<void()> closed) {
  closed_ = std::move(closed);
  std::deque<Callback> failed;
  failed.swap(waiting_);
  out_.clear();
  if (state_ == State::connecting || state_ == State::connected) {
    state_ = State::closing;
    uv_close(&stream_.handle, on_closed);
  } else if (state_ != State::closing) {
    state_ = State::closed;
    auto done = std::move(closed_);
    closed_ = nullptr;
    if (done) done();
  }
  for (auto& done : failed)
    done(unavailable("closing"));
}

}  // namespace rl::http
