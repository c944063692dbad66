// Host and Transfer-Encoding value syntax (RFC 9110 §7.2, RFC 3986 §3.2.2, RFC 9112 §6.1).
#include "http/field_syntax.h"

#include <algorithm>

#include "core/text.h"

namespace rl::http {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 reg-name: unreserved, pct-encoded and sub-delims (an IPv4 address is one too).
bool is_reg_name(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '%') {
      if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
      i += 2;
    } else if (!is_hex(c) && !(c >= 'g' && c <= 'z') && !(c >= 'G' && c <= 'Z') &&
               std::string_view("-._~!$&'()*+,;=").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool is_valid_host(std::string_view host) {
  std::string_view port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    port = host.substr(close + 1);
  } else {
    const auto colon = host.find(':');
    if (!is_reg_name(host.substr(0, colon))) return false;
    port = colon == std::string_view::npos ? std::string_view{} : host.substr(colon);
  }
  if (port.empty()) return true;
  return port.front() == ':' && port.size() <= 6 &&
         std::all_of(port.begin() + 1, port.end(), is_digit);
}

bool only_chunked_codings(const std::vector<Header>& headers) {
  for (const Header& h : headers) {
    if (!core::iequals(h.name, "transfer-encoding")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view coding = core::trim(rest.substr(0, comma));
      if (!coding.empty() && !core::iequals(coding, "chunked")) return false;
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  return true;
}

}  // namespace rl::http
