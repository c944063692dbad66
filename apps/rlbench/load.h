// LoadEngine: drives HTTP load at one or more targets over keep-alive connections (spread
// round-robin), closed loop (each connection sends its next request when the last is answered)
// or open loop at a fixed rate, where latency is measured from the time a request was due, not
// when it went out, so a stalled server cannot hide its stalls (no coordinated omission).
// Bounded: it stops issuing at the duration or request count, and stops waiting for answers a
// grace period later. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "apps/rlbench/histogram.h"
#include "http/client.h"

namespace rl::rlbench {

struct LoadOptions {
  std::vector<http::Endpoint> targets;
  int concurrent = 50;
  std::chrono::milliseconds duration{0};  // 0: until `requests` are answered
  std::uint64_t requests = 0;             // 0: for `duration`
  double rate = 0;                        // requests per second; 0: closed loop
  std::vector<std::string> keys;          // API keys used in turn; empty: none sent
  std::string path = "/test";
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;  // extra, on every request
  bool progress = false;                                     // a live line on stderr once a second
};

struct LoadReport {
  std::uint64_t requests = 0;  // answered
  std::uint64_t errors = 0;    // no answer (connect failure, reset, malformed)
  double duration_s = 0;
  std::map<int, std::uint64_t> status;
  Histogram latency;
  double rps() const { return duration_s > 0 ? static_cast<double>(requests) / duration_s : 0; }
};

// Runs the load on `loop` (which it runs itself) and returns what happened.
LoadReport run_load(uv_loop_t* loop, const LoadOptions& options);

// One request's bytes: METHOD PATH HTTP/1.1, Host, the key (X-API-Key) and extra headers.
std::string build_request(const LoadOptions& options, const http::Endpoint& target,
                          std::string_view key);

}  // namespace rl::rlbench
