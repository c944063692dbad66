// ServiceManager: rld's side of the systemd protocol, through libsystemd. Notifications
// (READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1) go to $NOTIFY_SOCKET; sockets of
// socket activation are taken from $LISTEN_FDS. Outside systemd both are no-ops: nothing is
// sent and nothing is inherited. Made once, on the main thread, before any thread starts
// (reading and unsetting the LISTEN_* variables is not thread-safe).
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

namespace rl::rld {

class ServiceManager {
 public:
  ServiceManager();

  // The listening sockets systemd passed (fds 3, 4, ...), empty when not socket-activated.
  const std::vector<int>& inherited_sockets() const { return sockets_; }
  // How often to ping the watchdog (half of WatchdogSec), zero when no watchdog is set.
  std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

  void ready(std::string_view status) const;
  void reloading() const;
  void stopping() const;
  void status(std::string_view status) const;
  void watchdog() const;

 private:
  std::vector<int> sockets_;
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace rl::rld
