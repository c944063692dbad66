// The libsystemd calls behind ServiceManager. sd_notify returns 0 without a NOTIFY_SOCKET, and
// a failed notification is not worth stopping a rate limiter for: results are ignored.
#include "apps/rld/service_manager.h"

#include <ctime>
#include <string>
#include <systemd/sd-daemon.h>

namespace rl::rld {
namespace {

void notify(const std::string& message) {
  sd_notify(0, message.c_str());
}

std::string status_line(std::string_view status) {
  std::string line = "STATUS=";
  for (char c : status)
    line += c == '\n' ? ' ' : c;  // one line: a newline would start another assignment
  return line;
}

}  // namespace

ServiceManager::ServiceManager() {
  // 1 = unset LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES: nothing rld starts inherits them.
  const int n = sd_listen_fds(1);
  for (int i = 0; i < n; ++i)
    sockets_.push_back(SD_LISTEN_FDS_START + i);
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
  }
}

void ServiceManager::ready(std::string_view status) const {
  notify("READY=1\n" + status_line(status));
}

void ServiceManager::reloading() const {
  // MONOTONIC_USEC lets a systemd that supports Type=notify-reload order this reload.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000U +
                    static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n" +
         status_line("reloading the configuration"));
}

void ServiceManager::stopping() const {
  notify("STOPPING=1\n" + status_line("draining connections"));
}

void ServiceManager::status(std::string_view status) const {
  notify(status_line(status));
}

void ServiceManager::watchdog() const {
  notify("WATCHDOG=1");
}

}  // namespace rl::rld
