// Fuzz harness of the HTTP request path: the bytes are what one client sends on one connection
// (any number of pipelined requests, or garbage) to rld's real server, parser, router and
// handlers — decisions, /check, /v1/decide, health, readiness, metrics and the admin API,
// whose key the corpus knows (rld_rig.h). Whatever comes back must be well-formed HTTP
// (http_checks.h), and the parser must read the bytes fed in pieces exactly as it reads them
// whole (the server gets them in whatever pieces the network makes).
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/http_checks.h"
#include "fuzz/rld_rig.h"

namespace {

// Piece sizes from 1 to 16 bytes, chosen by the input's own bytes (FNV-1a), so that a given
// input is always split the same way.
std::vector<std::size_t> pieces_of(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  std::vector<std::size_t> out;
  for (int i = 0; i < 16; ++i, h >>= 4)
    out.push_back((h & 0xF) + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rl::fuzz;
  if (size > 64 * 1024) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto limits = RldRig::limits();

  const auto whole = parse_requests(bytes, limits, {});
  require(parse_requests(bytes, limits, pieces_of(bytes)) == whole,
          "the parser reads bytes fed in pieces as it reads them whole", bytes);
  if (size <= 4096) {
    require(parse_requests(bytes, limits, {1}) == whole,
            "the parser reads bytes fed one at a time as it reads them whole", bytes);
  }
  check_exchange(bytes, RldRig::instance().exchange(bytes), limits);
  return 0;
}
