// Listeners: the listening sockets of a process, made once (before any worker starts, so a bad
// address fails the start-up and nothing is left half-listening) and then served by every
// worker. A TCP address gets one socket per worker, all bound with SO_REUSEPORT so the kernel
// spreads new connections over the workers; a Unix socket is one socket, and each worker
// accepts from its own duplicate of it. Port 0 is resolved once: every worker's socket has the
// same port. Sockets inherited from a service manager (systemd socket activation) are one socket
// per address, served by every worker from its own duplicate, and never unlinked here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/listen_address.h"
#include "core/result.h"

namespace rl::http {

// A listening descriptor handed to one worker's Server, which owns it from then on.
struct ListenSocket {
  int fd = -1;
  bool unix_socket = false;
};

class Listeners {
 public:
  // Binds and listens on every address, `workers` times for TCP. On failure nothing is left
  // open or bound, and the error names the address.
  // Unix socket files get `unix_socket_mode` and, when `unix_socket_gid` >= 0, that group.
  static core::Result<Listeners> open(const std::vector<config::ListenAddress>& addresses,
                                      int workers, std::uint32_t unix_socket_mode,
                                      std::int64_t unix_socket_gid = -1);
  // Takes over already listening stream sockets (systemd's LISTEN_FDS). Each must be a
  // listening TCP or Unix stream socket; the error names the descriptor that is not.
  static core::Result<Listeners> inherit(const std::vector<int>& fds);

  Listeners() = default;
  Listeners(Listeners&& other) noexcept;
  Listeners& operator=(Listeners&& other) noexcept;
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
  ~Listeners();

  // The sockets of worker `worker` (0-based): its own TCP sockets and duplicates of the Unix
  // ones. Each call hands over descriptors: call it once per worker.
  core::Result<std::vector<ListenSocket>> take(int worker);
  // Closes what was not handed over (the Unix sockets' originals), so that once the workers
  // stop accepting, nothing is left queueing connections.
  void release();
  // Removes the Unix socket files: no new client can connect through them (at shutdown).
  void unlink_paths();

  // The addresses actually bound (port 0 resolved), in the order given.
  const std::vector<std::string>& bound() const { return bound_; }

 private:
  struct Entry {
    bool unix_socket = false;
    bool shared = false;   // one socket that every worker accepts from (a duplicate each)
    std::vector<int> fds;  // not shared: one per worker, -1 once taken; shared: the one socket
  };
  void close_all();

  std::vector<Entry> entries_;
  std::vector<std::string> bound_;
  std::vector<std::string> paths_;  // Unix socket files we created
};

}  // namespace rl::http
