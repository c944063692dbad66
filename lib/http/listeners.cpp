// Binding the listening sockets with plain socket calls: libuv 1.44 cannot set SO_REUSEPORT,
// and the sockets must exist before the workers' loops do.
#include "http/listeners.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace rl::http {
namespace {

constexpr int kBacklog = 511;

core::Error listen_error(const config::ListenAddress& a, std::string_view what, int err) {
  return core::make_error(core::Errc::io, "cannot listen on " + a.to_string() + ": " +
                                              std::string(what) + ": " + std::strerror(err));
}

// A Unix socket path left behind by a process that is gone is removed; one that a live process
// listens on, or a file that is not a socket, is left alone and reported.
core::Status clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return core::make_error(core::Errc::conflict, path + " exists and is not a socket");
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::make_error(core::Errc::io, "socket(): " + std::string(strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (live) return core::make_error(core::Errc::conflict, "another process listens on " + path);
  unlink(path.c_str());
  return {};
}

// One TCP listening socket on `a` (port `port`); SO_REUSEPORT when several share the port.
core::Result<int> tcp_socket(const config::ListenAddress& a, std::uint16_t port, bool reuse_port,
                             std::uint16_t& bound_port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const bool v6 = a.host.find(':') != std::string::npos;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, a.host.c_str(), &in6->sin6_addr) != 1)
      return listen_error(a, "bad address", EINVAL);
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, a.host.c_str(), &in->sin_addr) != 1)
      return listen_error(a, "bad address", EINVAL);
    len = sizeof *in;
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return listen_error(a, "socket", errno);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // restart despite TIME_WAIT
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if ((reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) ||
      bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, kBacklog) != 0) {
    const int err = errno;
    ::close(fd);
    return listen_error(a, "bind/listen", err);
  }
  len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

core::Result<int> unix_socket(const config::ListenAddress& a, std::uint32_t mode,
                              std::int64_t gid) {
  if (auto s = clear_stale_socket(a.path); !s) {
    return core::make_error(s.error().code,
                            "cannot listen on " + a.to_string() + ": " + s.error().message);
  }
  sockaddr_un addr{};
  if (a.path.size() >= sizeof addr.sun_path) return listen_error(a, "path", ENAMETOOLONG);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, a.path.c_str(), a.path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return listen_error(a, "socket", errno);
  // Bind under a umask that already yields the configured mode: no moment at which any local
  // user could connect (a Unix-socket client is trusted with X-Forwarded-For).
  const mode_t old_mask = umask(static_cast<mode_t>(0777 & ~mode));
  int r = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int bind_err = errno;
  umask(old_mask);
  if (r != 0) {
    ::close(fd);
    return listen_error(a, "bind", bind_err);
  }
  // The group before listen(): nobody connects until the file has its final owner and mode.
  if (gid >= 0 && chown(a.path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0) {
    const int err = errno;
    ::close(fd);
    unlink(a.path.c_str());
    return listen_error(a, "chown to group " + std::to_string(gid) + " (is rld a member?)", err);
  }
  if (chmod(a.path.c_str(), mode) != 0 || ::listen(fd, kBacklog) != 0) {
    const int err = errno;
    ::close(fd);
    unlink(a.path.c_str());
    return listen_error(a, "chmod/listen", err);
  }
  return fd;
}

// "HOST:PORT", "[IPv6]:PORT" or "unix:PATH" of an inherited listening socket, or an error
// naming the descriptor when it is not a listening stream socket of one of those families.
core::Result<std::pair<std::string, bool>> describe_inherited(int fd) {
  const auto refuse = [fd](const std::string& why) {
    return core::make_error(core::Errc::invalid_argument,
                            "inherited descriptor " + std::to_string(fd) + ": " + why);
  };
  int type = 0, listening = 0;
  socklen_t optlen = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0) {
    return refuse("not a socket: " + std::string(std::strerror(errno)));
  }
  optlen = sizeof listening;
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen);
  if (type != SOCK_STREAM || listening == 0) return refuse("not a listening stream socket");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return refuse("getsockname: " + std::string(std::strerror(errno)));
  }
  char host[INET6_ADDRSTRLEN] = {};
  switch (ss.ss_family) {
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
      const std::size_t n = len > offsetof(sockaddr_un, sun_path)
                                ? strnlen(un->sun_path, len - offsetof(sockaddr_un, sun_path))
                                : 0;
      return std::pair{"unix:" + std::string(un->sun_path, n), true};
    }
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      return std::pair{std::string(host) + ":" + std::to_string(ntohs(in->sin_port)), false};
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      return std::pair{"[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port)),
                       false};
    }
    default:
      return refuse("address family " + std::to_string(ss.ss_family) + " is not TCP or Unix");
  }
}

}  // namespace

