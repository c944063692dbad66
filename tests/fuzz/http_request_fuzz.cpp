// Fuzz harness of the HTTP request path: the bytes are what one client sends on one connection
// (any number of pipelined requests, or garbage) to rld's real server, parser, router and
// handlers — decisions, /check, /v1/decide, health, readiness, metrics and the admin API,
// whose key the corpus knows (rld_rig.h). Whatever comes back must be well-formed HTTP
// (http_checks.h), and the parser must read the bytes fed in pieces exactly as it reads them
// whole (the server gets them in whatever pieces the network makes).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/http_checks.h"
#include "fuzz/rld_rig.h"

namespace {

using rl::fuzz::ParsedRequest;

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

// The same requests, and the same error if any — except that bytes both malformed and over a
// limit (a 3 KB target with a bad character at its end) may be refused for either (400, or
// 413/414/431) depending on where the network split them: llhttp reports a malformed byte
// before the span that holds it, and so before the limit that span breaks.
bool same_reading(const std::vector<ParsedRequest>& a, const std::vector<ParsedRequest>& b) {
  if (a == b) return true;
  if (a.size() != b.size() || a.empty()) return false;
  const auto limit_or_400 = [](int s) { return s == 400 || s == 413 || s == 414 || s == 431; };
  const int x = a.back().error_status, y = b.back().error_status;
  return std::equal(a.begin(), a.end() - 1, b.begin()) && limit_or_400(x) && limit_or_400(y) &&
         (x == 400 || y == 400);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rl::fuzz;
  if (size > 64 * 1024) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto limits = RldRig::limits();

  // The server reads what the network delivers, in whatever pieces.
  const auto whole = parse_requests(bytes, limits, {});
  for (const auto& pieces : {pieces_of(bytes), std::vector<std::size_t>{1}}) {
    if (pieces.size() == 1 && size > 4096) continue;  // byte by byte: short inputs only
    const auto split = parse_requests(bytes, limits, pieces);
    if (!same_reading(split, whole)) {
      violated("the parser reads bytes fed in pieces as it reads them whole",
               "whole:\n" + describe(whole) + "in pieces:\n" + describe(split));
    }
  }
  check_exchange(bytes, RldRig::instance().exchange(bytes), limits);
  return 0;
}
