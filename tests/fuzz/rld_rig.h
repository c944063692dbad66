// RldRig: rld's HTTP side in-process, for the HTTP fuzz harnesses. The real http::Server on a
// private libuv loop, listening on a Unix socket in a temp directory, answering through the real
// HttpApi, DecisionService and AdminApi over the memory store and directory (loaded with
// config/rate_limits.json), a ManualClock, and a logger whose every line must be one JSON
// object. exchange() is one client connection: it sends the bytes, closes its sending side and
// returns all the server wrote until it closed. The service is made afresh for each exchange,
// so an input never depends on the ones before it. Single-threaded; one rig per process.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace rl::fuzz {

class RldRig {
 public:
  // The admin key the rig's service accepts (the corpus and dictionaries use it).
  static constexpr std::string_view kAdminKey = "fuzz-admin-key-0123456789abcdef";

  // Made on first use, kept for the life of the process.
  static RldRig& instance();

  // The parser limits the server enforces: small, so that short inputs reach them.
  static http::ParserLimits limits();

  std::string exchange(std::string_view request_bytes);

  RldRig(const RldRig&) = delete;
  RldRig& operator=(const RldRig&) = delete;

 private:
  RldRig();
  ~RldRig();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rl::fuzz