core::Result<Listeners> Listeners::inherit(const std::vector<int>& fds) {
  Listeners out;
  for (int fd : fds) {
    auto described = describe_inherited(fd);
    if (!described) return described.error();
    // libuv wants non-blocking descriptors; a restarted rld must not leak them into children.
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      return core::make_error(core::Errc::io, "inherited descriptor " + std::to_string(fd) +
                                                  ": fcntl: " + std::strerror(errno));
    }
    out.entries_.push_back(Entry{described->second, true, {fd}});
    out.bound_.push_back(described->first);
  }
  return out;
}

core::Result<Listeners> Listeners::open(const std::vector<config::ListenAddress>& addresses,
                                        int workers, std::uint32_t unix_socket_mode,
                                        std::int64_t unix_socket_gid) {
  Listeners out;
  for (const auto& a : addresses) {
    Entry e;
    config::ListenAddress actual = a;
    if (a.kind == config::ListenAddress::Kind::unix_socket) {
      auto fd = unix_socket(a, unix_socket_mode, unix_socket_gid);
      if (!fd) return fd.error();  // `out` closes and unlinks what was made so far
      e.unix_socket = true;
      e.shared = true;
      e.fds.push_back(*fd);
      out.paths_.push_back(a.path);
    } else {
      std::uint16_t port = a.port;
      for (int w = 0; w < workers; ++w) {
        auto fd = tcp_socket(a, port, workers > 1, port);  // the first resolves port 0
        if (!fd) {
          for (int open_fd : e.fds)
            ::close(open_fd);
          return fd.error();
        }
        e.fds.push_back(*fd);
      }
      actual.port = port;
    }
    out.entries_.push_back(std::move(e));
    out.bound_.push_back(actual.to_string());
  }
  return out;
}

Listeners::Listeners(Listeners&& other) noexcept
    : entries_(std::move(other.entries_)),
      bound_(std::move(other.bound_)),
      paths_(std::move(other.paths_)) {
  other.entries_.clear();
  other.paths_.clear();
}

Listeners& Listeners::operator=(Listeners&& other) noexcept {
  if (this != &other) {
    close_all();
    unlink_paths();
    entries_ = std::move(other.entries_);
    bound_ = std::move(other.bound_);
    paths_ = std::move(other.paths_);
    other.entries_.clear();
    other.paths_.clear();
  }
  return *this;
}

Listeners::~Listeners() {
  close_all();
  unlink_paths();
}

core::Result<std::vector<ListenSocket>> Listeners::take(int worker) {
  std::vector<ListenSocket> out;
  for (auto& e : entries_) {
    int fd = -1;
    if (e.shared) {
      fd = e.fds.front() < 0 ? -1 : fcntl(e.fds.front(), F_DUPFD_CLOEXEC, 0);
    } else if (worker >= 0 && static_cast<std::size_t>(worker) < e.fds.size()) {
      std::swap(fd, e.fds[static_cast<std::size_t>(worker)]);
    }
    if (fd < 0) {
      const int err = errno;
      for (const auto& s : out)
        ::close(s.fd);
      return core::make_error(
          core::Errc::io,
          "no listening socket for worker " + std::to_string(worker) + ": " + std::strerror(err));
    }
    out.push_back(ListenSocket{fd, e.unix_socket});
  }
  return out;
}

void Listeners::release() {
  close_all();
}

void Listeners::unlink_paths() {
  for (const auto& p : paths_)
    unlink(p.c_str());
  paths_.clear();
}

void Listeners::close_all() {
  for (auto& e : entries_) {
    for (int& fd : e.fds) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
}

}  // namespace rl::http
