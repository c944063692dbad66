// Header and query lookups on a parsed request.
#include "http/request.h"

#include "core/text.h"

namespace rl::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (core::iequals(h.name, name)) return h.value;
  }
  return {};
}

std::string_view Request::query_param(std::string_view name, bool* found) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      if (found != nullptr) *found = true;
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
  }
  if (found != nullptr) *found = false;
  return {};
}

}  // namespace rl::http
