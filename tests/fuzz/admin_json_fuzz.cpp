// Fuzz harness of the JSON bodies rld reads: the bytes are one body, sent to every route that
// takes one — POST /admin/users, PATCH /admin/users/{id}, PUT /admin/tiers/{name},
// POST /admin/health, POST /admin/users/{id}/keys and POST /v1/decide — pipelined on one
// connection to the real server and handlers (rld_rig.h), with the admin key. Every answer
// must be well-formed HTTP with a JSON body (http_checks.h). The wire readers are also called
// directly: what they accept must serialise to JSON that reads back the same.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.h"
#include "fuzz/http_checks.h"
#include "fuzz/rld_rig.h"
#include "service/wire.h"

namespace {

constexpr std::string_view kRoutes[] = {
    "POST /admin/users",  "PATCH /admin/users/demo_free_user",    "PUT /admin/tiers/fuzz",
    "POST /admin/health", "POST /admin/users/demo_pro_user/keys", "POST /v1/decide",
};

std::string requests_with(std::string_view body) {
  std::string out;
  for (const std::string_view route : kRoutes) {
    out.append(route);
    out.append(" HTTP/1.1\r\nHost: rld\r\nX-Admin-Key: ");
    out.append(rl::fuzz::RldRig::kAdminKey);
    out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
    out.append(std::to_string(body.size()));
    out.append("\r\n\r\n");
    out.append(body);
  }
  return out;
}

// The wire readers themselves: a tier or health state they accept serialises to JSON that
// reads back the same.
void check_wire(std::string_view body) {
  using namespace rl;
  const auto parsed = service::parse_body(body, true);
  if (!parsed) return;
  const auto now = core::from_unix_ms(1'700'000'040'000);
  if (auto tier = service::tier_from_json("fuzz", *parsed)) {
    const auto json = service::to_json(*tier);
    const auto again = service::tier_from_json("fuzz", json);
    fuzz::require(again.ok(), "a tier the API accepted reads back", service::dump(json));
    fuzz::require(service::to_json(*again) == service::to_json(*tier), "a tier reads back the same",
                  service::dump(json));
  }
  if (auto health = service::health_from_json(*parsed, now)) {
    const auto json = service::to_json(*health);
    fuzz::require(json.at("status").is_string(), "a health state has a status",
                  service::dump(json));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rl::fuzz;
  const auto limits = RldRig::limits();
  if (size > limits.max_body_bytes) return 0;  // 413 for each: nothing to learn
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check_wire(body);
  const std::string requests = requests_with(body);
  check_exchange(requests, RldRig::instance().exchange(requests), limits);
  return 0;
}
